#include "ridge_cv.hpp"

#include <limits>

namespace laminar::encoding {

FoldRidge::FoldRidge(const arma::mat& X, const arma::uvec& train, const arma::uvec& test, const arma::vec& alphas)
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
    s2_ = eigval.elem(kept);
    if (by_words) U_ = eigvec.cols(kept);
    else U_ = (Xc * eigvec.cols(kept)).eval().each_row() / arma::sqrt(s2_).t();
    full_rank_ = s2_.n_elem + 1 == n;
    const arma::mat Xte = X.rows(test);
    test_U_ = (Xte.each_row() - mean) * (Xc.t() * U_);
    // 1 - H_ii = (1 - 1/n - sum_j U_ij^2) + sum_j U_ij^2 alpha / (s_j^2 + alpha): the first part,
    // the leverage outside U, is exactly 0 at full rank, and written so it is not left as rounding.
    const arma::mat U2 = arma::square(U_);
    const arma::vec outside = full_rank_ ? arma::vec(n, arma::fill::zeros) : arma::vec(1.0 - 1.0 / n - arma::sum(U2, 1));
    inv_d_.set_size(n, alphas.n_elem);
    for (arma::uword a = 0; a < alphas.n_elem; ++a)
        inv_d_.col(a) = 1.0 / (outside + U2 * (alphas(a) / (s2_ + alphas(a))));
}

FoldRidge::Fit FoldRidge::fit(const arma::mat& Y_train) const {
    const arma::uword n = Y_train.n_rows, targets = Y_train.n_cols;
    const arma::rowvec mean = arma::mean(Y_train, 0);
    const arma::mat Yc = Y_train.each_row() - mean;
    const arma::mat Z = U_.t() * Yc;  // [r x targets]
    // The residual y_c - H y at alpha is (y_c - U z) + U diag(alpha / (s^2 + alpha)) z: the first
    // part the fit never reaches (0 at full rank), the second shrinking with alpha.
    const arma::mat outside = full_rank_ ? arma::mat() : arma::mat(Yc - U_ * Z);
    Fit fit;
    fit.alpha.zeros(targets);
    arma::rowvec best(targets, arma::fill::value(arma::datum::inf));
    for (arma::uword a = 0; a < alphas_.n_elem; ++a) {
        arma::mat residual = U_ * (Z.each_col() % (alphas_(a) / (s2_ + alphas_(a))));
        if (!full_rank_) residual += outside;
        residual.each_col() %= inv_d_.col(a);
        const arma::rowvec mse = arma::sum(arma::square(residual), 0) / double(n);
        // The first alpha of the list wins a tie, as scikit-learn's strict `>` on the scores does.
        for (arma::uword t = 0; t < targets; ++t)
            if (mse(t) < best(t)) best(t) = mse(t), fit.alpha(t) = a;
    }
    // Predictions: X_test,c X_c' U diag(1 / (s^2 + alpha_t)) z_t + mean_t.
    arma::mat weights(Z.n_rows, targets);
    for (arma::uword t = 0; t < targets; ++t) weights.col(t) = Z.col(t) / (s2_ + alphas_(fit.alpha(t)));
    fit.predicted = test_U_ * weights;
    fit.predicted.each_row() += mean;
    return fit;
}

}  // namespace laminar::encoding
