// Shared by the unit tests of statistics: how far a sample of p-values is from uniform.
#pragma once

#include <algorithm>
#include <armadillo>

namespace laminar::test {

/// Kolmogorov-Smirnov distance of a sample from the uniform distribution on [0, 1].
inline double ks_uniform(arma::vec p) {
    p = arma::sort(p);
    double d = 0;
    for (arma::uword i = 0; i < p.n_elem; ++i)
        d = std::max({d, (i + 1.0) / p.n_elem - p(i), p(i) - static_cast<double>(i) / p.n_elem});
    return d;
}

}  // namespace laminar::test
