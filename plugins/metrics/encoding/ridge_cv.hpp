// Ridge regression from a layer's activations to many targets, the penalty chosen per target
// from a list by efficient leave-one-out on the training words: what scikit-learn's
// RidgeCV(alphas, alpha_per_target=True, fit_intercept=True) computes (its _RidgeGCV), for one
// cross-validation fold.
//
// The training words' activations X [n x dims] and targets are centred (the intercept is fitted,
// unpenalised). With X = U S V' (thin, the r > 0 singular values) and z = U'y, the fit at alpha
// is H y = 11'y/n + U diag(s^2 / (s^2 + alpha)) z, and the leave-one-out error of word i is exact
// for a fixed penalty: e_i = (y - H y)_i / (1 - H_ii). The decomposition is made once per fold
// (from the n x n or dims x dims Gram matrix, the smaller); every alpha, target and
// permutation of the targets reuses it: a fit costs two products with U per alpha, no
// factorisation.
#pragma once

#include <armadillo>

namespace laminar::encoding {

class FoldRidge {
public:
    /// X: [words x dims], every word; `train`, `test`: the fold's word indices; `alphas` > 0.
    FoldRidge(const arma::mat& X, const arma::uvec& train, const arma::uvec& test, const arma::vec& alphas);

    struct Fit {
        arma::uvec alpha;     ///< [targets] index into alphas of the penalty chosen for each target
        arma::mat predicted;  ///< [test words x targets]
    };
    /// Y_train: [training words x targets], in `train` order.
    Fit fit(const arma::mat& Y_train) const;

private:
    arma::vec alphas_;
    arma::mat U_;       ///< [train x r] left singular vectors of the centred training activations
    arma::vec s2_;      ///< [r] their squared singular values
    arma::mat test_U_;  ///< [test x r] the held-out words, centred by the training mean, as X_c' U sees them
    arma::mat inv_d_;   ///< [train x alphas] 1 / (1 - H_ii) at each alpha
    bool full_rank_ = false;  ///< U spans every centred direction: y_c - U U'y_c is 0
};

}  // namespace laminar::encoding
