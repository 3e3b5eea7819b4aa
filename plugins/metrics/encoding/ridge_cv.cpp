#include "ridge_cv.hpp"

#include <limits>
#include <type_traits>

#include "laminar/analysis/matrices.hpp"

namespace laminar::encoding {

namespace {

/// The fit of Y_train in the precision of `b`: alphas chosen per target, the held-out words predicted.
template <class eT>
FoldRidge::Fit fit_in(const FoldRidge::Basis<eT>& b, const arma::vec& alphas, bool full_rank, const arma::mat& Y_train,
                      const std::vector<arma::fmat>* loo_factor = nullptr) {
    using Mat = arma::Mat<eT>;
    const arma::uword n = Y_train.n_rows, targets = Y_train.n_cols;
    const arma::rowvec mean = arma::mean(Y_train, 0);
    const Mat Yc = arma::conv_to<Mat>::from(arma::mat(Y_train.each_row() - mean));
    const Mat Z = b.U.t() * Yc;  // [r x targets]
    // The residual y_c - H y at alpha is (y_c - U z) + U diag(alpha / (s^2 + alpha)) z: the first
    // part the fit never reaches (0 at full rank), the second shrinking with alpha.
    const Mat outside = full_rank ? Mat() : Mat(Yc - b.U * Z);
    FoldRidge::Fit fit;
    fit.alpha.zeros(targets);
    arma::rowvec best(targets, arma::fill::value(arma::datum::inf));
    for (arma::uword a = 0; a < alphas.n_elem; ++a) {
        const arma::Col<eT> shrink = eT(alphas(a)) / (b.s2 + eT(alphas(a)));
        if constexpr (std::is_same_v<eT, float>)
            if (loo_factor) {  // full rank: |W U (g o z)|^2 = |R (g o z)|^2 (ridge_cv.hpp)
                arma::fmat scaled = Z.each_col() % shrink;
                analysis::upper_times((*loo_factor)[a], scaled);
                for (arma::uword t = 0; t < targets; ++t) {
                    const float* r = scaled.colptr(t);
                    double sum = 0;
                    for (arma::uword j = 0; j < scaled.n_rows; ++j) sum += double(r[j]) * double(r[j]);
                    if (sum / double(n) < best(t)) best(t) = sum / double(n), fit.alpha(t) = a;
                }
                continue;
            }
        Mat residual = b.U * (Z.each_col() % shrink);
        if (!full_rank) residual += outside;
        const eT* w = b.inv_d.colptr(a);
        for (arma::uword t = 0; t < targets; ++t) {
            const eT* r = residual.colptr(t);
            double sum = 0;  // the mean squared leave-one-out error, summed in double
            for (arma::uword i = 0; i < n; ++i) {
                const double e = double(r[i]) * double(w[i]);
                sum += e * e;
            }
            // The first alpha of the list wins a tie, as scikit-learn's strict `>` on the scores does.
            if (sum / double(n) < best(t)) best(t) = sum / double(n), fit.alpha(t) = a;
        }
    }
    // Predictions: X_test,c X_c' U diag(1 / (s^2 + alpha_t)) z_t + mean_t.
    Mat weights(Z.n_rows, targets);
    for (arma::uword t = 0; t < targets; ++t) weights.col(t) = Z.col(t) / (b.s2 + eT(alphas(fit.alpha(t))));
    fit.predicted = arma::conv_to<arma::mat>::from(Mat(b.test_U * weights));
    fit.predicted.each_row() += mean;
    return fit;
}

}  // namespace

FoldRidge::FoldRidge(const arma::mat& X, const arma::uvec& train, const arma::uvec& test, const arma::vec& alphas, bool for_null)
    : alphas_(alphas) {
    const arma::mat Xtr = X.rows(train);
    const arma::rowvec mean = arma::mean(Xtr, 0);
    const arma::mat Xc = Xtr.each_row() - mean;  // [n x dims]
    const arma::uword n = Xc.n_rows, dims = Xc.n_cols;
    // The smaller Gram matrix's eigenvectors give U: X_c X_c' = U S^2 U', or X_c'X_c = V S^2 V'
    // and U = X_c V / s.
    arma::vec eigval;
    arma::mat eigvec;
    const bool by_words = n <= dims;
    arma::eig_sym(eigval, eigvec, by_words ? arma::mat(Xc * Xc.t()) : arma::mat(Xc.t() * Xc));
    // Directions of numerical zero (the intercept's, 1/sqrt(n), is always one) carry no fit:
    // their weight s^2 / (s^2 + alpha) is below 1e-12 of the largest's over the smallest alpha.
    const double top = eigval.is_empty() ? 0.0 : eigval.max();
    const arma::uvec kept = arma::find(eigval > top * double(std::max(n, dims)) * std::numeric_limits<double>::epsilon() * 10);
    Basis<double>& b = exact_;
    b.s2 = eigval.elem(kept);
    if (by_words) b.U = eigvec.cols(kept);
    else b.U = (Xc * eigvec.cols(kept)).eval().each_row() / arma::sqrt(b.s2).t();
    full_rank_ = b.s2.n_elem + 1 == n;
    const arma::mat Xte = X.rows(test);
    b.test_U = (Xte.each_row() - mean) * (Xc.t() * b.U);
    // 1 - H_ii = (1 - 1/n - sum_j U_ij^2) + sum_j U_ij^2 alpha / (s_j^2 + alpha): the first part,
    // the leverage outside U, is exactly 0 at full rank, and written so it is not left as rounding.
    const arma::mat U2 = arma::square(b.U);
    const arma::vec outside = full_rank_ ? arma::vec(n, arma::fill::zeros) : arma::vec(1.0 - 1.0 / n - arma::sum(U2, 1));
    b.inv_d.set_size(n, alphas.n_elem);
    for (arma::uword a = 0; a < alphas.n_elem; ++a)
        b.inv_d.col(a) = 1.0 / (outside + U2 * (alphas(a) / (b.s2 + alphas(a))));
    if (!for_null) return;
    fast_ = {arma::conv_to<arma::fmat>::from(b.U), arma::conv_to<arma::fvec>::from(b.s2),
             arma::conv_to<arma::fmat>::from(b.test_U), arma::conv_to<arma::fmat>::from(b.inv_d)};
    if (!full_rank_) return;
    for (arma::uword a = 0; a < alphas.n_elem; ++a) {
        const arma::mat WU = b.U.each_col() % b.inv_d.col(a);
        arma::mat R;
        if (!arma::chol(R, WU.t() * WU)) {  // upper: R'R = U'W^2U (cannot fail for W >= 1; if it does, the full products)
            loo_factor_.clear();
            return;
        }
        loo_factor_.push_back(arma::conv_to<arma::fmat>::from(R));
    }
}

FoldRidge::Fit FoldRidge::fit(const arma::mat& Y_train) const { return fit_in(exact_, alphas_, full_rank_, Y_train); }

FoldRidge::Fit FoldRidge::fit_fast(const arma::mat& Y_train) const {
    return fit_in(fast_, alphas_, full_rank_, Y_train, loo_factor_.empty() ? nullptr : &loo_factor_);
}

}  // namespace laminar::encoding
