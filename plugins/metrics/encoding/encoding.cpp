// The `encoding` metric: how well a layer linearly predicts per-word targets (brain responses,
// ratings, reading times) on held-out words, as Brain-Score's language benchmarks score a layer.
// Rows are words (a word's contexts averaged first, in double precision). The words are cut into
// k folds (from `seed`); for each, ridge regression from the other folds' words, its penalty
// chosen per target from `alphas` by efficient leave-one-out on them (ridge_cv.hpp, scikit-learn's
// RidgeCV(alphas, alpha_per_target=True)), predicts the fold's words. Per target, `r` is the
// Pearson correlation of the held-out predictions (all folds) with the targets; `score` is their
// median. The null shuffles the targets' rows across words (the folds stay) and scores again:
// every penalty is chosen anew, as for the observed. With a `ceiling` file of repeated
// measurements, each target's Spearman-Brown split-half ceiling, and score / their median.
#include <algorithm>
#include <memory>
#include <random>

#include "laminar/analysis/folds.hpp"
#include "laminar/analysis/matrices.hpp"
#include "laminar/analysis/parallel.hpp"
#include "laminar/analysis/rdm.hpp"
#include "laminar/analysis/rsa.hpp"
#include "laminar/correction.hpp"
#include "laminar/team_work.hpp"
#include "ridge_cv.hpp"
#include "targets.hpp"

namespace {

using namespace laminar;
using namespace laminar::analysis;
using laminar::encoding::FoldRidge;

/// Pearson r of each column of `a` with the same column of `b` (NaN where one has no variance).
arma::rowvec column_r(const arma::mat& a, const arma::mat& b) {
    const arma::mat ac = a.each_row() - arma::mean(a, 0), bc = b.each_row() - arma::mean(b, 0);
    const arma::rowvec den = arma::sqrt(arma::sum(arma::square(ac), 0) % arma::sum(arma::square(bc), 0));
    arma::rowvec r = arma::sum(ac % bc, 0) / den;
    r.elem(arma::find(den == 0)).fill(arma::datum::nan);
    return r;
}

/// The median of the finite values (NaN when there are none).
double finite_median(const arma::rowvec& v) {
    const arma::vec finite = v.elem(arma::find_finite(v));
    return finite.is_empty() ? arma::datum::nan : arma::median(finite);
}

class EncodingMetric : public Metric {
public:
    void configure(const Params& params) override {
        sites_ = params.value("sites", std::vector<std::string>{});
        targets_file_ = params.at("targets").get<std::string>();
        ceiling_file_ = params.value("ceiling", std::string());
        folds_ = params.value("folds", arma::uword{5});
        alphas_ = arma::vec(params.value("alphas", std::vector<double>{0.01, 0.1, 1, 10, 100, 1000, 10000}));
        permutations_ = params.value("permutations", std::size_t{1000});
        seed_ = params.value("seed", std::uint64_t{0});
        correction_ = params.value("correction", std::string("holm"));
    }

    std::vector<SpaceUse> spaces() const override { return site_uses(sites_); }

    void check(const std::vector<Stimulus>& rows, const std::vector<std::string>&) const override {
        const Conditions words = conditions_of(rows);
        read(words);
        check_folds(words);
    }

    void check_folds(const Conditions& words) const {
        if (words.n < folds_)
            throw SpecError("folds", std::to_string(folds_) + " folds of " + std::to_string(words.n) + " words: a fold needs a word");
        if (words.n - (words.n + folds_ - 1) / folds_ < 3)
            throw SpecError("folds", "with " + std::to_string(words.n) + " words in " + std::to_string(folds_) +
                                         " folds, a fold trains on fewer than 3 words (leave-one-out needs 3)");
    }

    void run(const ActivationSource& in, ResultSink& all_out, const Team& team) override {
        const Conditions words = conditions_of(in.stimuli());
        check_folds(words);
        const auto given = read(words);
        const encoding::Targets& targets = given.first;
        const arma::vec& ceiling = given.second;  // empty without a ceiling file
        // Folds, then the null's shuffles, from one generator before any work is shared.
        std::mt19937_64 rng(seed_);
        const arma::uvec fold = kfold(words.n, folds_, rng);
        const std::vector<arma::uvec> perms = shuffles(words.n, permutations_, rng);
        const std::string names = nlohmann::json(targets.names).dump();
        const auto work = picked_spaces(in, sites_);
        CorrectedPValues<ResultSink> family(correction_);
        for_each_item(team, work.size(), all_out, {&family}, [&](std::size_t i, ResultSink& out, const Team& group) {
            const auto& [model, hook] = work[i];
            const std::string path = model + "/" + hook;
            const arma::mat X = word_means(as_columns(in.read(model, hook)), words).t();  // [words x dims]
            out.attribute(path, "n_words", static_cast<int64_t>(words.n));
            out.attribute(path, "n_targets", static_cast<int64_t>(targets.values.n_cols));
            out.attribute(path, "targets", names);
            out.attribute(path, "folds", static_cast<int64_t>(folds_));
            out.attribute(path, "seed", static_cast<int64_t>(seed_));
            write_per_word(out, path + "/fold", fold, words);
            if (!ceiling.is_empty()) write_ceiling(ceiling, path, out);
            if (warn_nonfinite(X.t(), path, "word vector(s)", "no encoding of this space", out)) {
                out.attribute(path, "score", arma::datum::nan);
                if (permutations_) family.add(path, arma::datum::nan);
                return;
            }
            // One thread per fit, the fits on all cores: OpenBLAS's sums over several threads
            // depend on their number, and the numbers must not.
            std::vector<std::unique_ptr<FoldRidge>> ridges(folds_);
            parallel_for(0, folds_, [&](std::size_t f) {
                const FoldSplit s = split(fold, f);
                ridges[f] = std::make_unique<FoldRidge>(X, s.train, s.test, alphas_, permutations_ > 0);
            });
            arma::umat chosen;
            const arma::rowvec r = held_out_r(ridges, fold, targets.values, Precision::exact, &chosen);
            const double score = finite_median(r);
            out.write(path + "/r", {static_cast<int64_t>(r.n_elem)}, std::vector<double>(r.begin(), r.end()));
            std::vector<double> alpha;  // [folds x targets], row-major
            for (arma::uword f = 0; f < folds_; ++f)
                for (arma::uword t = 0; t < chosen.n_cols; ++t) alpha.push_back(alphas_(chosen(f, t)));
            out.write(path + "/alpha", {static_cast<int64_t>(folds_), static_cast<int64_t>(chosen.n_cols)}, alpha);
            out.attribute(path, "score", score);
            if (const arma::uword nan = r.n_elem - arma::uvec(arma::find_finite(r)).n_elem)
                out.warn(path + ": " + std::to_string(nan) + " target(s) have no r (a target, or its predictions, constant across words); the score is the median of the others");
            if (!ceiling.is_empty()) out.attribute(path, "score_normalized", score / finite_median(ceiling.t()));
            out.attribute(path, "permutations", static_cast<int64_t>(permutations_));
            if (permutations_ == 0) return;
            // The null: each shuffle's targets fitted and scored as the observed ones were, in
            // single precision (ridge_cv.hpp); the observed is scored so too for the comparison.
            const double observed = finite_median(held_out_r(ridges, fold, targets.values, Precision::fast, nullptr));
            const arma::vec null = gather_blocks(group, perms.size(), [&](std::size_t first, std::size_t last) {
                arma::vec v(last - first);
                parallel_for(first, last, [&](std::size_t p) {
                    v(p - first) = finite_median(held_out_r(ridges, fold, targets.values.rows(perms[p]), Precision::fast, nullptr, false));
                });
                return v;
            });
            out.attribute(path, "score_single_precision", observed);
            write_permutation_test(out, path, observed, null, family);
            out.write(path + "/null", {static_cast<int64_t>(null.n_elem)}, std::vector<double>(null.begin(), null.end()));
        });
        family.write(all_out);
        all_out.progress(work.size(), work.size());
    }

private:
    std::vector<std::string> sites_;
    std::string targets_file_, ceiling_file_;
    arma::uword folds_ = 5;
    arma::vec alphas_;
    std::size_t permutations_ = 1000;
    std::uint64_t seed_ = 0;
    std::string correction_;

    /// The targets in word order, and (with a ceiling file) each target's ceiling.
    std::pair<encoding::Targets, arma::vec> read(const Conditions& words) const {
        encoding::Targets t = encoding::read_targets(targets_file_, words.words, "targets");
        if (ceiling_file_.empty()) return {t, arma::vec()};
        const encoding::Targets repeat = encoding::read_targets(ceiling_file_, words.words, "ceiling");
        if (repeat.names != t.names)
            throw SpecError("ceiling", ceiling_file_ + ": its columns must be the targets' (" + nlohmann::json(t.names).dump() +
                                           "), in their order; it has " + nlohmann::json(repeat.names).dump());
        return {t, encoding::spearman_brown_ceiling(t.values, repeat.values)};
    }

    enum class Precision { exact, fast };

    /// Every word predicted by the fold that holds it out; r per target. `chosen`: the alpha
    /// index each fold chose per target [folds x targets]. `folds_in_parallel`: the folds on all
    /// cores (false inside a loop that already is).
    arma::rowvec held_out_r(const std::vector<std::unique_ptr<FoldRidge>>& ridges, const arma::uvec& fold, const arma::mat& Y,
                            Precision precision, arma::umat* chosen, bool folds_in_parallel = true) const {
        arma::mat predicted(Y.n_rows, Y.n_cols);
        if (chosen) chosen->set_size(folds_, Y.n_cols);
        auto one = [&](std::size_t f) {
            const FoldSplit s = split(fold, f);
            const FoldRidge::Fit fit = precision == Precision::exact ? ridges[f]->fit(Y.rows(s.train)) : ridges[f]->fit_fast(Y.rows(s.train));
            predicted.rows(s.test) = fit.predicted;
            if (chosen) chosen->row(f) = fit.alpha.t();
        };
        if (folds_in_parallel) parallel_for(0, folds_, one);
        else for (arma::uword f = 0; f < folds_; ++f) one(f);
        return column_r(predicted, Y);
    }

    static void write_ceiling(const arma::vec& ceiling, const std::string& path, ResultSink& out) {
        out.write(path + "/ceiling", {static_cast<int64_t>(ceiling.n_elem)}, std::vector<double>(ceiling.begin(), ceiling.end()));
        out.attribute(path, "ceiling", finite_median(ceiling.t()));
    }
};

const std::string kSchema = R"json({
  "type": "object", "additionalProperties": false, "required": ["targets"],
  "properties": {
    "sites": {"type": "array", "items": {"type": "string"}, "description": "sites or hook names (model:site to pick a model); all when absent"},
    "targets": {"type": "string", "pattern": "\\.(csv|tsv|npy)$", "format": "path",
                "description": "per-word targets: a table with a column word and one numeric column per target, or a .npy [words x targets] with its words in a .txt of the same name"},
    "ceiling": {"type": "string", "pattern": "\\.(csv|tsv|npy)$", "format": "path",
                "description": "a repeated measurement of the targets (same words and columns): each target's Spearman-Brown split-half ceiling, and score_normalized"},
    "folds": {"type": "integer", "minimum": 2, "maximum": 1000, "description": "k-fold cross-validation over words (default 5)"},
    "alphas": {"type": "array", "minItems": 1, "items": {"type": "number", "exclusiveMinimum": 0},
               "description": "ridge penalties, chosen per target by leave-one-out (default 0.01 ... 10000, powers of 10)"},
    "permutations": {"type": "integer", "minimum": 0, "maximum": 1000000, "description": "shuffles of the targets' rows across words (0: no p-value; default 1000)"},
    "seed": {"type": "integer", "minimum": 0, "description": "draws the folds, then the shuffles"},
    "correction": )json" + std::string(kCorrectionSchema) + R"json(
  }
})json";

}  // namespace

LAMINAR_PLUGIN(laminar::Metric, "metric", EncodingMetric, "encoding", "1.0.0", kSchema.c_str())
