// The helpers every extractor uses to take a stimulus's rows from a hook's value
// (framework/include/laminar/extraction.hpp), on hand-built values whose every entry says where
// it came from.
#include <doctest/doctest.h>

#include "laminar/extraction.hpp"

using namespace laminar;

namespace {

/// One prompt's attention pattern [head, query, key] with entry (h, q, k) = 100 h + 10 q + k.
Tensor pattern(int64_t heads, int64_t T) {
    Tensor t{{heads, T, T}, {}};
    for (int64_t h = 0; h < heads; ++h)
        for (int64_t q = 0; q < T; ++q)
            for (int64_t k = 0; k < T; ++k) t.data.push_back(static_cast<float>(100 * h + 10 * q + k));
    return t;
}

Stimulus at(int32_t position, int32_t word_begin = 0, int32_t word_end = 0) {
    Stimulus s;
    s.position = position;
    s.word_begin = word_begin;
    s.word_end = word_end;
    return s;
}

}  // namespace

TEST_CASE("an attention pattern gives the analysed token's row over its prompt's keys, a column per head") {
    // Two prompts of 3 and 4 tokens, 2 heads: the first analysed at its last token, the second
    // averaged over its word (tokens 1 and 2).
    const ActivationSet set = pattern_rows("blocks.0.attn.hook_pattern", 0, "pattern", {pattern(2, 3), pattern(2, 4)},
                                           {at(2), at(-1, 1, 3)});
    CHECK(set.rows == 7);
    CHECK(set.cols == 2);
    CHECK(set.tokens == std::vector<int64_t>{3, 4});
    // Prompt 0, query 2: row k = (h0: 20 + k, h1: 120 + k).
    const std::vector<float> first = {20, 120, 21, 121, 22, 122};
    CHECK(std::vector<float>(set.data.begin(), set.data.begin() + 6) == first);
    // Prompt 1, queries 1 and 2 averaged: row k = (h0: 15 + k, h1: 115 + k).
    const std::vector<float> second = {15, 115, 16, 116, 17, 117, 18, 118};
    CHECK(std::vector<float>(set.data.begin() + 6, set.data.end()) == second);
}

TEST_CASE("a pattern that is not [head, query, key] of one prompt, or a position beyond it, is refused") {
    Tensor flat{{3, 3}, std::vector<float>(9, 0.0f)};
    CHECK_THROWS_WITH_AS(pattern_rows("blocks.1.attn.hook_pattern", 1, "pattern", {flat}, {at(0)}),
                         "blocks.1.attn.hook_pattern: expected an attention pattern [head, query, key] of one prompt", SpecError);
    Tensor wide{{1, 2, 3}, std::vector<float>(6, 0.0f)};
    CHECK_THROWS_AS(pattern_rows("blocks.1.attn.hook_pattern", 1, "pattern", {wide}, {at(0)}), SpecError);
    CHECK_THROWS_WITH_AS(pattern_rows("blocks.1.attn.hook_pattern", 1, "pattern", {pattern(1, 3)}, {at(3)}),
                         "position 3 is beyond the prompt", SpecError);
}
