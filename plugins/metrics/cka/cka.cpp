// The `cka` metric: centred kernel alignment between two representational spaces (Kornblith et
// al. 2019), paired as the rsa metric pairs them (`pairs:`, `model:site` across models, `align`,
// `grid`). Per pair: linear CKA, biased (`cka`) and unbiased (`cka_unbiased`), and with `rbf:`
// (a fraction of the median distance) the RBF kernel's (`cka_rbf`); the biased linear CKA gets a
// permutation p-value (one side's words relabelled), and the population linear CKA, which
// `cka_unbiased` estimates, a jackknife interval over words.
//
// Why not a bootstrap: a resample drawn with replacement repeats words, and a repeated word
// agrees with itself in both spaces, which inflates the biased CKA: its percentile interval lay
// wholly above the estimate and covered the population CKA in 0 % of simulated samples (issue
// 23). The unbiased CKA of each resample's distinct words removes the inflation, but its spread is
// that of a subsample of about 0.63 n words, too narrow where the words' own variation dominates
// (91 % coverage at 95 % nominal, 100 words, 16 dimensions). The jackknife's variance is the
// unbiased CKA's own and errs wide (Efron & Stein 1981): 95-99 % over the designs of
// tests/unit/test_cka.cpp, where the 1.1.0 bootstrap covered 0 % and 85 %.
//
// The word is the unit: with contexts kept, each word's pattern is the mean of its contexts (as
// the rsa metric's RDMs take it), and the permutations and the jackknife move words. Over rows,
// two spaces share the contexts' own structure (a sentence's rows are alike in both), which is
// not the words', and relabelling whole words of rows needs words of equal numbers of contexts;
// the means measure the words alone, with any number of contexts per word.
#include <algorithm>
#include <map>

#include "laminar/analysis/cka.hpp"
#include "laminar/correction.hpp"
#include "laminar/analysis/pairing.hpp"
#include "laminar/analysis/profile.hpp"
#include "laminar/analysis/parallel.hpp"
#include "laminar/analysis/rdm.hpp"
#include "laminar/analysis/rsa.hpp"

namespace {

using namespace laminar;
using namespace laminar::analysis;

class CkaMetric : public Metric {
public:
    void configure(const Params& params) override {
        pairs_ = params.at("pairs").get<std::vector<std::vector<std::string>>>();
        rbf_ = params.value("rbf", 0.0);
        permutations_ = params.value("permutations", std::size_t{1000});
        bootstrap_ = params.value("bootstrap", std::size_t{1000});
        ci_ = params.value("ci", 0.95);
        seed_ = params.value("seed", std::uint64_t{0});
        correction_ = params.value("correction", std::string("holm"));
        relative_depth_ = params.value("align", std::string("index")) == "relative_depth";
        grid_ = params.value("grid", false);
        for (std::size_t i = 0; i < pairs_.size(); ++i) {
            const std::string field = "pairs[" + std::to_string(i) + "]";
            for (const auto& side : pairs_[i])
                if (is_hypothesis(side)) throw SpecError(field, "cka compares recorded spaces; a hypothesis RDM is the rsa metric's");
            if (parse_space(pairs_[i][0]).model.empty() != parse_space(pairs_[i][1]).model.empty())
                throw SpecError(field, "give a model (model:site) on both sides or on neither");
        }
    }

    std::vector<SpaceUse> spaces() const override {
        std::vector<SpaceUse> out;
        for (std::size_t i = 0; i < pairs_.size(); ++i)
            for (std::size_t j = 0; j < 2; ++j) out.push_back({"pairs[" + std::to_string(i) + "][" + std::to_string(j) + "]", pairs_[i][j]});
        return out;
    }

    void run(const ActivationSource& in, ResultSink& out, const Team& team) override {
        const Conditions words = conditions_of(in.stimuli());
        std::vector<std::string> left_out;
        const auto work = paired_spaces(in, pairs_, relative_depth_, left_out);
        for (const auto& message : left_out) out.warn(message);
        CorrectedPValues<ResultSink> family(correction_);
        GramCache grams;
        // The pairs are shared out among the ranks, and each pair's permutations and bootstrap
        // samples among the ranks that have it.
        for_each_item(team, work.size(), out, {&family}, [&](std::size_t i, ResultSink& item_out, const Team& group) {
            const Grams& a = space_grams(in, words, work[i].model_a, work[i].hook_a, grams, item_out);
            const Grams& b = space_grams(in, words, work[i].model_b, work[i].hook_b, grams, item_out);
            compare(a, b, work[i].path(), item_out, family, group);
        });
        family.write(out);
        if (grid_)  // biased linear CKA only: the aligned pairs carry the tests
            for (const auto& g : layer_grids(in, pairs_, out)) {
                const std::size_t n_rows = g.layers_a.size(), n_cols = g.layers_b.size();
                const arma::vec rows = gather_blocks(team, n_rows, [&](std::size_t first, std::size_t last) {
                    arma::vec v((last - first) * n_cols);
                    for (std::size_t r = first; r < last; ++r) {
                        const Grams& a = space_grams(in, words, g.model_a, g.layers_a[r].second, grams, out);
                        for (std::size_t k = 0; k < n_cols; ++k) {
                            const Grams& b = space_grams(in, words, g.model_b, g.layers_b[k].second, grams, out);
                            v((r - first) * n_cols + k) = cka(a.centred, b.centred, a.norm, b.norm);
                        }
                    }
                    return v;
                }, n_cols);
                write_grid(out, g, arma::mat(arma::reshape(rows, n_cols, n_rows).t()));
                out.attribute(g.path, "kernel", std::string("linear"));
            }
        out.progress(work.size(), work.size());
    }

private:
    std::vector<std::vector<std::string>> pairs_;
    double rbf_ = 0;  ///< 0: no RBF kernel
    std::size_t permutations_ = 1000, bootstrap_ = 1000;  ///< bootstrap_: 0 or not, whether to give the interval
    double ci_ = 0.95;
    std::uint64_t seed_ = 0;
    std::string correction_;
    bool relative_depth_ = false, grid_ = false;

    /// A space's Gram matrices: the linear kernel's raw (for the unbiased CKA) and double-centred (with
    /// its norm), and the RBF kernel's double-centred (when asked). The U-centred one is made
    /// when a pair needs it: a grid does not.
    struct Grams {
        arma::mat raw, centred, rbf;
        double norm = 0;
        bool finite = true;  ///< false: NaN or infinite activations, every CKA of the space is NaN
    };
    using GramCache = std::map<std::pair<std::string, std::string>, Grams>;

    const Grams& space_grams(const ActivationSource& in, const Conditions& words, const std::string& model,
                             const std::string& hook, GramCache& cache, ResultSink& out) const {
        auto [it, fresh] = cache.emplace(std::make_pair(model, hook), Grams());
        if (!fresh) return it->second;
        const Timed timed(out, "gram");
        const arma::mat rows = as_columns(in.read(model, hook));
        const arma::mat Xt = word_means(rows, words);
        Grams& g = it->second;
        if (warn_nonfinite(rows, model + "/" + hook, "stimulus vector(s)", "every CKA of this space is NaN", out)) {
            g.finite = false;  // (the RBF kernel's median cannot be taken of them)
            g.raw = g.centred = arma::mat(Xt.n_cols, Xt.n_cols, arma::fill::value(arma::datum::nan));
            g.norm = arma::datum::nan;
            return g;
        }
        g.raw = linear_gram(Xt);
        g.centred = centre_gram(g.raw, false);
        g.norm = arma::norm(g.centred, "fro");
        if (rbf_ > 0) g.rbf = centre_gram(rbf_gram(Xt, rbf_), false);
        return g;
    }

    void compare(const Grams& a, const Grams& b, const std::string& path, ResultSink& out,
                 CorrectedPValues<ResultSink>& family, const Team& group) const {
        const arma::uword n = a.raw.n_rows;
        if (!a.finite || !b.finite) {  // warned where the space was read
            for (const char* name : {"cka", "cka_unbiased"}) out.attribute(path, name, arma::datum::nan);
            if (rbf_ > 0) out.attribute(path, "cka_rbf", arma::datum::nan);
            out.attribute(path, "n", static_cast<int64_t>(n));
            if (permutations_ == 0) return;
            for (const char* name : {"p_value", "null_mean", "null_sd"}) out.attribute(path, name, arma::datum::nan);
            family.add(path, arma::datum::nan);  // left out of the family; its corrected p-value is NaN
            return;
        }
        const double linear = cka(a.centred, b.centred, a.norm, b.norm);
        const double unbiased = n > 3 ? cka(centre_gram(a.raw, true), centre_gram(b.raw, true)) : arma::datum::nan;
        out.attribute(path, "cka", linear);
        out.attribute(path, "cka_unbiased", unbiased);
        if (rbf_ > 0) {
            out.attribute(path, "cka_rbf", cka(a.rbf, b.rbf));
            out.attribute(path, "rbf_fraction", rbf_);
        }
        out.attribute(path, "n", static_cast<int64_t>(n));  // words
        out.attribute(path, "permutations", static_cast<int64_t>(permutations_));
        out.attribute(path, "seed", static_cast<int64_t>(seed_));
        if (std::isnan(linear)) {
            out.warn(path + ": a space has no variance across stimuli: CKA is NaN");
            return;
        }
        if (permutations_ > 0) {  // one side's words relabelled; centring commutes with relabelling
            const Timed timed(out, "cka null");
            const Relabellings relabelled = relabellings(n, permutations_, seed_);  // all n! when no more than permutations_
            const arma::vec inner = permuted_inner_products(a.centred, b.centred, relabelled.perms, group);
            const double identity = permuted_inner_products(a.centred, b.centred, {arma::regspace<arma::uvec>(0, n - 1)})(0);
            write_permutation_test(out, path, linear, inner / (a.norm * b.norm), family, relabelled.exact,
                                   identity / (a.norm * b.norm));
        }
        if (bootstrap_ > 0) {
            const Timed timed(out, "jackknife");
            interval(a, b, unbiased, path, out);
        }
    }

    /// The jackknife interval (level `ci`) of the population linear CKA, which `cka_unbiased`
    /// estimates (not of the biased `cka`, whose bias it does not share): ci_low, ci_high,
    /// ci_level, ci_se, ci_of, ci_method. The population CKA lies in [0, 1], and the interval is
    /// cut to that range (which loses no coverage). It needs 5 words (the unbiased CKA of 4 left).
    void interval(const Grams& a, const Grams& b, double unbiased, const std::string& path, ResultSink& out) const {
        const arma::uword n = a.raw.n_rows;
        if (n < 5) {
            out.warn(path + ": " + std::to_string(n) + " words: no interval (the jackknife needs 5)");
            return;
        }
        const arma::vec loo = unbiased_cka_leave_one_out(a.centred, b.centred);
        if (!loo.is_finite()) {
            out.warn(path + ": a space has no variance without one of its words: no interval");
            return;
        }
        const Interval ci = jackknife_interval(unbiased, loo, ci_);
        out.attribute(path, "ci_low", std::clamp(ci.low, 0.0, 1.0));
        out.attribute(path, "ci_high", std::clamp(ci.high, 0.0, 1.0));
        out.attribute(path, "ci_level", ci_);
        out.attribute(path, "ci_se", ci.se);
        out.attribute(path, "ci_of", std::string("cka_unbiased"));
        out.attribute(path, "ci_method", std::string("jackknife"));
    }
};

const std::string kSchema = R"json({
  "type": "object", "additionalProperties": false, "required": ["pairs"],
  "properties": {
    "pairs": )json" + std::string(kPairsSchema) + R"json(,
    "rbf": {"type": "number", "exclusiveMinimum": 0,
            "description": "also CKA with an RBF kernel, its bandwidth this fraction of the median distance between stimuli"},
    "permutations": {"type": "integer", "minimum": 0, "maximum": 1000000, "description": "relabellings of one side's words (0: no p-value; default 1000)"},
    "bootstrap": {"type": "integer", "minimum": 0, "maximum": 1000000,
                  "description": "0: no interval; otherwise the jackknife interval over words of the population CKA that cka_unbiased estimates (since 1.2.0 the count is not used: the jackknife leaves each word out once)"},
    "ci": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
    "seed": {"type": "integer", "minimum": 0},
    "align": )json" + std::string(kAlignSchema) + R"json(,
    "grid": )json" + std::string(kGridSchema) + R"json(,
    "correction": )json" + std::string(kCorrectionSchema) + R"json(
  }
})json";

}  // namespace

LAMINAR_PLUGIN(laminar::Metric, "metric", CkaMetric, "cka", "1.3.0", kSchema.c_str())
