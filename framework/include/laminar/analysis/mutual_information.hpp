// Mutual information, in bits, between two continuous variables (x, y) or a continuous one and
// a label: plug-in estimates from equal-width bins (numpy.histogram2d's) or equal-frequency bins
// (scikit-learn's KBinsDiscretizer(strategy="quantile"): cuts at numpy's percentiles, cuts that
// coincide merged, so that tied values share a bin), and the Kraskov-Stoegbauer-Grassberger
// k-nearest-neighbour estimator as scikit-learn computes it (mutual_info_regression: both
// variables scaled to unit standard deviation, max-norm neighbourhoods; mutual_info_classif:
// Ross 2014), without the tiny noise scikit-learn adds (duplicated points are counted instead,
// for a warning). A permutation null of the MI with the label (labels relabelled across the
// words). Header-only (Armadillo, Boost.Math).
#pragma once

#include <algorithm>
#include <armadillo>
#include <boost/math/special_functions/digamma.hpp>
#include <cmath>
#include <limits>
#include <numeric>
#include <queue>
#include <string>
#include <vector>

#include "laminar/analysis/parallel.hpp"
#include "laminar/analysis/permuted_sums.hpp"
#include "laminar/analysis/matrices.hpp"
#include "laminar/team_work.hpp"

namespace laminar::analysis {

/// Plug-in MI (bits) of a joint histogram: `joint` [bx x by] the counts of `total` pairs.
inline double mi_of_counts(arma::mat joint, double total) {
    const arma::uword bx = joint.n_rows, by = joint.n_cols;
    joint /= total;
    const arma::vec px = arma::sum(joint, 1);
    const arma::rowvec py = arma::sum(joint, 0);
    double mi = 0;
    for (arma::uword i = 0; i < bx; ++i)
        for (arma::uword j = 0; j < by; ++j)
            if (joint(i, j) > 0) mi += joint(i, j) * std::log2(joint(i, j) / (px(i) * py(j)));
    return mi;
}

/// Plug-in MI (bits) of two discretisations into `bx` and `by` bins.
inline double mi_of_bins(const arma::uvec& bin_x, arma::uword bx, const arma::uvec& bin_y, arma::uword by) {
    arma::mat joint(bx, by, arma::fill::zeros);
    for (arma::uword i = 0; i < bin_x.n_elem; ++i) joint(bin_x(i), bin_y(i)) += 1;
    return mi_of_counts(std::move(joint), double(bin_x.n_elem));
}

/// The most bins a side of permuted_mi() takes: its 4 histograms per relabelling (16 bytes a cell),
/// for a chunk of 32 relabellings on each core, stay at 32 MB a core.
inline constexpr arma::uword kPermutedMiBins = 256;

namespace detail {

template <class I>
arma::vec permuted_mi(const permuted::Packed<std::uint16_t>& d, arma::uword bx, arma::uword by, double pairs,
                      const std::vector<arma::uvec>& perms, std::size_t first, std::size_t last) {
    const arma::uword n = d.n;
    constexpr std::size_t kCopies = 4;  // histograms filled in turn: a run of pairs in one bin waits on no store
    const std::size_t cells = bx * by;
    const std::size_t tile = std::max<std::size_t>(1, permuted::kTileBytes / (n * sizeof(std::uint16_t)));
    arma::vec out(last - first);
    permuted::for_each_column<I, std::uint32_t>(perms, first, last, n, tile, kCopies * cells,
        [&](std::uint32_t* h, std::size_t c, std::size_t j, const I* perm) {
            const std::uint16_t* a = d.a.data() + (j > 0 ? j * (j - 1) / 2 : 0);
            const std::uint16_t* b = d.b.data() + c * n;
            for (std::size_t i = 0; i < j; ++i) ++h[(i % kCopies) * cells + a[i] * by + b[perm[i]]];
        },
        [&](std::size_t p, const std::uint32_t* h, const I*) {
            arma::mat joint(bx, by, arma::fill::zeros);
            for (std::size_t copy = 0; copy < kCopies; ++copy)
                for (std::size_t cell = 0; cell < cells; ++cell) joint(cell / by, cell % by) += h[copy * cells + cell];
            out(p - first) = mi_of_counts(std::move(joint), pairs);
        });
    return out;
}

}  // namespace detail

/// The plug-in MI (bits) of the pairs of two binned upper triangles (numpy triu order; at most
/// kPermutedMiBins bins a side) after each relabelling of the second one's n stimuli.
/// Relabelling moves the values of the triangle, not their bins, so a relabelling only counts
/// the pairs of bins into a joint histogram: the reads of permuted_sums(), a count instead of a
/// product. Each member of `team` computes a block of the relabellings.
inline arma::vec permuted_mi(const arma::uvec& bins_a, arma::uword bx, const arma::uvec& bins_b, arma::uword by, arma::uword n,
                             const std::vector<arma::uvec>& perms, const Team& team = Alone()) {
    if (n < 2) return arma::vec(perms.size(), arma::fill::zeros);  // no pairs: mi_of_bins of none is 0
    const auto d = permuted::pack<std::uint16_t>(n, [&](arma::uword i, arma::uword j) { return bins_a(upper_index(i, j, n)); },
                                                 [&](arma::uword i, arma::uword j) { return bins_b(upper_index(i, j, n)); }, false);
    return gather_blocks(team, perms.size(), [&](std::size_t first, std::size_t last) {
        return n <= 65536 ? detail::permuted_mi<std::uint16_t>(d, bx, by, double(bins_a.n_elem), perms, first, last)
                          : detail::permuted_mi<std::uint32_t>(d, bx, by, double(bins_a.n_elem), perms, first, last);
    });
}

/// numpy.histogram's bins: `bins` equal widths over [min, max], the last one closed ([min - 0.5,
/// max + 0.5] when all values are equal).
inline arma::uvec equal_width_bins(const arma::vec& x, arma::uword bins) {
    double lo = x.min(), hi = x.max();
    if (lo == hi) { lo -= 0.5; hi += 0.5; }
    arma::uvec out(x.n_elem);
    for (arma::uword i = 0; i < x.n_elem; ++i)
        out(i) = std::min<arma::uword>(static_cast<arma::uword>((x(i) - lo) / (hi - lo) * double(bins)), bins - 1);
    return out;
}

/// numpy.percentile's default ("linear") of the sorted values at fraction q: position
/// q (n - 1), its two neighbours mixed from the nearer one as numpy's _lerp does, so that the
/// cuts equal numpy's to the bit and a value on a cut falls on the same side.
inline double percentile_linear(const std::vector<double>& sorted, double q) {
    const double index = double(sorted.size() - 1) * q;
    const double below = std::floor(index);
    const auto i = static_cast<std::size_t>(below);
    const std::size_t j = std::min(i + 1, sorted.size() - 1);
    const double t = index - below, a = sorted[i], b = sorted[j], d = b - a;
    return t >= 0.5 ? b - d * (1 - t) : a + d * t;
}

/// Bins of equal counts as scikit-learn's KBinsDiscretizer(strategy="quantile") cuts them: the
/// edges are numpy.percentile(x, linspace(0, 100, bins + 1)); an edge within 1e-8 of the one
/// below it is dropped (duplicate edges merged), and a value goes in the bin of the number of
/// inner edges at or below it. Tied values therefore share one bin (a constant variable is one
/// bin, MI 0), where cutting by rank would split them by the order of the stimuli.
inline arma::uvec equal_frequency_bins(const arma::vec& x, arma::uword bins) {
    if (x.is_empty()) return arma::uvec();  // (no pairs of words: no percentiles)
    std::vector<double> sorted(x.begin(), x.end());
    std::sort(sorted.begin(), sorted.end());
    const double step = 100.0 / double(bins);  // numpy.linspace(0, 100, bins + 1), then / 100
    std::vector<double> edges(bins + 1);
    for (arma::uword j = 0; j <= bins; ++j) edges[j] = percentile_linear(sorted, (j == bins ? 100.0 : double(j) * step) / 100.0);
    std::vector<double> kept{edges[0]};  // numpy.ediff1d(edges, to_begin=inf) > 1e-8
    for (arma::uword j = 1; j <= bins; ++j)
        if (edges[j] - edges[j - 1] > 1e-8) kept.push_back(edges[j]);
    // numpy.searchsorted(kept[1:-1], x, side="right")
    const auto inner_begin = kept.begin() + 1, inner_end = kept.size() > 1 ? kept.end() - 1 : kept.begin() + 1;
    arma::uvec out(x.n_elem);
    for (arma::uword i = 0; i < x.n_elem; ++i)
        out(i) = static_cast<arma::uword>(std::upper_bound(inner_begin, inner_end, x(i)) - inner_begin);
    return out;
}

inline double mi_binned(const arma::vec& x, const arma::vec& y, arma::uword bins) {
    return mi_of_bins(equal_width_bins(x, bins), bins, equal_width_bins(y, bins), bins);
}

inline double mi_equal_frequency(const arma::vec& x, const arma::vec& y, arma::uword bins) {
    return mi_of_bins(equal_frequency_bins(x, bins), bins, equal_frequency_bins(y, bins), bins);
}

/// How many values of the sorted `sorted` lie within `radius` of `v` (|s - v| <= radius, the
/// difference computed first, as a k-d tree does: v + radius may round onto a value beyond it).
inline double count_within(const std::vector<double>& sorted, double v, double radius) {
    const auto begin = sorted.begin(), end = sorted.end();
    auto lo = std::lower_bound(begin, end, v - radius);
    while (lo != begin && v - *(lo - 1) <= radius) --lo;
    while (lo != end && v - *lo > radius) ++lo;
    auto hi = std::upper_bound(begin, end, v + radius);
    while (hi != end && *hi - v <= radius) ++hi;
    while (hi != begin && *(hi - 1) - v > radius) --hi;
    return double(hi - lo);
}

/// Population standard deviation scaling (sklearn.preprocessing.scale, with_mean=False).
inline arma::vec unit_sd(const arma::vec& v) {
    const double sd = arma::stddev(v, 1);
    return sd > 0 ? arma::vec(v / sd) : v;
}

/// KSG estimator 1 (bits): psi(n) + psi(k) - <psi(n_x + 1)> - <psi(n_y + 1)>, with eps_i the
/// max-norm distance to the k-th neighbour and n_x the others strictly closer than it in x. The
/// neighbours are found on a grid of square cells (about two points a cell), ring by ring.
inline double mi_ksg(arma::vec x, arma::vec y, unsigned k = 3) {
    using boost::math::digamma;
    const arma::uword n = x.n_elem;
    if (n <= k) return arma::datum::nan;
    x = unit_sd(x);
    y = unit_sd(y);
    const double x0 = x.min(), y0 = y.min();
    const double area = std::max(1e-300, (x.max() - x0) * (y.max() - y0));
    const double h = std::max(std::sqrt(2 * area / double(n)), 1e-12);
    const auto gx = static_cast<arma::uword>((x.max() - x0) / h) + 1, gy = static_cast<arma::uword>((y.max() - y0) / h) + 1;
    auto cell_of = [&](arma::uword i) { return std::make_pair(static_cast<arma::uword>((x(i) - x0) / h), static_cast<arma::uword>((y(i) - y0) / h)); };
    std::vector<arma::uword> start(gx * gy + 1, 0), members(n);  // points by cell (counting sort)
    for (arma::uword i = 0; i < n; ++i) { auto [cx, cy] = cell_of(i); ++start[cy * gx + cx + 1]; }
    std::partial_sum(start.begin(), start.end(), start.begin());
    {
        std::vector<arma::uword> fill(start.begin(), start.end() - 1);
        for (arma::uword i = 0; i < n; ++i) { auto [cx, cy] = cell_of(i); members[fill[cy * gx + cx]++] = i; }
    }
    std::vector<double> xs(x.begin(), x.end()), ys(y.begin(), y.end());
    std::sort(xs.begin(), xs.end());
    std::sort(ys.begin(), ys.end());
    // Each point's term, summed in order after the loop: the same sum whatever the threads.
    std::vector<double> terms(n);
    parallel_for(0, n, [&](std::size_t i) {
        const auto [cx, cy] = cell_of(i);
        std::priority_queue<double> nearest;  // the k smallest distances so far (largest on top)
        for (arma::uword ring = 0;; ++ring) {
            const long r = static_cast<long>(ring);
            for (long dy = -r; dy <= r; ++dy)
                for (long dx = -r; dx <= r; ++dx) {
                    if (std::max(std::labs(dx), std::labs(dy)) != r) continue;  // the ring only
                    const long ux = static_cast<long>(cx) + dx, uy = static_cast<long>(cy) + dy;
                    if (ux < 0 || uy < 0 || ux >= static_cast<long>(gx) || uy >= static_cast<long>(gy)) continue;
                    const arma::uword cell = static_cast<arma::uword>(uy) * gx + static_cast<arma::uword>(ux);
                    for (arma::uword m = start[cell]; m < start[cell + 1]; ++m) {
                        const arma::uword j = members[m];
                        if (j == i) continue;
                        const double d = std::max(std::abs(x(i) - x(j)), std::abs(y(i) - y(j)));
                        if (nearest.size() < k) nearest.push(d);
                        else if (d < nearest.top()) { nearest.pop(); nearest.push(d); }
                    }
                }
            // Points beyond this ring are at least ring * h away.
            if (nearest.size() == k && nearest.top() <= double(ring) * h) break;
            if (ring > gx + gy) break;
        }
        const double radius = std::nextafter(nearest.top(), 0.0);
        terms[i] = digamma(count_within(xs, x(i), radius)) + digamma(count_within(ys, y(i), radius));  // (n_x - 1) + 1
    }, 1024);
    const double sum = std::accumulate(terms.begin(), terms.end(), 0.0);
    const double mi = digamma(double(n)) + digamma(double(k)) - sum / double(n);
    return std::max(0.0, mi) / std::log(2.0);
}

/// Plug-in MI (bits) of a continuous variable cut into bins and a label (0..labels-1).
inline double mi_label_bins(const arma::uvec& bins_of_x, arma::uword bins, const arma::uvec& label, arma::uword labels) {
    return mi_of_bins(bins_of_x, bins, label, labels);
}

/// boost::math::digamma of 0..n (psi[0] unused): Ross's estimator takes the digamma of whole
/// counts only, and a table shared by the relabellings of a null spares most of its time.
inline std::vector<double> digamma_table(std::size_t n) {
    std::vector<double> psi(n + 1, arma::datum::nan);
    for (std::size_t m = 1; m <= n; ++m) psi[m] = boost::math::digamma(double(m));
    return psi;
}

/// Ross's estimator (bits), as scikit-learn's mutual_info_classif: for each point the distance
/// to its k-th neighbour within its label (k at most the label's size - 1), m_i the points of
/// any label within it; psi(n) + <psi(k_i)> - <psi(N_label)> - <psi(m_i)>. Points of a label
/// seen once are left out. `psi`: digamma_table(x.n_elem) or longer.
inline double mi_label_ksg(const arma::vec& x, const arma::uvec& label, unsigned k, const std::vector<double>& psi) {
    auto digamma = [&](double m) { return psi[static_cast<std::size_t>(m)]; };  // m a whole count, 1..n
    const arma::uword labels = label.max() + 1;
    std::vector<std::vector<double>> by_label(labels);
    for (arma::uword i = 0; i < x.n_elem; ++i) by_label[label(i)].push_back(x(i));
    for (auto& v : by_label) std::sort(v.begin(), v.end());
    std::vector<double> kept;
    for (arma::uword i = 0; i < x.n_elem; ++i)
        if (by_label[label(i)].size() > 1) kept.push_back(x(i));
    std::sort(kept.begin(), kept.end());
    const double n = double(kept.size());
    if (n < 2) return arma::datum::nan;
    double sum = 0;
    for (arma::uword i = 0; i < x.n_elem; ++i) {
        const auto& same = by_label[label(i)];
        if (same.size() < 2) continue;
        const std::size_t kk = std::min<std::size_t>(k, same.size() - 1);
        // The k-th nearest of the others in 1-D: merge outwards from the point's place.
        auto at = std::lower_bound(same.begin(), same.end(), x(i)) - same.begin();
        long lo = static_cast<long>(at) - 1, hi = static_cast<long>(at) + 1;  // `at` is the point itself (or a tie)
        double d = 0;
        for (std::size_t found = 0; found < kk; ++found) {
            const double left = lo >= 0 ? x(i) - same[lo] : arma::datum::inf;
            const double right = hi < static_cast<long>(same.size()) ? same[hi] - x(i) : arma::datum::inf;
            if (left <= right) { d = left; --lo; } else { d = right; ++hi; }
        }
        const double radius = std::nextafter(d, 0.0);
        sum += digamma(double(kk)) - digamma(double(same.size())) - digamma(count_within(kept, x(i), radius));
    }
    return std::max(0.0, digamma(n) + sum / n) / std::log(2.0);
}

inline double mi_label_ksg(const arma::vec& x, const arma::uvec& label, unsigned k = 3) {
    return mi_label_ksg(x, label, k, digamma_table(x.n_elem));
}

/// MI (bits) of `x` with the label (0..labels-1) by `estimator`: "binned" (equal widths) or
/// "equal_frequency" (plug-in over `bins` bins), or "ksg" (Ross, k neighbours).
inline double mi_with_label(const std::string& estimator, const arma::vec& x, const arma::uvec& label, arma::uword labels,
                            arma::uword bins, unsigned k) {
    if (estimator == "ksg") return mi_label_ksg(x, label, k);
    return mi_label_bins(estimator == "binned" ? equal_width_bins(x, bins) : equal_frequency_bins(x, bins), bins, label, labels);
}

/// The permutation null of mi_with_label: the MI of `x` with each of `relabelled` (the labels of
/// the same values after the words' labels were shuffled). The bins of x do not depend on the
/// labels, so they are cut once.
inline arma::vec mi_label_null(const std::string& estimator, const arma::vec& x, const std::vector<arma::uvec>& relabelled,
                               arma::uword labels, arma::uword bins, unsigned k) {
    arma::vec null(relabelled.size());
    if (estimator == "ksg") {
        const std::vector<double> psi = digamma_table(x.n_elem);
        for (std::size_t p = 0; p < relabelled.size(); ++p) null(p) = mi_label_ksg(x, relabelled[p], k, psi);
        return null;
    }
    const arma::uvec cut = estimator == "binned" ? equal_width_bins(x, bins) : equal_frequency_bins(x, bins);
    for (std::size_t p = 0; p < relabelled.size(); ++p) null(p) = mi_label_bins(cut, bins, relabelled[p], labels);
    return null;
}

/// How many points (rows of `points`) equal another point exactly: where k or more others equal
/// a point, a KSG k-th neighbour is at distance 0 (scikit-learn adds noise of 1e-10 of the
/// scale to break such ties; laminar does not, so that results are exact, and warns instead).
inline arma::uword duplicated_points(const arma::mat& points) {
    std::vector<arma::uword> order(points.n_rows);
    std::iota(order.begin(), order.end(), 0);
    auto less = [&](arma::uword a, arma::uword b) {
        for (arma::uword c = 0; c < points.n_cols; ++c)
            if (points(a, c) != points(b, c)) return points(a, c) < points(b, c);
        return false;
    };
    std::sort(order.begin(), order.end(), less);
    arma::uword count = 0;
    for (std::size_t i = 0; i < order.size(); ++i) {
        const bool same_as_previous = i > 0 && !less(order[i - 1], order[i]);
        const bool same_as_next = i + 1 < order.size() && !less(order[i], order[i + 1]);
        if (same_as_previous || same_as_next) ++count;
    }
    return count;
}

}  // namespace laminar::analysis
