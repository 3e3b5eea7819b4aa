// Armadillo building blocks shared by metric plugins: activation sets as matrices, similarity
// matrices in one BLAS call, strict upper triangles, category labels, triangular products.
// Header-only; metrics link Armadillo and BLAS (laminar::analysis), the host does not.
#pragma once

#include <armadillo>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "laminar/metric.hpp"
#include "laminar/space.hpp"

// BLAS's triangular products, which Armadillo does not offer (LP64, as Debian's BLAS).
extern "C" void dtrmm_(const char* side, const char* uplo, const char* transa, const char* diag, const int* m, const int* n,
                       const double* alpha, const double* a, const int* lda, double* b, const int* ldb);
extern "C" void strmm_(const char* side, const char* uplo, const char* transa, const char* diag, const int* m, const int* n,
                       const float* alpha, const float* a, const int* lda, float* b, const int* ldb);

namespace laminar::analysis {

/// M := U M for U upper triangular [n x n] (BLAS dtrmm, in place): half a full product's work.
inline void upper_times(const arma::mat& U, arma::mat& M) {
    const int n = static_cast<int>(M.n_rows), columns = static_cast<int>(M.n_cols);
    const double one = 1;
    if (n > 0 && columns > 0) dtrmm_("L", "U", "N", "N", &n, &columns, &one, U.memptr(), &n, M.memptr(), &n);
}

/// The same in single precision (BLAS strmm).
inline void upper_times(const arma::fmat& U, arma::fmat& M) {
    const int n = static_cast<int>(M.n_rows), columns = static_cast<int>(M.n_cols);
    const float one = 1;
    if (n > 0 && columns > 0) strmm_("L", "U", "N", "N", &n, &columns, &one, U.memptr(), &n, M.memptr(), &n);
}

/// Refuses a set with a row per token (ActivationSet::tokens) where a metric compares stimuli.
inline void require_stimulus_rows(const ActivationSet& set) {
    if (!set.tokens.empty())
        throw SpecError("sites", "'" + set.hook +
                                     "' has a row for every token of each prompt (positions: all, or an attention pattern over its "
                                     "keys): this metric compares stimuli, one row each (effective_dimensionality reads sets per token)");
}

/// An activation set as an [n x d] double matrix (rows = stimuli).
inline arma::mat as_matrix(const ActivationSet& set) {
    require_stimulus_rows(set);
    // The row-major [n x d] floats are, read column-major, the [d x n] transpose: no copy to view.
    const arma::fmat transposed(const_cast<float*>(set.data.data()), set.cols, set.rows, false, true);
    return arma::conv_to<arma::mat>::from(transposed.t());
}

/// Rows scaled to unit length; a zero row, or one of NaN or infinite values, becomes NaN and is
/// counted in `degenerate`.
inline arma::mat unit_rows(arma::mat X, std::size_t& degenerate) {
    const arma::vec norms = arma::sqrt(arma::sum(arma::square(X), 1));
    for (arma::uword i = 0; i < X.n_rows; ++i) {
        if (norms(i) > 0 && std::isfinite(norms(i))) X.row(i) /= norms(i);
        else { X.row(i).fill(arma::datum::nan); ++degenerate; }
    }
    return X;
}

/// [n x n] similarity between the rows of X: "cosine" (S = U Uᵀ of unit rows) or
/// "correlation" (Pearson between stimuli: rows centred first). Rows of zero length after
/// centring, and rows of NaN or infinite values, give NaN rows and columns; their number is
/// returned in `degenerate`.
inline arma::mat similarity(const arma::mat& X, const std::string& measure, std::size_t& degenerate) {
    degenerate = 0;
    arma::mat Y = measure == "correlation" ? arma::mat(X.each_col() - arma::mean(X, 1)) : X;
    if (measure != "cosine" && measure != "correlation")
        throw SpecError("similarity", "unknown similarity '" + measure + "' (cosine, correlation)");
    const arma::mat U = unit_rows(std::move(Y), degenerate);
    arma::mat S = U * U.t();  // one BLAS call
    S.diag().ones();          // exact 1 on the diagonal (NaN rows stay NaN off it)
    for (arma::uword i = 0; i < U.n_rows; ++i)
        if (std::isnan(U(i, 0))) { S.row(i).fill(arma::datum::nan); S.col(i).fill(arma::datum::nan); }
    return S;
}

/// The similarity matrix of the activations recorded for `model` at `hook`. Zero-length
/// stimulus vectors (after centring, for correlation) and vectors of NaN or infinite values give
/// NaN rows, reported through `out.warn`; their number is returned in `degenerate` when asked for.
inline arma::mat recorded_similarity(const ActivationSource& in, const std::string& model, const std::string& hook,
                                     const std::string& measure, ResultSink& out, std::size_t* degenerate = nullptr) {
    std::size_t count = 0;
    const arma::mat X = as_matrix(in.read(model, hook));
    std::size_t nonfinite = 0;  // NaN or infinite values (a model that overflowed): not "zero length"
    for (arma::uword i = 0; i < X.n_rows; ++i) nonfinite += !X.row(i).is_finite();
    arma::mat S = similarity(X, measure, count);
    if (nonfinite)
        out.warn(model + "/" + hook + ": " + std::to_string(nonfinite) +
                 " stimulus vector(s) contain NaN or infinite values; everything computed from them is NaN");
    if (count > nonfinite)
        out.warn(model + "/" + hook + ": " + std::to_string(count - nonfinite) + " stimulus vector(s) have zero length" +
                 (measure == "correlation" ? " after centring" : "") + "; everything computed from them is NaN");
    if (degenerate) *degenerate = count;
    return S;
}

/// Warns, naming the set at `path`, when columns of Xt [dims x vectors] hold NaN or infinite
/// values (a model that overflowed, an embedding set to inf): "<path>: N <what> contain NaN or
/// infinite values; <consequence>". Returns whether any did. A metric whose numerics cannot take
/// them (an eigensolver, a sort) then writes NaN results instead of failing the analysis.
inline bool warn_nonfinite(const arma::mat& Xt, const std::string& path, const std::string& what,
                           const std::string& consequence, ResultSink& out) {
    std::size_t nonfinite = 0;
    for (arma::uword i = 0; i < Xt.n_cols; ++i) nonfinite += !Xt.col(i).is_finite();
    if (nonfinite)
        out.warn(path + ": " + std::to_string(nonfinite) + " " + what + " contain NaN or infinite values; " + consequence);
    return nonfinite > 0;
}

/// The position of entry (i, j), i < j, of an n x n matrix in its upper triangle (numpy's triu
/// order, as upper() lists it).
inline arma::uword upper_index(arma::uword i, arma::uword j, arma::uword n) { return i * n - i * (i + 1) / 2 + (j - i - 1); }

/// The strictly-upper-triangle entries (i < j), row by row as numpy's triu_indices(n, 1).
inline arma::vec upper(const arma::mat& S) {
    arma::vec out(S.n_rows * (S.n_rows - 1) / 2);
    arma::uword k = 0;
    for (arma::uword i = 0; i < S.n_rows; ++i)
        for (arma::uword j = i + 1; j < S.n_cols; ++j) out(k++) = S(i, j);
    return out;
}

/// Category index of each stimulus, in the experiment's category order.
inline arma::uvec category_labels(const ActivationSource& in) {
    std::map<std::string, arma::uword> index;
    const auto names = in.categories();
    for (arma::uword c = 0; c < names.size(); ++c) index[names[c]] = c;
    arma::uvec labels(in.stimuli().size());
    for (arma::uword i = 0; i < labels.n_elem; ++i) labels(i) = index.at(in.stimuli()[i].category);
    return labels;
}

/// Hooks of `model` whose site is one of `sites`, in run-file order; when `sites` is empty all
/// of them, but sets per token only for a metric that reads them (`per_token`).
inline std::vector<std::string> hooks_for_sites(const ActivationSource& in, const std::string& model,
                                                const std::vector<std::string>& sites, bool per_token = false) {
    std::vector<std::string> out;
    for (const auto& hook : in.hooks(model)) {
        if (sites.empty()) {  // every space: not the sets that are none (the logit lens's token ids)
            if ((per_token || !in.per_token(model, hook)) && in.not_a_space(model, hook).empty()) out.push_back(hook);
            continue;
        }
        const std::string site = in.site(model, hook);
        for (const auto& s : sites)
            if (picks(s, hook, site)) { out.push_back(hook); break; }
    }
    return out;
}

/// Like hooks_for_sites(), but an error (naming what was recorded) when nothing matches:
/// a typo in `sites:` must not pass as an empty result.
/// Every (model, hook) a `sites:` option picks, models in run-file order; an error for a model
/// where it picks nothing.
inline std::vector<std::pair<std::string, std::string>> picked_spaces(const ActivationSource& in,
                                                                      const std::vector<std::string>& sites,
                                                                      bool per_token = false);

/// Metric::spaces() of a `sites:` option.
inline std::vector<SpaceUse> site_uses(const std::vector<std::string>& sites) {
    std::vector<SpaceUse> out;
    for (std::size_t i = 0; i < sites.size(); ++i) out.push_back({"sites[" + std::to_string(i) + "]", sites[i]});
    return out;
}

inline std::vector<std::string> require_sites(const ActivationSource& in, const std::string& model,
                                              const std::vector<std::string>& sites, bool per_token = false) {
    auto hooks = hooks_for_sites(in, model, sites, per_token);
    if (hooks.empty()) {
        std::string recorded;
        for (const auto& h : in.hooks(model)) recorded += (recorded.empty() ? "" : ", ") + h;
        throw SpecError("sites", "no activations of model '" + model + "' match these sites (recorded: " +
                                     (recorded.empty() ? "none" : recorded) + ")");
    }
    return hooks;
}

inline std::vector<std::pair<std::string, std::string>> picked_spaces(const ActivationSource& in,
                                                                      const std::vector<std::string>& sites, bool per_token) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& model : in.models())
        for (const auto& hook : require_sites(in, model, sites, per_token)) out.emplace_back(model, hook);
    return out;
}

}  // namespace laminar::analysis
