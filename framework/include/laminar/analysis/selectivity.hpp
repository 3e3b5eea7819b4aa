// Category selectivity of a similarity matrix, as the founding study defines it, and its
// label-permutation null distribution computed in batches, one triangular matrix product each.
//
// The word is the unit. With contexts kept a word has several rows; the pairs of one word with
// itself (two of its contexts) say how stable the word is across contexts, not whether words
// of a category are alike, and every one of them would count as a within-category pair. So the
// statistics here run over units (words) with `row_counts` rows each: a block's sum is over the
// pairs of rows of different units, and a relabelling moves a unit with all its rows.
// word_sums() folds a row-level similarity matrix into one over words.
#pragma once

#include <algorithm>
#include <armadillo>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <utility>

#include "laminar/analysis/matrices.hpp"
#include "laminar/analysis/parallel.hpp"
#include "laminar/analysis/permutation.hpp"
#include "laminar/team_work.hpp"
#include "laminar/types.hpp"

namespace laminar::analysis {

/// A similarity matrix over units (words): `sums(u, v)` the sum of the row-level similarities
/// over the rows of unit u against those of unit v (u == v: its rows against one another,
/// the diagonal included), `row_counts(u)` its number of rows.
struct UnitSimilarity {
    arma::mat sums;
    arma::vec row_counts;
};

/// S [rows x rows] folded into words: `word_of_row` says whose each row is (0..words-1 in order
/// of first appearance, as conditions_of numbers them). With one row per word (contexts
/// averaged) S is taken as it is, every word with one row.
inline UnitSimilarity word_sums(arma::mat S, const arma::uvec& word_of_row, arma::uword words) {
    if (word_of_row.n_elem == words) return {std::move(S), arma::vec(words, arma::fill::ones)};
    UnitSimilarity w{arma::mat(words, words, arma::fill::zeros), arma::vec(words, arma::fill::zeros)};
    for (arma::uword j = 0; j < S.n_cols; ++j) {
        w.row_counts(word_of_row(j)) += 1;
        for (arma::uword i = 0; i < S.n_rows; ++i) w.sums(word_of_row(i), word_of_row(j)) += S(i, j);
    }
    return w;
}

/// Block statistics for given unit labels (0..k-1): the pairs of rows of different units.
struct Blocks {
    arma::mat sums;    ///< [k x k]: within (c, c) on the diagonal, between (c, c') off it (symmetric)
    arma::mat counts;  ///< number of pairs of rows in each block
    arma::mat means() const { return sums / counts; }
};

/// Block statistics from M = U L: U the strict upper triangle of T (the units' similarity sums),
/// L the one-hot label matrix [units x k], and each unit's number of rows (empty: one each).
/// (L'UL)(c, d) sums T over the pairs of units u < v with u in c and v in d: the within block c
/// is (L'UL)(c, c), each pair of different units once (a unit's rows against its own left out),
/// and the between block (c, d) is (L'UL)(c, d) + (L'UL)(d, c).
inline Blocks blocks_from(const arma::mat& UL, const arma::uvec& labels, arma::uword k, const arma::vec& row_counts = {}) {
    arma::mat S(k, k, arma::fill::zeros);
    arma::vec sizes(k, arma::fill::zeros), squares(k, arma::fill::zeros);
    for (arma::uword i = 0; i < labels.n_elem; ++i) {
        const double m = row_counts.is_empty() ? 1.0 : row_counts(i);
        S.row(labels(i)) += UL.row(i);
        sizes(labels(i)) += m;
        squares(labels(i)) += m * m;
    }
    Blocks b{S + S.t(), sizes * sizes.t()};
    for (arma::uword c = 0; c < k; ++c) {
        b.sums(c, c) = S(c, c);
        b.counts(c, c) = (sizes(c) * sizes(c) - squares(c)) / 2;  // whole numbers: exact
    }
    return b;
}

/// U L for a labelling from U L' (L' the one-hot columns of the first k - 1 categories, as
/// columns `first` onward of `partial`) and U's row sums: the last category's column is the row
/// sums less the others'. The observed index and its null are both computed so (a labelling
/// gives the same bits in either).
inline arma::mat with_last_category(const arma::mat& partial, arma::uword first, arma::uword k, const arma::vec& row_sums) {
    arma::mat UL(partial.n_rows, k);
    UL.cols(0, k - 2) = partial.cols(first, first + k - 2);
    UL.col(k - 1) = row_sums - arma::sum(UL.cols(0, k - 2), 1);
    return UL;
}

/// One-hot columns of the first k - 1 categories of each labelling, side by side.
inline arma::mat first_categories(const std::vector<arma::uvec>& labellings, arma::uword n, arma::uword k) {
    arma::mat L(n, (k - 1) * labellings.size(), arma::fill::zeros);
    for (std::size_t p = 0; p < labellings.size(); ++p)
        for (arma::uword i = 0; i < n; ++i)
            if (labellings[p](i) + 1 < k) L(i, p * (k - 1) + labellings[p](i)) = 1;
    return L;
}

/// Block statistics of T (units' similarity sums, or a similarity matrix with one row per unit).
inline Blocks blocks(const arma::mat& T, const arma::uvec& labels, arma::uword k, const arma::vec& row_counts = {}) {
    const arma::mat U = arma::trimatu(T, 1);
    arma::mat L = first_categories({labels}, labels.n_elem, k);
    upper_times(U, L);
    return blocks_from(with_last_category(L, 0, k, arma::sum(U, 1)), labels, k, row_counts);
}

/// How the index compares within- with between-category similarity. mean_of_blocks (the
/// seed's): mean of the per-category within-block means / mean of the per-pair between-block
/// means. pooled: mean of all within pairs / mean of all between pairs. difference: the
/// seed's two means subtracted, within - between, which stays defined where the between mean
/// is near 0 (there the ratios explode or change sign).
enum class Variant { mean_of_blocks, pooled, difference };

/// The two means an index compares, overall and per category: entry c of `within_c` is
/// category c's within mean, of `between_c` the mean of its between blocks (pooled: of all its
/// between pairs).
struct Contrast {
    double within = 0, between = 0;
    arma::vec within_c, between_c;
};

inline Contrast contrast(const Blocks& b, Variant variant) {
    const bool pooled = variant == Variant::pooled;
    const arma::uword k = b.sums.n_rows;
    const arma::mat means = b.means();
    Contrast out;
    out.within_c.set_size(k);
    out.between_c.set_size(k);
    double within = 0, between = 0, within_n = 0, between_n = 0;
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
        out.within_c(c) = means(c, c);
        out.between_c(c) = pooled ? row_sum / row_n : row_means / (k - 1);
    }
    out.within = within / within_n;
    out.between = between / between_n;
    return out;
}

/// Where a ratio's between-category mean makes it ill-conditioned: at most this fraction of the
/// standard deviation of the similarities (their strict upper triangle), 0 and below included.
/// There a shift of the between mean by a quarter of the similarities' spread would take the
/// denominator through 0: the ratio explodes or turns negative.
inline constexpr double kBetweenBoundFraction = 0.25;

inline double between_bound(const arma::mat& S) {
    const arma::vec u = upper(S);
    const arma::vec finite = u.elem(arma::find_finite(u));
    return finite.n_elem > 1 ? kBetweenBoundFraction * arma::stddev(finite) : arma::datum::nan;
}

/// Selectivity from block statistics (Variant); entry c of `per_category` is category c's own
/// index (its within mean against the mean of its between blocks, or all its between pairs).
inline double selectivity(const Blocks& b, Variant variant, arma::vec* per_category = nullptr) {
    const Contrast m = contrast(b, variant);
    const bool difference = variant == Variant::difference;
    if (per_category) *per_category = difference ? arma::vec(m.within_c - m.between_c) : arma::vec(m.within_c / m.between_c);
    return difference ? m.within - m.between : m.within / m.between;
}

/// Selectivity under `permutations` shuffles of the units' labels (the number of units of each
/// category kept; a unit takes all its rows, `row_counts`, with it). Labels are shuffled with a
/// seeded std::mt19937_64, and U L (U T's strict upper triangle) is computed for a batch of
/// shuffles at a time as one triangular matrix product, batches on all cores. `exact`: instead, every distinct labelling once (`permutations` must be their
/// number, distinct_labellings_up_to()), in lexicographic order from the sorted labels, the
/// observed one among them. Row p of the result: overall index, then per category. The members
/// of `team` share the batches: each draws every shuffle in order (cheap beside the products)
/// and multiplies its own block of batches, the same products one process makes.
inline arma::mat permutation_null(const arma::mat& T, const arma::uvec& labels, arma::uword k, Variant variant,
                                  std::size_t permutations, std::uint64_t seed, const Team& team = Alone(),
                                  const arma::vec& row_counts = {}, bool exact = false) {
    const arma::uword n = labels.n_elem;
    const arma::mat U = arma::trimatu(T, 1);    // each pair of units once
    const arma::vec row_sums = arma::sum(U, 1);  // U 1: the last category's column of U L is this less the others'
    const std::size_t batch = std::max<std::size_t>(1, std::min<std::size_t>(256, (1u << 26) / (n * k + 1)));
    const std::size_t batches = (permutations + batch - 1) / batch, width = batch * (k + 1);
    // A batch's null rows, row-major: U L for its labellings' first k - 1 categories in one
    // triangular product, the last category's column from the row sums.
    auto batch_rows = [&](const std::vector<arma::uvec>& drawn, double* row) {
        arma::mat L = first_categories(drawn, n, k);
        upper_times(U, L);
        for (std::size_t p = 0; p < drawn.size(); ++p, row += k + 1) {
            arma::vec per;
            row[0] = selectivity(blocks_from(with_last_category(L, p * (k - 1), k, row_sums), drawn[p], k, row_counts), variant, &per);
            for (arma::uword c = 0; c < k; ++c) row[c + 1] = per(c);
        }
    };
    // Each member draws every labelling in order (cheap beside the products) and computes its own
    // batches, a round of them at a time on all cores; the last batch is padded to a whole one.
    const arma::vec rows = gather_blocks(team, batches, [&](std::size_t first, std::size_t last) {
        std::mt19937_64 rng(seed);
        std::vector<arma::uword> shuffled(labels.begin(), labels.end());
        if (exact) std::sort(shuffled.begin(), shuffled.end());
        arma::vec out((last - first) * width, arma::fill::value(arma::datum::nan));
        const std::size_t round_size = std::max(16, omp_get_max_threads());  // batches drawn, then computed together
        std::vector<std::vector<arma::uvec>> round;
        for (std::size_t b = 0; b < last; ++b) {
            std::vector<arma::uvec> drawn(std::min(batch, permutations - b * batch));
            for (auto& d : drawn) {
                if (exact) {
                    d = arma::uvec(shuffled);
                    std::next_permutation(shuffled.begin(), shuffled.end());
                } else {
                    std::shuffle(shuffled.begin(), shuffled.end(), rng);
                    d = arma::uvec(shuffled);
                }
            }
            if (b < first) continue;
            round.push_back(std::move(drawn));
            if (round.size() < round_size && b + 1 < last) continue;
            const std::size_t start = b + 1 - round.size();  // the round's first batch
            parallel_for(0, round.size(), [&](std::size_t r) { batch_rows(round[r], out.memptr() + (start + r - first) * width); });
            round.clear();
        }
        return out;
    }, width);
    // [permutations x (k + 1)]: the padded rows dropped.
    return arma::mat(arma::reshape(rows.head(permutations * (k + 1)), k + 1, permutations).t());
}

/// One-sided permutation p-value (H1: observed is larger), ties counted: permutation_p_value()
/// (`exact`: the null holds every distinct labelling once).
inline double p_greater(const arma::vec& null, double observed, bool exact = false) {
    return permutation_p_value(null, observed, exact);
}

}  // namespace laminar::analysis
