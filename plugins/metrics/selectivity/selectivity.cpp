// The `selectivity` metric: how much more similar stimuli of one category are to each other
// than to other categories, with a label-permutation test.
//   index = mean over categories of the within-block mean similarity
//         / mean over category pairs of the between-block mean similarity
// (strict upper triangle, diagonal excluded; the founding study's definition), or the pooled
// variant (mean of all within pairs / mean of all between pairs). With contexts kept the word
// is the unit: pairs of one word's contexts are left out (they would all count as within-
// category pairs), and the null relabels words with all their contexts (selectivity.hpp).
#include <cmath>

#include "laminar/analysis/correction.hpp"
#include "laminar/analysis/matrices.hpp"
#include "laminar/analysis/rdm.hpp"
#include "laminar/analysis/selectivity.hpp"
#include "laminar/analysis/team_work.hpp"

namespace {

using namespace laminar;
using namespace laminar::analysis;

class SelectivityMetric : public Metric {
public:
    void configure(const Params& params) override {
        sites_ = params.value("sites", std::vector<std::string>{});
        similarity_ = params.value("similarity", std::string("cosine"));
        pooled_ = params.value("variant", std::string("mean_of_blocks")) == "pooled";
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
        CorrectedPValues<ResultSink> p_values(correction_);
        // The sites are shared out among the ranks, and each site's batches of permutations among
        // the ranks that have it.
        for_each_item(team, work.size(), all_out, {&p_values}, [&](std::size_t i, ResultSink& out, const Team& group) {
            const auto& [model, hook] = work[i];
            std::size_t degenerate = 0;
            const UnitSimilarity S = word_sums(recorded_similarity(in, model, hook, similarity_, out, &degenerate), words.of_row, words.n);
            const std::string path = model + "/" + hook;
            const Blocks b = blocks(S.sums, labels, k, S.row_counts);
            arma::vec per;
            const double index = selectivity(b, pooled_, &per);
            out.attribute(path, "index", index);
            out.attribute(path, "similarity", similarity_);
            out.attribute(path, "variant", std::string(pooled_ ? "pooled" : "mean_of_blocks"));
            const arma::mat means = b.means(), mt = means.t();
            out.write(path + "/block_means", {static_cast<int64_t>(k), static_cast<int64_t>(k)}, {mt.begin(), mt.end()});
            out.write(path + "/per_category", {static_cast<int64_t>(k)}, {per.begin(), per.end()});
            out.axes(path + "/block_means", {Axis::categories, Axis::categories});
            out.axes(path + "/per_category", {Axis::categories});
            out.attribute(path, "permutations", static_cast<int64_t>(permutations_));
            out.attribute(path, "seed", static_cast<int64_t>(seed_));
            out.attribute(path, "n_words", static_cast<int64_t>(words.n));  // the unit the null relabels
            if (permutations_ == 0 || degenerate) return;
            const arma::mat null = permutation_null(S.sums, labels, k, pooled_, permutations_, seed_, group, S.row_counts);
            const arma::vec overall = null.col(0);
            const double p = p_greater(overall, index);
            out.attribute(path, "p_value", p);
            p_values.add(path, p);
            out.attribute(path, "null_mean", arma::mean(overall));
            out.attribute(path, "null_sd", arma::stddev(overall));
            out.write(path + "/null", {static_cast<int64_t>(permutations_)}, {overall.begin(), overall.end()});
            std::vector<double> per_p(k);
            for (arma::uword c = 0; c < k; ++c) per_p[c] = p_greater(null.col(c + 1), per(c));
            out.write(path + "/per_category_p", {static_cast<int64_t>(k)}, per_p);
            out.axes(path + "/per_category_p", {Axis::categories});
        });
        p_values.write(all_out);
        all_out.progress(work.size(), work.size());
    }

private:
    std::vector<std::string> sites_;
    std::string similarity_;
    bool pooled_ = false;
    std::size_t permutations_ = 10000;
    std::uint64_t seed_ = 0;
    std::string correction_;
};

const std::string kSchema = R"json({
  "type": "object", "additionalProperties": false,
  "properties": {
    "sites": {"type": "array", "items": {"type": "string"}, "description": "sites or hook names; all when absent"},
    "similarity": {"enum": ["cosine", "correlation"]},
    "variant": {"enum": ["mean_of_blocks", "pooled"], "description": "mean_of_blocks is the founding study's"},
    "permutations": {"type": "integer", "minimum": 0, "description": "label shuffles for the p-value (0: none)"},
    "seed": {"type": "integer", "minimum": 0},
    "correction": )json" + std::string(kCorrectionSchema) + R"json(
  }
})json";

}  // namespace

LAMINAR_PLUGIN(laminar::Metric, "metric", SelectivityMetric, "selectivity", "1.3.0", kSchema.c_str())
