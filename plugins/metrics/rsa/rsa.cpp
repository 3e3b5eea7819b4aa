// The `rsa` metric: representational similarity analysis between two representational
// spaces (two sites of a model, e.g. q and k, or the same site in two models), or between a
// space and a hypothesis. Each space's RDM over the words is computed as rsatoolbox's calc_rdm
// does (`rdm:` euclidean, correlation, cosine, or with contexts kept crossnobis); the RDMs'
// strict upper triangles are compared with rsatoolbox's methods (`method:` corr, spearman,
// tau-a, rho-a, cosine, corr_cov, cosine_cov), overall and within each category, with a Mantel
// permutation p-value and a bootstrap confidence interval over words. Hypotheses are declared
// under `hypotheses:` and paired as `hypothesis:NAME`: the category model (0 within a
// category, 1 between, as rsatoolbox writes it) or an RDM from a file. With contexts kept,
// `noise_ceiling: true` gives each compared space the bounds of rsatoolbox's
// boot_noise_ceiling, its contexts as the subjects, and each pair the number those bounds
// bound: rsatoolbox's eval_fixed, the mean over the first space's contexts of the comparison
// of the other side's RDM with that context's own RDM (`r_subjects`).
#include <algorithm>
#include <filesystem>
#include <cmath>
#include <map>
#include <optional>

#include "hypothesis_file.hpp"
#include "laminar/correction.hpp"
#include "laminar/analysis/noise_ceiling.hpp"
#include "laminar/analysis/pairing.hpp"
#include "laminar/analysis/profile.hpp"
#include "laminar/analysis/rdm.hpp"
#include "laminar/analysis/rsa.hpp"
#include "laminar/hook_names.hpp"
#include "laminar/space.hpp"

namespace {

using namespace laminar;
using namespace laminar::analysis;

class RsaMetric : public Metric {
public:
    void configure(const Params& params) override {
        pairs_ = params.at("pairs").get<std::vector<std::vector<std::string>>>();
        method_ = params.value("method", std::string("corr"));
        if (method_ == "pearson") method_ = "corr";  // the same, by its scipy name
        rdm_ = params.value("rdm", std::string("cosine"));
        noise_ceiling_ = params.value("noise_ceiling", false);
        grid_ = params.value("grid", false);
        permutations_ = params.value("permutations", std::size_t{10000});
        bootstrap_ = params.value("bootstrap", std::size_t{1000});
        ci_ = params.value("ci", 0.95);
        seed_ = params.value("seed", std::uint64_t{0});
        correction_ = params.value("correction", std::string("holm"));
        relative_depth_ = params.value("align", std::string("index")) == "relative_depth";
        if (params.contains("hypotheses")) hypotheses_ = params["hypotheses"].get<std::map<std::string, std::string>>();
        for (const auto& [name, kind] : hypotheses_)
            if (kind != "category" && !std::filesystem::path(kind).is_absolute())
                throw SpecError("hypotheses." + name, "expected category or a .csv, .tsv or .npy file (got '" + kind + "')");
        for (std::size_t i = 0; i < pairs_.size(); ++i) {
            const std::string field = "pairs[" + std::to_string(i) + "]";
            auto& pair = pairs_[i];
            if (is_hypothesis(pair.at(0))) std::swap(pair.at(0), pair.at(1));  // the hypothesis is always side b
            if (is_hypothesis(pair.at(0))) throw SpecError(field, "compare a hypothesis with a recorded space, not another hypothesis");
            if (is_hypothesis(pair.at(1))) {
                const std::string name = parse_space(pair.at(1)).what;
                if (!hypotheses_.count(name))
                    throw SpecError(field, "no hypothesis '" + name + "': declare it under `hypotheses:` (e.g. {" + name + ": category})");
                continue;
            }
            if (parse_space(pair.at(0)).model.empty() != parse_space(pair.at(1)).model.empty())
                throw SpecError(field, "give a model (model:site) on both sides or on neither");
        }
    }

    std::vector<SpaceUse> spaces() const override {
        std::vector<SpaceUse> out;
        for (std::size_t i = 0; i < pairs_.size(); ++i)
            for (std::size_t j = 0; j < pairs_[i].size(); ++j)
                if (!is_hypothesis(pairs_[i][j]))
                    out.push_back({"pairs[" + std::to_string(i) + "][" + std::to_string(j) + "]", pairs_[i][j]});
        return out;
    }

    /// The design and the hypothesis files, read as run() reads them (validate and run, before extraction).
    void check(const std::vector<Stimulus>& rows, const std::vector<std::string>&) const override {
        const Conditions conditions = conditions_of(rows);
        check_design(conditions);
        for (const auto& [name, kind] : hypotheses_)
            if (kind != "category") (void)rsa::read_hypothesis_rdm(kind, conditions.words, "hypotheses." + name);
    }

    void run(const ActivationSource& in, ResultSink& out, const Team& team) override {
        const Conditions conditions = conditions_of(in.stimuli());
        check_design(conditions);
        const arma::uvec labels = condition_labels(conditions, in.categories());
        const auto names = in.categories();
        std::map<std::string, arma::mat> hypotheses;  // name -> RDM over the conditions
        for (const auto& [name, kind] : hypotheses_)
            hypotheses[name] = kind == "category"
                                   ? arma::mat(1.0 - arma::conv_to<arma::mat>::from(arma::repmat(labels, 1, labels.n_elem) ==
                                                                                    arma::repmat(labels.t(), labels.n_elem, 1)))
                                   : rsa::read_hypothesis_rdm(kind, conditions.words, "hypotheses." + name);
        // Within a category where a hypothesis is constant there is nothing to correlate with:
        // those comparisons are not computed (said once per hypothesis, not as NaN rows).
        std::map<std::string, std::vector<bool>> flat;  // hypothesis -> per category
        for (const auto& [name, rdm] : hypotheses) {
            std::string which;
            for (arma::uword c = 0; c < names.size(); ++c) {
                const arma::vec w = within_category(rdm, labels, c);
                flat[name].push_back(w.n_elem > 0 && w.max() == w.min());
                if (flat[name].back()) which += (which.empty() ? "" : ", ") + names[c];
            }
            if (std::count(flat[name].begin(), flat[name].end(), true) == static_cast<long>(names.size())) which = "every category";
            if (!which.empty() && hypotheses_.at(name) != "category")  // (the category model is so by definition)
                out.warn("hypotheses." + name + ": constant within " + which + ": within-category RSA against it is not "
                         "computed there (a constant has no order to correlate with)");
            if (conditions.words.size() <= kStoredHypothesisWords) write_hypothesis(out, name, rdm);
        }
        std::vector<std::string> left_out;
        const auto work = paired_spaces(in, pairs_, relative_depth_, left_out);
        for (const auto& message : left_out) out.warn(message);
        // Two families: the comparisons of whole spaces, and those within categories.
        CorrectedPValues<ResultSink> overall(correction_), within(correction_);
        RdmCache rdms;
        // The pairs (sites, layers) are shared out among the ranks, and each pair's permutations
        // and bootstrap samples among the ranks that have it.
        for_each_item(team, work.size(), out, {&overall, &within}, [&](std::size_t i, ResultSink& item_out, const Team& group) {
            const auto& [model_a, hook_a, model_b, hook_b] = work[i];
            const bool hypothesis = work[i].hypothesis();
            const arma::mat& A = space_rdm(in, model_a, hook_a, conditions, rdms, item_out);
            const arma::mat& B = hypothesis ? hypotheses.at(parse_space(hook_b).what)
                                            : space_rdm(in, model_b, hook_b, conditions, rdms, item_out);
            const std::string path = work[i].path();
            if (hypothesis) item_out.attribute(path, "hypothesis", parse_space(hook_b).what);  // the host describes the rest
            const std::vector<bool> skip = hypothesis ? flat.at(parse_space(hook_b).what) : std::vector<bool>(names.size(), false);
            compare_rdms(A, B, path, skip, labels, names, item_out, overall, within, group);
            if (noise_ceiling_) {
                const Timed timed(item_out, "noise ceiling");
                write_fit_to_subjects(in, model_a, hook_a, conditions, B, path, item_out);
            }
        });
        overall.write(out);
        within.write(out);
        if (grid_)  // r only: the aligned pairs carry the tests
            for (const auto& g : layer_grids(in, pairs_, out)) {
                const Timed timed(out, "grid");
                std::vector<arma::vec> columns;
                for (const auto& [layer, hook] : g.layers_b) columns.push_back(upper(space_rdm(in, g.model_b, hook, conditions, rdms, out)));
                const std::size_t n_rows = g.layers_a.size(), n_cols = columns.size();
                const arma::vec rows = gather_blocks(team, n_rows, [&](std::size_t first, std::size_t last) {
                    arma::vec v((last - first) * n_cols);
                    for (std::size_t r = first; r < last; ++r) {
                        const arma::vec row = upper(space_rdm(in, g.model_a, g.layers_a[r].second, conditions, rdms, out));
                        for (std::size_t k = 0; k < n_cols; ++k) v((r - first) * n_cols + k) = finite_compare(row, columns[k], method_);
                    }
                    return v;
                }, n_cols);
                const arma::mat values = arma::reshape(rows, n_cols, n_rows).t();
                write_grid(out, g, values);
                out.attribute(g.path, "method", method_);
                out.attribute(g.path, "rdm", rdm_);
            }
        out.progress(work.size(), work.size());
    }

private:
    void check_design(const Conditions& conditions) const {
        if (rdm_ == "crossnobis" && (conditions.folds < 2 || !conditions.balanced()))
            throw SpecError("rdm", "crossnobis cross-validates across contexts: it needs stimuli.contexts: keep and "
                                   "every word in each of at least 2 contexts");
        if (noise_ceiling_ && (conditions.folds < 2 || !conditions.balanced()))
            throw SpecError("noise_ceiling", "the noise ceiling takes the contexts as subjects: it needs "
                                             "stimuli.contexts: keep and every word in each of at least 2 contexts");
    }

    std::vector<std::vector<std::string>> pairs_;
    std::string method_, rdm_;
    bool noise_ceiling_ = false, grid_ = false;
    std::size_t permutations_ = 10000, bootstrap_ = 1000;
    double ci_ = 0.95;
    std::uint64_t seed_ = 0;
    std::string correction_;
    std::map<std::string, std::string> hypotheses_;  ///< name -> "category" or a file (resolved by the host)
    bool relative_depth_ = false;

    /// Hypothesis RDMs are stored up to this many words (8 MB each); the report draws them.
    static constexpr std::size_t kStoredHypothesisWords = 1000;

    using RdmCache = std::map<std::pair<std::string, std::string>, arma::mat>;  ///< (model, hook) -> RDM

    /// compare(), or NaN where either side holds NaN or infinite dissimilarities (activations that
    /// were not finite, or patterns of zero length): ranks and sorts cannot take them.
    static double finite_compare(const arma::vec& a, const arma::vec& b, const std::string& method) {
        return a.is_finite() && b.is_finite() ? compare(a, b, method) : arma::datum::nan;
    }

    /// The activations of a space as columns [dims x rows], with a warning for rows that are not finite.
    static arma::mat activations(const ActivationSource& in, const std::string& model, const std::string& hook, ResultSink& out) {
        const arma::mat Xt = as_columns(in.read(model, hook));
        std::size_t nonfinite = 0;
        for (arma::uword i = 0; i < Xt.n_cols; ++i) nonfinite += !Xt.col(i).is_finite();
        if (nonfinite)
            out.warn(model + "/" + hook + ": " + std::to_string(nonfinite) +
                     " stimulus vector(s) contain NaN or infinite values; everything computed from them is NaN");
        return Xt;
    }

    /// The RDM of a recorded space, computed once per analysis; its noise ceiling is written then
    /// (its contexts' RDMs are not kept: at 1,000 words, 20 of them per space weigh 80 MB).
    const arma::mat& space_rdm(const ActivationSource& in, const std::string& model, const std::string& hook,
                               const Conditions& c, RdmCache& cache, ResultSink& out) const {
        auto [it, fresh] = cache.emplace(std::make_pair(model, hook), arma::mat());
        if (!fresh) return it->second;
        std::optional<Timed> timed(std::in_place, out, "rdm");
        const arma::mat Xt = activations(in, model, hook, out);
        SpaceRdms rdms = space_rdms(Xt, c, rdm_, noise_ceiling_);
        timed.reset();
        it->second = std::move(rdms.rdm);
        if (it->second.has_nan() && Xt.is_finite() && rdm_ != "euclidean" && rdm_ != "crossnobis")
            out.warn(model + "/" + hook + ": some words' patterns have zero length" +
                     std::string(rdm_ == "correlation" ? " after centring" : "") + "; their dissimilarities are NaN");
        if (noise_ceiling_) {
            const Timed ceiling(out, "noise ceiling");
            write_noise_ceiling(rdms.contexts, model + "/" + hook, out);
        }
        return it->second;
    }

    /// The subjects of a space's noise ceiling: each context's own RDM (upper triangle), from that
    /// context's rows alone; for crossnobis its euclidean RDM (space_rdms: one pattern per word
    /// and context cannot be cross-validated).
    static std::vector<arma::vec> subjects(const std::vector<arma::mat>& contexts) {
        std::vector<arma::vec> out;
        for (const auto& D : contexts) out.push_back(upper(D));
        return out;
    }

    static bool all_finite(const std::vector<arma::vec>& subjects) {
        return std::all_of(subjects.begin(), subjects.end(), [](const arma::vec& v) { return v.is_finite(); });
    }

    /// What the subjects are: each context's RDM of the measure asked (crossnobis: euclidean).
    std::string subject_rdm() const { return rdm_ == "crossnobis" ? "euclidean" : rdm_; }

    /// The bounds of the noise ceiling (rsatoolbox's boot_noise_ceiling) over `subjects`, on `path`.
    void write_bounds(const std::vector<arma::vec>& subjects, const std::string& path, ResultSink& out) const {
        const auto [low, high] = all_finite(subjects) ? noise_ceiling(subjects, method_) : std::make_pair(arma::datum::nan, arma::datum::nan);
        out.attribute(path, "noise_ceiling_low", low);
        out.attribute(path, "noise_ceiling_high", high);
        out.attribute(path, "noise_ceiling_subjects", static_cast<int64_t>(subjects.size()));
        out.attribute(path, "noise_ceiling_rdm", subject_rdm());
    }

    /// Bounds of the noise ceiling of one space, its contexts as subjects.
    void write_noise_ceiling(const std::vector<arma::mat>& contexts, const std::string& path, ResultSink& out) const {
        write_bounds(subjects(contexts), path, out);
        out.attribute(path, "method", method_);
        out.attribute(path, "rdm", rdm_);
    }

    /// The number a noise ceiling bounds, as rsatoolbox's eval_fixed computes it: `r_subjects`,
    /// the mean over side a's contexts (the subjects) of the comparison of B (the other side's
    /// RDM over every context, or the hypothesis) with that context's own RDM. r compares B with
    /// a's RDM over all contexts, whose noise is averaged down: another scale than the ceiling's,
    /// which describes single contexts, and r can exceed it. The bounds of a's ceiling are
    /// written beside r_subjects. (The contexts' RDMs are computed again here: kept for every
    /// space they would weigh 80 MB each at 1,000 words and 20 contexts.)
    void write_fit_to_subjects(const ActivationSource& in, const std::string& model, const std::string& hook, const Conditions& c,
                               const arma::mat& B, const std::string& path, ResultSink& out) const {
        const std::vector<arma::vec> subs = subjects(space_rdms(as_columns(in.read(model, hook)), c, rdm_, true).contexts);
        const arma::vec b = upper(B);
        double sum = 0;
        for (const auto& s : subs) sum += finite_compare(s, b, method_);
        out.attribute(path, "r_subjects", sum / double(subs.size()));
        write_bounds(subs, path, out);
    }

    /// The hypothesis's RDM beside the results (`hypotheses/<name>`, rows and columns the words in
    /// their first appearance), for the report to draw next to the spaces' RDMs.
    static void write_hypothesis(ResultSink& out, const std::string& name, const arma::mat& rdm) {
        const std::string path = "hypotheses/" + name;
        const arma::mat row_major = rdm.t();
        out.write(path, {static_cast<int64_t>(rdm.n_rows), static_cast<int64_t>(rdm.n_cols)},
                  std::vector<double>(row_major.begin(), row_major.end()));
        out.attribute(path, "order", std::string("the words, in the order of their first stimulus"));
    }

    void compare_rdms(const arma::mat& A, const arma::mat& B, const std::string& path, const std::vector<bool>& skip,
                      const arma::uvec& labels, const std::vector<std::string>& names, ResultSink& out,
                      CorrectedPValues<ResultSink>& overall, CorrectedPValues<ResultSink>& within, const Team& group) const {
        const arma::vec a = upper(A), b = upper(B);
        const double r = finite_compare(a, b, method_);
        if (std::isnan(r)) out.warn(path + ": an RDM has no spread (or NaN entries): r is NaN");
        out.attribute(path, "r", r);
        out.attribute(path, "method", method_);
        out.attribute(path, "rdm", rdm_);
        out.attribute(path, "n_pairs", static_cast<int64_t>(a.n_elem));
        out.attribute(path, "n_words", static_cast<int64_t>(A.n_rows));  // the unit of the tests (contexts averaged)
        out.attribute(path, "permutations", static_cast<int64_t>(permutations_));
        out.attribute(path, "bootstrap", static_cast<int64_t>(bootstrap_));
        out.attribute(path, "seed", static_cast<int64_t>(seed_));
        for (arma::uword c = 0; c < names.size(); ++c) {
            if (skip[c]) continue;
            const arma::vec wa = within_category(A, labels, c), wb = within_category(B, labels, c);
            const std::string sub = path + "/categories/" + names[c];
            if (wa.n_elem < 2)
                out.warn(sub + ": " + std::to_string(wa.n_elem) + " within-category pair(s) (" + names[c] +
                         " needs at least 3 words for a correlation): r is NaN");
            const double rc = wa.n_elem >= 2 ? finite_compare(wa, wb, method_) : arma::datum::nan;
            if (wa.n_elem >= 2 && std::isnan(rc)) out.warn(sub + ": the dissimilarities within " + names[c] + " have no spread (or NaN entries): r is NaN");
            out.attribute(sub, "r", rc);
            out.attribute(sub, "n_pairs", static_cast<int64_t>(wa.n_elem));
            // Its own test: the category's words relabelled among themselves, resampled among themselves.
            const arma::uvec words = arma::find(labels == c);
            if (!std::isnan(rc))
                test_and_interval(A.submat(words, words), B.submat(words, words), rc, sub, seed_ + 2 + 2 * c, out, within, group, true);
        }
        if (!std::isnan(r)) test_and_interval(A, B, r, path, seed_, out, overall, group, false);
    }

    /// The Mantel p-value (seed) and the bootstrap interval (seed + 1) of the comparison r of A and
    /// B. Over fewer than kMinIntervalWords words the bootstrap overstates the spread: within a
    /// category no interval is given; over the whole design (rarely so small) it is, with a warning.
    void test_and_interval(const arma::mat& A, const arma::mat& B, double r, const std::string& path, std::uint64_t seed,
                           ResultSink& out, CorrectedPValues<ResultSink>& family, const Team& group, bool category) const {
        const std::string within = category ? " (within categories)" : "";
        if (permutations_ > 0) {  // every relabelling when there are no more than permutations_ (n! <= permutations_)
            const Timed timed(out, "mantel null" + within);
            const Relabellings relabelled = relabellings(A.n_rows, permutations_, seed);
            write_permutation_test(out, path, r, mantel_null(A, B, method_, relabelled.perms, group), family, relabelled.exact,
                                   mantel_observed(A, B, method_));
        }
        if (bootstrap_ == 0) return;
        if (A.n_rows < kMinIntervalWords) {
            const std::string why = std::to_string(A.n_rows) + " words, fewer than " + std::to_string(kMinIntervalWords) +
                                    ": resampling so few words with replacement overstates the spread of r (bootstrap SD "
                                    "1.2 to 1.5 times the true one in simulation)";
            if (category) {
                out.warn(path + ": no bootstrap interval: " + why);
                return;
            }
            out.warn(path + ": the bootstrap interval is too wide: " + why);
        }
        const Timed timed(out, "bootstrap" + within);
        write_interval(out, path, bootstrap(A, B, method_, bootstrap_, seed + 1, group), ci_);
    }
};

const std::string kSchema = R"json({
  "type": "object", "additionalProperties": false, "required": ["pairs"],
  "properties": {
    "pairs": )json" + std::string(kPairsSchema) + R"json(,
    "rdm": {"enum": ["cosine", "correlation", "euclidean", "crossnobis"],
            "description": "the RDM of each space over the words, as rsatoolbox's calc_rdm (default cosine: 1 - cosine; crossnobis needs contexts kept)"},
    "method": {"enum": ["corr", "pearson", "spearman", "tau-a", "rho-a", "cosine", "corr_cov", "cosine_cov"],
               "description": "how two RDMs are compared, as rsatoolbox's compare (default corr; pearson is corr)"},
    "grid": )json" + std::string(kGridSchema) + R"json(,
    "noise_ceiling": {"type": "boolean", "description": "with contexts kept: each space's noise ceiling, its contexts as subjects, and each pair's r_subjects, the number it bounds (rsatoolbox's eval_fixed)"},
    "permutations": {"type": "integer", "minimum": 0, "maximum": 1000000, "description": "Mantel permutations (0: no p-value)"},
    "bootstrap": {"type": "integer", "minimum": 0, "maximum": 1000000, "description": "bootstrap samples over words (0: no interval; none within a category of fewer than 10 words)"},
    "ci": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
    "seed": {"type": "integer", "minimum": 0},
    "align": )json" + std::string(kAlignSchema) + R"json(,
    "hypotheses": {"type": "object",
                   "additionalProperties": {"oneOf": [{"enum": ["category"]},
                                                      {"type": "string", "pattern": "\\.(csv|tsv|npy)$", "format": "path"}]},
                   "description": "NAME: category (0 within a category, 1 between) or an RDM file (.csv/.tsv with word labels, .npy with NAME.txt), paired as hypothesis:NAME"},
    "correction": )json" + std::string(kCorrectionSchema) + R"json(
  }
})json";

}  // namespace

LAMINAR_PLUGIN(laminar::Metric, "metric", RsaMetric, "rsa", "2.4.0", kSchema.c_str())
