#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <sstream>

#include "runtime/errors.hpp"
#include "helpers.hpp"
#include "stages/pipeline.hpp"
#include "store/run_file.hpp"

using namespace laminar;

namespace {

std::string run(const std::filesystem::path& yaml, RunOptions options = {}) {
    const Experiment exp = load_experiment(yaml, test::fixture_registry());
    if (options.output.empty()) options.output = exp.output;
    std::ostringstream log;
    run_experiment(exp, test::fixture_registry(), options, log);
    return log.str();
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// The toy model's token id of a word, recomputed here (FNV-1a 32 mod 50257).
int32_t toy_id(const std::string& w) {
    uint32_t h = 2166136261u;
    for (unsigned char c : w) h = (h ^ c) * 16777619u;
    return static_cast<int32_t>(h % 50257u);
}

}  // namespace

TEST_CASE("a full run writes stimuli, activations at the analysed position, results and stage records") {
    test::ScratchDir dir;
    const auto yaml = test::toy_experiment(dir);
    const std::string log = run(yaml);
    CHECK(contains(log, "extract: toy: 9 prompts, 2 activation set(s)"));
    CHECK(contains(log, "analyze: row_norms: done"));
    CHECK(contains(log, "asteroid (2 tokens)"));  // the toy tokenizer splits words over 7 letters

    h5::Handle f = open_run_file(dir.path / "runs/toy.h5");
    const auto stimuli = read_stimuli(f);
    REQUIRE(stimuli.size() == 9);
    CHECK(stimuli[0].text == "The next word is galaxy");
    CHECK(stimuli[0].category == "space");
    CHECK(stimuli[5].category == "fruit");
    CHECK(stimuli[1].word_end - stimuli[1].word_begin == 2);
    CHECK(read_category_names(f) == std::vector<std::string>{"space", "fruit"});

    const std::string hook = "activations/toy/blocks.2.hook_resid_post";
    REQUIRE(h5::shape(f, hook) == std::vector<hsize_t>{9, 6});
    CHECK(h5::get_int_attr(f, hook, "layer") == 2);
    CHECK(h5::get_string_attr(f, hook, "site") == "resid_post");
    const auto values = h5::read_floats(f, hook);
    for (int j = 0; j < 6; ++j)  // row 0, last token (position 4): the word "galaxy"
        CHECK(values[j] == doctest::Approx(std::sin(0.001 * toy_id("galaxy") * (j + 1) + 2) + 0.4).epsilon(1e-6));
    CHECK(h5::shape(f, "results/row_norms/toy/blocks.2.hook_resid_post/norms") == std::vector<hsize_t>{9});
    CHECK(stage_hash(f, "extract").has_value());
    CHECK(stage_hash(f, "analyze/row_norms").has_value());
    CHECK(h5::get_string_attr(f, ".", "laminar_version").size() > 0);
}

TEST_CASE("unchanged stages are skipped, --force re-runs them, and a new metric runs alone") {
    test::ScratchDir dir;
    run(test::toy_experiment(dir));
    std::string log = run(dir.path / "toy.yaml");
    CHECK(contains(log, "extract: up to date"));
    CHECK(contains(log, "analyze: row_norms: up to date"));

    RunOptions force;
    force.force = true;
    force.stage = "analyze";
    log = run(dir.path / "toy.yaml", force);
    CHECK(!contains(log, "extract"));
    CHECK(contains(log, "analyze: row_norms: done"));

    log = run(test::toy_experiment(dir, "  - metric: row_norms\n  - metric: row_norms\n    name: again\n"));
    CHECK(contains(log, "extract: up to date"));
    CHECK(contains(log, "analyze: row_norms: up to date"));
    CHECK(contains(log, "analyze: again: done"));

    log = run(test::toy_experiment(dir, "  - metric: row_norms\n"));
    CHECK(contains(log, "removed results of 'again'"));
}

TEST_CASE("changing the stimuli or the model invalidates the extraction, and analyze works without the model") {
    test::ScratchDir dir;
    const auto yaml = test::toy_experiment(dir);
    run(yaml);
    // Touch the model folder's contents: a different model.
    std::ofstream(dir.path / "toy_model/config.json") << R"({"n_layer": 3, "d_model": 5})";
    std::string log = run(yaml);
    CHECK(contains(log, "extract: toy: 9 prompts"));
    CHECK(contains(log, "analyze: row_norms: done"));  // new activations: results recomputed
    {
        h5::Handle f = open_run_file(dir.path / "runs/toy.h5");
        CHECK(h5::shape(f, "activations/toy/blocks.0.hook_resid_post") == std::vector<hsize_t>{9, 5});
    }

    std::filesystem::remove_all(dir.path / "toy_model");
    RunOptions analyze;
    analyze.stage = "analyze";
    analyze.force = true;
    CHECK(contains(run(yaml, analyze), "analyze: row_norms: done"));
    log = run(yaml);  // no --stage: extraction is cached for the same spec, so the missing folder is fine
    CHECK(contains(log, "using the activations already in"));

    std::string text;
    {
        std::ifstream in(yaml);
        text.assign(std::istreambuf_iterator<char>(in), {});
    }
    text.replace(text.find("peach"), 5, "plum");
    std::ofstream(yaml) << text;
    CHECK_THROWS_WITH_AS(run(yaml), doctest::Contains("models[0].path: model folder not found"), InputError);
}

TEST_CASE("a run killed in the middle of writing leaves the previous results intact and is repaired next time") {
    test::ScratchDir dir;
    const auto yaml = test::toy_experiment(dir);
    run(yaml);
    const auto run_file = dir.path / "runs/toy.h5";
    std::vector<float> before;
    {
        h5::Handle f = open_run_file(run_file);
        before = h5::read_floats(f, "results/row_norms/toy/blocks.0.hook_resid_post/norms");
    }

    test::toy_experiment(dir, "  - metric: row_norms\n    crash_midway: true\n");
    const pid_t child = ::fork();
    if (child == 0) {  // the metric SIGKILLs this process after writing its first dataset
        try { run(yaml); } catch (...) {}
        ::_exit(0);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGKILL);
    CHECK(std::filesystem::exists(RunTransaction::partial_path(run_file)));
    {
        h5::Handle f = open_run_file(run_file);  // the committed file: untouched, complete
        CHECK(h5::read_floats(f, "results/row_norms/toy/blocks.0.hook_resid_post/norms") == before);
        CHECK(h5::has_attr(f, "results/row_norms/toy/blocks.0.hook_resid_post", "mean_norm"));
    }

    test::toy_experiment(dir, "  - metric: row_norms\n");
    const std::string log = run(yaml);
    CHECK(contains(log, "left by an interrupted run"));
    CHECK(contains(log, "analyze: row_norms: up to date"));  // the committed results are still valid
    CHECK(!std::filesystem::exists(RunTransaction::partial_path(run_file)));
}

TEST_CASE("analyze before any extraction is a clear error") {
    test::ScratchDir dir;
    RunOptions analyze;
    analyze.stage = "analyze";
    CHECK_THROWS_WITH_AS(run(test::toy_experiment(dir), analyze), doctest::Contains("no completed extract stage"),
                         InputError);
}
