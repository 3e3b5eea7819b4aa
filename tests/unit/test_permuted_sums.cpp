// The permuted sums behind the Mantel, CKA and MI nulls (issue 29): against the sums written out
// pair by pair, in doubles and where floats are stored; the choice of floats; the same bits
// however the relabellings are shared; and the MI null's recount against binning each relabelled
// triangle again. (The same bits however shared: tests/unit/test_team_work.cpp.)
#include <doctest/doctest.h>

#include <cstring>
#include <random>

#include "laminar/analysis/mutual_information.hpp"
#include "laminar/analysis/permuted_sums.hpp"
#include "laminar/analysis/rsa.hpp"

using namespace laminar::analysis;

namespace {

/// sum over i < j of A(i, j) B(perm i, perm j), in long double, pair by pair.
double by_hand(const arma::mat& A, const arma::mat& B, const arma::uvec& perm) {
    long double sum = 0;
    for (arma::uword j = 1; j < A.n_rows; ++j)
        for (arma::uword i = 0; i < j; ++i) sum += static_cast<long double>(A(i, j)) * B(perm(i), perm(j));
    return static_cast<double>(sum);
}

/// A symmetric matrix of unit Frobenius norm over its strict upper triangle (as rsa's z-scores).
arma::mat unit_symmetric(arma::uword n, unsigned seed) {
    arma::arma_rng::set_seed(seed);
    arma::mat M = arma::randn(n, n);
    M = arma::symmatu(M);
    M.diag().zeros();
    return M / arma::norm(upper(M));
}

arma::vec sums_of(const arma::mat& A, const arma::mat& B, const std::vector<arma::uvec>& perms) {
    return permuted_sums(A.n_rows, [&](arma::uword i, arma::uword j) { return A(i, j); },
                         [&](arma::uword i, arma::uword j) { return B(i, j); }, perms, false);
}

permuted::Magnitudes magnitudes(const arma::mat& M) {
    permuted::Magnitudes m;
    for (const double v : upper(M)) m.add(v);
    return m;
}

}  // namespace

TEST_CASE("permuted sums equal the pairs summed one by one: doubles for few stimuli, floats for many") {
    for (const arma::uword n : {2u, 7u, 40u, 1500u}) {
        CAPTURE(n);
        const arma::mat A = unit_symmetric(n, 1), B = unit_symmetric(n, 2);
        const auto perms = draw_permutations(n, 6, 3);
        const arma::vec fast = sums_of(A, B, perms);
        const bool floats = permuted::float_precision_suffices(magnitudes(A), magnitudes(B));
        CHECK(floats == (n == 1500));  // 40 words: rounding could reach 1e-9 of r; 1,500: it cannot
        for (std::size_t p = 0; p < perms.size(); ++p)  // doubles: rounding; floats: under 1e-9 of |A| |B| = 1
            CHECK(std::abs(fast(p) - by_hand(A, B, perms[p])) <= (floats ? 1e-9 : 1e-14));
    }
}

TEST_CASE("floats are refused where values concentrate on a few pairs, whatever the number of stimuli") {
    arma::mat A = unit_symmetric(1500, 4), B = unit_symmetric(1500, 5);
    REQUIRE(permuted::float_precision_suffices(magnitudes(A), magnitudes(B)));
    A(0, 1) = A(1, 0) = 10;  // one pair holds nearly all of A's norm, and B has one too
    B(2, 3) = B(3, 2) = 10;
    CHECK_FALSE(permuted::float_precision_suffices(magnitudes(A), magnitudes(B)));
    const auto perms = draw_permutations(1500, 1, 13);  // (and the doubles kept sum as the pairs do)
    CHECK(std::abs(sums_of(A, B, perms)(0) - by_hand(A, B, perms[0])) <= 1e-12);
}

TEST_CASE("the whole-matrix sums add the diagonal once and the triangle twice") {
    arma::arma_rng::set_seed(9);
    arma::mat K = arma::randn(30, 30);
    K = K * K.t();  // a Gram matrix: its diagonal counts
    const arma::mat L = arma::symmatu(arma::randn(30, 30));
    const auto perms = draw_permutations(30, 5, 10);
    const arma::vec fast = permuted_inner_products(K, L, perms);
    for (std::size_t p = 0; p < perms.size(); ++p)
        CHECK(fast(p) == doctest::Approx(arma::accu(K % L.submat(perms[p], perms[p]))).epsilon(1e-12));
}

TEST_CASE("the MI null recounts the bins as binning each relabelled triangle again would") {
    arma::arma_rng::set_seed(11);
    const arma::mat X = arma::randn(60, 5), Y = X + arma::randn(60, 5);
    const arma::mat A = X * X.t(), B = Y * Y.t();
    const arma::vec a = upper(A), b = upper(B);
    const auto perms = draw_permutations(60, 40, 12);
    for (const std::string estimator : {"binned", "equal_frequency"}) {
        CAPTURE(estimator);
        auto cut = [&](const arma::vec& v) { return estimator == "binned" ? equal_width_bins(v, 7) : equal_frequency_bins(v, 7); };
        const arma::vec fast = permuted_mi(cut(a), 7, cut(b), 7, 60, perms);
        for (std::size_t p = 0; p < perms.size(); ++p) {
            const arma::vec relabelled = upper(B.submat(perms[p], perms[p]));
            const double direct = estimator == "binned" ? mi_binned(a, relabelled, 7) : mi_equal_frequency(a, relabelled, 7);
            CHECK(fast(p) == direct);  // the same counts: the same bits
        }
    }
}

TEST_CASE("a relabelling that leaves B as it is gives the identity's sum to the bit, in doubles and in floats") {
    for (const arma::uword n : {40u, 1500u}) {
        CAPTURE(n);
        const arma::mat A = unit_symmetric(n, 14);
        arma::mat B(n, n);  // a category model: 0 within, 1 between three categories of words i % 3
        for (arma::uword i = 0; i < n; ++i)
            for (arma::uword j = 0; j < n; ++j) B(i, j) = i == j ? 0 : (i % 3 != j % 3);
        B /= arma::norm(upper(B));
        arma::uvec identity = arma::regspace<arma::uvec>(0, n - 1), swapped = identity;
        std::swap(swapped(0), swapped(3));  // words 0 and 3 share a category: B unchanged
        std::swap(swapped(1), swapped(n - 2 - (n - 2 - 1) % 3));  // and another pair of one category
        REQUIRE(arma::approx_equal(arma::mat(B.submat(swapped, swapped)), B, "absdiff", 0));
        const arma::vec s = sums_of(A, B, {identity, swapped});
        CHECK(std::memcmp(&s(0), &s(1), sizeof(double)) == 0);
    }
}
