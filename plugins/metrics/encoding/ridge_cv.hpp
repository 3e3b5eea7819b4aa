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
// permutation of the targets reuses it: a fit costs 1 + (number of alphas) products with U, no
// factorisation.
//
// fit() computes in double precision: the observed fit, whose alphas and r the tests hold to
// scikit-learn's. fit_fast() is the permutation null's: single-precision products (half the
// time), and where U spans every centred direction (at least as many dimensions as training
// words, as in a language model's layers) each alpha's leave-one-out errors in half the work:
// with W = diag(1 / (1 - H_ii)) and g = alpha / (s^2 + alpha), the errors are W U (g o z), and
// their sum of squares is |R (g o z)|^2 for R the triangular Cholesky factor of U'W^2U (made once
// per fold and alpha; well conditioned: U is orthonormal and W's entries are at least 1), a
// triangular product instead of a full one. Its alphas may differ from double precision's
// where two alphas' leave-one-out errors agree to about 1e-6.
#pragma once

#include <armadillo>
#include <vector>

namespace laminar::encoding {

class FoldRidge {
public:
    /// X: [words x dims], every word; `train`, `test`: the fold's word indices; `alphas` > 0.
    /// `for_null`: fit_fast() will be called (its factors are made).
    FoldRidge(const arma::mat& X, const arma::uvec& train, const arma::uvec& test, const arma::vec& alphas, bool for_null);

    struct Fit {
        arma::uvec alpha;     ///< [targets] index into alphas of the penalty chosen for each target
        arma::mat predicted;  ///< [test words x targets]
    };
    /// Y_train: [training words x targets], in `train` order.
    Fit fit(const arma::mat& Y_train) const;
    Fit fit_fast(const arma::mat& Y_train) const;

    /// What a fit needs of the decomposition, in one precision.
    template <class eT>
    struct Basis {
        arma::Mat<eT> U;       ///< [train x r] left singular vectors of the centred training activations
        arma::Col<eT> s2;      ///< [r] their squared singular values
        arma::Mat<eT> test_U;  ///< [test x r] the held-out words, centred by the training mean, as X_c' U sees them
        arma::Mat<eT> inv_d;   ///< [train x alphas] 1 / (1 - H_ii) at each alpha
    };

private:
    arma::vec alphas_;
    Basis<double> exact_;
    Basis<float> fast_;
    std::vector<arma::fmat> loo_factor_;  ///< per alpha, R (upper triangular): R'R = U'W^2U; full rank only
    bool full_rank_ = false;  ///< U spans every centred direction: y_c - U U'y_c is 0
};

}  // namespace laminar::encoding
