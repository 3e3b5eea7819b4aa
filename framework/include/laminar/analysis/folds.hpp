// Cross-validation folds over words (the unit: a word's contexts are averaged before, so they
// are never split across folds), drawn from a seeded generator before any work is shared, so
// that the folds do not depend on threads or ranks. Header-only (Armadillo).
#pragma once

#include <algorithm>
#include <armadillo>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "laminar/analysis/rdm.hpp"
#include "laminar/metric.hpp"

namespace laminar::analysis {

/// k-fold: the words in a random order (from `rng`), cut into `k` contiguous blocks whose sizes
/// differ by at most one (scikit-learn's KFold(shuffle=True) cuts so). The fold of each word.
inline arma::uvec kfold(arma::uword n, arma::uword k, std::mt19937_64& rng) {
    std::vector<arma::uword> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    arma::uvec fold(n);
    for (arma::uword f = 0, at = 0; f < k; ++f) {
        const arma::uword size = n / k + (f < n % k ? 1 : 0);
        for (arma::uword i = 0; i < size; ++i) fold(order[at++]) = f;
    }
    return fold;
}

/// Stratified k-fold: each label's words in a random order, dealt to the folds in turn, each
/// label starting where the previous one stopped, so that every fold holds each label's words in
/// proportion (within one) and the folds' sizes differ by at most one.
inline arma::uvec stratified_kfold(const arma::uvec& labels, arma::uword k, std::mt19937_64& rng) {
    arma::uvec fold(labels.n_elem);
    arma::uword next = 0;
    for (arma::uword c = 0; labels.n_elem && c <= labels.max(); ++c) {
        std::vector<arma::uword> words;
        for (arma::uword i = 0; i < labels.n_elem; ++i)
            if (labels(i) == c) words.push_back(i);
        std::shuffle(words.begin(), words.end(), rng);
        for (const arma::uword w : words) fold(w) = next++ % k;
    }
    return fold;
}

/// The words of fold `f` (test) and of the others (train), in word order.
struct FoldSplit {
    arma::uvec train, test;
};

inline FoldSplit split(const arma::uvec& fold, arma::uword f) {
    return {arma::find(fold != f), arma::find(fold == f)};
}

/// `count` random orders of 0..n-1, drawn one after another from `rng` (after the folds).
inline std::vector<arma::uvec> shuffles(arma::uword n, std::size_t count, std::mt19937_64& rng) {
    std::vector<arma::uword> perm(n);
    std::vector<arma::uvec> out(count);
    for (auto& p : out) {
        std::iota(perm.begin(), perm.end(), 0);
        std::shuffle(perm.begin(), perm.end(), rng);
        p = arma::uvec(perm);
    }
    return out;
}

/// A value per word (its fold, its prediction) written at `path`, on the stimuli's axis where the
/// words are the stimuli (contexts averaged).
inline void write_per_word(ResultSink& out, const std::string& path, const arma::uvec& values, const Conditions& words) {
    out.write(path, {static_cast<int64_t>(values.n_elem)}, std::vector<double>(values.begin(), values.end()));
    if (!words.repeated()) out.axes(path, {Axis::stimuli});
}

}  // namespace laminar::analysis
