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

/// numpy.histogram's counts: `bins` equal bins over [lo, hi], the last one closed; NaN and
/// values outside are not counted. lo == hi widens to [lo - 0.5, hi + 0.5] as numpy does.
inline arma::vec histogram(const arma::vec& values, std::size_t bins, double lo, double hi, arma::vec& edges) {
    if (lo == hi) { lo -= 0.5; hi += 0.5; }
    edges = arma::linspace(lo, hi, bins + 1);
    arma::vec counts(bins, arma::fill::zeros);
    for (double v : values) {
        if (std::isnan(v) || v < lo || v > hi) continue;
        auto b = static_cast<std::size_t>((v - lo) / (hi - lo) * bins);
        counts(std::min(b, bins - 1)) += 1;
    }
    return counts;
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
    /// their histograms when `histogram:` asks for them.
    void write_groups(const arma::mat& S, const arma::uvec& labels, const arma::uvec& word_of_row, const std::string& path,
                      ResultSink& out) const {
        std::vector<double> all, within, between, same_word;
        for (arma::uword i = 0; i < S.n_rows; ++i)
            for (arma::uword j = i + 1; j < S.n_cols; ++j) {
                all.push_back(S(i, j));
                (word_of_row(i) == word_of_row(j) ? same_word : labels(i) == labels(j) ? within : between).push_back(S(i, j));
            }
        const arma::vec a(all);
        std::vector<std::pair<const char*, arma::vec>> groups = {
            {"all", a}, {"within", arma::vec(within)}, {"between", arma::vec(between)}};
        if (!same_word.empty()) groups.emplace_back("same_word", arma::vec(same_word));
        for (const auto& [name, values] : groups)
            out.attribute(path, std::string("mean_") + name, values.is_empty() ? arma::datum::nan : arma::mean(values));
        if (bins_ == 0) return;
        const arma::vec finite = a.elem(arma::find_finite(a));
        const double lo = range_.size() == 2 ? range_[0] : (finite.is_empty() ? 0.0 : finite.min());
        const double hi = range_.size() == 2 ? range_[1] : (finite.is_empty() ? 1.0 : finite.max());
        arma::vec edges;
        for (const auto& [name, values] : groups) {
            const arma::vec counts = histogram(values, bins_, lo, hi, edges);
            out.write(path + "/histogram/" + name, {static_cast<int64_t>(bins_)}, std::vector<double>(counts.begin(), counts.end()));
        }
        out.write(path + "/histogram/edges", {static_cast<int64_t>(bins_ + 1)}, std::vector<double>(edges.begin(), edges.end()));
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
