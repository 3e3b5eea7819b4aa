// Stage "analyze": run each metric on the activations stored by "extract". Never loads a
// model. Each analysis is its own transaction, so finished ones survive a later failure.
#include <set>

#include "content_hash.hpp"
#include "errors.hpp"
#include "laminar/text_file.hpp"
#include "run_file.hpp"
#include "stages.hpp"

namespace laminar {

namespace fs = std::filesystem;

namespace {

void run_one(const Experiment& exp, const PluginRegistry& registry, const StepSpec& step, const std::string& hash,
             const RunOptions& options, std::ostream& log) {
    const fs::path& output = options.output;
    const auto started = std::chrono::steady_clock::now();
    auto metric = registry.create_metric(step.plugin);
    try {
        metric->configure(step.params);
    } catch (const SpecError& e) {
        rethrow_in_file(exp, step.pointer, e);
    }
    RunTransaction tx(output, {"results/" + step.name, "stages/analyze/" + step.name});
    RunFileSource source(tx.file());
    RunFileSink sink(tx.file(), step.name, options.verbosity);
    try {
        metric->run(source, sink);
    } catch (const SpecError& e) {
        rethrow_in_file(exp, step.pointer, e);
    }
    sink.describe_spaces(source);
    const std::string group = "results/" + step.name;
    h5::set_attr(tx.file(), group, "metric", step.plugin);
    h5::set_attr(tx.file(), group, "plugin_version", registry.require(PluginKind::metric, step.plugin).version);
    h5::set_attr(tx.file(), group, "params", step.params.dump());
    stamp_root(tx.file(), exp);
    record_stage(tx.file(), "analyze/" + step.name, hash, options.command);
    tx.commit();
    for (const auto& w : sink.warnings()) log << "warning: analyze " << step.name << ": " << w << "\n";
    log << "analyze: " << step.name << ": done (" << duration_text(elapsed(started)) << ")\n";
}

}  // namespace

void run_analyze(const Experiment& exp, const PluginRegistry& registry, const RunOptions& options, std::ostream& log) {
    std::optional<std::string> extract_hash, extracted_spec;
    std::set<std::string> recorded;
    if (fs::exists(options.output)) {
        h5::Handle f = open_run_file(options.output);
        extract_hash = stage_hash(f, "extract");
        if (h5::has_attr(f, "stages/extract", "spec_hash")) extracted_spec = h5::get_string_attr(f, "stages/extract", "spec_hash");
        if (h5::exists(f, "stages/analyze"))
            for (const auto& n : h5::children(h5::open_group(f, "stages/analyze"))) recorded.insert(n);
        if (h5::exists(f, "results"))
            for (const auto& n : h5::children(h5::open_group(f, "results"))) recorded.insert(n);
    }
    if (!extract_hash)
        throw InputError(options.output.string() + ": no completed extract stage; run `laminar run " +
                         exp.document.file().string() + "` (or --stage extract) first");
    // The activations must be those of this experiment file: an edited stimulus list or
    // extractor would otherwise be analysed with the old activations under the new labels.
    if (extracted_spec != extraction_spec_hash(exp, registry))
        throw InputError(exp.document.file().string() + ": its models, stimuli or extract section differ from those " +
                         options.output.string() + " was extracted with; run `laminar run " +
                         exp.document.file().string() + "` (without --stage analyze) to extract again first");

    for (const auto& step : exp.analyze) {
        recorded.erase(step.name);
        nlohmann::json files = nlohmann::json::object();  // the contents of the files it names
        for (const auto& f : step.files) files[f.pointer] = hash_text(read_text_file(f.path));
        const std::string hash = hash_json({{"section", step.section}, {"files", files},
                                            {"plugin_version", registry.require(PluginKind::metric, step.plugin).version},
                                            {"extract", *extract_hash}});
        std::optional<std::string> previous;
        {
            h5::Handle f = open_run_file(options.output);
            previous = stage_hash(f, "analyze/" + step.name);
        }
        if (!options.force && previous == hash) {
            log << "analyze: " << step.name << ": up to date\n";
            continue;
        }
        run_one(exp, registry, step, hash, options, log);
    }

    if (!recorded.empty()) {  // analyses no longer in the experiment file
        std::vector<std::string> replaced;
        for (const auto& name : recorded) {
            replaced.push_back("results/" + name);
            replaced.push_back("stages/analyze/" + name);
        }
        RunTransaction tx(options.output, replaced);
        tx.commit();
        for (const auto& name : recorded)
            log << "analyze: removed results of '" << name << "' (no longer in the experiment)\n";
    }
}

}  // namespace laminar
