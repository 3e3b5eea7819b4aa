#include <doctest/doctest.h>

#include <dlfcn.h>

#include "runtime/errors.hpp"
#include "spec/experiment.hpp"
#include "helpers.hpp"

using namespace laminar;

namespace {

/// Whether the dynamic loader currently has `file` mapped (RTLD_NOLOAD never loads it).
bool is_loaded(const std::filesystem::path& file) {
    void* handle = ::dlopen(file.c_str(), RTLD_LAZY | RTLD_NOLOAD);
    if (handle) ::dlclose(handle);  // NOLOAD still took a reference: give it back
    return handle != nullptr;
}

}  // namespace

TEST_CASE("the registry finds one plugin of each kind with its descriptor") {
    const auto& registry = test::fixture_registry();
    const PluginInfo* model = registry.find(PluginKind::model, "toy");
    REQUIRE(model != nullptr);
    CHECK(model->version == "0.1.0");
    CHECK(model->api_version == kApiVersion);
    CHECK(model->file.filename() == "laminar_model_toy.so");
    CHECK(registry.find(PluginKind::extractor, "toy_resid") != nullptr);
    CHECK(registry.find(PluginKind::metric, "row_norms") != nullptr);
    CHECK(registry.find(PluginKind::metric, "toy") == nullptr);  // kinds are separate namespaces
    CHECK(registry.schema(PluginKind::extractor, "toy_resid").validate({{"layers", {0}}}).empty());
    CHECK(!registry.schema(PluginKind::extractor, "toy_resid").validate({{"layers", "all"}}).empty());
}

TEST_CASE("a plugin built against another API version is refused, naming the file and both versions") {
    const PluginRegistry registry({MISMATCHED_PLUGIN_DIR, FIXTURE_PLUGIN_DIR});
    CHECK(registry.find(PluginKind::metric, "mismatched") == nullptr);
    REQUIRE(registry.problems().size() == 1);
    const auto& problem = registry.problems()[0];
    CHECK(problem.file.filename() == "laminar_metric_mismatched.so");
    const std::string expected = "built against laminar plugin API version " + std::to_string(kApiVersion + 41) +
                                 ", but this laminar has API version " + std::to_string(kApiVersion);
    CHECK(problem.reason.find(expected) != std::string::npos);
    try {
        registry.require(PluginKind::metric, "mismatched");
        FAIL("expected a refusal");
    } catch (const InputError& e) {
        const std::string msg = e.what();
        CHECK(msg.find("laminar_metric_mismatched.so was refused") != std::string::npos);
        CHECK(msg.find(expected) != std::string::npos);
    }
}

TEST_CASE("the first plugin on the search path wins, and later ones with the same name are shadowed") {
    const PluginRegistry registry({FIXTURE_PLUGIN_DIR, FIXTURE_PLUGIN_DIR});
    CHECK(registry.plugins().size() == 3);
    CHECK(registry.problems().size() == 3);
    CHECK(registry.problems()[0].reason.find("shadowed by") != std::string::npos);
}

TEST_CASE("LAMINAR_PLUGIN_PATH entries follow the build's plugin folder on the default path") {
    ::setenv("LAMINAR_PLUGIN_PATH", "/first:/second", 1);
    const auto path = PluginRegistry::default_search_path();
    ::unsetenv("LAMINAR_PLUGIN_PATH");
    REQUIRE(path.size() >= 3);
    CHECK(path[0].filename() == "plugins");  // the build's plugin folder
    CHECK(path[1] == "/first");
    CHECK(path[2] == "/second");
    for (const auto& p : path) CHECK(p != std::filesystem::current_path());
}

TEST_CASE("a plugin's library stays loaded while an object from it lives, even after its registry is gone") {
    // A private copy, so that no other registry in this process shares its loader handle.
    test::ScratchDir dir;
    const auto file = dir.path / "laminar_metric_row_norms.so";
    std::filesystem::copy_file(std::filesystem::path(FIXTURE_PLUGIN_DIR) / file.filename(), file);
    PluginHandle<Metric> metric;
    {
        const PluginRegistry registry({dir.path});
        metric = registry.create_metric("row_norms");
    }  // the registry is gone; the object still holds its library
    REQUIRE(is_loaded(file));
    metric->configure({{"crash_midway", false}});  // code inside the library still runs
    metric.reset();  // its destructor ran inside the library
    CHECK(is_loaded(file));  // and plugin libraries stay until exit (see keep_resident)
}

TEST_CASE("plugin exceptions cross into the host as SpecError with their field") {
    const auto& registry = test::fixture_registry();
    auto extractor = registry.create_extractor("toy_resid");
    ModelInfo info{"toy", 2, 1, 4};
    try {
        extractor->configure({{"layers", {0, 7}}}, info);
        FAIL("expected an error");
    } catch (const SpecError& e) {
        CHECK(e.field() == "layers[1]");
        CHECK(std::string(e.what()).find("the model has 2 layers") != std::string::npos);
    }
}

TEST_CASE("a run of one stage loads only the plugins that stage uses") {
    test::ScratchDir dir;  // private copies: no other registry in this process has loaded them
    for (const char* name : {"laminar_model_toy.so", "laminar_extractor_toy_resid.so", "laminar_metric_row_norms.so"})
        std::filesystem::copy_file(std::filesystem::path(FIXTURE_PLUGIN_DIR) / name, dir.path / name);
    const PluginRegistry registry({dir.path});
    CHECK(!is_loaded(dir.path / "laminar_model_toy.so"));  // listing files loads nothing
    LoadOptions analyze_only;
    analyze_only.stage = "analyze";
    analyze_only.require_paths = false;
    load_experiment(test::toy_experiment(dir), registry, analyze_only);
    CHECK(is_loaded(dir.path / "laminar_metric_row_norms.so"));
    CHECK(!is_loaded(dir.path / "laminar_model_toy.so"));
    CHECK(!is_loaded(dir.path / "laminar_extractor_toy_resid.so"));
    CHECK(registry.plugins().size() == 3);  // listing examines them all
    CHECK(is_loaded(dir.path / "laminar_model_toy.so"));
}

TEST_CASE("a folder's model plugin is chosen by its model_type without loading any other plugin") {
    test::ScratchDir dir;  // private copies: no other registry in this process has loaded them
    for (const char* name : {"laminar_model_toy.so", "laminar_extractor_toy_resid.so", "laminar_metric_row_norms.so"})
        std::filesystem::copy_file(std::filesystem::path(FIXTURE_PLUGIN_DIR) / name, dir.path / name);
    const PluginRegistry registry({dir.path});
    dir.write("config.json", R"({"model_type": "toy"})");
    CHECK(registry.model_backend_for(dir.path) == "toy");
    CHECK(is_loaded(dir.path / "laminar_model_toy.so"));
    CHECK(!is_loaded(dir.path / "laminar_extractor_toy_resid.so"));
    CHECK(!is_loaded(dir.path / "laminar_metric_row_norms.so"));
    // A model_type none reads: every library is examined, and the message lists what each reads.
    dir.write("config.json", R"({"model_type": "gpt2"})");
    try {
        registry.model_backend_for(dir.path);
        FAIL("expected an error");
    } catch (const InputError& e) {
        CHECK(std::string(e.what()).find("model_type \"gpt2\" is read by no model plugin (read: toy: toy)") != std::string::npos);
    }
}
