// The contract between the laminar host and its plugins: API version, descriptor, export macro.
// A plugin includes only headers from this folder.
#pragma once

#include <boost/config.hpp>
#include <boost/dll/alias.hpp>

namespace laminar {

/// Bumped whenever an interface in this folder changes in a way that breaks binary compatibility.
/// The host refuses plugins built against any other value.
inline constexpr int kApiVersion = 10;  // 10: ResultSink::timing; 9: Recording::no_context_mean; 8: Metric::check; 7: Metric::run's Team (laminar/team.hpp); 6: ModelBackend::mask_token, Extractor::input, per-token sets (Recording::per_token, ActivationSet::tokens, ActivationSource::per_token); 5: Stimulus::context, ResultSink::axis_values, ModelBackend::unembed, Extractor::attach; 4: Extractor::records, Metric::spaces

/// Plain data that the host reads before it touches any factory: reading a wrongly typed
/// factory is a crash, reading this struct is not. The first three fields are frozen for all
/// API versions, so that a plugin built against any version can be identified and refused.
struct PluginDescriptor {
    int api_version;
    const char* kind;          ///< "model", "extractor" or "metric"
    const char* name;          ///< what the experiment file calls it, e.g. "gpt2", "cosine"
    const char* version;       ///< the plugin's own version, e.g. "1.0.0"
    const char* param_schema;  ///< JSON Schema (text) of the plugin's parameters in the experiment file
    const char* model_types;   ///< model plugins: the config.json model_type values it reads, space-separated
};

}  // namespace laminar

/// Exports a plugin: `LAMINAR_PLUGIN(laminar::Metric, "metric", CosineMetric, "cosine", "1.0.0", kSchema)`.
/// BASE is the interface, CLASS a default-constructible implementation of it.
/// The factory hands out a raw pointer; the host wraps it at once in a handle that keeps
/// the shared library loaded for as long as the object lives.
#define LAMINAR_PLUGIN(BASE, KIND, CLASS, NAME, VERSION, SCHEMA) \
    LAMINAR_PLUGIN_EXPORT(BASE, KIND, CLASS, NAME, VERSION, SCHEMA, "")

/// Exports a model plugin that reads the folders whose config.json names one of MODEL_TYPES
/// (space-separated): an experiment may then leave `backend:` out.
/// `LAMINAR_MODEL_PLUGIN(LlamaBackend, "llama", "1.0.0", kSchema, "llama mistral qwen2")`.
#define LAMINAR_MODEL_PLUGIN(CLASS, NAME, VERSION, SCHEMA, MODEL_TYPES) \
    LAMINAR_PLUGIN_EXPORT(::laminar::ModelBackend, "model", CLASS, NAME, VERSION, SCHEMA, MODEL_TYPES)

#define LAMINAR_PLUGIN_EXPORT(BASE, KIND, CLASS, NAME, VERSION, SCHEMA, MODEL_TYPES)         \
    namespace laminar_plugin_export {                                                        \
    const ::laminar::PluginDescriptor descriptor = {::laminar::kApiVersion, KIND, NAME,      \
                                                    VERSION, SCHEMA, MODEL_TYPES};           \
    BASE* create() { return new CLASS(); }                                                   \
    BOOST_DLL_ALIAS(laminar_plugin_export::descriptor, laminar_descriptor)                   \
    BOOST_DLL_ALIAS(laminar_plugin_export::create, laminar_create)                           \
    }
