#include "logistic.hpp"

#include <lbfgs.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace laminar::decoding {

namespace {

constexpr double kGradientTolerance = 1e-4;  ///< scikit-learn's default `tol`

/// Each row's logits for every class [n x classes]: the binary model's class 0 is fixed at 0.
arma::mat logits(const arma::mat& z_fitted, arma::uword classes) {
    return classes == 2 ? arma::mat(arma::join_rows(arma::zeros(z_fitted.n_rows), z_fitted)) : z_fitted;
}

/// The labellings' objectives summed: sum_l C * (sum of log-losses under labelling l) + ||W_l||^2 / 2.
struct Problem {
    const arma::mat& X;
    const arma::umat& labels;  ///< [n x labellings]
    arma::uword classes, m;
    double C;
    arma::fmat X_single;  ///< X in single precision: the first, approximate phase's products
    bool single = false;  ///< the products in single precision (the rest in double)
};

/// X W (or X' R) in the problem's current precision.
arma::mat times(const Problem& p, const arma::mat& right, bool transposed) {
    if (!p.single) return transposed ? arma::mat(p.X.t() * right) : arma::mat(p.X * right);
    const arma::fmat r = arma::conv_to<arma::fmat>::from(right);
    return arma::conv_to<arma::mat>::from(transposed ? arma::fmat(p.X_single.t() * r) : arma::fmat(p.X_single * r));
}

/// x = [W_1 .. W_L (each dims x m, column-major), b_1 .. b_L]; the gradient likewise.
lbfgsfloatval_t evaluate(void* instance, const lbfgsfloatval_t* x, lbfgsfloatval_t* g, const int, const lbfgsfloatval_t) {
    const Problem& p = *static_cast<const Problem*>(instance);
    const arma::uword n = p.X.n_rows, dims = p.X.n_cols, L = p.labels.n_cols, width = p.m * L;
    const arma::mat W(const_cast<double*>(x), dims, width, false, true);
    const arma::rowvec b(const_cast<double*>(x) + dims * width, width, false, true);
    arma::mat z = times(p, W, false);  // [n x width]: every labelling's fitted logits, X read once
    z.each_row() += b;
    // Per word and labelling: log-sum-exp of its logits (the binary model's class 0 at 0), its
    // loss, and softmax - onehot over the fitted columns, in place of z (plain loops: 3 classes
    // of 16 labellings are too small for whole-matrix temporaries to pay).
    double loss = 0;
    std::vector<double> logit(p.classes);
    for (arma::uword l = 0; l < L; ++l)
        for (arma::uword i = 0; i < n; ++i) {
            const arma::uword y = p.labels(i, l), first = p.classes == 2 ? 1 : 0;
            if (p.classes == 2) logit[0] = 0;
            for (arma::uword c = first; c < p.classes; ++c) logit[c] = z(i, l * p.m + c - first);
            const double top = *std::max_element(logit.begin(), logit.end());
            double sum = 0;
            for (double& v : logit) sum += (v = std::exp(v - top));
            loss += std::log(sum) + top - z(i, l * p.m + (p.classes == 2 ? 0 : y)) * (p.classes == 2 ? double(y) : 1.0);
            for (arma::uword c = first; c < p.classes; ++c) z(i, l * p.m + c - first) = logit[c] / sum - (c == y ? 1.0 : 0.0);
        }
    arma::mat gW(g, dims, width, false, true);
    arma::rowvec gb(g + dims * width, width, false, true);
    gW = p.C * times(p, z, true) + W;
    gb = p.C * arma::sum(z, 0);
    return p.C * loss + 0.5 * arma::accu(arma::square(W));
}

/// scikit-learn's other stopping rule (scipy's gtol = tol, 1e-4 by default): every entry of the
/// gradient, of the loss summed over words as here, at most 1e-4.
int stop_at_small_gradient(void*, const lbfgsfloatval_t*, const lbfgsfloatval_t* g, const lbfgsfloatval_t, const lbfgsfloatval_t,
                           const lbfgsfloatval_t, const lbfgsfloatval_t, int n, int, int) {
    return arma::abs(arma::vec(const_cast<double*>(g), n, false, true)).max() <= kGradientTolerance ? 1 : 0;
}

}  // namespace

LogisticFits fit_logistic(const arma::mat& X, const arma::umat& labels, arma::uword classes, double C) {
    const arma::uword m = classes == 2 ? 1 : classes, dims = X.n_cols, L = labels.n_cols;
    Problem problem{X, labels, classes, m, C, arma::fmat()};
    const int n = static_cast<int>((dims + 1) * m * L);
    lbfgsfloatval_t* x = lbfgs_malloc(n);
    if (!x) throw std::bad_alloc();
    std::fill(x, x + n, 0.0);
    lbfgs_parameter_t param;
    lbfgs_parameter_init(&param);
    // Stop where Debian's scikit-learn (1.2) stops: scipy's L-BFGS-B with its default ftol, an
    // iteration lowering the loss by less than 2.2e-9 of it (factr 1e7 machine epsilons); or at
    // a gradient of 1e-9 of the weights' scale, whichever comes first.
    param.past = 1;
    param.delta = 1e7 * std::numeric_limits<double>::epsilon();
    param.epsilon = 1e-9;
    param.max_iterations = 20000;
    param.m = 5;  // corrections kept: 5 ran the benchmark's batches 5-10 % faster than 10, 20 slower
    lbfgsfloatval_t loss = 0;
    // Two phases: most of the way in single-precision products (half the time; the loss they give
    // is good to about 1e-6 of itself, so that phase stops at a relative decrease of 1e-6), then
    // from there to the stopping rule above in double precision, which decides where it ends.
    lbfgs_parameter_t rough = param;
    rough.delta = 1e-6;
    rough.epsilon = 1e-5;
    problem.X_single = arma::conv_to<arma::fmat>::from(X);
    problem.single = true;
    lbfgs(n, x, &loss, evaluate, stop_at_small_gradient, &problem, &rough);
    problem.single = false;
    const int status = lbfgs(n, x, &loss, evaluate, stop_at_small_gradient, &problem, &param);
    // The stopping rule is checked, not trusted: each labelling's gradient, against its weights' scale.
    arma::vec gradient(n);
    evaluate(&problem, x, gradient.memptr(), n, 0);
    const arma::vec at(x, n);
    lbfgs_free(x);
    LogisticFits out;
    double worst = 0;
    for (arma::uword l = 0; l < L; ++l) {
        LogisticModel model;
        model.W = arma::reshape(at.subvec(l * dims * m, (l + 1) * dims * m - 1), dims, m);
        model.b = at.subvec(dims * m * L + l * m, dims * m * L + (l + 1) * m - 1).t();
        arma::vec g = arma::join_cols(gradient.subvec(l * dims * m, (l + 1) * dims * m - 1),
                                      gradient.subvec(dims * m * L + l * m, dims * m * L + (l + 1) * m - 1));
        const double scale = std::max(1.0, std::sqrt(arma::accu(arma::square(model.W)) + arma::accu(arma::square(model.b))));
        worst = std::max(worst, arma::norm(g) / scale);
        out.models.push_back(std::move(model));
    }
    // The loss's relative change below the tolerance is the normal stop (LBFGS_STOP), as
    // scikit-learn's; an error (status < 0) far from the optimum is not.
    if (status < 0 && worst > 1e-4)
        out.warning = "L-BFGS stopped at a gradient of " + std::to_string(worst) + " of the weights' scale (libLBFGS status " +
                      std::to_string(status) + "); predictions near a tie may differ from the optimum's";
    return out;
}

arma::uvec predict(const LogisticModel& model, const arma::mat& X) {
    arma::mat z = X * model.W;
    z.each_row() += model.b;
    z = logits(z, model.W.n_cols == 1 ? 2 : model.W.n_cols);
    arma::uvec out(X.n_rows);
    for (arma::uword i = 0; i < X.n_rows; ++i) out(i) = z.row(i).index_max();
    return out;
}

}  // namespace laminar::decoding
