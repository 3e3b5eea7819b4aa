// Representational dissimilarity matrices as rsatoolbox's calc_rdm defines them, over
// conditions (the words): a row of the activations is one word in one context, and the
// conditions' patterns are the means of their rows. Header-only (Armadillo).
#pragma once

#include <armadillo>
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

/// The mean pattern of each condition over the rows `rows` of X ([conditions x dims]).
inline arma::mat condition_means(const arma::mat& X, const Conditions& c, const arma::uvec& rows) {
    arma::mat sum(c.n, X.n_cols, arma::fill::zeros);
    arma::vec count(c.n, arma::fill::zeros);
    for (arma::uword r : rows) {
        sum.row(c.of_row(r)) += X.row(r);
        count(c.of_row(r)) += 1;
    }
    return sum.each_col() / count;
}

inline arma::mat condition_means(const arma::mat& X, const Conditions& c) {
    return condition_means(X, c, arma::regspace<arma::uvec>(0, X.n_rows - 1));
}

/// Full [n x n] RDM of condition patterns M: "euclidean" (rsatoolbox: the squared distance over
/// the number of channels), "correlation" (1 - Pearson between patterns), "cosine" (1 - cosine,
/// scipy's cosine distance). Diagonal exactly 0.
inline arma::mat pattern_rdm(const arma::mat& M, const std::string& measure) {
    arma::mat D;
    if (measure == "euclidean") {
        const arma::vec sq = arma::sum(arma::square(M), 1);
        D = (arma::repmat(sq, 1, M.n_rows) + arma::repmat(sq.t(), M.n_rows, 1) - 2 * M * M.t()) / double(M.n_cols);
    } else if (measure == "correlation" || measure == "cosine") {
        std::size_t degenerate = 0;
        D = 1 - similarity(M, measure, degenerate);
    } else {
        throw SpecError("rdm", "unknown RDM measure '" + measure + "' (euclidean, correlation, cosine, crossnobis)");
    }
    D.diag().zeros();
    return D;
}

/// The cross-validated squared Euclidean distance of fold `test` (rsatoolbox's crossnobis with
/// an identity noise precision): (a_i - a_j) . (b_i - b_j) / channels, with a the condition
/// means of the other folds and b those of fold `test`.
inline arma::mat crossnobis_fold(const arma::mat& X, const Conditions& c, arma::uword test) {
    const arma::mat train = condition_means(X, c, arma::find(c.fold_of_row != test));
    const arma::mat held = condition_means(X, c, arma::find(c.fold_of_row == test));
    const arma::mat K = train * held.t();
    const arma::vec d = K.diag();
    arma::mat D = (arma::repmat(d, 1, c.n) + arma::repmat(d.t(), c.n, 1) - K - K.t()) / double(X.n_cols);
    D.diag().zeros();
    return D;
}

/// Leave-one-context-out crossnobis: the mean of the folds' RDMs.
inline arma::mat crossnobis(const arma::mat& X, const Conditions& c) {
    arma::mat D(c.n, c.n, arma::fill::zeros);
    for (arma::uword f = 0; f < c.folds; ++f) D += crossnobis_fold(X, c, f);
    return D / double(c.folds);
}

/// The RDM of activations X over conditions: crossnobis across contexts, or the measure on the
/// conditions' mean patterns (rsatoolbox's calc_rdm with descriptor = word).
inline arma::mat activation_rdm(const arma::mat& X, const Conditions& c, const std::string& measure) {
    if (measure == "crossnobis") return crossnobis(X, c);
    return pattern_rdm(c.repeated() ? condition_means(X, c) : X, measure);
}

/// One RDM per context (the "subjects" of a noise ceiling), from that context's rows alone: each
/// is an independent estimate, as a subject's RDM is. A context has one pattern per word, too few
/// to cross-validate, so crossnobis takes its uncross-validated counterpart there (euclidean:
/// the same units; the noise it adds is about the same for every pair). Crossnobis's own folds
/// would not do: each shares the other contexts' mean with every other fold, and their agreement
/// would make any ceiling look near 1.
inline std::vector<arma::mat> context_rdms(const arma::mat& X, const Conditions& c, const std::string& measure) {
    std::vector<arma::mat> out;
    const std::string per_context = measure == "crossnobis" ? "euclidean" : measure;
    for (arma::uword f = 0; f < c.folds; ++f)
        out.push_back(pattern_rdm(condition_means(X, c, arma::find(c.fold_of_row == f)), per_context));
    return out;
}

}  // namespace laminar::analysis
