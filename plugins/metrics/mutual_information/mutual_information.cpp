// The `mutual_information` metric: a non-linear RSA and a per-dimension code for the category.
// For each pair of spaces (`pairs:`, as rsa pairs them), the MI between their cosine
// similarities over the same pairs of words (upper triangles), with a permutation p-value (one
// side's words relabelled) for the first estimator asked; for each space of `sites:`, the MI
// between each dimension and the category label (dataset `mi_label`, the first estimator's, and
// `mi_label_<estimator>` for each), with a permutation p-value per dimension for the first
// estimator (the words' category labels shuffled), corrected across the space's dimensions.
// Estimators (bits): `binned` (equal widths, 15 bins), `equal_frequency` (KBinsDiscretizer's
// quantile bins: tied values share a bin), `ksg` (k = 3; duplicated points are warned of);
// values beyond |z| > `trim_z` can be left out first. Plug-in MI is biased upwards (about 1 bit
// of 1.585 for 18 words of pure noise): each tested value is also reported less its null mean
// (`mi_<estimator>_corrected`, `mi_label_corrected`), the bias expected of unrelated variables.
// The word is the unit: with contexts kept, the similarities of the pairs and the dimensions
// scored against the category are both over each word's mean pattern (as in rsa); over rows, a
// word's own contexts would be one another's nearest neighbours, all of one category, and the
// permutations would move rows, not words.
#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "laminar/correction.hpp"
#include "laminar/analysis/mutual_information.hpp"
#include "laminar/analysis/pairing.hpp"
#include "laminar/analysis/profile.hpp"
#include "laminar/analysis/parallel.hpp"
#include "laminar/analysis/rdm.hpp"
#include "laminar/analysis/rsa.hpp"

namespace {

using namespace laminar;
using namespace laminar::analysis;

/// The rows of `v` within `limit` standard deviations of its mean (all when limit is 0).
arma::uvec within_z(const arma::vec& v, double limit) {
    if (limit <= 0) return arma::regspace<arma::uvec>(0, v.n_elem - 1);
    const double sd = arma::stddev(v, 1);
    if (sd == 0) return arma::regspace<arma::uvec>(0, v.n_elem - 1);
    return arma::find(arma::abs(v - arma::mean(v)) <= limit * sd);
}

class MutualInformation : public Metric {
public:
    void configure(const Params& params) override {
        pairs_ = params.value("pairs", std::vector<std::vector<std::string>>{});
        sites_ = params.value("sites", std::vector<std::string>{});
        if (pairs_.empty() && !params.contains("sites"))
            throw SpecError("", "expected pairs (MI between two spaces' similarities) or sites (MI of each dimension with the category), or both");
        estimators_ = params.value("estimators", std::vector<std::string>{"binned", "equal_frequency", "ksg"});
        bins_ = params.value("bins", arma::uword{15});
        k_ = params.value("k", 3u);
        trim_z_ = params.value("trim_z", 0.0);
        permutations_ = params.value("permutations", std::size_t{200});
        seed_ = params.value("seed", std::uint64_t{0});
        correction_ = params.value("correction", std::string("holm"));
        relative_depth_ = params.value("align", std::string("index")) == "relative_depth";
        for (std::size_t i = 0; i < pairs_.size(); ++i)
            for (const auto& side : pairs_[i])
                if (is_hypothesis(side)) throw SpecError("pairs[" + std::to_string(i) + "]", "mutual_information compares recorded spaces");
    }

    std::vector<SpaceUse> spaces() const override {
        std::vector<SpaceUse> out = site_uses(sites_);
        for (std::size_t i = 0; i < pairs_.size(); ++i)
            for (std::size_t j = 0; j < 2; ++j) out.push_back({"pairs[" + std::to_string(i) + "][" + std::to_string(j) + "]", pairs_[i][j]});
        return out;
    }

    void run(const ActivationSource& in, ResultSink& out, const Team& team) override {
        const Conditions conditions = conditions_of(in.stimuli());
        std::vector<std::string> left_out;
        const auto work = pairs_.empty() ? std::vector<SpacePair>{} : paired_spaces(in, pairs_, relative_depth_, left_out);
        for (const auto& message : left_out) out.warn(message);
        const auto labelled = sites_.empty() && !pairs_.empty() ? std::vector<std::pair<std::string, std::string>>{} : picked_spaces(in, sites_);
        const std::size_t total = work.size() + labelled.size();
        CorrectedPValues<ResultSink> family(correction_);
        std::map<std::pair<std::string, std::string>, arma::mat> similarities;
        auto similarity = [&](const std::string& model, const std::string& hook, ResultSink& warnings) -> const arma::mat& {
            auto [it, fresh] = similarities.emplace(std::make_pair(model, hook), arma::mat());
            if (!fresh) return it->second;
            const arma::mat Xt = as_columns(in.read(model, hook));
            warn_nonfinite(Xt, model + "/" + hook, "stimulus vector(s)", "the MI of its pairs is NaN", warnings);
            it->second = 1 - space_rdms(Xt, conditions, "cosine", false).rdm;
            return it->second;
        };
        // The pairs and the sites are shared out among the ranks, and each pair's permutations
        // among the ranks that have it.
        for_each_item(team, work.size(), out, {&family}, [&](std::size_t i, ResultSink& item_out, const Team& group) {
            compare(similarity(work[i].model_a, work[i].hook_a, item_out), similarity(work[i].model_b, work[i].hook_b, item_out),
                    work[i].path(), item_out, family, group);
        });
        family.write(out);
        const arma::uvec labels = condition_labels(conditions, in.categories());  // each word's category
        for_each_item(team, labelled.size(), out, {}, [&](std::size_t i, ResultSink& item_out, const Team&) {
            const std::string path = labelled[i].first + "/" + labelled[i].second;
            const arma::mat Xt = as_columns(in.read(labelled[i].first, labelled[i].second));
            warn_nonfinite(Xt, path, "stimulus vector(s)", "mi_label is NaN for the dimensions where they are", item_out);
            const Timed timed(item_out, "mi with the label");
            label_information(word_means(Xt, conditions), labels, in.categories().size(), path, item_out);
        });
        out.progress(total, total);
    }

private:
    std::vector<std::vector<std::string>> pairs_;
    std::vector<std::string> sites_, estimators_;
    arma::uword bins_ = 15;
    unsigned k_ = 3;
    double trim_z_ = 0;
    std::size_t permutations_ = 200;
    std::uint64_t seed_ = 0;
    std::string correction_;
    bool relative_depth_ = false;

    double estimate(const std::string& estimator, const arma::vec& x, const arma::vec& y) const {
        if (estimator == "binned") return mi_binned(x, y, bins_);
        if (estimator == "equal_frequency") return mi_equal_frequency(x, y, bins_);
        return mi_ksg(x, y, k_);
    }

    /// The first estimator's MI of the pairs kept by trimming.
    double first(const arma::vec& a, const arma::vec& b) const {
        const arma::uvec keep = arma::intersect(within_z(a, trim_z_), within_z(b, trim_z_));
        return estimate(estimators_.front(), a.elem(keep), b.elem(keep));
    }

    void compare(const arma::mat& A, const arma::mat& B, const std::string& path, ResultSink& out,
                 CorrectedPValues<ResultSink>& family, const Team& group) const {
        const arma::vec a = upper(A), b = upper(B);
        if (!a.is_finite() || !b.is_finite()) {  // NaN or infinite activations, or vectors of zero length
            out.warn(path + ": the similarities of a space are NaN where its stimulus vectors are zero or hold NaN or infinite "
                            "values: mi_* and the p-value are NaN");
            for (const auto& e : estimators_) out.attribute(path, "mi_" + e, arma::datum::nan);
            out.attribute(path, "n_pairs", static_cast<int64_t>(a.n_elem));
            out.attribute(path, "n_words", static_cast<int64_t>(A.n_rows));
            out.attribute(path, "estimator", estimators_.front());
            if (permutations_ == 0) return;
            for (const char* name : {"p_value", "null_mean", "null_sd"}) out.attribute(path, name, arma::datum::nan);
            out.attribute(path, "mi_" + estimators_.front() + "_corrected", arma::datum::nan);
            family.add(path, arma::datum::nan);  // left out of the family; its corrected p-value is NaN
            return;
        }
        const arma::uvec keep = arma::intersect(within_z(a, trim_z_), within_z(b, trim_z_));
        double observed = arma::datum::nan;  // the first estimator's, which the null tests
        for (const auto& e : estimators_) {
            const double mi = estimate(e, a.elem(keep), b.elem(keep));
            if (e == estimators_.front()) observed = mi;
            out.attribute(path, "mi_" + e, mi);
        }
        if (std::find(estimators_.begin(), estimators_.end(), "ksg") != estimators_.end())
            if (const arma::uword twins = duplicated_points(arma::join_rows(a.elem(keep), b.elem(keep))))
                out.warn(path + ": mi_ksg: " + std::to_string(twins) + " of " + std::to_string(keep.n_elem) +
                         " pairs of words have the same pair of similarities as another; KSG is computed on exact distances "
                         "without scikit-learn's jitter, so a neighbour at distance 0 makes the estimate unreliable");
        out.attribute(path, "n_pairs", static_cast<int64_t>(keep.n_elem));
        out.attribute(path, "n_trimmed", static_cast<int64_t>(a.n_elem - keep.n_elem));
        out.attribute(path, "n_words", static_cast<int64_t>(A.n_rows));
        out.attribute(path, "estimator", estimators_.front());  // the one the p-value tests
        if (permutations_ == 0) return;
        const Timed timed(out, "mi null");
        const Relabellings relabelled = relabellings(A.n_rows, permutations_, seed_);  // all n! when no more than permutations_
        const auto& perms = relabelled.perms;
        const std::string& estimator = estimators_.front();
        // Binned estimators of untrimmed pairs: the bins stay with the values, so the null only recounts them.
        const bool by_bins = trim_z_ <= 0 && estimator != "ksg" && bins_ <= kPermutedMiBins;
        const auto cut = [&](const arma::vec& v) { return estimator == "binned" ? equal_width_bins(v, bins_) : equal_frequency_bins(v, bins_); };
        const arma::vec null = by_bins ? permuted_mi(cut(a), bins_, cut(b), bins_, A.n_rows, perms, group)
                                       : gather_blocks(group, perms.size(), [&](std::size_t from, std::size_t to) {
                                             arma::vec v(to - from);
                                             parallel_for(from, to, [&](std::size_t p) { v(p - from) = first(a, upper(B.submat(perms[p], perms[p]))); });
                                             return v;
                                         });
        write_permutation_test(out, path, observed, null, family, relabelled.exact);  // as rsa and cka: p, null mean and sd
        out.attribute(path, "permutations", static_cast<int64_t>(permutations_));
        out.attribute(path, "seed", static_cast<int64_t>(seed_));

        // The plug-in bias, estimated by the null mean (the MI expected of unrelated spaces with
        // these margins), taken off the tested estimator's value.
        out.attribute(path, "mi_" + estimators_.front() + "_corrected", observed - arma::mean(null));
    }

    /// Each dimension (a row of Xt) against the category label; for the first estimator, its
    /// permutation null (the words' labels shuffled, the same relabellings for every dimension,
    /// drawn up front from the seed): per-dimension p-values corrected across the dimensions of
    /// this space (their own family), the null mean, and the MI less it (mi_label_corrected).
    void label_information(const arma::mat& Xt, const arma::uvec& labels, arma::uword categories, const std::string& path,
                           ResultSink& out) const {
        const Relabellings relabelling = permutations_ > 0 ? relabellings(Xt.n_cols, permutations_, seed_) : Relabellings{};
        const std::vector<arma::uvec>& perms = relabelling.perms;
        std::vector<arma::uvec> relabelled(perms.size());
        for (std::size_t p = 0; p < perms.size(); ++p) relabelled[p] = labels.elem(perms[p]);  // word i gets perm(i)'s label
        const auto n = static_cast<int64_t>(Xt.n_rows);
        for (std::size_t e = 0; e < estimators_.size(); ++e) {
            const bool tested = e == 0 && !perms.empty();
            std::vector<double> values(Xt.n_rows), null_mean(Xt.n_rows, arma::datum::nan), p_value(Xt.n_rows, arma::datum::nan);
            std::vector<arma::uword> duplicated(Xt.n_rows, 0);
            parallel_for(0, Xt.n_rows, [&](std::size_t d) {
                const arma::vec x = Xt.row(d).t();
                if (!x.is_finite()) {  // (sorting and binning need numbers)
                    values[d] = arma::datum::nan;
                    return;
                }
                const arma::uvec keep = within_z(x, trim_z_);
                const arma::vec kept = x.elem(keep);
                values[d] = mi_with_label(estimators_[e], kept, labels.elem(keep), categories, bins_, k_);
                if (estimators_[e] == "ksg") duplicated[d] = duplicated_points(arma::mat(kept));
                if (!tested) return;
                std::vector<arma::uvec> trimmed(relabelled.size());
                for (std::size_t p = 0; p < relabelled.size(); ++p) trimmed[p] = relabelled[p].elem(keep);
                const arma::vec null = mi_label_null(estimators_[e], kept, trimmed, categories, bins_, k_);
                null_mean[d] = arma::mean(null);
                p_value[d] = permutation_p_value(null, values[d], relabelling.exact);
            });
            for (const auto& name : e == 0 ? std::vector<std::string>{"mi_label", "mi_label_" + estimators_[e]}
                                           : std::vector<std::string>{"mi_label_" + estimators_[e]})
                out.write(path + "/" + name, {n}, values);
            if (estimators_[e] == "ksg") warn_duplicates(duplicated, path, out);
            if (!tested) continue;
            std::vector<double> corrected_mi(Xt.n_rows);
            for (std::size_t d = 0; d < values.size(); ++d) corrected_mi[d] = values[d] - null_mean[d];
            out.write(path + "/mi_label_null_mean", {n}, null_mean);
            out.write(path + "/mi_label_corrected", {n}, corrected_mi);
            out.write(path + "/mi_label_p_value", {n}, p_value);
            if (correction_ != "none") {
                out.write(path + "/mi_label_p_value_corrected", {n}, corrected(p_value, correction_));
                out.attribute(path, "correction", correction_);
                warn_unreachable(p_value, relabelling, path, out);
            }
            out.attribute(path, "permutations", static_cast<int64_t>(permutations_));
            out.attribute(path, "exact", static_cast<int64_t>(relabelling.exact));
            out.attribute(path, "n_permutations_used", static_cast<int64_t>(perms.size()));
            out.attribute(path, "seed", static_cast<int64_t>(seed_));
        }
        out.attribute(path, "estimator", estimators_.front());
        out.attribute(path, "dims", n);
        out.attribute(path, "n_words", static_cast<int64_t>(Xt.n_cols));
    }

    /// The warning where no dimension's corrected p-value can pass 0.05 whatever the data (Holm
    /// over d dimensions needs about 20 d permutations), with the number of permutations that would.
    void warn_unreachable(const std::vector<double>& p_value, const Relabellings& relabelling, const std::string& path,
                          ResultSink& out) const {
        const auto m = static_cast<std::size_t>(std::count_if(p_value.begin(), p_value.end(), [](double p) { return !std::isnan(p); }));
        const double used = static_cast<double>(relabelling.perms.size());
        const double floor = corrected_floor(m, relabelling.exact ? 1 / used : 1 / (used + 1), correction_);
        if (m == 0 || floor <= 0.05) return;
        std::ostringstream text;
        text << path << ": mi_label_p_value_corrected cannot fall below " << floor << " (" << correction_ << " over " << m
             << " dimensions, " << relabelling.perms.size() << (relabelling.exact ? " relabellings, all of them" : " permutations")
             << "): no dimension can reach p < 0.05 whatever the data; "
             << (relabelling.exact ? std::string("the words admit no more relabellings (add words, or correction: fdr_bh)")
                                   : "permutations: " + std::to_string(correction_ == "holm" ? 20 * m - 1 : 19) + " or more would let one");
        out.warn(text.str());
    }

    /// The warning for mi_label_ksg where dimensions hold duplicated values (see duplicated_points).
    static void warn_duplicates(const std::vector<arma::uword>& duplicated, const std::string& path, ResultSink& out) {
        std::size_t dims = 0, points = 0;
        for (const arma::uword count : duplicated) {
            dims += count > 0;
            points += count;
        }
        if (dims == 0) return;
        out.warn(path + ": mi_label_ksg: " + std::to_string(dims) + " of " + std::to_string(duplicated.size()) +
                 " dimensions have words with duplicated values (" + std::to_string(points) +
                 " values in all); KSG is computed on exact distances without scikit-learn's jitter, so a neighbour at distance 0 "
                 "makes the estimate unreliable there");
    }
};

const std::string kSchema = R"json({
  "type": "object", "additionalProperties": false,
  "properties": {
    "pairs": )json" + std::string(kPairsSchema) + R"json(,
    "sites": {"type": "array", "items": {"type": "string"}, "description": "spaces whose dimensions are scored against the category (default with no pairs: every set)"},
    "estimators": {"type": "array", "minItems": 1, "uniqueItems": true, "items": {"enum": ["binned", "equal_frequency", "ksg"]},
                   "description": "in bits; the first one is tested (default all three)"},
    "bins": {"type": "integer", "minimum": 2, "maximum": 1000, "description": "bins of binned and equal_frequency (default 15)"},
    "k": {"type": "integer", "minimum": 1, "description": "neighbours of ksg (default 3)"},
    "trim_z": {"type": "number", "exclusiveMinimum": 0, "description": "leave out values beyond this many standard deviations (e.g. 4)"},
    "permutations": {"type": "integer", "minimum": 0, "maximum": 1000000, "description": "relabellings of one side's words (pairs) and of the words' categories (sites), for the p-values and the null means (default 200; 0: none)"},
    "seed": {"type": "integer", "minimum": 0},
    "align": )json" + std::string(kAlignSchema) + R"json(,
    "correction": )json" + std::string(kCorrectionSchema) + R"json(
  }
})json";

}  // namespace

LAMINAR_PLUGIN(laminar::Metric, "metric", MutualInformation, "mutual_information", "1.2.1", kSchema.c_str())
