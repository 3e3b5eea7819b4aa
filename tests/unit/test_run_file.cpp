#include <doctest/doctest.h>

#include "helpers.hpp"
#include "store/run_file.hpp"

using namespace laminar;

TEST_CASE("datasets and attributes round-trip through the HDF5 wrapper") {
    test::ScratchDir dir;
    const auto path = dir.path / "x.h5";
    {
        h5::Handle f = h5::create_file(path);
        const std::vector<float> m = {1, 2, 3, 4, 5, 6};
        h5::write(f, "a/b/matrix", {2, 3}, m.data());
        h5::write(f, "a/names", std::vector<std::string>{"galaxy", "ünïcode", ""});
        h5::write(f, "a/ids", std::vector<std::vector<int32_t>>{{464, 1306}, {}, {1, 2, 3}});
        h5::set_attr(f, "a/b/matrix", "layer", int64_t{5});
        h5::set_attr(f, "a/b", "r", 0.25);
        h5::set_attr(f, ".", "spec", std::string("experiment: x\n"));
    }
    h5::Handle f = h5::open_file(path, false);
    CHECK(h5::shape(f, "a/b/matrix") == std::vector<hsize_t>{2, 3});
    CHECK(h5::read_floats(f, "a/b/matrix") == std::vector<float>{1, 2, 3, 4, 5, 6});
    CHECK(h5::read_strings(f, "a/names") == std::vector<std::string>{"galaxy", "ünïcode", ""});
    CHECK(h5::read_vlen_ints(f, "a/ids") == std::vector<std::vector<int32_t>>{{464, 1306}, {}, {1, 2, 3}});
    CHECK(h5::get_int_attr(f, "a/b/matrix", "layer") == 5);
    CHECK(h5::get_string_attr(f, ".", "spec") == "experiment: x\n");
    CHECK(h5::children(h5::open_group(f, "a")) == std::vector<std::string>{"b", "names", "ids"});  // creation order
    CHECK(!h5::exists(f, "a/nothing/here"));
}

TEST_CASE("an uncommitted transaction leaves the run file exactly as it was") {
    test::ScratchDir dir;
    const auto run = dir.path / "run.h5";
    {
        RunTransaction tx(run, {});
        h5::set_attr(tx.file(), ".", "generation", int64_t{1});
        tx.commit();
    }
    CHECK(!std::filesystem::exists(RunTransaction::partial_path(run)));
    {
        RunTransaction tx(run, {});
        h5::set_attr(tx.file(), ".", "generation", int64_t{2});
        // no commit: as if the stage threw
    }
    CHECK(!std::filesystem::exists(RunTransaction::partial_path(run)));
    h5::Handle f = open_run_file(run);
    CHECK(h5::get_int_attr(f, ".", "generation") == 1);
}

TEST_CASE("a partial file left by a killed run is detected and discarded by the next transaction") {
    test::ScratchDir dir;
    const auto run = dir.path / "run.h5";
    { RunTransaction tx(run, {}); h5::set_attr(tx.file(), ".", "generation", int64_t{1}); tx.commit(); }
    dir.write("run.h5.partial", "half an HDF5 file");
    RunTransaction tx(run, {});
    CHECK(h5::get_int_attr(tx.file(), ".", "generation") == 1);  // starts from the committed file
}

TEST_CASE("a stage record exists only once written, and a non-HDF5 output is never overwritten") {
    test::ScratchDir dir;
    const auto run = dir.path / "run.h5";
    {
        RunTransaction tx(run, {});
        CHECK(!stage_hash(tx.file(), "extract"));
        record_stage(tx.file(), "extract", "abc");
        CHECK(stage_hash(tx.file(), "extract") == std::optional<std::string>("abc"));
        tx.commit();
    }
    const auto text = dir.write("notes.h5", "my notes");
    CHECK_THROWS_WITH_AS(RunTransaction(text, {}), doctest::Contains("is not an HDF5 file"), std::exception);
}
