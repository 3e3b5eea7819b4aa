#include <doctest/doctest.h>

#include <cstdlib>

#include "runtime/errors.hpp"
#include "spec/experiment.hpp"
#include "helpers.hpp"

using namespace laminar;

namespace {

/// The message of the InputError that loading `yaml` raises ("" when it loads).
std::string error_of(const std::string& yaml, LoadOptions options = {}) {
    test::ScratchDir dir;
    const auto file = dir.write("exp.yaml", yaml);
    try {
        load_experiment(file, test::fixture_registry(), options);
        return "";
    } catch (const InputError& e) {
        std::string msg = e.what();
        // Messages start with the absolute path: keep the file name for comparison.
        for (std::size_t at; (at = msg.find(dir.path.string() + "/")) != std::string::npos;)
            msg.erase(at, dir.path.string().size() + 1);
        return msg;
    }
}

const std::string kValid = R"(experiment: ok
models:
  - id: toy
    backend: toy
    path: ${LAMINAR_TEST_MODELS}/toy_model
stimuli:
  template: "The next word is {word}"
  position: word_last
  categories:
    zeta: [one, two]
    alpha: [three]
extract:
  - extractor: toy_resid
    layers: [1]
analyze:
  - metric: row_norms
  - metric: row_norms
    name: norms_again
output: out/run.h5
)";

std::string replaced(std::string text, const std::string& from, const std::string& to) {
    text.replace(text.find(from), from.size(), to);
    return text;
}

}  // namespace

TEST_CASE("a valid experiment loads with categories in file order and paths resolved") {
    ::setenv("LAMINAR_TEST_MODELS", "/models", 1);
    test::ScratchDir dir;
    const auto exp = load_experiment(dir.write("exp.yaml", kValid), test::fixture_registry());
    CHECK(exp.name == "ok");
    REQUIRE(exp.models.size() == 1);
    CHECK(exp.models[0].path == "/models/toy_model");
    CHECK(exp.stimuli.position == "word_last");
    REQUIRE(exp.stimuli.categories.size() == 2);
    CHECK(exp.stimuli.categories[0].first == "zeta");
    CHECK(exp.stimuli.categories[1].second == std::vector<std::string>{"three"});
    REQUIRE(exp.analyze.size() == 2);
    CHECK(exp.analyze[1].name == "norms_again");
    CHECK(exp.analyze[1].params.empty());
    CHECK(exp.extract[0].params == nlohmann::json{{"layers", {1}}});
    CHECK(exp.output == dir.path / "out/run.h5");
}

TEST_CASE("schema errors name file, line, column, field and what was expected") {
    ::setenv("LAMINAR_TEST_MODELS", "/models", 1);
    CHECK(error_of(replaced(kValid, "position: word_last", "position: middle")) ==
          "exp.yaml:8:13: stimuli.position: expected one of: last, word_last, word_first, word_mean (found \"middle\")");
    CHECK(error_of(replaced(kValid, "output: out/run.h5\n", "output: out/run.h5\noutptu: x\n")) ==
          "exp.yaml:20:1: outptu: unknown field (allowed here: analyze, description, experiment, extract, models, "
          "output, stimuli)");
    CHECK(error_of(replaced(kValid, "    path: ${LAMINAR_TEST_MODELS}/toy_model\n", "")).rfind("exp.yaml:3:5: models[0]: ", 0) == 0);
    CHECK(error_of(replaced(kValid, "zeta: [one, two]", "zeta: []")).rfind("exp.yaml:10:11: stimuli.categories.zeta: ", 0) == 0);
}

TEST_CASE("plugin parameters are checked against the plugin's own schema") {
    ::setenv("LAMINAR_TEST_MODELS", "/models", 1);
    const std::string bad_type = error_of(replaced(kValid, "layers: [1]", "layers: [one]"));
    CHECK(bad_type.rfind("exp.yaml:14:14: extract[0].layers[0]: ", 0) == 0);
    CHECK(bad_type.find("extractor plugin 'toy_resid'") != std::string::npos);
    CHECK(error_of(replaced(kValid, "  - metric: row_norms\n  - metric", "  - metric: row_norms\n    bins: 3\n  - metric"))
              .rfind("exp.yaml:17:5: analyze[0].bins: unknown field", 0) == 0);
}

TEST_CASE("unknown plugins, duplicate names and unset variables are reported, all at once") {
    ::unsetenv("LAMINAR_TEST_MODELS");
    const std::string msg = error_of(replaced(replaced(kValid, "backend: toy", "backend: gpt9"),
                                              "    name: norms_again\n", ""));
    CHECK(msg.find("exp.yaml:4:14: models[0].backend: no model plugin named 'gpt9' (installed model plugins: toy;") !=
          std::string::npos);
    CHECK(msg.find("exp.yaml:5:11: models[0].path: environment variable LAMINAR_TEST_MODELS is not set") !=
          std::string::npos);
    CHECK(msg.find("exp.yaml:17:5: analyze[1]: a second analyze entry named 'row_norms'") != std::string::npos);

    LoadOptions lenient;
    lenient.require_paths = false;  // `laminar validate`: an unset variable is only a note
    CHECK(error_of(kValid, lenient).empty());
}

TEST_CASE("--model overrides a path and must name a model of the experiment") {
    LoadOptions options;
    options.model_paths["toy"] = "/elsewhere/toy";
    test::ScratchDir dir;
    const auto exp = load_experiment(dir.write("exp.yaml", kValid), test::fixture_registry(), options);
    CHECK(exp.models[0].path == "/elsewhere/toy");
    options.model_paths["nope"] = "/x";
    CHECK(error_of(kValid, options).find("--model nope=/x names no model of this experiment") != std::string::npos);
}

TEST_CASE("a word listed twice and a template without one {word} are errors") {
    ::setenv("LAMINAR_TEST_MODELS", "/models", 1);
    CHECK(error_of(replaced(kValid, "alpha: [three]", "alpha: [three, one]")) ==
          "exp.yaml:11:20: stimuli.categories.alpha[1]: 'one' is listed twice (also in zeta)");
    CHECK(error_of(replaced(kValid, "is {word}", "is {word} {word}")) ==
          "exp.yaml:7:13: stimuli.template: expected exactly one {word} placeholder");
}
