// Representational similarity analysis between two [n x n] RDMs: comparison of their strict
// upper triangles, a Mantel permutation test and a bootstrap over stimuli.
#pragma once

#include <cmath>
#include <armadillo>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>

#include "laminar/analysis/compare.hpp"
#include "laminar/correction.hpp"
#include "laminar/analysis/matrices.hpp"
#include "laminar/analysis/parallel.hpp"
#include "laminar/analysis/permutation.hpp"
#include "laminar/team_work.hpp"

namespace laminar::analysis {

/// Symmetric matrix (zero diagonal) whose upper triangle holds `values` (numpy triu order).
inline arma::mat from_upper(const arma::vec& values, arma::uword n) {
    arma::mat M(n, n, arma::fill::zeros);
    arma::uword k = 0;
    for (arma::uword i = 0; i < n; ++i)
        for (arma::uword j = i + 1; j < n; ++j) M(i, j) = M(j, i) = values(k++);
    return M;
}

/// The upper triangle transformed so that the comparison is a plain sum of products:
/// corr and spearman z-score (values or ranks) to unit norm, cosine scales to unit norm, rho-a
/// centres the ranks and scales them by sqrt(12 / (m^3 - m)). Permuting stimuli permutes these
/// values without changing their mean or norm, so a Mantel permutation costs one gather and one
/// dot product.
inline arma::vec normalised(const arma::vec& values, const std::string& method) {
    const bool ranked = method == "spearman" || method == "rho-a";
    arma::vec v = ranked ? average_ranks(values) : values;
    if (method != "cosine") v -= arma::mean(v);
    const double m = static_cast<double>(v.n_elem);
    const double norm = method == "rho-a" ? std::sqrt((m * m * m - m) / 12) : arma::norm(v);
    return norm > 0 ? arma::vec(v / norm) : arma::vec(v.n_elem, arma::fill::value(arma::datum::nan));
}

/// Whether a method compares whitened second moments (rsatoolbox's corr_cov, cosine_cov): those
/// need whole RDMs, not only the pairs of their entries.
inline bool whitened(const std::string& method) { return method == "corr_cov" || method == "cosine_cov"; }

/// For corr_cov and cosine_cov: the RDM's second moment (centred entries first for corr_cov)
/// scaled to unit Frobenius norm, so that a comparison is the sum of an elementwise product.
inline arma::mat unit_second_moment(const arma::mat& D, const std::string& method) {
    arma::vec d = upper(D);
    if (method == "corr_cov") d -= arma::mean(d);
    const arma::mat G = second_moment(d);
    const double norm = arma::norm(G, "fro");
    return norm > 0 ? arma::mat(G / norm) : arma::mat(G.n_rows, G.n_cols, arma::fill::value(arma::datum::nan));
}

/// sum over all i, j of A(i, j) B(perm i, perm j) for each permutation: the Frobenius inner
/// product of A with B's stimuli relabelled, without materialising the relabelled B. Each
/// member of `team` computes a block of the permutations.
inline arma::vec permuted_inner_products(const arma::mat& A, const arma::mat& B, const std::vector<arma::uvec>& perms,
                                         const Team& team = Alone()) {
    const arma::uword n = A.n_rows;
    return gather_blocks(team, perms.size(), [&](std::size_t first, std::size_t last) {
        arma::vec out(last - first);
        parallel_for(first, last, [&](std::size_t p) {
            const arma::uvec& perm = perms[p];
            double sum = 0;
            for (arma::uword j = 0; j < n; ++j) {
                const double* b = B.colptr(perm(j));
                const double* a = A.colptr(j);
                for (arma::uword i = 0; i < n; ++i) sum += a[i] * b[perm(i)];
            }
            out(p - first) = sum;
        });
        return out;
    });
}

/// Resamples of 0..n-1 with replacement (bootstrap draws), drawn up front from one seeded
/// generator, like the permutations.
inline std::vector<arma::uvec> draw_resamples(arma::uword n, std::size_t count, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<arma::uword> pick(0, n - 1);
    std::vector<arma::uvec> draws(count, arma::uvec(n));
    for (auto& idx : draws)
        for (auto& i : idx) i = pick(rng);
    return draws;
}

/// Whether a resample drew fewer than 3 distinct stimuli: at most one distinct pair, over which
/// two spaces cannot be compared (a correlation is undefined, tau-a is 0, CKA is 1 whatever the
/// spaces). Such samples give NaN, and write_interval() skips and counts them.
inline bool degenerate_resample(const arma::uvec& idx) {
    return arma::uvec(arma::unique(idx)).n_elem < 3;
}

/// Mantel test: the comparison of A with B under each relabelling `perms` of B's stimuli (rows
/// and columns together; relabellings() gives all of them, or random ones). Returns the null
/// distribution, one value per relabelling; each member of `team` computes a block of them.
inline arma::vec mantel_null(const arma::mat& A, const arma::mat& B, const std::string& method,
                             const std::vector<arma::uvec>& perms, const Team& team = Alone()) {
    const arma::uword n = A.n_rows;
    const std::size_t permutations = perms.size();
    if (method == "tau-a") {  // no shortcut: recompute on the permuted triangle
        const arma::vec a = upper(A);
        return gather_blocks(team, permutations, [&](std::size_t first, std::size_t last) {
            arma::vec null(last - first);
            parallel_for(first, last, [&](std::size_t p) { null(p - first) = kendall_tau_a(a, upper(B.submat(perms[p], perms[p]))); });
            return null;
        });
    }
    if (whitened(method))  // the diagonal of the second moments counts too: sum over whole matrices
        return permuted_inner_products(unit_second_moment(A, method), unit_second_moment(B, method), perms, team);
    const arma::mat ZA = from_upper(normalised(upper(A), method), n);
    const arma::mat ZB = from_upper(normalised(upper(B), method), n);
    return gather_blocks(team, permutations, [&](std::size_t first, std::size_t last) {
        arma::vec null(last - first);
        parallel_for(first, last, [&](std::size_t p) {
            // sum over i < j of ZA(i, j) ZB(perm i, perm j), without materialising the permuted ZB
            const arma::uvec& perm = perms[p];
            double sum = 0;
            for (arma::uword j = 1; j < n; ++j) {
                const double* b = ZB.colptr(perm(j));
                const double* a = ZA.colptr(j);
                for (arma::uword i = 0; i < j; ++i) sum += a[i] * b[perm(i)];
            }
            null(p - first) = sum;
        });
        return null;
    });
}

/// The Mantel null under `permutations` random relabellings drawn from `seed`.
inline arma::vec mantel_null(const arma::mat& A, const arma::mat& B, const std::string& method,
                             std::size_t permutations, std::uint64_t seed, const Team& team = Alone()) {
    return mantel_null(A, B, method, draw_permutations(A.n_rows, permutations, seed), team);
}

/// One bootstrap sample: the comparison of A and B on the pairs of distinct stimuli among `idx`
/// (drawn with replacement); corr_cov and cosine_cov compare the whole RDMs of the distinct
/// stimuli drawn.
inline double bootstrap_sample(const arma::mat& A, const arma::mat& B, const std::string& method, const arma::uvec& idx) {
    const arma::uword n = A.n_rows;
    const bool moments = method == "pearson" || method == "corr" || method == "cosine";
    if (moments) {  // pearson and cosine need only sums over the pairs: no copies
        double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0, m = 0;
        for (arma::uword j = 1; j < n; ++j)
            for (arma::uword i = 0; i < j; ++i) {
                if (idx(i) == idx(j)) continue;  // a stimulus drawn twice is not a pair
                const double a = A(idx(i), idx(j)), b = B(idx(i), idx(j));
                sa += a; sb += b; saa += a * a; sbb += b * b; sab += a * b; m += 1;
            }
        const double num = method == "cosine" ? sab : sab - sa * sb / m;
        const double den = method == "cosine" ? std::sqrt(saa * sbb) : std::sqrt((saa - sa * sa / m) * (sbb - sb * sb / m));
        return den > 0 ? num / den : arma::datum::nan;
    }
    if (whitened(method)) {
        const arma::uvec distinct = arma::unique(idx);
        return compare(upper(A.submat(distinct, distinct)), upper(B.submat(distinct, distinct)), method);
    }
    std::vector<double> a, b;
    for (arma::uword j = 1; j < n; ++j)
        for (arma::uword i = 0; i < j; ++i)
            if (idx(i) != idx(j)) {
                a.push_back(A(idx(i), idx(j)));
                b.push_back(B(idx(i), idx(j)));
            }
    return compare(arma::vec(a), arma::vec(b), method);
}

/// Bootstrap over stimuli: resample n stimuli with replacement and compare the two matrices
/// on the pairs of distinct resampled stimuli. Returns the bootstrap distribution, its samples
/// drawn first and shared out in blocks among the members of `team`.
inline arma::vec bootstrap(const arma::mat& A, const arma::mat& B, const std::string& method, std::size_t samples,
                           std::uint64_t seed, const Team& team = Alone()) {
    const std::vector<arma::uvec> draws = draw_resamples(A.n_rows, samples, seed);
    return gather_blocks(team, samples, [&](std::size_t first, std::size_t last) {
        arma::vec out(last - first);
        parallel_for(first, last, [&](std::size_t s) {
            out(s - first) = degenerate_resample(draws[s]) ? arma::datum::nan : bootstrap_sample(A, B, method, draws[s]);
        });
        return out;
    });
}
/// The entries of the strict upper triangle whose two stimuli share category `c`.
/// Quantile `p` of `values` as Armadillo's quantile() defines it (Hazen: the k-th smallest of N
/// at (k - 0.5) / N, linear in between, the extremes outside), without its read one past the end
/// when p is exactly (N - 0.5) / N (0.975 of 20 bootstrap values; found by AddressSanitizer).
inline double quantile(arma::vec values, double p) {
    const double n = static_cast<double>(values.n_elem);
    if (values.n_elem == 0) return arma::datum::nan;
    values = arma::sort(values);
    const double h = n * p + 0.5;  // 1-based position
    if (h <= 1) return values(0);
    if (h >= n) return values(values.n_elem - 1);
    const auto k = static_cast<arma::uword>(std::floor(h));
    const double w = h - static_cast<double>(k);
    return (1 - w) * values(k - 1) + w * values(k);
}

/// The one-sided permutation test of `observed` against its null distribution: p_value
/// (permutation_p_value: ties counted; `exact` when the null holds every relabelling), null_mean,
/// null_sd, exact (1 or 0) and n_permutations_used (the null's size: n! when exact); p joins
/// `family`.
inline void write_permutation_test(ResultSink& out, const std::string& path, double observed, const arma::vec& null,
                                   CorrectedPValues<ResultSink>& family, bool exact = false) {
    const double p = permutation_p_value(null, observed, exact);
    out.attribute(path, "p_value", p);
    out.attribute(path, "null_mean", arma::mean(null));
    out.attribute(path, "null_sd", arma::stddev(null));
    out.attribute(path, "exact", static_cast<int64_t>(exact));
    out.attribute(path, "n_permutations_used", static_cast<int64_t>(null.n_elem));
    family.add(path, p);
}

/// The fewest words a within-category bootstrap interval is given for. Resampling fewer words
/// with replacement overstates the spread of r: in simulation (tests/designs/test_rsa_bootstrap.py,
/// 300 draws each) the bootstrap SD of a within-category r is 1.46-1.48 times its true sampling
/// SD at 5 and 6 words, 1.22-1.27 at 7 to 9, 1.05-1.06 from 10 to 20, and at 4 words a third of
/// the resamples draw fewer than 3 distinct words.
inline constexpr arma::uword kMinIntervalWords = 10;

/// The percentile interval (`level`, e.g. 0.95) of the finite bootstrap values: ci_low, ci_high,
/// ci_level, and n_bootstrap_used, how many samples gave a value. The others (fewer than 3
/// distinct stimuli drawn, or no spread among them) are skipped, with a warning: the interval
/// is then that of the samples that could be compared. No interval when none could.
inline void write_interval(ResultSink& out, const std::string& path, const arma::vec& boot, double level) {
    const arma::vec finite = boot.elem(arma::find_finite(boot));
    out.attribute(path, "n_bootstrap_used", static_cast<int64_t>(finite.n_elem));
    if (finite.n_elem < boot.n_elem)
        out.warn(path + ": " + std::to_string(boot.n_elem - finite.n_elem) + " of " + std::to_string(boot.n_elem) +
                 " bootstrap samples drew fewer than 3 distinct stimuli or had no spread, and were skipped" +
                 (finite.is_empty() ? ": no interval" : "; the interval is that of the other " + std::to_string(finite.n_elem)));
    if (finite.is_empty()) return;
    out.attribute(path, "ci_low", quantile(finite, (1 - level) / 2));
    out.attribute(path, "ci_high", quantile(finite, 1 - (1 - level) / 2));
    out.attribute(path, "ci_level", level);
}

inline arma::vec within_category(const arma::mat& S, const arma::uvec& labels, arma::uword c) {
    std::vector<double> out;
    for (arma::uword i = 0; i < S.n_rows; ++i)
        for (arma::uword j = i + 1; j < S.n_cols; ++j)
            if (labels(i) == c && labels(j) == c) out.push_back(S(i, j));
    return arma::vec(out);
}

}  // namespace laminar::analysis
