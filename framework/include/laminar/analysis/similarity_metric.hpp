// The `cosine` and `correlation` metrics: one similarity matrix per model and hook, with the
// means of its strict upper triangle (all pairs, within-category, between-category) and, with
// `histogram:`, their histograms. With
// contexts kept, `within` holds the pairs of different words of a category, as selectivity
// counts them; the pairs of one word's contexts have their own histogram, `same_word`.
#pragma once

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "laminar/analysis/matrices.hpp"
#include "laminar/analysis/profile.hpp"
#include "laminar/analysis/rdm.hpp"
#include "laminar/team_work.hpp"

namespace laminar::analysis {

/// The bin of `v` among `bins` equal bins over [lo, hi] (lo < hi), the last one closed; `bins`
/// for NaN and values outside, which are not counted.
inline std::size_t histogram_bin(double v, std::size_t bins, double lo, double hi) {
    if (std::isnan(v) || v < lo || v > hi) return bins;
    return std::min(static_cast<std::size_t>((v - lo) / (hi - lo) * double(bins)), bins - 1);
}

/// numpy.histogram's counts: `bins` equal bins over [lo, hi], the last one closed; NaN and
/// values outside are not counted. lo == hi widens to [lo - 0.5, hi + 0.5] as numpy does.
inline arma::vec histogram(const arma::vec& values, std::size_t bins, double lo, double hi, arma::vec& edges) {
    if (lo == hi) { lo -= 0.5; hi += 0.5; }
    edges = arma::linspace(lo, hi, bins + 1);
    arma::vec counts(bins + 1, arma::fill::zeros);  // (the last: not counted)
    for (double v : values) counts(histogram_bin(v, bins, lo, hi)) += 1;
    return counts.head(bins);
}

template <const char* Measure>
class SimilarityMetric : public Metric {
public:
    void configure(const Params& params) override {
        sites_ = params.value("sites", std::vector<std::string>{});
        if (params.contains("histogram")) {
            const auto& h = params["histogram"];
            bins_ = h.value("bins", 20);
            if (h.contains("range")) range_ = h["range"].get<std::vector<double>>();
            if (range_.size() == 2 && !(range_[0] < range_[1]))
                throw SpecError("histogram.range", "expected [low, high] with low < high");
        }
    }

    std::vector<SpaceUse> spaces() const override { return site_uses(sites_); }

    void run(const ActivationSource& in, ResultSink& all_out, const Team& team) override {
        const arma::uvec labels = category_labels(in);
        const arma::uvec word_of_row = conditions_of(in.stimuli()).of_row;
        const auto work = picked_spaces(in, sites_);
        for_each_item(team, work.size(), all_out, {}, [&](std::size_t i, ResultSink& out, const Team&) {
            const auto& [model, hook] = work[i];
            std::optional<Timed> timed(std::in_place, out, "similarity");
            const arma::mat S = recorded_similarity(in, model, hook, Measure, out);
            timed.reset();
            const std::string path = model + "/" + hook;
            const arma::mat St = S.t();  // row-major data for HDF5
            out.write(path + "/matrix", {static_cast<int64_t>(S.n_rows), static_cast<int64_t>(S.n_cols)},
                      std::vector<double>(St.begin(), St.end()));
            out.axes(path + "/matrix", {Axis::stimuli, Axis::stimuli});
            out.attribute(path, "measure", std::string(Measure));
            out.attribute(path, "n", static_cast<int64_t>(S.n_rows));
            timed.emplace(out, "histograms");
            write_groups(S, labels, word_of_row, path, out);
        });
        all_out.progress(work.size(), work.size());
    }

private:
    std::vector<std::string> sites_;
    std::size_t bins_ = 0;
    std::vector<double> range_;

    /// The means of all pairs, within-category, between-category (and same-word) pairs, always;
    /// their histograms when `histogram:` asks for them. Two passes over the strict upper triangle
    /// (50 million pairs at 10,000 words): sums and the range, then the bins; each mean sums its
    /// values row by row, in the two alternating sums of Armadillo's mean(), as the vectors of
    /// values this made before were summed (the same bits).
    void write_groups(const arma::mat& S, const arma::uvec& labels, const arma::uvec& word_of_row, const std::string& path,
                      ResultSink& out) const {
        enum Group { all, within, between, same_word };
        const char* names[] = {"all", "within", "between", "same_word"};
        auto group_of = [&](arma::uword i, arma::uword j) {
            return word_of_row(i) == word_of_row(j) ? same_word : labels(i) == labels(j) ? within : between;
        };
        double sum[4][2] = {}, count[4] = {}, lo = arma::datum::inf, hi = -arma::datum::inf;
        for_each_pair(S, [&](arma::uword i, arma::uword j, double v) {
            for (const Group g : {all, group_of(i, j)}) sum[g][static_cast<std::size_t>(count[g]++) % 2] += v;
            if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
        });
        const bool kept_contexts = count[same_word] > 0;
        for (const Group g : {all, within, between, same_word}) {
            if (g == same_word && !kept_contexts) continue;
            const double mean = (sum[g][0] + sum[g][1]) / count[g];
            out.attribute(path, std::string("mean_") + names[g], count[g] == 0 ? arma::datum::nan : std::isfinite(mean) ? mean : group_mean(S, g == all ? -1 : int(g), group_of));
        }
        if (bins_ == 0) return;
        if (range_.size() == 2) lo = range_[0], hi = range_[1];
        else if (lo > hi) lo = 0, hi = 1;  // no finite value
        if (lo == hi) lo -= 0.5, hi += 0.5;  // numpy's widening
        const arma::vec edges = arma::linspace(lo, hi, bins_ + 1);
        arma::mat counts(bins_, 4, arma::fill::zeros);
        for_each_pair(S, [&](arma::uword i, arma::uword j, double v) {
            const std::size_t b = histogram_bin(v, bins_, lo, hi);
            if (b == bins_) return;
            counts(b, all) += 1;
            counts(b, group_of(i, j)) += 1;
        });
        for (const Group g : {all, within, between, same_word}) {
            if (g == same_word && !kept_contexts) continue;
            out.write(path + "/histogram/" + names[g], {static_cast<int64_t>(bins_)}, std::vector<double>(counts.colptr(g), counts.colptr(g) + bins_));
        }
        out.write(path + "/histogram/edges", {static_cast<int64_t>(bins_ + 1)}, std::vector<double>(edges.begin(), edges.end()));
    }

    /// f(i, j, S(i, j)) for the strict upper triangle row by row (i, then j > i), reading S
    /// (column-major) a block of rows at a time through a row-major copy.
    template <class F>
    static void for_each_pair(const arma::mat& S, F f) {
        constexpr arma::uword kRows = 64;
        for (arma::uword i0 = 0; i0 < S.n_rows; i0 += kRows) {
            const arma::uword i1 = std::min(S.n_rows, i0 + kRows);
            const arma::mat rows = S.rows(i0, i1 - 1).t();  // [columns x rows]: row i is column i - i0
            for (arma::uword i = i0; i < i1; ++i)
                for (arma::uword j = i + 1; j < S.n_cols; ++j) f(i, j, rows(j, i - i0));
        }
    }

    /// The mean of a group (-1: all pairs) where its plain sum is not finite: Armadillo's robust mean.
    template <class GroupOf>
    static double group_mean(const arma::mat& S, int group, GroupOf group_of) {
        std::vector<double> values;
        for_each_pair(S, [&](arma::uword i, arma::uword j, double v) {
            if (group < 0 || int(group_of(i, j)) == group) values.push_back(v);
        });
        return arma::mean(arma::vec(values));
    }
};

/// Parameter schema shared by cosine and correlation.
inline constexpr const char* kSimilaritySchema = R"({
  "type": "object", "additionalProperties": false,
  "properties": {
    "sites": {"type": "array", "items": {"type": "string"}, "description": "sites (q, k, resid_post, ...) or hook names; all when absent"},
    "histogram": {"type": "object", "additionalProperties": false,
                  "properties": {"bins": {"type": "integer", "minimum": 1, "maximum": 100000},
                                 "range": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}}}
  }
})";

}  // namespace laminar::analysis
