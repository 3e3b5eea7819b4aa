// Comparing two vectors of dissimilarities/similarities, with rsatoolbox's method names:
// pearson ("corr"), spearman (average ranks for ties), tau-a (Kendall, ties count as
// neither concordant nor discordant), cosine. NaN when a vector has no spread.
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

/// Dispatches on rsatoolbox-style names; unknown names fail loudly.
inline double compare(const arma::vec& x, const arma::vec& y, const std::string& method) {
    if (method == "pearson" || method == "corr") return pearson(x, y);
    if (method == "spearman") return pearson(average_ranks(x), average_ranks(y));
    if (method == "tau-a") return kendall_tau_a(x, y);
    if (method == "cosine") return cosine(x, y);
    throw SpecError("method", "unknown comparison method '" + method + "' (pearson, spearman, tau-a, cosine)");
}

}  // namespace laminar::analysis
