// The mutual-information helpers (issue 23): on pure noise, the MI of a dimension with the
// category (18 words, 3 categories of 6, as in the issue) is mostly plug-in bias, which its
// permutation null measures: the raw values are far from 0, the values less the null mean are 0
// on average, and the null's p-values are calibrated. Simulated over 1,000 seeds per estimator.
#include <doctest/doctest.h>

#include <random>

#include "laminar/analysis/mutual_information.hpp"
#include "laminar/analysis/rsa.hpp"

using namespace laminar::analysis;

namespace {

struct NoiseSimulation {
    arma::vec raw, corrected, p;
};

/// `seeds` independent draws of one dimension of standard normal noise for 18 words in 3
/// categories of 6, each tested with 199 label shuffles drawn from its seed as the plugin draws
/// them (draw_permutations, the words' labels relabelled).
NoiseSimulation simulate(const std::string& estimator, std::size_t seeds) {
    const arma::uword n = 18, categories = 3, bins = 15;
    arma::uvec labels(n);
    for (arma::uword i = 0; i < n; ++i) labels(i) = i / 6;
    NoiseSimulation out{arma::vec(seeds), arma::vec(seeds), arma::vec(seeds)};
    for (std::size_t s = 0; s < seeds; ++s) {
        std::mt19937_64 rng(1000 + s);
        std::normal_distribution<double> normal;
        arma::vec x(n);
        for (auto& v : x) v = normal(rng);
        std::vector<arma::uvec> relabelled;
        for (const auto& perm : draw_permutations(n, 199, s)) relabelled.push_back(labels.elem(perm));
        const double mi = mi_with_label(estimator, x, labels, categories, bins, 3);
        const arma::vec null = mi_label_null(estimator, x, relabelled, categories, bins, 3);
        out.raw(s) = mi;
        out.corrected(s) = mi - arma::mean(null);
        out.p(s) = permutation_p_value(null, mi, false);
    }
    return out;
}

}  // namespace

TEST_CASE("mi_label on pure noise: raw values are bias, less the null mean they are 0 on average, p-values calibrated") {
    const std::size_t seeds = 1000;
    for (const std::string estimator : {"binned", "equal_frequency", "ksg"}) {
        CAPTURE(estimator);
        const NoiseSimulation sim = simulate(estimator, seeds);
        // The corrected mean: 0 within 4 standard errors of the simulation (the null mean is the
        // expected MI of these values with labels unrelated to them, so the expectation is 0).
        const double se = arma::stddev(sim.corrected) / std::sqrt(double(seeds));
        CHECK(std::abs(arma::mean(sim.corrected)) < 4 * se);
        CHECK(std::abs(arma::mean(sim.corrected)) < 0.01);  // bits
        // The raw values are not 0. Measured: binned 0.96 bits on average (the 0.96),
        // equal-frequency 1.35 of 1.585, KSG 0.076 (it is clipped at 0), each more than 10
        // standard errors above 0.
        CHECK(arma::mean(sim.raw) > 10 * arma::stddev(sim.raw) / std::sqrt(double(seeds)));
        if (estimator != "ksg") CHECK(arma::mean(sim.raw) > 0.8);
        // Validity at every level: P(p <= a) at most a, within 3.5 binomial standard errors.
        // Not uniform: a plug-in MI of 18 values takes few values, so the null holds many ties
        // with the observed one, counted as at least as large (as scipy.stats.permutation_test
        // counts them), and KSG's clipping at 0 gives p = 1 wherever it is 0; the test is then
        // conservative. Measured P(p <= 0.05, 0.1, 0.25, 0.5): binned 0.031 0.074 0.169 0.361,
        // equal_frequency 0.024 0.024 0.188 0.201, ksg 0.058 0.105 0.236 0.406. The lower bound
        // (half the level at 0.25) says that the p-values do respond.
        for (const double a : {0.01, 0.05, 0.1, 0.25, 0.5}) {
            CAPTURE(a);
            const double rate = double(arma::accu(sim.p <= a + 1e-12)) / double(seeds);
            CHECK(rate <= a + 3.5 * std::sqrt(a * (1 - a) / double(seeds)));
            if (a == 0.25) CHECK(rate >= a / 2);
        }
    }
}

TEST_CASE("mi_label's null: the bins are cut once, each relabelling scored as mi_with_label would") {
    std::mt19937_64 rng(3);
    std::normal_distribution<double> normal;
    arma::vec x(30);
    for (auto& v : x) v = std::round(2 * normal(rng));  // heavy ties
    arma::uvec labels(30);
    for (arma::uword i = 0; i < 30; ++i) labels(i) = i % 3;
    std::vector<arma::uvec> relabelled;
    for (const auto& perm : draw_permutations(30, 50, 9)) relabelled.push_back(labels.elem(perm));
    for (const std::string estimator : {"binned", "equal_frequency", "ksg"}) {
        const arma::vec null = mi_label_null(estimator, x, relabelled, 3, 15, 3);
        for (std::size_t p = 0; p < relabelled.size(); ++p) CHECK(null(p) == mi_with_label(estimator, x, relabelled[p], 3, 15, 3));
    }
}

TEST_CASE("permutation_p_value counts null values equal to the observed up to rounding (scipy's tolerance)") {
    const double observed = 0.1 + 0.2;  // 0.30000000000000004
    const arma::vec null = {0.3, 0.3, 0.1, 0.5};  // the first two differ from observed by 1 ulp
    CHECK(permutation_p_value(null, observed, false) == doctest::Approx(4.0 / 5.0).epsilon(1e-15));
    CHECK(permutation_p_value(null, 0.31, false) == doctest::Approx(2.0 / 5.0).epsilon(1e-15));
    CHECK(std::isnan(permutation_p_value(null, arma::datum::nan, false)));
}

TEST_CASE("duplicated_points counts the points equal to another") {
    arma::mat points = {{0, 1}, {0, 1}, {0, 2}, {3, 1}, {0, 1}, {3, 1}, {5, 5}};
    CHECK(duplicated_points(points) == 5);
    const arma::mat distinct = arma::vec{1, 2, 3}, same = arma::vec{1, 1, 1};
    CHECK(duplicated_points(distinct) == 0);
    CHECK(duplicated_points(same) == 3);
}
