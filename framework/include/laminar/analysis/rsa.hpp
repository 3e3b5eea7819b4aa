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
#include "laminar/analysis/permuted_sums.hpp"
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
/// Except for tau-a, a comparison is a sum of products of the normalised triangles (or whole
/// second moments), computed by permuted_sums().
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
    const arma::vec za = normalised(upper(A), method), zb = normalised(upper(B), method);
    return permuted_sums(n, [&](arma::uword i, arma::uword j) { return za(upper_index(i, j, n)); },
                         [&](arma::uword i, arma::uword j) { return zb(upper_index(i, j, n)); }, perms, false, team);
}

/// The observed comparison as mantel_null computes a null value: its value under the identity.
/// A permutation test compares the null with this, so that a relabelling that leaves B as it is
/// ties with it exactly as the identity does (compare() sums in another order, and where
/// float_precision_suffices() mantel_null's values are stored as floats).
inline double mantel_observed(const arma::mat& A, const arma::mat& B, const std::string& method) {
    return mantel_null(A, B, method, {arma::regspace<arma::uvec>(0, A.n_rows - 1)})(0);
}

/// The Mantel null under `permutations` random relabellings drawn from `seed`.
inline arma::vec mantel_null(const arma::mat& A, const arma::mat& B, const std::string& method,
                             std::size_t permutations, std::uint64_t seed, const Team& team = Alone()) {
    return mantel_null(A, B, method, draw_permutations(A.n_rows, permutations, seed), team);
}

/// Whether a comparison is made of sums over the pairs (corr and cosine): its bootstrap samples
/// are then quadratic forms, computed in batches by moment_bootstrap().
inline bool by_moments(const std::string& method) { return method == "pearson" || method == "corr" || method == "cosine"; }

/// One bootstrap sample: the comparison of A and B on the pairs of distinct stimuli among `idx`
/// (drawn with replacement); corr_cov and cosine_cov compare the whole RDMs of the distinct
/// stimuli drawn.
inline double bootstrap_sample(const arma::mat& A, const arma::mat& B, const std::string& method, const arma::uvec& idx) {
    if (whitened(method)) {
        const arma::uvec distinct = arma::unique(idx);
        return compare(upper(A.submat(distinct, distinct)), upper(B.submat(distinct, distinct)), method);
    }
    const arma::uword n = A.n_rows;
    std::vector<double> a, b;
    for (arma::uword j = 1; j < n; ++j)
        for (arma::uword i = 0; i < j; ++i)
            if (idx(i) != idx(j)) {
                a.push_back(A(idx(i), idx(j)));
                b.push_back(B(idx(i), idx(j)));
            }
    return compare(arma::vec(a), arma::vec(b), method);
}

/// Resamples a batch of moment_bootstrap() takes together (a fixed number: the batches, not the
/// threads or ranks, decide each matrix product, so the values are the same however shared).
inline constexpr std::size_t kBootstrapBatch = 64;

/// corr and cosine of the resamples draws[first, last) (a whole number of batches, or the last):
/// each needs six sums over the pairs of distinct stimuli drawn, of 1, a, b, a^2, b^2 and ab. A
/// stimulus drawn w times meets one drawn w' times in w w' pairs, so each sum is a quadratic
/// form 1/2 w'Fw in the counts w (F the entries' values, its diagonal 0: a stimulus drawn twice
/// is not a pair), and a batch of resamples is one matrix product F W. For corr the entries are
/// first centred on their mean over all pairs (r does not change; the sums cancel less). A and B
/// must be finite (rsa tests only a finite r): a NaN would reach every resample through F W.
inline arma::vec moment_bootstrap(const arma::mat& A, const arma::mat& B, bool centre, const std::vector<arma::uvec>& draws,
                                  std::size_t first, std::size_t last) {
    const arma::uword n = A.n_rows;
    const double shift_a = centre ? arma::mean(upper(A)) : 0, shift_b = centre ? arma::mean(upper(B)) : 0;
    const std::size_t batches = (last - first + kBootstrapBatch - 1) / kBootstrapBatch;
    arma::vec out(last - first);
    parallel_for(0, batches, [&](std::size_t k) {
        const std::size_t from = first + k * kBootstrapBatch, to = std::min(last, from + kBootstrapBatch);
        arma::mat W(n, to - from, arma::fill::zeros);  // counts: W(u, s) = times stimulus u was drawn in resample s
        for (std::size_t s = from; s < to; ++s)
            for (const arma::uword u : draws[s]) W(u, s - from) += 1;
        arma::mat sums(5, to - from, arma::fill::zeros);  // rows: a, b, a^2, b^2, ab
        constexpr arma::uword kBlock = 256;               // columns of F formed at a time
        for (arma::uword c0 = 0; c0 < n; c0 += kBlock) {
            const arma::uword c1 = std::min(n, c0 + kBlock) - 1;
            arma::mat a = A.cols(c0, c1) - shift_a, b = B.cols(c0, c1) - shift_b;
            for (arma::uword c = c0; c <= c1; ++c) a(c, c - c0) = b(c, c - c0) = 0;
            const arma::mat Wc = W.rows(c0, c1);
            const arma::mat* F[] = {&a, &b};
            for (int q = 0; q < 2; ++q) sums.row(q) += arma::sum(Wc % (F[q]->t() * W), 0);
            sums.row(2) += arma::sum(Wc % (arma::mat(arma::square(a)).t() * W), 0);
            sums.row(3) += arma::sum(Wc % (arma::mat(arma::square(b)).t() * W), 0);
            sums.row(4) += arma::sum(Wc % (arma::mat(a % b).t() * W), 0);
        }
        for (std::size_t s = from; s < to; ++s) {
            const arma::vec w = W.col(s - from);
            const double m = (arma::accu(w) * arma::accu(w) - arma::dot(w, w)) / 2;
            const double sa = sums(0, s - from) / 2, sb = sums(1, s - from) / 2, saa = sums(2, s - from) / 2,
                         sbb = sums(3, s - from) / 2, sab = sums(4, s - from) / 2;
            const double num = centre ? sab - sa * sb / m : sab;
            const double den = centre ? std::sqrt((saa - sa * sa / m) * (sbb - sb * sb / m)) : std::sqrt(saa * sbb);
            const bool degenerate = arma::uvec(arma::find(w)).n_elem < 3;  // degenerate_resample(), from the counts
            out(s - first) = !degenerate && den > 0 ? num / den : arma::datum::nan;
        }
    }, 1);
    return out;
}

/// Bootstrap over stimuli: resample n stimuli with replacement and compare the two matrices
/// on the pairs of distinct resampled stimuli. Returns the bootstrap distribution, its samples
/// drawn first and shared out in blocks (whole batches for corr and cosine) among the members
/// of `team`.
inline arma::vec bootstrap(const arma::mat& A, const arma::mat& B, const std::string& method, std::size_t samples,
                           std::uint64_t seed, const Team& team = Alone()) {
    const std::vector<arma::uvec> draws = draw_resamples(A.n_rows, samples, seed);
    arma::vec out;
    if (by_moments(method)) {
        const std::size_t batches = (samples + kBootstrapBatch - 1) / kBootstrapBatch;
        out = gather_blocks(team, batches, [&](std::size_t first, std::size_t last) {
            arma::vec values = moment_bootstrap(A, B, method != "cosine", draws, first * kBootstrapBatch,
                                                std::min(samples, last * kBootstrapBatch));
            values.resize((last - first) * kBootstrapBatch);  // whole batches travel, the last one padded
            return values;
        }, kBootstrapBatch).head(samples);
    } else {
        out = gather_blocks(team, samples, [&](std::size_t first, std::size_t last) {
            arma::vec values(last - first);
            parallel_for(first, last, [&](std::size_t s) {
                values(s - first) = degenerate_resample(draws[s]) ? arma::datum::nan : bootstrap_sample(A, B, method, draws[s]);
            });
            return values;
        });
    }
    return out;
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
/// `family`. `as_null`: the observed value as the null's values were computed (mantel_observed),
/// which the null is compared with; by default `observed` itself.
inline void write_permutation_test(ResultSink& out, const std::string& path, double observed, const arma::vec& null,
                                   CorrectedPValues<ResultSink>& family, bool exact = false,
                                   double as_null = arma::datum::nan) {
    const double p = permutation_p_value(null, std::isnan(as_null) ? observed : as_null, exact);
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
