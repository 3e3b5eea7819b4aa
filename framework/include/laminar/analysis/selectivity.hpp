// Category selectivity of a similarity matrix, as the founding study defines it, and its
// label-permutation null distribution computed in batches with one GEMM each.
#pragma once

#include <armadillo>
#include <cstdint>
#include <random>
#include <string>

#include "laminar/analysis/team_work.hpp"
#include "laminar/types.hpp"

namespace laminar::analysis {

/// Block statistics of S for given labels (0..k-1), over the strict upper triangle.
struct Blocks {
    arma::mat sums;    ///< [k x k]: within (c, c) on the diagonal, between (c, c') off it (symmetric)
    arma::mat counts;  ///< number of stimulus pairs in each block
    arma::mat means() const { return sums / counts; }
};

/// Block sums from M = S L (L the one-hot label matrix) and the diagonal of S.
inline Blocks blocks_from(const arma::mat& SL, const arma::vec& diag, const arma::uvec& labels, arma::uword k) {
    Blocks b{arma::mat(k, k, arma::fill::zeros), arma::mat(k, k, arma::fill::zeros)};
    arma::vec sizes(k, arma::fill::zeros), diag_sums(k, arma::fill::zeros);
    for (arma::uword i = 0; i < labels.n_elem; ++i) {
        b.sums.row(labels(i)) += SL.row(i);
        sizes(labels(i)) += 1;
        diag_sums(labels(i)) += diag(i);
    }
    b.counts = sizes * sizes.t();
    for (arma::uword c = 0; c < k; ++c) {
        b.sums(c, c) = (b.sums(c, c) - diag_sums(c)) / 2;  // each within pair once, diagonal excluded
        b.counts(c, c) = sizes(c) * (sizes(c) - 1) / 2;
    }
    return b;
}

inline arma::mat one_hot(const arma::uvec& labels, arma::uword k) {
    arma::mat L(labels.n_elem, k, arma::fill::zeros);
    for (arma::uword i = 0; i < labels.n_elem; ++i) L(i, labels(i)) = 1;
    return L;
}

inline Blocks blocks(const arma::mat& S, const arma::uvec& labels, arma::uword k) {
    return blocks_from(S * one_hot(labels, k), S.diag(), labels, k);
}

/// Selectivity from block statistics. `pooled` false (the seed's): mean of the per-category
/// within-block means / mean of the per-pair between-block means. `pooled` true: mean of all
/// within pairs / mean of all between pairs. Entry c of `per_category` is category c's
/// within mean over the mean of its between blocks (pooled: over all its between pairs).
inline double selectivity(const Blocks& b, bool pooled, arma::vec* per_category = nullptr) {
    const arma::uword k = b.sums.n_rows;
    const arma::mat means = b.means();
    double within = 0, between = 0, within_n = 0, between_n = 0;
    if (per_category) per_category->set_size(k);
    for (arma::uword c = 0; c < k; ++c) {
        double row_sum = 0, row_n = 0, row_means = 0;
        for (arma::uword d = 0; d < k; ++d) {
            if (d == c) continue;
            row_sum += b.sums(c, d);
            row_n += b.counts(c, d);
            row_means += means(c, d);
            if (d > c) {
                between += pooled ? b.sums(c, d) : means(c, d);
                between_n += pooled ? b.counts(c, d) : 1;
            }
        }
        within += pooled ? b.sums(c, c) : means(c, c);
        within_n += pooled ? b.counts(c, c) : 1;
        if (per_category) (*per_category)(c) = means(c, c) / (pooled ? row_sum / row_n : row_means / (k - 1));
    }
    return (within / within_n) / (between / between_n);
}

/// Selectivity under `permutations` shuffles of the labels (group sizes kept). Labels are
/// shuffled with a seeded std::mt19937_64, and S L is computed for a batch of shuffles at a
/// time as one matrix product. Row p of the result: overall index, then per category. The
/// members of `team` share the batches: each draws every shuffle in order (cheap beside the
/// products) and multiplies its own block of batches, the same products one process makes.
inline arma::mat permutation_null(const arma::mat& S, const arma::uvec& labels, arma::uword k, bool pooled,
                                  std::size_t permutations, std::uint64_t seed, const Team& team = Alone()) {
    const arma::uword n = labels.n_elem;
    const arma::vec diag = S.diag();
    const std::size_t batch = std::max<std::size_t>(1, std::min<std::size_t>(256, (1u << 26) / (n * k + 1)));
    const std::size_t batches = (permutations + batch - 1) / batch, width = batch * (k + 1);
    // Each batch's rows, row-major, the last batch padded to a whole one.
    const arma::vec rows = gather_blocks(team, batches, [&](std::size_t first, std::size_t last) {
        std::mt19937_64 rng(seed);
        std::vector<arma::uword> shuffled(labels.begin(), labels.end());
        arma::vec out((last - first) * width, arma::fill::value(arma::datum::nan));
        for (std::size_t b = 0; b < last; ++b) {
            const std::size_t count = std::min(batch, permutations - b * batch);
            std::vector<arma::uvec> drawn(count);
            for (auto& d : drawn) {
                std::shuffle(shuffled.begin(), shuffled.end(), rng);
                d = arma::uvec(shuffled);
            }
            if (b < first) continue;
            arma::mat L(n, k * count, arma::fill::zeros);
            for (std::size_t p = 0; p < count; ++p)
                for (arma::uword i = 0; i < n; ++i) L(i, p * k + drawn[p](i)) = 1;
            const arma::mat SL = S * L;  // [n x k*count], one BLAS call for the whole batch
            for (std::size_t p = 0; p < count; ++p) {
                arma::vec per;
                const double index = selectivity(blocks_from(SL.cols(p * k, p * k + k - 1), diag, drawn[p], k), pooled, &per);
                double* row = out.memptr() + (b - first) * width + p * (k + 1);
                row[0] = index;
                for (arma::uword c = 0; c < k; ++c) row[c + 1] = per(c);
            }
        }
        return out;
    }, width);
    // [permutations x (k + 1)]: the padded rows dropped.
    return arma::mat(arma::reshape(rows.head(permutations * (k + 1)), k + 1, permutations).t());
}

/// One-sided permutation p-value (H1: observed is larger), never 0: (1 + #{null >= observed}) / (1 + N).
inline double p_greater(const arma::vec& null, double observed) {
    return (1.0 + static_cast<double>(arma::accu(null >= observed))) / (1.0 + null.n_elem);
}

}  // namespace laminar::analysis
