// Centred kernel alignment (Kornblith, Norouzi, Lee & Hinton 2019, "Similarity of Neural Network
// Representations Revisited"): the alignment of two spaces' Gram matrices over the same stimuli,
// with the linear or an RBF kernel, biased (double-centred, HSIC of Gretton et al. 2005) or
// unbiased (U-centred, the debiased HSIC of Song et al. 2012), as the paper's code computes them.
// Header-only (Armadillo).
#pragma once

#include <armadillo>
#include <cmath>

namespace laminar::analysis {

/// The linear kernel's Gram matrix of the stimuli, Xt [dims x stimuli] as columns.
inline arma::mat linear_gram(const arma::mat& Xt) { return Xt.t() * Xt; }

/// The RBF kernel's: exp(-d_ij^2 / (2 fraction^2 m)), with m the median of the squared distances
/// over all n x n pairs (the diagonal's zeros too, as the paper's code takes it).
inline arma::mat rbf_gram(const arma::mat& Xt, double fraction) {
    const arma::mat dots = Xt.t() * Xt;
    const arma::vec sq = dots.diag();
    arma::mat d2 = -2 * dots;
    d2.each_col() += sq;
    d2.each_row() += sq.t();
    const double median = arma::median(arma::vectorise(d2));
    return arma::exp(-d2 / (2 * fraction * fraction * median));
}

/// Centred Gram matrix: double-centred (H K H) or, `unbiased`, U-centred (zero diagonal; row and
/// column means over n - 2, corrected by the grand sum over 2 (n - 1)).
inline arma::mat centre_gram(arma::mat K, bool unbiased) {
    const double n = double(K.n_rows);
    if (unbiased) {
        K.diag().zeros();
        arma::rowvec means = arma::sum(K, 0) / (n - 2);
        means -= arma::accu(means) / (2 * (n - 1));
        K.each_row() -= means;
        K.each_col() -= means.t();
        K.diag().zeros();
    } else {
        arma::rowvec means = arma::mean(K, 0);
        means -= arma::mean(means) / 2;
        K.each_row() -= means;
        K.each_col() -= means.t();
    }
    return K;
}

/// CKA of two centred Gram matrices: <K, L>_F / (|K|_F |L|_F); NaN when one is all zero.
/// Their norms may be given (a grid reuses each matrix's many times).
inline double cka(const arma::mat& K, const arma::mat& L, double norm_k = -1, double norm_l = -1) {
    const double norms = (norm_k < 0 ? arma::norm(K, "fro") : norm_k) * (norm_l < 0 ? arma::norm(L, "fro") : norm_l);
    return norms > 0 ? arma::dot(K, L) / norms : arma::datum::nan;
}

}  // namespace laminar::analysis
