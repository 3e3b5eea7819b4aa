// Multiple-comparison corrections of one analysis's family of p-values (its sites, layers and
// heads), as statsmodels' multipletests defines them: "holm" (step-down, family-wise error)
// and "fdr_bh" (Benjamini-Hochberg step-up, false discovery rate). Header-only.
#pragma once

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

namespace laminar::analysis {

/// The JSON Schema of a metric's `correction:` option.
inline constexpr const char* kCorrectionSchema =
    R"json({"enum": ["none", "holm", "fdr_bh"], "description": "of the p-values across the analysis's sites, layers and heads (default holm)"})json";

/// The corrected p-values, in the order given. NaN p-values (not computed) are left out of the
/// family and stay NaN.
inline std::vector<double> corrected(const std::vector<double>& p, const std::string& method) {
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < p.size(); ++i)
        if (!std::isnan(p[i])) order.push_back(i);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return p[a] < p[b]; });
    const double m = static_cast<double>(order.size());
    std::vector<double> out(p.size(), std::nan(""));
    if (method == "holm") {  // max over j <= i of (m - j) p_(j), at most 1
        double running = 0;
        for (std::size_t i = 0; i < order.size(); ++i) {
            running = std::max(running, (m - static_cast<double>(i)) * p[order[i]]);
            out[order[i]] = std::min(1.0, running);
        }
    } else if (method == "fdr_bh") {  // min over j >= i of m / (j + 1) p_(j), at most 1
        double running = 1;
        for (std::size_t i = order.size(); i-- > 0;) {
            running = std::min(running, m / static_cast<double>(i + 1) * p[order[i]]);
            out[order[i]] = std::min(1.0, running);
        }
    } else {
        throw std::invalid_argument("unknown correction '" + method + "' (holm or fdr_bh)");
    }
    return out;
}

/// The smallest corrected p-value a family of m permutation p-values can reach when none can
/// fall below p_floor (1/(N+1) from N permutations, 1/N when enumerated exactly): Holm's is
/// m p_floor, Benjamini-Hochberg's p_floor. Above alpha, no member of the family can pass.
inline double corrected_floor(std::size_t m, double p_floor, const std::string& method) {
    return method == "holm" ? std::min(1.0, static_cast<double>(m) * p_floor) : p_floor;
}

/// Collects a metric's p-values as it writes them and, at the end, writes each one's corrected
/// value beside it (`p_value_corrected`, and `correction` naming the method).
template <class Sink>
class CorrectedPValues {
public:
    explicit CorrectedPValues(std::string method) : method_(std::move(method)) {}
    void add(const std::string& path, double p) {
        paths_.push_back(path);
        p_.push_back(p);
    }
    std::size_t size() const { return p_.size(); }
    const std::string& path(std::size_t i) const { return paths_[i]; }
    double p(std::size_t i) const { return p_[i]; }
    void write(Sink& out) const {
        if (method_ == "none" || p_.empty()) return;
        const auto q = corrected(p_, method_);
        for (std::size_t i = 0; i < q.size(); ++i) {
            out.attribute(paths_[i], "p_value_corrected", q[i]);
            out.attribute(paths_[i], "correction", method_);
        }
    }

private:
    std::string method_;
    std::vector<std::string> paths_;
    std::vector<double> p_;
};

}  // namespace laminar::analysis
