// Comparing two RDMs (vectors of dissimilarities), with rsatoolbox's method names: corr
// (Pearson), spearman (average ranks for ties), tau-a (Kendall, ties count as neither
// concordant nor discordant), rho-a, cosine, and the whitened corr_cov and cosine_cov.
// NaN when a vector has no spread.
#pragma once

#include <algorithm>
#include <armadillo>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "laminar/types.hpp"

namespace laminar::analysis {

/// Ranks 1..n with ties given their average rank (scipy.stats.rankdata "average").
inline arma::vec average_ranks(const arma::vec& x) {
    const arma::uvec order = arma::stable_sort_index(x);
    arma::vec ranks(x.n_elem);
    for (arma::uword i = 0; i < order.n_elem;) {
        arma::uword j = i;
        while (j + 1 < order.n_elem && x(order(j + 1)) == x(order(i))) ++j;
        const double rank = 0.5 * (static_cast<double>(i) + static_cast<double>(j)) + 1.0;
        for (arma::uword k = i; k <= j; ++k) ranks(order(k)) = rank;
        i = j + 1;
    }
    return ranks;
}

inline double pearson(const arma::vec& x, const arma::vec& y) {
    if (x.n_elem < 2) return arma::datum::nan;  // (arma::mean of nothing throws)
    const arma::vec a = x - arma::mean(x), b = y - arma::mean(y);
    const double denominator = std::sqrt(arma::dot(a, a) * arma::dot(b, b));
    return denominator > 0 ? arma::dot(a, b) / denominator : arma::datum::nan;
}

inline double cosine(const arma::vec& x, const arma::vec& y) {
    const double denominator = arma::norm(x) * arma::norm(y);
    return denominator > 0 ? arma::dot(x, y) / denominator : arma::datum::nan;
}

/// Kendall's tau-a in O(m log m) (Knight 1966): (concordant - discordant) / (m (m - 1) / 2).
inline double kendall_tau_a(const arma::vec& x, const arma::vec& y) {
    const std::size_t m = x.n_elem;
    if (m < 2) return arma::datum::nan;
    std::vector<std::size_t> order(m);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return x(a) < x(b) || (x(a) == x(b) && y(a) < y(b));
    });
    auto tied_pairs = [](const std::vector<double>& sorted) {
        double ties = 0, run = 1;
        for (std::size_t i = 1; i <= sorted.size(); ++i) {
            if (i < sorted.size() && sorted[i] == sorted[i - 1]) { ++run; continue; }
            ties += run * (run - 1) / 2;
            run = 1;
        }
        return ties;
    };
    std::vector<double> xs(m), ys(m);
    double joint = 0, run = 1;
    for (std::size_t i = 0; i < m; ++i) {
        xs[i] = x(order[i]);
        ys[i] = y(order[i]);
        if (i > 0 && xs[i] == xs[i - 1] && ys[i] == ys[i - 1]) ++run;
        else if (i > 0) { joint += run * (run - 1) / 2; run = 1; }
    }
    joint += run * (run - 1) / 2;
    const double x_ties = tied_pairs(xs);
    // Discordant pairs = inversions of y in x order (merge sort, counting strict inversions).
    double discordant = 0;
    std::vector<double> buffer(m);
    for (std::size_t width = 1; width < m; width *= 2)
        for (std::size_t lo = 0; lo < m - width; lo += 2 * width) {
            const std::size_t mid = lo + width, hi = std::min(lo + 2 * width, m);
            std::size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                if (ys[j] < ys[i]) { discordant += static_cast<double>(mid - i); buffer[k++] = ys[j++]; }
                else buffer[k++] = ys[i++];
            }
            while (i < mid) buffer[k++] = ys[i++];
            while (j < hi) buffer[k++] = ys[j++];
            std::copy(buffer.begin() + lo, buffer.begin() + hi, ys.begin() + lo);
        }
    const double y_ties = tied_pairs(ys);  // ys is now sorted
    const double pairs = static_cast<double>(m) * (m - 1) / 2;
    return (pairs - x_ties - y_ties + joint - 2 * discordant) / pairs;
}

/// The number of conditions n of an upper triangle of m = n (n - 1) / 2 entries (0 if none).
inline arma::uword rdm_size(arma::uword m) {
    const auto n = static_cast<arma::uword>(std::lround((1 + std::sqrt(1 + 8.0 * m)) / 2));
    return n * (n - 1) / 2 == m ? n : 0;
}

/// The RDM as rsatoolbox's 'cosine_cov' and 'corr_cov' compare it (without a pattern covariance):
/// G = -1/2 H D H, the double-centred second moment of the full dissimilarity matrix D (zero
/// diagonal), returned whole so that <G_a, G_b> counts each off-diagonal entry twice.
inline arma::mat second_moment(const arma::vec& d) {
    const arma::uword n = rdm_size(d.n_elem);
    arma::mat G(n, n, arma::fill::zeros);
    arma::uword k = 0;
    for (arma::uword i = 0; i < n; ++i)
        for (arma::uword j = i + 1; j < n; ++j) G(i, j) = G(j, i) = -0.5 * d(k++);
    const arma::rowvec col_means = arma::mean(G, 0);
    const arma::vec row_means = arma::mean(G, 1);
    const double grand = arma::mean(row_means);
    G.each_row() -= col_means;
    G.each_col() -= row_means;
    return G + grand;
}

/// rsatoolbox's 'rho-a': Spearman's rho without tie correction, 12 sum(r_x r_y) / (m^3 - m) on
/// centred average ranks.
inline double rho_a(const arma::vec& x, const arma::vec& y) {
    const double m = static_cast<double>(x.n_elem);
    const arma::vec rx = average_ranks(x) - (m + 1) / 2, ry = average_ranks(y) - (m + 1) / 2;
    return m > 1 ? 12 * arma::dot(rx, ry) / (m * m * m - m) : arma::datum::nan;
}

/// Comparison of two RDMs' upper triangles, with rsatoolbox's names (rdm.compare): corr
/// ("pearson" is the same), spearman, tau-a, rho-a, cosine, corr_cov, cosine_cov. Unknown names
/// fail loudly.
inline double compare(const arma::vec& x, const arma::vec& y, const std::string& method) {
    if (method == "pearson" || method == "corr") return pearson(x, y);
    if (method == "spearman") return pearson(average_ranks(x), average_ranks(y));
    if (method == "tau-a") return kendall_tau_a(x, y);
    if (method == "rho-a") return rho_a(x, y);
    if (method == "cosine") return cosine(x, y);
    if (method == "cosine_cov" || method == "corr_cov") {
        if (!rdm_size(x.n_elem) || x.n_elem < 1) return arma::datum::nan;
        const bool centre = method == "corr_cov";  // the entries' mean removed first, as rsatoolbox does
        const arma::mat a = second_moment(centre ? arma::vec(x - arma::mean(x)) : x);
        const arma::mat b = second_moment(centre ? arma::vec(y - arma::mean(y)) : y);
        return cosine(arma::vectorise(a), arma::vectorise(b));
    }
    throw SpecError("method", "unknown comparison method '" + method +
                                  "' (corr, spearman, tau-a, rho-a, cosine, corr_cov, cosine_cov)");
}

}  // namespace laminar::analysis
