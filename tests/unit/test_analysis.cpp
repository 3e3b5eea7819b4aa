// The analysis helpers metric plugins are built from, against values worked by hand, brute
// force, and the statistical behaviour of their permutation tests.
#include <doctest/doctest.h>

#include <cstring>
#include <cstdlib>
#include <map>
#include <numeric>
#include <random>

#include "calibration.hpp"
#include "laminar/analysis/parallel.hpp"
#include "laminar/analysis/rsa.hpp"
#include "laminar/analysis/selectivity.hpp"
#include "laminar/analysis/similarity_metric.hpp"

using namespace laminar::analysis;

namespace {

using laminar::test::ks_uniform;

double tau_a_brute_force(const arma::vec& x, const arma::vec& y) {
    double s = 0;
    for (arma::uword i = 0; i < x.n_elem; ++i)
        for (arma::uword j = i + 1; j < x.n_elem; ++j) {
            const double a = x(i) - x(j), b = y(i) - y(j);
            s += (a > 0) - (a < 0) == 0 || (b > 0) - (b < 0) == 0 ? 0 : ((a > 0) == (b > 0) ? 1 : -1);
        }
    return s / (x.n_elem * (x.n_elem - 1) / 2.0);
}

/// Keeps the attributes and warnings a helper writes.
struct KeptSink : laminar::ResultSink {
    std::map<std::string, double> numbers;
    std::vector<std::string> warnings;
    void write(const std::string&, const std::vector<int64_t>&, const std::vector<double>&) override {}
    void axes(const std::string&, const std::vector<laminar::Axis>&) override {}
    void axis_values(const std::string&, std::size_t, const std::vector<int64_t>&) override {}
    void attribute(const std::string& path, const std::string& name, double v) override { numbers[path + "@" + name] = v; }
    void attribute(const std::string& path, const std::string& name, int64_t v) override { numbers[path + "@" + name] = double(v); }
    void attribute(const std::string&, const std::string&, const std::string&) override {}
    void warn(const std::string& message) override { warnings.push_back(message); }
};

}  // namespace

TEST_CASE("average ranks, spearman with ties and pearson, by hand") {
    CHECK(arma::approx_equal(average_ranks(arma::vec{3, 1, 4, 1, 5}), arma::vec{3, 1.5, 4, 1.5, 5}, "absdiff", 1e-15));
    // x ranks [1, 2.5, 2.5, 4], y ranks [1, 3, 2, 4]: sum dxdy = 4.5, sum dx2 = 4.5, sum dy2 = 5.
    CHECK(compare({1, 2, 2, 3}, {1, 3, 2, 4}, "spearman") == doctest::Approx(4.5 / std::sqrt(22.5)).epsilon(1e-14));
    // dx = [-1, 0, 1], dy = [-13/6, -1/6, 14/6]: sum dxdy = 4.5, sum dx2 = 2, sum dy2 = 61/6.
    CHECK(compare({1, 2, 3}, {2, 4, 6.5}, "pearson") == doctest::Approx(4.5 / std::sqrt(2 * 61.0 / 6)).epsilon(1e-14));
    CHECK(compare({1, 0, 0}, {1, 1, 0}, "cosine") == doctest::Approx(1 / std::sqrt(2.0)).epsilon(1e-15));
    CHECK_THROWS_WITH_AS(compare({1, 2}, {1, 2}, "kendall"), doctest::Contains("unknown comparison method 'kendall'"),
                         laminar::SpecError);
}

TEST_CASE("kendall tau-a: by hand, and O(m log m) equals brute force with many ties") {
    CHECK(kendall_tau_a({1, 2, 3, 4}, {1, 3, 2, 4}) == doctest::Approx(4.0 / 6));  // 5 concordant, 1 discordant
    CHECK(kendall_tau_a({1, 1, 2}, {1, 2, 3}) == doctest::Approx(2.0 / 3));        // the x tie counts for neither
    std::mt19937_64 rng(7);
    for (int trial = 0; trial < 200; ++trial) {
        const arma::uword m = 2 + trial % 40;
        arma::vec x(m), y(m);
        for (arma::uword i = 0; i < m; ++i) {
            x(i) = static_cast<double>(rng() % 5);  // five values: ties everywhere
            y(i) = static_cast<double>(rng() % (trial % 2 ? 3 : 50));
        }
        CHECK(kendall_tau_a(x, y) == doctest::Approx(tau_a_brute_force(x, y)).epsilon(1e-12));
    }
}

TEST_CASE("constant or zero vectors give NaN, never a crash") {
    CHECK(std::isnan(compare({1, 1, 1}, {1, 2, 3}, "pearson")));
    CHECK(std::isnan(compare({2, 2, 2}, {1, 2, 3}, "spearman")));
    CHECK(std::isnan(compare({0, 0, 0}, {1, 2, 3}, "cosine")));
    CHECK(std::isnan(kendall_tau_a({1}, {2})));
    for (const std::string method : {"pearson", "spearman", "tau-a", "rho-a", "cosine", "corr_cov", "cosine_cov"}) {
        CAPTURE(method);  // no pairs at all (a resample of one word): NaN, not Armadillo's "object has no elements"
        CHECK(std::isnan(compare(arma::vec(), arma::vec(), method)));
        const bool correlation = method != "cosine" && method != "corr_cov" && method != "cosine_cov";
        if (correlation) CHECK(std::isnan(compare(arma::vec{0.3}, arma::vec{0.7}, method)));  // one pair: no correlation
        else CHECK_NOTHROW(compare(arma::vec{0.3}, arma::vec{0.7}, method));
    }
    arma::mat X = {{1, 0}, {0, 0}, {1, 1}};
    std::size_t degenerate = 0;
    const arma::mat S = similarity(X, "cosine", degenerate);
    CHECK(degenerate == 1);
    CHECK(std::isnan(S(1, 0)));
    CHECK(std::isnan(S(0, 1)));
    CHECK(S(0, 2) == doctest::Approx(1 / std::sqrt(2.0)));
    similarity(arma::mat{{1, 1, 1}, {1, 2, 3}}, "correlation", degenerate);  // a constant row has no direction
    CHECK(degenerate == 1);
}

TEST_CASE("selectivity: the founding study's mean of block means, and the pooled variant, by hand") {
    // Stimuli 0-2 in category 0, 3-4 in category 1. Within: (0,1)=.9 (0,2)=.8 (1,2)=.7; (3,4)=.5.
    // Between: all six pairs .2 except (0,3)=.5.
    arma::mat S(5, 5, arma::fill::value(0.2));
    S.diag().ones();
    auto set = [&](int i, int j, double v) { S(i, j) = S(j, i) = v; };
    set(0, 1, .9); set(0, 2, .8); set(1, 2, .7); set(3, 4, .5); set(0, 3, .5);
    const arma::uvec labels = {0, 0, 0, 1, 1};
    const Blocks b = blocks(S, labels, 2);
    arma::vec per;
    const double between = (.5 + 5 * .2) / 6;
    CHECK(selectivity(b, Variant::mean_of_blocks, &per) == doctest::Approx(((.9 + .8 + .7) / 3 + .5) / 2 / between));
    CHECK(per(0) == doctest::Approx(.8 / between));
    CHECK(per(1) == doctest::Approx(.5 / between));
    CHECK(selectivity(b, Variant::pooled) == doctest::Approx((.9 + .8 + .7 + .5) / 4 / between));
    // The difference: the same two means subtracted; per category, its within mean minus its between mean.
    CHECK(selectivity(b, Variant::difference, &per) == doctest::Approx(((.9 + .8 + .7) / 3 + .5) / 2 - between));
    CHECK(per(0) == doctest::Approx(.8 - between));
    CHECK(per(1) == doctest::Approx(.5 - between));
    const Contrast m = contrast(b, Variant::mean_of_blocks);
    CHECK(m.within == doctest::Approx(((.9 + .8 + .7) / 3 + .5) / 2));
    CHECK(m.between == doctest::Approx(between));
    // The bound under which a ratio is ill-conditioned: a quarter of the similarities' SD.
    const arma::vec u = {.9, .8, .5, .2, .7, .2, .2, .2, .2, .5};  // S's strict upper triangle, row by row
    CHECK(between_bound(S) == doctest::Approx(0.25 * arma::stddev(u)).epsilon(1e-14));
    // Histograms follow numpy: 4 equal bins over [0, 1], the last bin closed.
    arma::vec edges;
    const arma::vec counts = histogram({0, .1, .25, .5, .99, 1, 1.5, arma::datum::nan}, 4, 0, 1, edges);
    CHECK(arma::approx_equal(counts, arma::vec{2, 1, 1, 2}, "absdiff", 0));
    CHECK(edges(4) == 1.0);
}

TEST_CASE("permutation p-values are roughly uniform under the null and small on planted structure") {
    std::mt19937_64 rng(11);
    std::normal_distribution<double> normal;
    const arma::uvec labels = {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2};
    auto random_set = [&](double planted) {
        arma::mat X(12, 8);
        for (auto& v : X) v = normal(rng);
        for (arma::uword i = 0; i < 12; ++i) X(i, labels(i)) += planted;  // category signal
        return X;
    };
    std::size_t degenerate = 0;
    arma::vec p_selectivity(300), p_mantel(300);
    for (int t = 0; t < 300; ++t) {
        const arma::mat S = similarity(random_set(0), "cosine", degenerate);
        const double index = selectivity(blocks(S, labels, 3), Variant::mean_of_blocks);
        p_selectivity(t) = p_greater(permutation_null(S, labels, 3, Variant::mean_of_blocks, 199, t).col(0), index);
        const arma::mat T = similarity(random_set(0), "cosine", degenerate);
        p_mantel(t) = p_greater(mantel_null(S, T, "pearson", 199, t), compare(upper(S), upper(T), "pearson"));
    }
    // KS critical value at the 1% level for 300 samples is 0.094; p-values move in steps of 1/200.
    CHECK(ks_uniform(p_selectivity) < 0.1);
    CHECK(ks_uniform(p_mantel) < 0.1);
    CHECK(arma::mean(p_selectivity) == doctest::Approx(0.5).epsilon(0.1));

    const arma::mat planted = similarity(random_set(4.0), "cosine", degenerate);
    const double index = selectivity(blocks(planted, labels, 3), Variant::mean_of_blocks);
    CHECK(index > 1.5);
    CHECK(p_greater(permutation_null(planted, labels, 3, Variant::mean_of_blocks, 999, 3).col(0), index) < 0.005);
    arma::mat noisy = planted + 0.05 * arma::randn(12, 12);
    noisy = (noisy + noisy.t()) / 2;
    CHECK(p_greater(mantel_null(planted, noisy, "spearman", 999, 4), compare(upper(planted), upper(noisy), "spearman")) < 0.005);
}

TEST_CASE("the Mantel shortcut equals recomputing the comparison on each permuted matrix") {
    arma::arma_rng::set_seed(5);
    const arma::mat X = arma::randn(15, 6), Y = arma::randn(15, 6);
    std::size_t degenerate = 0;
    const arma::mat A = 1 - similarity(X, "cosine", degenerate), B = 1 - similarity(Y, "correlation", degenerate);
    for (const std::string method : {"corr", "spearman", "cosine", "tau-a", "rho-a", "corr_cov", "cosine_cov"}) {
        CAPTURE(method);
        const arma::vec fast = mantel_null(A, B, method, 20, 99);
        std::mt19937_64 rng(99);  // the same shuffles, done by hand
        std::vector<arma::uword> perm(15);
        std::iota(perm.begin(), perm.end(), 0);
        for (int p = 0; p < 20; ++p) {
            std::shuffle(perm.begin(), perm.end(), rng);
            const arma::uvec idx(perm);
            CHECK(fast(p) == doctest::Approx(compare(upper(A), upper(B.submat(idx, idx)), method)).epsilon(1e-12));
        }
    }
}

TEST_CASE("batched permutation selectivity equals recomputing it label shuffle by label shuffle") {
    arma::arma_rng::set_seed(6);
    std::size_t degenerate = 0;
    const arma::mat S = similarity(arma::randn(10, 5), "cosine", degenerate);
    const arma::uvec labels = {0, 0, 0, 1, 1, 1, 1, 2, 2, 2};
    // Every variant's null from the same relabellings, those of the seed (the difference's test
    // is computed from the nulls the ratios' are).
    for (const Variant variant : {Variant::mean_of_blocks, Variant::pooled, Variant::difference}) {
        const arma::mat null = permutation_null(S, labels, 3, variant, 600, 42);  // spans several batches
        std::mt19937_64 rng(42);
        std::vector<arma::uword> shuffled(labels.begin(), labels.end());
        for (int p = 0; p < 600; ++p) {
            std::shuffle(shuffled.begin(), shuffled.end(), rng);
            arma::vec per;
            CHECK(null(p, 0) == doctest::Approx(selectivity(blocks(S, arma::uvec(shuffled), 3), variant, &per)).epsilon(1e-12));
            CHECK(null(p, 3) == doctest::Approx(per(2)).epsilon(1e-12));
        }
    }
}

TEST_CASE("with contexts kept, selectivity leaves out each word's pairs with itself and relabels whole words") {
    // 5 words with 2, 1, 3, 2 and 2 contexts (10 rows); words 0-1 in category 0, 2-4 in category 1.
    arma::arma_rng::set_seed(12);
    std::size_t degenerate = 0;
    const arma::mat S = similarity(arma::randn(10, 4), "cosine", degenerate);
    const arma::uvec word_of_row = {0, 0, 1, 2, 2, 2, 3, 3, 4, 4};
    const arma::uvec labels = {0, 0, 1, 1, 1};
    const UnitSimilarity words = word_sums(S, word_of_row, 5);
    CHECK(arma::approx_equal(words.row_counts, arma::vec{2, 1, 3, 2, 2}, "absdiff", 0));
    // By brute force: the mean of S over the pairs of rows of different words, block by block.
    auto brute_force = [&](const arma::uvec& word_labels, bool pooled) {
        arma::mat sums(2, 2, arma::fill::zeros), counts(2, 2, arma::fill::zeros);
        for (arma::uword i = 0; i < 10; ++i)
            for (arma::uword j = i + 1; j < 10; ++j) {
                if (word_of_row(i) == word_of_row(j)) continue;
                const arma::uword a = word_labels(word_of_row(i)), b = word_labels(word_of_row(j));
                sums(std::min(a, b), std::max(a, b)) += S(i, j);
                counts(std::min(a, b), std::max(a, b)) += 1;
            }
        const arma::mat means = sums / counts;
        return pooled ? (sums(0, 0) + sums(1, 1)) / (counts(0, 0) + counts(1, 1)) / means(0, 1)
                      : (means(0, 0) + means(1, 1)) / 2 / means(0, 1);
    };
    const Blocks b = blocks(words.sums, labels, 2, words.row_counts);
    CHECK(b.counts(0, 0) == 2 * 1);          // word 0's 2 rows with word 1's 1
    CHECK(b.counts(1, 1) == 3 * 2 + 3 * 2 + 2 * 2);
    CHECK(b.counts(0, 1) == 3 * 7);
    for (bool pooled : {false, true}) {
        CAPTURE(pooled);
        const Variant variant = pooled ? Variant::pooled : Variant::mean_of_blocks;
        CHECK(selectivity(b, variant) == doctest::Approx(brute_force(labels, pooled)).epsilon(1e-12));
        const arma::mat null = permutation_null(words.sums, labels, 2, variant, 40, 9, laminar::Alone(), words.row_counts);
        std::mt19937_64 rng(9);  // the same shuffles of the words' labels, by hand
        std::vector<arma::uword> shuffled(labels.begin(), labels.end());
        for (int p = 0; p < 40; ++p) {
            std::shuffle(shuffled.begin(), shuffled.end(), rng);
            CHECK(null(p, 0) == doctest::Approx(brute_force(arma::uvec(shuffled), pooled)).epsilon(1e-12));
        }
    }
    // One row per word (contexts averaged): S itself, each word one row, the same numbers bit for bit.
    const UnitSimilarity single = word_sums(S, arma::regspace<arma::uvec>(0, 9), 10);
    const arma::uvec row_labels = {0, 0, 0, 1, 1, 1, 1, 1, 1, 1};
    CHECK(arma::approx_equal(single.sums, S, "absdiff", 0));
    CHECK(selectivity(blocks(single.sums, row_labels, 2, single.row_counts), Variant::mean_of_blocks) == selectivity(blocks(S, row_labels, 2), Variant::mean_of_blocks));
    const arma::mat with_rows = permutation_null(single.sums, row_labels, 2, Variant::mean_of_blocks, 30, 4, laminar::Alone(), single.row_counts);
    const arma::mat without = permutation_null(S, row_labels, 2, Variant::mean_of_blocks, 30, 4);
    CHECK(std::memcmp(with_rows.memptr(), without.memptr(), without.n_elem * sizeof(double)) == 0);
}

TEST_CASE("the bootstrap's running sums equal comparing the resampled pairs directly") {
    arma::arma_rng::set_seed(8);
    std::size_t degenerate = 0;
    const arma::mat A = similarity(arma::randn(9, 4), "cosine", degenerate);
    const arma::mat B = similarity(arma::randn(9, 4), "cosine", degenerate);
    for (const std::string method : {"pearson", "cosine", "spearman"}) {
        const arma::vec boot = bootstrap(A, B, method, 30, 17);
        std::mt19937_64 rng(17);  // the same draws, by hand
        std::uniform_int_distribution<arma::uword> pick(0, 8);
        std::vector<arma::uvec> draws(30, arma::uvec(9));
        for (auto& idx : draws)
            for (auto& i : idx) i = pick(rng);
        for (int s = 0; s < 30; ++s) {
            std::vector<double> a, b;
            for (arma::uword i = 0; i < 9; ++i)
                for (arma::uword j = i + 1; j < 9; ++j)
                    if (draws[s](i) != draws[s](j)) {
                        a.push_back(A(draws[s](i), draws[s](j)));
                        b.push_back(B(draws[s](i), draws[s](j)));
                    }
            CHECK(boot(s) == doctest::Approx(compare(arma::vec(a), arma::vec(b), method)).epsilon(1e-10));
        }
    }
}

TEST_CASE("bootstrap quantiles: Hazen's definition by hand, Armadillo's values, and no read past the end") {
    arma::vec x = arma::linspace(20, 1, 20);  // 20, 19, ..., 1 (unsorted on purpose)
    CHECK(laminar::analysis::quantile(x, 0.5) == doctest::Approx(10.5));
    CHECK(laminar::analysis::quantile(x, 0.025) == doctest::Approx(1.0));
    CHECK(laminar::analysis::quantile(x, 0.975) == doctest::Approx(20.0));  // (N - 0.5) / N: Armadillo reads x[N]
    CHECK(laminar::analysis::quantile(x, 0.01) == 1.0);
    CHECK(laminar::analysis::quantile(x, 0.999) == 20.0);
    CHECK(std::isnan(laminar::analysis::quantile(arma::vec(), 0.5)));
    arma::arma_rng::set_seed(3);
    const arma::vec r = arma::randn(37);
    for (double p : {0.05, 0.3, 0.5, 0.77, 0.95})
        CHECK(laminar::analysis::quantile(r, p) == doctest::Approx(arma::as_scalar(arma::quantile(r, arma::vec{p}))).epsilon(1e-12));
}

TEST_CASE("a bootstrap of four stimuli skips the samples that draw fewer than 3 of them, and counts the others") {
    arma::arma_rng::set_seed(12);
    std::size_t degenerate = 0;
    const arma::mat A = 1 - similarity(arma::randn(4, 5), "cosine", degenerate);
    const arma::mat B = 1 - similarity(arma::randn(4, 5), "cosine", degenerate);
    const std::vector<arma::uvec> draws = draw_resamples(4, 300, 21);
    std::size_t too_few = 0;
    for (const auto& idx : draws) too_few += arma::uvec(arma::unique(idx)).n_elem < 3;
    CHECK(too_few > 10);  // 4 draws of 4 stimuli: 1 or 2 distinct ones with probability 88 / 256
    for (const std::string method : {"pearson", "spearman", "tau-a", "rho-a", "cosine", "corr_cov", "cosine_cov"}) {
        CAPTURE(method);  // spearman used to throw inside the OpenMP loop: std::terminate, SIGABRT
        const arma::vec boot = bootstrap(A, B, method, 300, 21);
        for (std::size_t s = 0; s < draws.size(); ++s)
            if (arma::uvec(arma::unique(draws[s])).n_elem < 3) CHECK(std::isnan(boot(s)));
        KeptSink out;
        write_interval(out, "m/q~k", boot, 0.95);
        const arma::uword finite = arma::uvec(arma::find_finite(boot)).n_elem;
        CHECK(out.numbers.at("m/q~k@n_bootstrap_used") == double(finite));
        CHECK(finite == 300 - too_few);  // three distinct stimuli or more: defined (random spaces have spread)
        REQUIRE(out.warnings.size() == 1);
        CHECK(out.warnings[0].rfind("m/q~k: " + std::to_string(300 - finite) + " of 300 bootstrap samples", 0) == 0);
    }
}

TEST_CASE("parallel_for: an exception inside the loop is rethrown after it (the lowest iteration's), never an abort") {
    std::vector<int> done(1000, 0);
    parallel_for(0, 1000, [&](std::size_t i) { done[i] += 1; });
    CHECK(std::accumulate(done.begin(), done.end(), 0) == 1000);
    for (int repeat = 0; repeat < 20; ++repeat)  // whichever thread meets its failure first
        CHECK_THROWS_WITH_AS(parallel_for(0, 1000, [&](std::size_t i) {
                                 if (i % 97 == 13) throw std::runtime_error("failed at " + std::to_string(i));
                             }),
                             "failed at 13", std::runtime_error);
    // The tests' fault injection: every iteration throws while the variable is set.
    ::setenv("LAMINAR_TEST_FAIL_IN_PARALLEL", "1", 1);
    CHECK_THROWS_WITH_AS(parallel_for(5, 10, [](std::size_t) {}),
                         "a fault injected in a parallel loop (iteration 5, LAMINAR_TEST_FAIL_IN_PARALLEL is set)", std::runtime_error);
    ::unsetenv("LAMINAR_TEST_FAIL_IN_PARALLEL");
    parallel_for(5, 10, [](std::size_t) {});
}
