#include "logistic.hpp"

#include <lbfgs.h>

#include <limits>
#include <vector>

namespace laminar::decoding {

namespace {

/// Each row's logits for every class [n x classes]: the binary model's class 0 is fixed at 0.
arma::mat logits(const arma::mat& X, const arma::mat& W, const arma::rowvec& b, arma::uword classes) {
    arma::mat z = X * W;
    z.each_row() += b;
    if (classes == 2) z = arma::join_rows(arma::zeros(X.n_rows), z);
    return z;
}

struct Problem {
    const arma::mat& X;
    const arma::mat onehot;  ///< [n x classes]
    arma::uword classes, m;
    double C;
};

/// The objective C * sum of log-losses + ||W||^2 / 2 and its gradient, at x = [W (column-major), b].
lbfgsfloatval_t evaluate(void* instance, const lbfgsfloatval_t* x, lbfgsfloatval_t* g, const int, const lbfgsfloatval_t) {
    const Problem& p = *static_cast<const Problem*>(instance);
    const arma::uword dims = p.X.n_cols;
    const arma::mat W(const_cast<double*>(x), dims, p.m, false, true);
    const arma::rowvec b(const_cast<double*>(x) + dims * p.m, p.m, false, true);
    arma::mat z = logits(p.X, W, b, p.classes);
    const arma::vec top = arma::max(z, 1);
    z.each_col() -= top;  // log-sum-exp without overflow
    const arma::vec log_norm = arma::log(arma::sum(arma::exp(z), 1));
    const double loss = arma::accu(log_norm) - arma::accu(z % p.onehot);
    arma::mat residual = arma::exp(z.each_col() - log_norm) - p.onehot;  // softmax - onehot
    if (p.classes == 2) residual = residual.col(1);
    arma::mat gW(g, dims, p.m, false, true);
    arma::rowvec gb(g + dims * p.m, p.m, false, true);
    gW = p.C * (p.X.t() * residual) + W;
    gb = p.C * arma::sum(residual, 0);
    return p.C * loss + 0.5 * arma::accu(arma::square(W));
}

}  // namespace

LogisticModel fit_logistic(const arma::mat& X, const arma::uvec& y, arma::uword classes, double C) {
    const arma::uword m = classes == 2 ? 1 : classes, dims = X.n_cols;
    arma::mat onehot(X.n_rows, classes, arma::fill::zeros);
    for (arma::uword i = 0; i < y.n_elem; ++i) onehot(i, y(i)) = 1;
    const Problem problem{X, onehot, classes, m, C};
    const int n = static_cast<int>(dims * m + m);
    lbfgsfloatval_t* x = lbfgs_malloc(n);
    if (!x) throw std::bad_alloc();
    std::fill(x, x + n, 0.0);
    lbfgs_parameter_t param;
    lbfgs_parameter_init(&param);
    // Stop as scikit-learn's lbfgs solver does (scipy's L-BFGS-B with ftol = 64 machine epsilons):
    // when an iteration lowers the loss by less than that fraction; or at a gradient of 1e-9 of
    // the weights' scale, whichever comes first.
    param.past = 1;
    param.delta = 64 * std::numeric_limits<double>::epsilon();
    param.epsilon = 1e-9;
    param.max_iterations = 20000;
    lbfgsfloatval_t loss = 0;
    const int status = lbfgs(n, x, &loss, evaluate, nullptr, const_cast<Problem*>(&problem), &param);
    // The stopping rule is checked, not trusted: near the optimum the line search can stop on
    // rounding (libLBFGS's status then says so) with the gradient already as small as double
    // precision makes it; anywhere else is worth a warning.
    std::vector<double> gradient(n);
    evaluate(const_cast<Problem*>(&problem), x, gradient.data(), n, 0);
    const double scale = std::max(1.0, arma::norm(arma::vec(x, n, false, true)));
    const double relative = arma::norm(arma::vec(gradient)) / scale;
    LogisticModel model;
    model.W = arma::mat(x, dims, m);
    model.b = arma::rowvec(x + dims * m, m);
    lbfgs_free(x);
    if (relative > 1e-4)  // scikit-learn's own default tolerance on the gradient
        model.warning = "L-BFGS stopped at a gradient of " + std::to_string(relative) + " of the weights' scale (libLBFGS status " +
                        std::to_string(status) + "); predictions near a tie may differ from the optimum's";
    return model;
}

arma::uvec predict(const LogisticModel& model, const arma::mat& X) {
    const arma::mat z = logits(X, model.W, model.b, model.W.n_cols == 1 ? 2 : model.W.n_cols);
    arma::uvec out(X.n_rows);
    for (arma::uword i = 0; i < X.n_rows; ++i) out(i) = z.row(i).index_max();
    return out;
}

}  // namespace laminar::decoding
