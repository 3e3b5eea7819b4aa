// Permutation tests shared by the metrics: which relabellings make the null (all of them when
// they are no more than the permutations asked for, else random draws), and the p-value, ties
// with the observed statistic counted as scipy.stats.permutation_test counts them.
//
// A tie is common: the identity is among the relabellings (often drawn many times among few
// words), and so are the relabellings that leave a space unchanged. Its null value is the
// observed statistic computed another way (a gathered dot product instead of compare()), a few
// ulps away from it; compared exactly, half of the ties fall below and are dropped, and the
// p-value goes under its bound (1 / 720 among 6 words).
#pragma once

#include <algorithm>
#include <armadillo>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

namespace laminar::analysis {

/// How far below `observed` a null value still counts as a tie: scipy.stats.permutation_test's
/// relative tolerance (since 1.11: 100 machine epsilons of |observed|), never under 100
/// epsilons: the statistics here (correlations, CKA, bits, ratios near 1) are on a scale of 1,
/// where a null value computed in another order misses an observed 0 by about epsilon, not 0.
inline double tie_tolerance(double observed) {
    return 100 * std::numeric_limits<double>::epsilon() * std::max(1.0, std::abs(observed));
}

/// One-sided permutation p-value (H1: `observed` is larger), ties within tie_tolerance counted
/// as reaching it. `exact`: the null holds every relabelling, the identity among them, and p =
/// #{null >= observed - tol} / N; else the null was drawn at random and p = (1 + #) / (1 + N)
/// (Phipson & Smyth 2010), never 0. NaN for a NaN observation (no comparison is true of it).
inline double permutation_p_value(const arma::vec& null, double observed, bool exact) {
    if (std::isnan(observed)) return arma::datum::nan;
    const double threshold = observed - tie_tolerance(observed);
    double reached = 0;  // (a loop: arma::accu(null >= t) inlined on a small null trips gcc's -Wfree-nonheap-object)
    for (const double v : null) reached += v >= threshold;
    return exact ? reached / static_cast<double>(null.n_elem) : (1.0 + reached) / (1.0 + static_cast<double>(null.n_elem));
}

/// n! when it is at most `cap`, else 0 (n! overflows nothing on the way: it stops at the cap).
inline std::size_t factorial_up_to(std::size_t n, std::size_t cap) {
    std::size_t f = 1;
    for (std::size_t i = 2; i <= n; ++i) {
        if (f > cap / i) return 0;
        f *= i;
    }
    return f <= cap ? f : 0;
}

/// The number of distinct labellings of the units (the multinomial n! / prod_c n_c!, n_c the
/// units of category c) when it is at most `cap`, else 0. Built as a product of binomials
/// C(t, m), each by C(t - m + i, i) = C(t - m + i - 1, i - 1) (t - m + i) / i, exact in integers
/// and growing with i, so the first value past the cap ends it.
inline std::size_t distinct_labellings_up_to(const arma::uvec& labels, std::size_t cap) {
    if (labels.is_empty()) return 1;
    const arma::uvec sizes = arma::hist(labels, arma::regspace<arma::uvec>(0, labels.max()));
    std::size_t total = 1, t = 0;
    for (const arma::uword m : sizes) {
        t += m;
        std::size_t binomial = 1;
        for (std::size_t i = 1; i <= m; ++i) {
            binomial = binomial * (t - m + i) / i;
            if (binomial > cap) return 0;
        }
        if (total > cap / binomial) return 0;
        total *= binomial;
    }
    return total;
}

/// Random permutations of 0..n-1, drawn up front from one seeded generator so that the
/// results do not depend on how the work is split across threads or ranks.
inline std::vector<arma::uvec> draw_permutations(arma::uword n, std::size_t count, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<arma::uword> perm(n);
    std::iota(perm.begin(), perm.end(), 0);
    std::vector<arma::uvec> out(count);
    for (auto& p : out) {
        std::shuffle(perm.begin(), perm.end(), rng);
        p = arma::uvec(perm);
    }
    return out;
}

/// The relabellings a permutation test of n units uses.
struct Relabellings {
    std::vector<arma::uvec> perms;
    bool exact = false;  ///< every one of the n! permutations (each once), not a random draw
};

/// All n! permutations of 0..n-1 (lexicographic order, the identity first) when there are no
/// more than `permutations`: the exact null, which random draws would only approximate with
/// repeats; else `permutations` random ones from `seed`.
inline Relabellings relabellings(arma::uword n, std::size_t permutations, std::uint64_t seed) {
    Relabellings out;
    const std::size_t all = factorial_up_to(n, permutations);
    out.exact = all > 0;
    if (!out.exact) {
        out.perms = draw_permutations(n, permutations, seed);
        return out;
    }
    out.perms.reserve(all);
    std::vector<arma::uword> perm(n);
    std::iota(perm.begin(), perm.end(), 0);
    do out.perms.emplace_back(perm);
    while (std::next_permutation(perm.begin(), perm.end()));
    return out;
}

}  // namespace laminar::analysis
