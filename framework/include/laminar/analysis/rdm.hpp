// Representational dissimilarity matrices as rsatoolbox's calc_rdm defines them, over
// conditions (the words): a row of the activations is one word in one context, and the
// conditions' patterns are the means of their rows. Header-only (Armadillo).
#pragma once

#include <algorithm>
#include <armadillo>
#include <map>
#include <string>
#include <vector>

#include "laminar/analysis/matrices.hpp"

namespace laminar::analysis {

/// Which word (condition) and which context (cross-validation fold) each activation row is.
struct Conditions {
    arma::uvec of_row;        ///< condition of each row, 0..n-1 in order of first appearance
    arma::uvec fold_of_row;   ///< context of each row, 0..folds-1 (0 when contexts were averaged)
    arma::uword n = 0;        ///< conditions
    arma::uword folds = 1;    ///< contexts
    std::vector<std::string> words;       ///< of each condition
    std::vector<std::string> categories;  ///< of each condition

    /// Whether some word has more than one row (contexts kept).
    bool repeated() const { return of_row.n_elem > n; }
    /// Whether every word has exactly one row in every context (what crossnobis and the noise
    /// ceiling need).
    bool balanced() const {
        arma::umat count(n, folds, arma::fill::zeros);
        for (arma::uword r = 0; r < of_row.n_elem; ++r) ++count(of_row(r), fold_of_row(r));
        return count.min() == 1 && count.max() == 1;
    }
};

inline Conditions conditions_of(const std::vector<Stimulus>& stimuli) {
    Conditions c;
    c.of_row.set_size(stimuli.size());
    c.fold_of_row.set_size(stimuli.size());
    std::map<std::string, arma::uword> index;
    for (std::size_t r = 0; r < stimuli.size(); ++r) {
        auto [it, fresh] = index.emplace(stimuli[r].word, c.n);
        if (fresh) {
            ++c.n;
            c.words.push_back(stimuli[r].word);
            c.categories.push_back(stimuli[r].category);
        }
        c.of_row(r) = it->second;
        c.fold_of_row(r) = stimuli[r].context < 0 ? 0 : static_cast<arma::uword>(stimuli[r].context);
    }
    c.folds = stimuli.empty() ? 1 : c.fold_of_row.max() + 1;
    return c;
}

/// An activation set's rows as columns, [dims x rows] double: the run file's row-major floats
/// read as they lie (no transpose), so that a row's pattern is one contiguous column.
inline arma::mat rows_as_columns(const ActivationSet& set) {
    const arma::fmat columns(const_cast<float*>(set.data.data()), set.cols, set.rows, false, true);
    return arma::conv_to<arma::mat>::from(columns);
}

/// A set with one row per stimulus as columns [dims x stimuli] (refusing a set per token).
inline arma::mat as_columns(const ActivationSet& set) {
    require_stimulus_rows(set);
    return rows_as_columns(set);
}

/// The mean pattern of each condition over the rows `rows`, as columns [dims x conditions].
inline arma::mat condition_means(const arma::mat& Xt, const Conditions& c, const arma::uvec& rows) {
    arma::mat sum(Xt.n_rows, c.n, arma::fill::zeros);
    arma::rowvec count(c.n, arma::fill::zeros);
    for (arma::uword r : rows) {
        sum.col(c.of_row(r)) += Xt.col(r);
        count(c.of_row(r)) += 1;
    }
    return sum.each_row() / count;
}

/// Each word's pattern as columns [dims x words]: the mean of its rows where contexts were kept,
/// else its one row as it is (so that averaged contexts give the numbers they always gave).
inline arma::mat word_means(const arma::mat& Xt, const Conditions& c) {
    return c.repeated() ? condition_means(Xt, c, arma::regspace<arma::uvec>(0, Xt.n_cols - 1)) : Xt;
}

/// Category index of each condition (word), in the experiment's category order `names`.
inline arma::uvec condition_labels(const Conditions& c, const std::vector<std::string>& names) {
    arma::uvec labels(c.n);
    for (arma::uword i = 0; i < c.n; ++i)
        labels(i) = static_cast<arma::uword>(std::find(names.begin(), names.end(), c.categories[i]) - names.begin());
    return labels;
}

/// The dissimilarities a kernel K = <a_i, b_j> gives: (K_ii + K_jj - K_ij - K_ji) / dims.
inline arma::mat rdm_from_kernel(const arma::mat& K, double dims) {
    const arma::uword n = K.n_rows;
    arma::mat D(n, n);
    for (arma::uword j = 0; j < n; ++j)
        for (arma::uword i = 0; i <= j; ++i) D(i, j) = D(j, i) = (K(i, i) + K(j, j) - K(i, j) - K(j, i)) / dims;
    D.diag().zeros();
    return D;
}

/// Full [n x n] RDM of condition patterns (columns of Mt, [dims x n]): "euclidean" (rsatoolbox:
/// the squared distance over the number of dimensions), "correlation" (1 - Pearson between
/// patterns), "cosine" (1 - cosine, scipy's cosine distance). Diagonal exactly 0.
inline arma::mat pattern_rdm(const arma::mat& Mt, const std::string& measure) {
    arma::mat D;
    if (measure == "euclidean") {
        D = rdm_from_kernel(Mt.t() * Mt, double(Mt.n_rows));
    } else if (measure == "correlation" || measure == "cosine") {
        std::size_t degenerate = 0;
        D = 1 - similarity(Mt.t(), measure, degenerate);
        D.diag().zeros();
    } else {
        throw SpecError("rdm", "unknown RDM measure '" + measure + "' (euclidean, correlation, cosine, crossnobis)");
    }
    return D;
}

/// A space's RDM over the conditions and, when asked, each context's own RDM (the "subjects"
/// of a noise ceiling: each an independent estimate, from that context's rows alone).
struct SpaceRdms {
    arma::mat rdm;
    std::vector<arma::mat> contexts;
};

/// Crossnobis (rsatoolbox's, identity noise precision, leave one context out) needs every word
/// once in every context. Fold f compares the other contexts' mean patterns with context f's:
/// K_f = ((S - P_f) / (C - 1))' P_f, with P_f context f's patterns and S their sum; the RDM is
/// the mean over folds of (K_ii + K_jj - K_ij - K_ji) / dims, linear in K, so it is that of
/// mean_f K_f = (S'S - sum_f P_f'P_f) / (C (C - 1)): C + 1 Gram matrices instead of C
/// cross-products and C more for the contexts' own RDMs, which reuse P_f'P_f. A context has
/// one pattern per word, too few to cross-validate: its own RDM is euclidean (the same units;
/// the noise it adds is about the same for every pair).
inline SpaceRdms space_rdms(const arma::mat& Xt, const Conditions& c, const std::string& measure, bool per_context) {
    SpaceRdms out;
    const double dims = double(Xt.n_rows);
    if (measure != "crossnobis" && !per_context) {
        out.rdm = pattern_rdm(word_means(Xt, c), measure);
        return out;
    }
    // Balanced: context f's patterns in condition order.
    arma::umat row_of(c.n, c.folds);
    for (arma::uword r = 0; r < Xt.n_cols; ++r) row_of(c.of_row(r), c.fold_of_row(r)) = r;
    arma::mat S(Xt.n_rows, c.n, arma::fill::zeros), gram_sum(c.n, c.n, arma::fill::zeros);
    for (arma::uword f = 0; f < c.folds; ++f) {
        const arma::mat P = Xt.cols(arma::uvec(row_of.col(f)));
        S += P;
        if (measure == "crossnobis" || measure == "euclidean") {
            const arma::mat G = P.t() * P;
            if (measure == "crossnobis") gram_sum += G;
            if (per_context) out.contexts.push_back(rdm_from_kernel(G, dims));
        } else if (per_context) {
            out.contexts.push_back(pattern_rdm(P, measure));
        }
    }
    const double C = double(c.folds);
    out.rdm = measure == "crossnobis" ? rdm_from_kernel((S.t() * S - gram_sum) / (C * (C - 1)), dims)
                                      : pattern_rdm(S / C, measure);
    return out;
}

}  // namespace laminar::analysis
