// L2-penalised logistic regression, the optimum scikit-learn's LogisticRegression(C,
// solver="lbfgs") converges to: with k > 2 classes the multinomial model
//   minimise  C * sum_i -log softmax(x_i W + b)_{y_i}  +  ||W||^2 / 2      (W: [dims x k])
// and with 2 classes scikit-learn's binary model, one weight vector (class 1's logit against a
// class 0 fixed at 0). The intercepts b are not penalised. The loss is strictly convex in W, so
// the optimum's weights, and its predictions, do not depend on the optimiser; it is found by
// L-BFGS (libLBFGS), stopped where scikit-learn's solver stops (logistic.cpp), after a first
// phase in single-precision products.
//
// Several labellings of the same words (a permutation null's shuffles) are fitted as one
// problem: the sum of their losses, separate in their weights, whose optimum is each one's. Its
// products X W read X once for all of them: 16 labellings of 800 words x 1,024 dims fit in half
// the time per labelling that one alone takes, with about as many iterations.
#pragma once

#include <armadillo>
#include <string>
#include <vector>

namespace laminar::decoding {

struct LogisticModel {
    arma::mat W;     ///< [dims x m], m = classes (or 1 for two classes)
    arma::rowvec b;  ///< [m]
};

struct LogisticFits {
    std::vector<LogisticModel> models;  ///< one per labelling
    std::string warning;  ///< non-empty when L-BFGS stopped short of the optimum (why)
};

/// X: [words x dims] (standardised by the caller); labels: [words x labellings], each word's
/// class in 0..classes-1 under each labelling.
LogisticFits fit_logistic(const arma::mat& X, const arma::umat& labels, arma::uword classes, double C);

/// The most probable class of each row of X (the first of equals, as numpy's argmax).
arma::uvec predict(const LogisticModel& model, const arma::mat& X);

}  // namespace laminar::decoding
