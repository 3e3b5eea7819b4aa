// The experiment loader: any bytes as an experiment YAML file, parsed, converted to JSON with
// line positions (YAML aliases expanded there, within kMaxYamlValues: the corpus holds an alias
// bomb and nested aliases) and validated against the schema (no plugins: their lookups fail
// cleanly). std::bad_alloc is not caught here: running out of memory is a finding.
#include <stdexcept>

#include "runtime/errors.hpp"
#include "spec/experiment.hpp"
#include "fuzz_input.hpp"
#include "runtime/plugin_registry.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const laminar::PluginRegistry no_plugins(std::vector<std::filesystem::path>{});
    const auto file = laminar::fuzz::write("exp.yaml", std::string(reinterpret_cast<const char*>(data), size));
    laminar::LoadOptions options;
    options.require_paths = false;
    try {
        (void)laminar::load_experiment(file, no_plugins, options);
    } catch (const laminar::InputError&) {
    } catch (const laminar::SpecError&) {
    } catch (const std::runtime_error&) {
    }
    return 0;
}
