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

/// One RDM as rsatoolbox's pool_rdm transforms it before averaging: scaled to unit root mean
/// square (cosine, cosine_cov), z-scored with numpy's std (corr, corr_cov), ranked (spearman,
/// rho-a, and tau-a, for which rsatoolbox too pools ranks and warns).
inline arma::vec pooling_form(const arma::vec& v, const std::string& method) {
    if (method == "cosine" || method == "cosine_cov") return v / std::sqrt(arma::mean(arma::square(v)));
    if (method == "corr" || method == "pearson" || method == "corr_cov") {
        const arma::vec centred = v - arma::mean(v);
        return centred / std::sqrt(arma::mean(arma::square(centred)));
    }
    if (method == "spearman" || method == "rho-a" || method == "tau-a") return average_ranks(v);
    throw SpecError("method", "no noise ceiling for comparison method '" + method + "'");
}

/// rsatoolbox's pool_rdm from the sum of the RDMs' pooling forms: their mean (less its minimum
/// for the correlations).
inline arma::vec pooled(const arma::vec& sum, double count, const std::string& method) {
    arma::vec out = sum / count;
    if (method == "corr" || method == "pearson" || method == "corr_cov") out -= out.min();
    return out;
}

inline arma::vec pool_rdm(const std::vector<arma::vec>& rdms, const std::string& method) {
    arma::vec sum(rdms.at(0).n_elem, arma::fill::zeros);
    for (const auto& v : rdms) sum += pooling_form(v, method);
    return pooled(sum, double(rdms.size()), method);
}

/// {lower, upper} bound. Each RDM's pooling form is computed once: the pool of the others is the
/// pool of all less its own term.
inline std::pair<double, double> noise_ceiling(const std::vector<arma::vec>& rdms, const std::string& method) {
    std::vector<arma::vec> forms;
    arma::vec sum(rdms.at(0).n_elem, arma::fill::zeros);
    for (const auto& v : rdms) {
        forms.push_back(pooling_form(v, method));
        sum += forms.back();
    }
    const double n = double(rdms.size());
    const arma::vec all = pooled(sum, n, method);
    double lower = 0, upper = 0;
    for (std::size_t s = 0; s < rdms.size(); ++s) {
        lower += compare(pooled(sum - forms[s], n - 1, method), rdms[s], method);
        upper += compare(all, rdms[s], method);
    }
    return {lower / n, upper / n};
}

}  // namespace laminar::analysis
