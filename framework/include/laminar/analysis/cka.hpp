// Centred kernel alignment (Kornblith, Norouzi, Lee & Hinton 2019, "Similarity of Neural Network
// Representations Revisited"): the alignment of two spaces' Gram matrices over the same stimuli,
// with the linear or an RBF kernel, biased (double-centred, HSIC of Gretton et al. 2005) or
// unbiased (U-centred, the debiased HSIC of Song et al. 2012), as the paper's code computes them;
// and the jackknife interval of the unbiased CKA. Header-only (Armadillo, Boost.Math).
#pragma once

#include <armadillo>
#include <boost/math/distributions/students_t.hpp>
#include <cmath>

#include "laminar/analysis/parallel.hpp"

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

/// The unbiased CKA of K and L (Gram matrices over the same n >= 5 stimuli) with each stimulus
/// left out in turn: element i is cka(centre_gram(K without i, true), centre_gram(L without i,
/// true)), NaN where a space has no variance among the others. In O(n^2) rather than O(n^3):
/// with zero diagonals (K~, L~) the unbiased HSIC is proportional to
///   T + S_K S_L / ((n-1)(n-2)) - 2 P / (n-2),  T = <K~, L~>_F, S = 1'K~1, P = (K~1)'(L~1)
/// (Song et al. 2012, eq. 5; the factor 1 / (n (n-3)) cancels in CKA), and leaving stimulus i out
/// changes each sum by terms of row i alone. The unbiased HSIC does not change when a feature
/// shift is added to K (K_ij + a_i + a_j + c), so double-centred Gram matrices give the same values
/// as raw ones, with less cancellation: pass those. The stimuli are shared out among the cores.
inline arma::vec unbiased_cka_leave_one_out(arma::mat K, arma::mat L) {
    const double m = double(K.n_rows) - 1;  // stimuli left
    K.diag().zeros();
    L.diag().zeros();
    const arma::vec rk = arma::sum(K, 1), rl = arma::sum(L, 1);
    const double sk = arma::accu(rk), sl = arma::accu(rl);
    const double t_kl = arma::accu(K % L), t_kk = arma::accu(K % K), t_ll = arma::accu(L % L);
    const double p_kl = arma::dot(rk, rl), p_kk = arma::dot(rk, rk), p_ll = arma::dot(rl, rl);
    // One pair of matrices (A, B) without stimulus i: its row i (a, b), row sums ra, rb.
    auto hsic = [m](double t, double sa, double sb, double p, double ra_i, double rb_i, double ab, double a_rb,
                    double b_ra) {
        const double t_i = t - 2 * ab;                      // the entries of row and column i go
        const double s_i = (sa - 2 * ra_i) * (sb - 2 * rb_i);
        const double p_i = p - a_rb - b_ra + ab - ra_i * rb_i;  // sum over j != i of (ra_j - A_ji)(rb_j - B_ji)
        return t_i + s_i / ((m - 1) * (m - 2)) - 2 * p_i / (m - 2);
    };
    arma::vec out(K.n_rows);
    parallel_for(0, K.n_rows, [&](std::size_t i) {
        const arma::vec k = K.col(i), l = L.col(i);  // = row i: symmetric
        const double kl = hsic(t_kl, sk, sl, p_kl, rk(i), rl(i), arma::dot(k, l), arma::dot(k, rl), arma::dot(l, rk));
        const double kk = hsic(t_kk, sk, sk, p_kk, rk(i), rk(i), arma::dot(k, k), arma::dot(k, rk), arma::dot(k, rk));
        const double ll = hsic(t_ll, sl, sl, p_ll, rl(i), rl(i), arma::dot(l, l), arma::dot(l, rl), arma::dot(l, rl));
        out(i) = kk > 0 && ll > 0 ? kl / std::sqrt(kk * ll) : arma::datum::nan;
    }, 64);
    return out;
}

/// A two-sided interval and the standard error it was made from.
struct Interval {
    double low, high, se;
};

/// The jackknife interval (Tukey; Efron & Tibshirani 1993, ch. 11) at `level` (e.g. 0.95) of the
/// population value that `estimate` estimates, from the n leave-one-out values of the same
/// statistic: estimate +- t(n-1, (1 + level) / 2) se, se^2 = (n-1)/n sum_i (value_i - mean)^2.
/// The jackknife's variance estimate is biased upward (Efron & Stein 1981), which keeps the
/// interval from being too narrow where the statistic is degenerate (CKA of unrelated spaces).
inline Interval jackknife_interval(double estimate, const arma::vec& leave_one_out, double level) {
    const double n = double(leave_one_out.n_elem);
    const arma::vec d = leave_one_out - arma::mean(leave_one_out);
    const double se = std::sqrt((n - 1) / n * arma::dot(d, d));
    const double t = boost::math::quantile(boost::math::students_t(n - 1), (1 + level) / 2);
    return {estimate - t * se, estimate + t * se, se};
}

}  // namespace laminar::analysis
