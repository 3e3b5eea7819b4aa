// The `selectivity` metric: how much more similar stimuli of one category are to each other
// than to other categories, with a label-permutation test.
//   index = mean over categories of the within-block mean similarity
//         / mean over category pairs of the between-block mean similarity
// (strict upper triangle, diagonal excluded; the founding study's definition), the pooled
// variant (mean of all within pairs / mean of all between pairs), or the difference variant
// (the founding study's two means subtracted). A ratio whose between mean is near 0 or below
// is ill-conditioned: a warning names the set (selectivity.hpp's between_bound()). With
// contexts kept the word is the unit: pairs of one word's contexts are left out (they would all
// count as within-category pairs), and the null relabels words with all their contexts.
// The per-category p-values of all sets are a family of their own, corrected as the sets'
// p-values are (`per_category_p_corrected`). Every set is tested with the same relabellings (one
// seed), so the p-values are dependent: Holm holds under any dependence, Benjamini-Hochberg under
// positive regression dependence (Benjamini & Yekutieli 2001), usual here but not guaranteed.
#include <cmath>
#include <optional>
#include <sstream>

#include "laminar/correction.hpp"
#include "laminar/analysis/matrices.hpp"
#include "laminar/analysis/profile.hpp"
#include "laminar/analysis/rdm.hpp"
#include "laminar/analysis/selectivity.hpp"
#include "laminar/team_work.hpp"

namespace {

using namespace laminar;
using namespace laminar::analysis;

class SelectivityMetric : public Metric {
public:
    void configure(const Params& params) override {
        sites_ = params.value("sites", std::vector<std::string>{});
        similarity_ = params.value("similarity", std::string("cosine"));
        variant_name_ = params.value("variant", std::string("mean_of_blocks"));
        variant_ = variant_name_ == "pooled" ? Variant::pooled
                 : variant_name_ == "difference" ? Variant::difference : Variant::mean_of_blocks;
        permutations_ = params.value("permutations", std::size_t{10000});
        seed_ = params.value("seed", std::uint64_t{0});
        correction_ = params.value("correction", std::string("holm"));
    }

    std::vector<SpaceUse> spaces() const override { return site_uses(sites_); }

    void run(const ActivationSource& in, ResultSink& all_out, const Team& team) override {
        const auto names = in.categories();
        const Conditions words = conditions_of(in.stimuli());
        const arma::uvec labels = condition_labels(words, names);  // each word's category
        const arma::uword k = names.size();
        if (k < 2) throw SpecError("", "selectivity needs at least two categories");
        for (arma::uword c = 0; c < k; ++c)
            if (arma::accu(labels == c) < 2)
                throw SpecError("", "category '" + names[c] + "' has fewer than two words: no within-category pair");
        const auto work = picked_spaces(in, sites_);
        CorrectedPValues<ResultSink> p_values(correction_), per_category_p_values(correction_);
        // The sites are shared out among the ranks, and each site's batches of permutations among
        // the ranks that have it.
        for_each_item(team, work.size(), all_out, {&p_values, &per_category_p_values},
                      [&](std::size_t i, ResultSink& out, const Team& group) {
            const auto& [model, hook] = work[i];
            std::size_t degenerate = 0;
            std::optional<Timed> timed(std::in_place, out, "similarity");
            const arma::mat similarity = recorded_similarity(in, model, hook, similarity_, out, &degenerate);  // rows
            const UnitSimilarity S = word_sums(similarity, words.of_row, words.n);
            timed.reset();
            const std::string path = model + "/" + hook;
            const Blocks b = blocks(S.sums, labels, k, S.row_counts);
            arma::vec per;
            const double index = selectivity(b, variant_, &per);
            out.attribute(path, "index", index);
            out.attribute(path, "similarity", similarity_);
            out.attribute(path, "variant", variant_name_);
            const Contrast means_compared = contrast(b, variant_);
            out.attribute(path, "mean_within", means_compared.within);
            out.attribute(path, "mean_between", means_compared.between);
            if (variant_ != Variant::difference) check_conditioning(similarity, means_compared, index, names, path, out);
            const arma::mat means = b.means(), mt = means.t();
            out.write(path + "/block_means", {static_cast<int64_t>(k), static_cast<int64_t>(k)}, {mt.begin(), mt.end()});
            out.write(path + "/per_category", {static_cast<int64_t>(k)}, {per.begin(), per.end()});
            out.axes(path + "/block_means", {Axis::categories, Axis::categories});
            out.axes(path + "/per_category", {Axis::categories});
            out.attribute(path, "permutations", static_cast<int64_t>(permutations_));
            out.attribute(path, "seed", static_cast<int64_t>(seed_));
            out.attribute(path, "n_words", static_cast<int64_t>(words.n));  // the unit the null relabels
            if (permutations_ == 0 || degenerate) return;
            // Few words: every distinct labelling once (the exact null) rather than random repeats.
            const std::size_t distinct = distinct_labellings_up_to(labels, permutations_);
            const bool exact = distinct > 0;
            const std::size_t count = exact ? distinct : permutations_;
            timed.emplace(out, "selectivity null");
            const arma::mat null = permutation_null(S.sums, labels, k, variant_, count, seed_, group, S.row_counts, exact);
            timed.reset();
            const arma::vec overall = null.col(0);
            const double p = p_greater(overall, index, exact);
            out.attribute(path, "p_value", p);
            p_values.add(path, p);
            out.attribute(path, "null_mean", arma::mean(overall));
            out.attribute(path, "null_sd", arma::stddev(overall));
            out.attribute(path, "exact", static_cast<int64_t>(exact));
            out.attribute(path, "n_permutations_used", static_cast<int64_t>(count));
            out.write(path + "/null", {static_cast<int64_t>(count)}, {overall.begin(), overall.end()});
            std::vector<double> per_p(k);
            for (arma::uword c = 0; c < k; ++c) {
                per_p[c] = p_greater(null.col(c + 1), per(c), exact);
                per_category_p_values.add(path, per_p[c]);  // k in a row, in category order
            }
            out.write(path + "/per_category_p", {static_cast<int64_t>(k)}, per_p);
            out.axes(path + "/per_category_p", {Axis::categories});
        });
        p_values.write(all_out);
        write_per_category_corrected(per_category_p_values, k, all_out);
        all_out.progress(work.size(), work.size());
    }

private:
    std::vector<std::string> sites_;
    std::string similarity_, variant_name_;
    Variant variant_ = Variant::mean_of_blocks;
    std::size_t permutations_ = 10000;
    std::uint64_t seed_ = 0;
    std::string correction_;

    /// `per_category_p_corrected` [k] beside each set's `per_category_p`: the per-category
    /// p-values of every set (`family`, each set's k in a row) corrected together.
    void write_per_category_corrected(const CorrectedPValues<ResultSink>& family, arma::uword k, ResultSink& out) const {
        if (correction_ == "none" || family.size() == 0) return;
        std::vector<double> p(family.size());
        for (std::size_t i = 0; i < p.size(); ++i) p[i] = family.p(i);
        const std::vector<double> q = corrected(p, correction_);
        for (std::size_t first = 0; first < q.size(); first += k) {
            const std::string& path = family.path(first);
            out.write(path + "/per_category_p_corrected", {static_cast<int64_t>(k)}, {q.begin() + first, q.begin() + first + k});
            out.axes(path + "/per_category_p_corrected", {Axis::categories});
        }
    }

    /// A warning, and `ill_conditioned` 1, where the ratio's between mean is at most
    /// between_bound(S): the index then says more about that near-0 denominator than about the
    /// categories. The categories whose own index is so are named too.
    static void check_conditioning(const arma::mat& S, const Contrast& m, double index, const std::vector<std::string>& names,
                                   const std::string& path, ResultSink& out) {
        const double bound = between_bound(S);
        std::string categories;
        for (arma::uword c = 0; c < names.size(); ++c)
            if (m.between_c(c) <= bound) categories += (categories.empty() ? "" : ", ") + names[c];
        const bool ill = m.between <= bound;
        out.attribute(path, "ill_conditioned", static_cast<int64_t>(ill));
        if (!ill && categories.empty()) return;
        std::ostringstream message;
        message.precision(3);
        message << path << ": ";
        if (ill) message << "the selectivity index (" << m.within << " / " << m.between << " = " << index << ")";
        if (!categories.empty()) message << (ill ? " and " : "") << "the per-category index of " << categories;
        message << " cannot be trusted: the mean between-category similarity is at most " << bound << " ("
                << kBetweenBoundFraction << " x the standard deviation of the similarities), where a ratio explodes or "
                << "changes sign; variant: difference (within - between) stays defined";
        out.warn(message.str());
    }
};

const std::string kSchema = R"json({
  "type": "object", "additionalProperties": false,
  "properties": {
    "sites": {"type": "array", "items": {"type": "string"}, "description": "sites or hook names; all when absent"},
    "similarity": {"enum": ["cosine", "correlation"]},
    "variant": {"enum": ["mean_of_blocks", "pooled", "difference"],
                "description": "mean_of_blocks (within / between, the founding study's), pooled (all within pairs / all between pairs) or difference (within - between of mean_of_blocks)"},
    "permutations": {"type": "integer", "minimum": 0, "maximum": 1000000, "description": "label shuffles for the p-value (0: none)"},
    "seed": {"type": "integer", "minimum": 0},
    "correction": )json" + std::string(kCorrectionSchema) + R"json(
  }
})json";

}  // namespace

LAMINAR_PLUGIN(laminar::Metric, "metric", SelectivityMetric, "selectivity", "1.5.0", kSchema.c_str())
