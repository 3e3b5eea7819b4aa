// The noise ceiling of a set of RDMs of one space (one per context: contexts play the role of
// rsatoolbox's subjects), as rsatoolbox's boot_noise_ceiling computes it: the upper bound is
// the mean comparison of each RDM with the pool of all of them, the lower bound with the pool
// of the others (leave one out). cv_noise_ceiling over the same leave-one-out sets, with all
// patterns in every test set, gives the same two numbers.
#pragma once

#include <armadillo>
#include <string>
#include <utility>
#include <vector>

#include "laminar/analysis/compare.hpp"

namespace laminar::analysis {

/// rsatoolbox's pool_rdm: the RDM that best predicts the set under `method` (upper triangles).
inline arma::vec pool_rdm(const std::vector<arma::vec>& rdms, const std::string& method) {
    arma::vec pooled(rdms.at(0).n_elem, arma::fill::zeros);
    for (const auto& v : rdms) {
        if (method == "cosine" || method == "cosine_cov") {
            pooled += v / std::sqrt(arma::mean(arma::square(v)));
        } else if (method == "corr" || method == "pearson" || method == "corr_cov") {
            const arma::vec centred = v - arma::mean(v);
            pooled += centred / std::sqrt(arma::mean(arma::square(centred)));  // numpy's std: ddof 0
        } else if (method == "spearman" || method == "rho-a" || method == "tau-a") {
            pooled += average_ranks(v);  // for tau-a too, as rsatoolbox does (it warns)
        } else {
            throw SpecError("method", "no noise ceiling for comparison method '" + method + "'");
        }
    }
    pooled /= double(rdms.size());
    if (method == "corr" || method == "pearson" || method == "corr_cov") pooled -= pooled.min();
    return pooled;
}

/// {lower, upper} bound.
inline std::pair<double, double> noise_ceiling(const std::vector<arma::vec>& rdms, const std::string& method) {
    const arma::vec all = pool_rdm(rdms, method);
    double lower = 0, upper = 0;
    for (std::size_t s = 0; s < rdms.size(); ++s) {
        std::vector<arma::vec> others;
        for (std::size_t t = 0; t < rdms.size(); ++t)
            if (t != s) others.push_back(rdms[t]);
        lower += compare(pool_rdm(others, method), rdms[s], method);
        upper += compare(all, rdms[s], method);
    }
    return {lower / double(rdms.size()), upper / double(rdms.size())};
}

}  // namespace laminar::analysis
