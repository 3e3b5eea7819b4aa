#include <doctest/doctest.h>

#include "runtime/errors.hpp"
#include "store/shards.hpp"

using namespace laminar;

TEST_CASE("the shards of a stage's rows cover every row once, in blocks differing by at most one") {
    for (std::size_t rows = 0; rows <= 40; ++rows)
        for (std::size_t n = 1; n <= 12; ++n) {
            std::size_t next = 0, smallest = rows, largest = 0;
            for (std::size_t k = 0; k < n; ++k) {
                const auto [begin, end] = shard_rows(rows, Shard{k, n});
                CHECK(begin == next);
                next = end;
                smallest = std::min(smallest, end - begin);
                largest = std::max(largest, end - begin);
            }
            CHECK(next == rows);
            CHECK(largest - smallest <= 1);
        }
}

TEST_CASE("--shard takes K/N with K below N, and names the file beside the run file") {
    const Shard s = parse_shard("3/8");
    CHECK(s.index == 3);
    CHECK(s.count == 8);
    CHECK(s.active());
    CHECK(!parse_shard("0/1").active());
    for (const char* bad : {"8/8", "0/0", "3", "a/b", "1/2/3", "-1/2", " 1/2", "9999999/99999999"})
        CHECK_THROWS_WITH_AS(parse_shard(bad), doctest::Contains("--shard expects K/N with 0 <= K < N"), InputError);
    CHECK(shard_path("/runs/demo.h5", s) == std::filesystem::path("/runs/demo.shard-3-of-8.h5"));
    CHECK(shard_takes(11, s));  // 11 mod 8
    CHECK(!shard_takes(4, s));
}
