// Permutation tests with ties (issue 23, item 5): ties with the observed statistic are counted
// (scipy.stats.permutation_test's relative tolerance), and few units are relabelled every way
// (the exact null), against brute-force enumerations written here without the helpers'
// shortcuts, and calibrated over hundreds of seeds.
#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <set>

#include "calibration.hpp"
#include "laminar/analysis/permutation.hpp"
#include "laminar/analysis/rsa.hpp"
#include "laminar/analysis/selectivity.hpp"
#include "laminar/analysis/similarity_metric.hpp"

using namespace laminar::analysis;

namespace {

using laminar::test::ks_uniform;

/// Pearson of two vectors, the textbook sums (no helper of the library).
double plain_pearson(const std::vector<double>& x, const std::vector<double>& y) {
    const double n = double(x.size());
    const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n, my = std::accumulate(y.begin(), y.end(), 0.0) / n;
    double sxy = 0, sxx = 0, syy = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    return sxy / std::sqrt(sxx * syy);
}

/// The strict upper triangle of M with its stimuli relabelled by `perm` (M(perm i, perm j)).
std::vector<double> relabelled_upper(const arma::mat& M, const std::vector<arma::uword>& perm) {
    std::vector<double> out;
    for (arma::uword i = 0; i < M.n_rows; ++i)
        for (arma::uword j = i + 1; j < M.n_rows; ++j) out.push_back(M(perm[i], perm[j]));
    return out;
}

/// The Mantel p-value of A against B over all n! relabellings, by brute force: the identity
/// relabelling's correlation is the observed one, and a relabelling reaches it when its
/// correlation is at least that less 1e-9 (the values of distinct relabellings of random
/// matrices lie much further apart than that; ties are equal but for rounding).
double brute_force_exact_p(const arma::mat& A, const arma::mat& B) {
    std::vector<arma::uword> perm(A.n_rows);
    std::iota(perm.begin(), perm.end(), 0);
    const std::vector<double> a = relabelled_upper(A, perm);
    const double observed = plain_pearson(a, relabelled_upper(B, perm));
    double reached = 0, all = 0;
    do {
        reached += plain_pearson(a, relabelled_upper(B, perm)) >= observed - 1e-9;
        all += 1;
    } while (std::next_permutation(perm.begin(), perm.end()));
    return reached / all;
}

/// A random RDM over the rows of X (1 - cosine).
arma::mat random_rdm(const arma::mat& X) {
    std::size_t degenerate = 0;
    return 1 - similarity(X, "cosine", degenerate);
}

}  // namespace

TEST_CASE("relabellings: every one of n! when no more than asked (identity first), else the random draws") {
    const Relabellings four = relabellings(4, 24, 1);
    CHECK(four.exact);
    REQUIRE(four.perms.size() == 24);
    CHECK(arma::all(four.perms[0] == arma::regspace<arma::uvec>(0, 3)));
    std::set<std::vector<arma::uword>> distinct;
    for (const auto& p : four.perms) distinct.insert(std::vector<arma::uword>(p.begin(), p.end()));
    CHECK(distinct.size() == 24);
    const Relabellings drawn = relabellings(4, 23, 1);  // 4! > 23: drawn, as before
    CHECK_FALSE(drawn.exact);
    REQUIRE(drawn.perms.size() == 23);
    const auto same = draw_permutations(4, 23, 1);
    for (std::size_t p = 0; p < 23; ++p) CHECK(arma::all(drawn.perms[p] == same[p]));
    CHECK(factorial_up_to(9, 1000000) == 362880);
    CHECK(factorial_up_to(10, 1000000) == 0);
    CHECK(factorial_up_to(25, 1000000) == 0);  // no overflow on the way
    // Multinomials: 6! / (2! 2! 2!) = 90, 18! / (6!)^3 = 17,153,136, 6! / (2! 4!) = 15.
    CHECK(distinct_labellings_up_to(arma::uvec{0, 0, 1, 1, 2, 2}, 90) == 90);
    CHECK(distinct_labellings_up_to(arma::uvec{0, 0, 1, 1, 2, 2}, 89) == 0);
    CHECK(distinct_labellings_up_to(arma::uvec{1, 0, 1, 1, 0, 1}, 1000) == 15);
    CHECK(distinct_labellings_up_to(arma::regspace<arma::uvec>(0, 17) / 6, 17153136) == 17153136);
    CHECK(distinct_labellings_up_to(arma::regspace<arma::uvec>(0, 17) / 6, 17153135) == 0);
}

TEST_CASE("identical spaces, 6 words: the Mantel p-value is the exact #ties / 720, never below 1 / 720") {
    // The case: 10,000 permutations of 6 words gave p = 0.0007 < 1 / 720. Two RDMs:
    // one of 6 random patterns (one relabelling, the identity, reaches it), and one of 3 pairs
    // of identical patterns (swapping the words of a pair, or whole pairs with each other, keeps
    // it: the brute force counts those ties).
    std::mt19937_64 rng(3);
    std::normal_distribution<double> normal;
    arma::mat generic(6, 4), paired(6, 4);
    for (auto& v : generic) v = normal(rng);
    for (arma::uword i = 0; i < 6; i += 2)
        for (arma::uword d = 0; d < 4; ++d) paired(i, d) = paired(i + 1, d) = normal(rng);
    paired.row(0) *= 2;  // the pairs unlike one another in length too (cosine ignores it, the pair stays equal)
    for (const arma::mat& X : {generic, paired}) {
        const arma::mat A = random_rdm(X);
        const double expected = brute_force_exact_p(A, A);
        const double r = compare(upper(A), upper(A), "corr");
        const Relabellings all = relabellings(6, 10000, 7);
        REQUIRE(all.exact);
        REQUIRE(all.perms.size() == 720);
        const arma::vec null = mantel_null(A, A, "corr", all.perms);
        CHECK(permutation_p_value(null, r, true) == doctest::Approx(expected).epsilon(1e-12));
        CHECK(permutation_p_value(null, r, true) >= 1.0 / 720);
        // Random draws (the 10,000 of before) count their ties too: every draw of a relabelling
        // that keeps A, the identity among them, reaches r.
        const auto drawn = draw_permutations(6, 10000, 7);
        const arma::vec drawn_null = mantel_null(A, A, "corr", drawn);
        double keeps = 0;
        for (const auto& p : drawn) keeps += arma::approx_equal(arma::mat(A.submat(p, p)), A, "absdiff", 1e-12);
        CHECK(permutation_p_value(drawn_null, r, false) == doctest::Approx((1 + keeps) / 10001).epsilon(1e-12));
    }
    CHECK(brute_force_exact_p(random_rdm(generic), random_rdm(generic)) == doctest::Approx(1.0 / 720));
    CHECK(brute_force_exact_p(random_rdm(paired), random_rdm(paired)) == doctest::Approx(8.0 / 720));  // the 2^3 swaps within pairs
}

TEST_CASE("small Mantel tests: every draw of the identity counts as a tie (800 runs of 4 words)") {
    // The issue: ties were missed in 244 of 800 small Mantel runs, the null's identity draws a
    // hair below r (a gathered dot product against compare()'s sums). Each run: two random RDMs
    // over 4 words, 100 random relabellings (4! = 24: the identity drawn about 4 times); the
    // expected p counts the draws whose brute-force correlation reaches r less 1e-9.
    std::mt19937_64 rng(11);
    std::normal_distribution<double> normal;
    int missed_by_exact_comparison = 0;
    for (int run = 0; run < 800; ++run) {
        arma::mat X(4, 3), Y(4, 3);
        for (auto& v : X) v = normal(rng);
        for (auto& v : Y) v = normal(rng);
        const arma::mat A = random_rdm(X), B = random_rdm(Y);
        const double r = compare(upper(A), upper(B), "corr");
        const auto perms = draw_permutations(4, 100, 1000 + run);
        const arma::vec null = mantel_null(A, B, "corr", perms);
        const std::vector<double> a = relabelled_upper(A, {0, 1, 2, 3});
        double reached = 0;
        for (const auto& p : perms) reached += plain_pearson(a, relabelled_upper(B, {p.begin(), p.end()})) >= r - 1e-9;
        CAPTURE(run);
        CHECK(permutation_p_value(null, r, false) == doctest::Approx((1 + reached) / 101).epsilon(1e-12));
        missed_by_exact_comparison += arma::accu(null >= r) < reached;  // what p counted before
    }
    MESSAGE("runs where comparing without tolerance misses a tie: " << missed_by_exact_comparison << " of 800");
    CHECK(missed_by_exact_comparison > 50);  // the old rule's defect is real here (the issue: 244 of 800)
}

TEST_CASE("permutation p-values are uniform on random data, exact (120 or 90 relabellings) and drawn (400 seeds each)") {
    // Under the null a p-value of the exact test of N relabellings takes j / N (j = 1..N) with
    // probability 1 / N each, and a drawn one (1 + #) / (1 + N) takes j / (N + 1) with
    // probability 1 / (N + 1): p - U / N (or / (N + 1)), U uniform, is uniform on [0, 1] and the
    // KS test sees no steps. Selectivity's index does not change when the categories swap names:
    // its 90 labellings of 3 x 2 words are 15 partitions, each 6 times, so p moves in steps of
    // 1 / 15 (p - U / 15). KS critical value at the 1 % level for 400 samples: 0.081.
    std::mt19937_64 rng(5);
    std::normal_distribution<double> normal;
    std::uniform_real_distribution<double> unit;
    const int seeds = 400;
    arma::vec exact_p(seeds), drawn_p(seeds), selectivity_p(seeds);
    int multiple_of_steps = 0, conditioned = 0;
    const arma::uvec labels{0, 0, 1, 1, 2, 2};
    for (int s = 0; s < seeds; ++s) {
        arma::mat X5(5, 3), Y5(5, 3), X8(8, 3), Y8(8, 3), Z(6, 4);
        for (arma::mat* M : {&X5, &Y5, &X8, &Y8, &Z})
            for (auto& v : *M) v = normal(rng);
        // The exact Mantel test of 5 words: 5! = 120 <= 1000 relabellings.
        const arma::mat A5 = random_rdm(X5), B5 = random_rdm(Y5);
        const Relabellings all = relabellings(5, 1000, s);
        REQUIRE(all.exact);
        const double p5 = permutation_p_value(mantel_null(A5, B5, "corr", all.perms), compare(upper(A5), upper(B5), "corr"), true);
        if (s < 50) CHECK(p5 == doctest::Approx(brute_force_exact_p(A5, B5)).epsilon(1e-12));
        exact_p(s) = p5 - unit(rng) / 120;
        // Drawn: 8 words, 199 random relabellings.
        const arma::mat A8 = random_rdm(X8), B8 = random_rdm(Y8);
        const Relabellings drawn = relabellings(8, 199, s);
        REQUIRE_FALSE(drawn.exact);
        drawn_p(s) = permutation_p_value(mantel_null(A8, B8, "corr", drawn.perms), compare(upper(A8), upper(B8), "corr"), false) -
                     unit(rng) / 200;
        // Selectivity's exact null: the 90 distinct labellings of 3 categories of 2 words.
        std::size_t degenerate = 0;
        const arma::mat S = similarity(Z + 1.0, "cosine", degenerate);  // a shared direction, as in models: similarities > 0
        const double index = selectivity(blocks(S, labels, 3), Variant::mean_of_blocks);
        const std::size_t count = distinct_labellings_up_to(labels, 10000);
        REQUIRE(count == 90);
        const arma::mat null = permutation_null(S, labels, 3, Variant::mean_of_blocks, count, 0, laminar::Alone(), {}, true);
        const double p = p_greater(null.col(0), index, true);
        // (Where the ratio's between mean is near 0 the index is ill-conditioned, the plugin warns,
        // and rounding apart grows with 1 / that mean past any tolerance: there ties may be missed.)
        const bool ill = contrast(blocks(S, labels, 3), Variant::mean_of_blocks).between <= between_bound(S);
        conditioned += !ill;
        multiple_of_steps += !ill && std::abs(p * 15 - std::round(p * 15)) < 1e-9;
        selectivity_p(s) = p - unit(rng) / 15;
    }
    CHECK(multiple_of_steps == conditioned);  // every tie of the 6 names of a partition counted
    CHECK(conditioned > 350);
    CHECK(ks_uniform(exact_p) < 0.081);
    CHECK(ks_uniform(drawn_p) < 0.081);
    CHECK(ks_uniform(selectivity_p) < 0.081);
}

TEST_CASE("selectivity's exact null holds each distinct labelling once, the observed one among them") {
    const arma::uvec labels{1, 0, 1, 1, 0, 1};  // 15 labellings
    arma::arma_rng::set_seed(2);
    std::size_t degenerate = 0;
    const arma::mat S = similarity(arma::randn(6, 5), "cosine", degenerate);
    const arma::mat null = permutation_null(S, labels, 2, Variant::pooled, 15, 0, laminar::Alone(), {}, true);
    REQUIRE(null.n_rows == 15);
    // Each row equals the index of one labelling, brute force over the 15 (sorted, distinct).
    std::vector<arma::uword> l{0, 0, 1, 1, 1, 1};
    std::vector<double> expected;
    do expected.push_back(selectivity(blocks(S, arma::uvec(l), 2), Variant::pooled));
    while (std::next_permutation(l.begin(), l.end()));
    REQUIRE(expected.size() == 15);
    for (std::size_t p = 0; p < 15; ++p) CHECK(null(p, 0) == doctest::Approx(expected[p]).epsilon(1e-12));
    const double observed = selectivity(blocks(S, labels, 2), Variant::pooled);
    double reached = 0;
    for (double v : expected) reached += v >= observed - 1e-9;
    CHECK(p_greater(null.col(0), observed, true) == doctest::Approx(reached / 15).epsilon(1e-12));
}
