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
// boot_noise_ceiling, its contexts as the subjects.
#include <algorithm>
#include <array>
#include <filesystem>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "hypothesis_file.hpp"
#include "laminar/analysis/correction.hpp"
#include "laminar/analysis/noise_ceiling.hpp"
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

    void run(const ActivationSource& in, ResultSink& out) override {
        const Conditions conditions = conditions_of(in.stimuli());
        if (rdm_ == "crossnobis" && (conditions.folds < 2 || !conditions.balanced()))
            throw SpecError("rdm", "crossnobis cross-validates across contexts: it needs stimuli.contexts: keep and "
                                   "every word in each of at least 2 contexts");
        if (noise_ceiling_ && (conditions.folds < 2 || !conditions.balanced()))
            throw SpecError("noise_ceiling", "the noise ceiling takes the contexts as subjects: it needs "
                                             "stimuli.contexts: keep and every word in each of at least 2 contexts");
        const arma::uvec labels = condition_labels(conditions, in.categories());
        const auto names = in.categories();
        std::map<std::string, arma::mat> hypotheses;  // name -> RDM over the conditions
        for (const auto& [name, kind] : hypotheses_)
            hypotheses[name] = kind == "category"
                                   ? arma::mat(1.0 - arma::conv_to<arma::mat>::from(arma::repmat(labels, 1, labels.n_elem) ==
                                                                                    arma::repmat(labels.t(), labels.n_elem, 1)))
                                   : rsa::read_hypothesis_rdm(kind, conditions.words, "hypotheses." + name);
        std::vector<std::string> left_out;
        const auto work = compared_spaces(in, left_out);
        for (const auto& message : left_out) out.warn(message);
        // Two families: the comparisons of whole spaces, and those within categories.
        CorrectedPValues<ResultSink> overall(correction_), within(correction_);
        RdmCache rdms;
        for (std::size_t i = 0; i < work.size(); ++i) {
            out.progress(i, work.size());
            const auto& [model_a, hook_a, model_b, hook_b] = work[i];
            const std::string group = model_a == model_b || model_b.empty() ? model_a : model_a + "~" + model_b;
            const bool hypothesis = model_b.empty();
            const arma::mat& A = space_rdm(in, model_a, hook_a, conditions, rdms, out);
            const arma::mat& B = hypothesis ? hypotheses.at(parse_space(hook_b).what)
                                            : space_rdm(in, model_b, hook_b, conditions, rdms, out);
            const std::string path = group + "/" + hook_a + "~" + hook_b;
            if (hypothesis) out.attribute(path, "hypothesis", parse_space(hook_b).what);  // the host describes the rest
            // Within one category the category model is flat: nothing to compare there.
            const bool flat = hypothesis && hypotheses_.at(parse_space(hook_b).what) == "category";
            compare_rdms(A, B, path, flat, labels, names, out, overall, within);
        }
        overall.write(out);
        within.write(out);
        if (grid_) write_grids(in, conditions, rdms, out);
        out.progress(work.size(), work.size());
    }

private:
    std::vector<std::vector<std::string>> pairs_;
    std::string method_, rdm_;
    bool noise_ceiling_ = false, grid_ = false;
    std::size_t permutations_ = 10000, bootstrap_ = 1000;
    double ci_ = 0.95;
    std::uint64_t seed_ = 0;
    std::string correction_;
    std::map<std::string, std::string> hypotheses_;  ///< name -> "category" or a file (resolved by the host)
    bool relative_depth_ = false;

    /// Whether layer `la` of model a (of `na` layers) pairs with layer `lb` of model b: the same
    /// index, or with `align: relative_depth` each layer of the shallower model with the layer of
    /// the deeper one nearest its relative depth.
    bool aligned(int la, int na, int lb, int nb) const {
        if (!relative_depth_ || na == nb || la < 0 || lb < 0) return la == lb;
        auto nearest = [](int l, int from, int to) {
            return from > 1 ? static_cast<int>(std::lround(l * double(to - 1) / (from - 1))) : 0;
        };
        return na < nb ? nearest(la, na, nb) == lb : nearest(lb, nb, na) == la;
    }

    static bool is_hypothesis(const std::string& space) { return parse_space(space).model == "hypothesis"; }

    /// (model a, hook a, model b, hook b) of every comparison the pairs ask for; `left_out` says
    /// which sets found no partner (two models of different depth), never dropped silently.
    std::vector<std::array<std::string, 4>> compared_spaces(const ActivationSource& in,
                                                            std::vector<std::string>& left_out) const {
        std::vector<std::array<std::string, 4>> out;
        for (std::size_t i = 0; i < pairs_.size(); ++i) {
            const std::string field = "pairs[" + std::to_string(i) + "]";
            const Space a = parse_space(pairs_[i].at(0)), b = parse_space(pairs_[i].at(1));
            const std::vector<std::string> models = a.model.empty() ? in.models() : std::vector<std::string>{a.model};
            std::size_t found = 0;
            if (is_hypothesis(pairs_[i].at(1))) {  // every matching set against the hypothesis (model b left empty)
                for (const auto& model : models)
                    for (const auto& hook_a : matching(in, model, a.what, field)) {
                        out.push_back({model, hook_a, "", pairs_[i].at(1)});
                        ++found;
                    }
                if (!found) throw SpecError(field, "no recorded activations match this pair");
                continue;
            }
            for (const auto& model : models) {
                const std::string model_b = b.model.empty() ? model : b.model;
                const auto sets_a = matching(in, model, a.what, field), sets_b = matching(in, model_b, b.what, field);
                const bool named = is_hook(in, model, a.what) || is_hook(in, model_b, b.what);
                const int depth_a = in.n_layer(model), depth_b = in.n_layer(model_b);
                const auto heads_a = heads_per_stem(sets_a), heads_b = heads_per_stem(sets_b);
                std::set<std::string> paired_a, paired_b;
                for (const auto& hook_a : sets_a)
                    for (const auto& hook_b : sets_b) {
                        // Sites pair up layer by layer, and per-head sets head by head.
                        if (!named && (!aligned(hook_layer(hook_a), depth_a, hook_layer(hook_b), depth_b) ||
                                       !same_head(hook_a, heads_a, hook_b, heads_b)))
                            continue;
                        out.push_back({model, hook_a, model_b, hook_b});
                        paired_a.insert(hook_a);
                        paired_b.insert(hook_b);
                        ++found;
                    }
                for (const auto& [sets, paired, owner, other] :
                     {std::tuple{&sets_a, &paired_a, model, model_b}, std::tuple{&sets_b, &paired_b, model_b, model}}) {
                    std::string unpaired;
                    std::size_t n = 0;
                    for (const auto& h : *sets)
                        if (!paired->count(h)) unpaired += (n++ ? ", " : "") + h;
                    if (n)
                        left_out.push_back(field + ": " + std::to_string(n) + " of model '" + owner + "''s " +
                                           std::to_string(sets->size()) + " sets have no partner at the same layer in '" +
                                           other + "' and are left out (name hooks to pair other layers" +
                                           (relative_depth_ ? "" : ", or align: relative_depth") + "): " + unpaired);
                }
            }
            if (!found) throw SpecError(field, "no recorded activations match this pair");
        }
        return out;
    }

    /// "blocks.5.attn.hook_q.head3" -> "blocks.5.attn.hook_q".
    static std::string stem(const std::string& set) { return set.substr(0, set.rfind(".head")); }

    /// How many per-head sets each hook has among `sets` (all the heads of a site's hook are
    /// there when the sets were picked by site, the only case in which heads are paired).
    static std::map<std::string, int> heads_per_stem(const std::vector<std::string>& sets) {
        std::map<std::string, int> heads;
        for (const auto& s : sets)
            if (hook_head(s) >= 0) ++heads[stem(s)];
        return heads;
    }

    /// Whether two sets are of one head: the same head, or with grouped-query attention the
    /// query head and the key/value head it attends with. A set of a whole layer pairs with any.
    static bool same_head(const std::string& a, const std::map<std::string, int>& heads_a, const std::string& b,
                          const std::map<std::string, int>& heads_b) {
        const int ha = hook_head(a), hb = hook_head(b);
        if (ha < 0 || hb < 0) return true;
        const int na = heads_a.at(stem(a)), nb = heads_b.at(stem(b));
        if (na == nb) return ha == hb;
        return na > nb ? ha / (na / nb) == hb : hb / (nb / na) == ha;
    }

    static bool is_hook(const ActivationSource& in, const std::string& model, const std::string& what) {
        for (const auto& h : in.hooks(model))
            if (h == what) return true;
        return false;
    }

    static std::vector<std::string> matching(const ActivationSource& in, const std::string& model,
                                             const std::string& what, const std::string& field) {
        const auto models = in.models();
        if (std::find(models.begin(), models.end(), model) == models.end())
            throw SpecError(field, "no model '" + model + "' in the run file");
        return hooks_for_sites(in, model, {what});
    }

    using RdmCache = std::map<std::pair<std::string, std::string>, arma::mat>;  ///< (model, hook) -> RDM

    /// Category index of each condition, in the experiment's category order.
    static arma::uvec condition_labels(const Conditions& c, const std::vector<std::string>& names) {
        arma::uvec labels(c.n);
        for (arma::uword i = 0; i < c.n; ++i)
            labels(i) = static_cast<arma::uword>(std::find(names.begin(), names.end(), c.categories[i]) - names.begin());
        return labels;
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
        const arma::mat Xt = activations(in, model, hook, out);
        SpaceRdms rdms = space_rdms(Xt, c, rdm_, noise_ceiling_);
        it->second = std::move(rdms.rdm);
        if (it->second.has_nan() && Xt.is_finite() && rdm_ != "euclidean" && rdm_ != "crossnobis")
            out.warn(model + "/" + hook + ": some words' patterns have zero length" +
                     std::string(rdm_ == "correlation" ? " after centring" : "") + "; their dissimilarities are NaN");
        if (noise_ceiling_) write_noise_ceiling(rdms.contexts, model + "/" + hook, out);
        return it->second;
    }

    /// With `grid: true`: for each pair of sites, every layer of A against every layer of B
    /// (whole-layer sets), as dataset `grid` [layers of A x layers of B] under
    /// <model a>[~<model b>]/<site a>[~<site b>], its layers in `grid_rows` and `grid_columns`.
    void write_grids(const ActivationSource& in, const Conditions& c, RdmCache& rdms, ResultSink& out) const {
        for (std::size_t i = 0; i < pairs_.size(); ++i) {
            if (is_hypothesis(pairs_[i].at(1))) continue;
            const std::string field = "pairs[" + std::to_string(i) + "]";
            const Space a = parse_space(pairs_[i].at(0)), b = parse_space(pairs_[i].at(1));
            for (const auto& model_a : a.model.empty() ? in.models() : std::vector<std::string>{a.model}) {
                const std::string model_b = b.model.empty() ? model_a : b.model;
                if (is_hook(in, model_a, a.what) || is_hook(in, model_b, b.what)) continue;  // one layer: no grid
                const auto layers_a = whole_layers(in, model_a, a.what, field), layers_b = whole_layers(in, model_b, b.what, field);
                if (layers_a.empty() || layers_b.empty()) {
                    out.warn(field + ": grid: no whole-layer sets of " + a.what + " or " + b.what + " (per-head sets are not gridded)");
                    continue;
                }
                const std::string path = (model_a == model_b ? model_a : model_a + "~" + model_b) + "/" +
                                         (a.what == b.what ? a.what : a.what + "~" + b.what);
                arma::mat grid(layers_a.size(), layers_b.size());
                std::vector<arma::vec> columns;
                for (const auto& [layer, hook] : layers_b) columns.push_back(upper(space_rdm(in, model_b, hook, c, rdms, out)));
                for (std::size_t r = 0; r < layers_a.size(); ++r) {
                    const arma::vec row = upper(space_rdm(in, model_a, layers_a[r].second, c, rdms, out));
                    for (std::size_t k = 0; k < layers_b.size(); ++k) grid(r, k) = compare(row, columns[k], method_);
                }
                const arma::mat row_major = grid.t();
                out.write(path + "/grid", {static_cast<int64_t>(grid.n_rows), static_cast<int64_t>(grid.n_cols)},
                          std::vector<double>(row_major.begin(), row_major.end()));
                std::vector<int64_t> la, lb;
                for (const auto& l : layers_a) la.push_back(l.first);
                for (const auto& l : layers_b) lb.push_back(l.first);
                out.axis_values(path + "/grid", 0, la);
                out.axis_values(path + "/grid", 1, lb);
                out.attribute(path, "model_a", model_a);
                out.attribute(path, "model_b", model_b);
                out.attribute(path, "site_a", a.what);
                out.attribute(path, "site_b", b.what);
                out.attribute(path, "method", method_);
                out.attribute(path, "rdm", rdm_);
            }
        }
    }

    /// (layer, hook) of the whole-layer sets of a site, by layer.
    static std::vector<std::pair<int, std::string>> whole_layers(const ActivationSource& in, const std::string& model,
                                                                 const std::string& site, const std::string& field) {
        std::vector<std::pair<int, std::string>> out;
        for (const auto& hook : matching(in, model, site, field))
            if (hook_head(hook) < 0 && hook_layer(hook) >= 0) out.emplace_back(hook_layer(hook), hook);
        std::sort(out.begin(), out.end());
        return out;
    }

    /// Bounds of the noise ceiling of one space, its contexts as subjects.
    void write_noise_ceiling(const std::vector<arma::mat>& contexts, const std::string& path, ResultSink& out) const {
        std::vector<arma::vec> subjects;
        for (const auto& D : contexts) subjects.push_back(upper(D));
        const auto [low, high] = noise_ceiling(subjects, method_);
        out.attribute(path, "noise_ceiling_low", low);
        out.attribute(path, "noise_ceiling_high", high);
        out.attribute(path, "noise_ceiling_subjects", static_cast<int64_t>(subjects.size()));
        out.attribute(path, "method", method_);
        out.attribute(path, "rdm", rdm_);
    }

    void compare_rdms(const arma::mat& A, const arma::mat& B, const std::string& path, bool flat,
                      const arma::uvec& labels, const std::vector<std::string>& names, ResultSink& out,
                      CorrectedPValues<ResultSink>& overall, CorrectedPValues<ResultSink>& within) const {
        const arma::vec a = upper(A), b = upper(B);
        const double r = compare(a, b, method_);
        if (std::isnan(r)) out.warn(path + ": an RDM has no spread (or NaN entries): r is NaN");
        out.attribute(path, "r", r);
        out.attribute(path, "method", method_);
        out.attribute(path, "rdm", rdm_);
        out.attribute(path, "n_pairs", static_cast<int64_t>(a.n_elem));
        out.attribute(path, "permutations", static_cast<int64_t>(permutations_));
        out.attribute(path, "bootstrap", static_cast<int64_t>(bootstrap_));
        out.attribute(path, "seed", static_cast<int64_t>(seed_));
        for (arma::uword c = 0; c < names.size() && !flat; ++c) {
            const arma::vec wa = within_category(A, labels, c), wb = within_category(B, labels, c);
            const std::string sub = path + "/categories/" + names[c];
            if (wa.n_elem < 2)
                out.warn(sub + ": " + std::to_string(wa.n_elem) + " within-category pair(s) (" + names[c] +
                         " needs at least 3 words for a correlation): r is NaN");
            const double rc = wa.n_elem >= 2 ? compare(wa, wb, method_) : arma::datum::nan;
            out.attribute(sub, "r", rc);
            out.attribute(sub, "n_pairs", static_cast<int64_t>(wa.n_elem));
            // Its own test: the category's words relabelled among themselves, resampled among themselves.
            const arma::uvec words = arma::find(labels == c);
            if (!std::isnan(rc))
                test_and_interval(A.submat(words, words), B.submat(words, words), rc, sub, seed_ + 2 + 2 * c, out, within);
        }
        if (!std::isnan(r)) test_and_interval(A, B, r, path, seed_, out, overall);
    }

    /// The Mantel p-value (seed) and the bootstrap interval (seed + 1) of the comparison r of A and B.
    void test_and_interval(const arma::mat& A, const arma::mat& B, double r, const std::string& path, std::uint64_t seed,
                           ResultSink& out, CorrectedPValues<ResultSink>& family) const {
        if (permutations_ > 0) {
            const arma::vec null = mantel_null(A, B, method_, permutations_, seed);
            const double p = (1.0 + arma::accu(null >= r)) / (1.0 + null.n_elem);
            out.attribute(path, "p_value", p);
            out.attribute(path, "null_mean", arma::mean(null));
            out.attribute(path, "null_sd", arma::stddev(null));
            family.add(path, p);
        }
        if (bootstrap_ > 0) {
            const arma::vec boot = bootstrap(A, B, method_, bootstrap_, seed + 1);
            const arma::vec finite = boot.elem(arma::find_finite(boot));
            if (finite.is_empty()) return;  // too few words for any resample to have spread
            out.attribute(path, "ci_low", analysis::quantile(finite, (1 - ci_) / 2));
            out.attribute(path, "ci_high", analysis::quantile(finite, 1 - (1 - ci_) / 2));
            out.attribute(path, "ci_level", ci_);
        }
    }
};

const std::string kSchema = R"json({
  "type": "object", "additionalProperties": false, "required": ["pairs"],
  "properties": {
    "pairs": {"type": "array", "minItems": 1,
              "items": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "string"}},
              "description": "pairs of spaces: a site (q), a hook name, or model:site to compare two models"},
    "rdm": {"enum": ["cosine", "correlation", "euclidean", "crossnobis"],
            "description": "the RDM of each space over the words, as rsatoolbox's calc_rdm (default cosine: 1 - cosine; crossnobis needs contexts kept)"},
    "method": {"enum": ["corr", "pearson", "spearman", "tau-a", "rho-a", "cosine", "corr_cov", "cosine_cov"],
               "description": "how two RDMs are compared, as rsatoolbox's compare (default corr; pearson is corr)"},
    "grid": {"type": "boolean", "description": "also every layer of one side against every layer of the other (dataset grid per pair of models and sites)"},
    "noise_ceiling": {"type": "boolean", "description": "with contexts kept: each space's noise ceiling, its contexts as subjects"},
    "permutations": {"type": "integer", "minimum": 0, "description": "Mantel permutations (0: no p-value)"},
    "bootstrap": {"type": "integer", "minimum": 0, "description": "bootstrap samples over stimuli (0: no interval)"},
    "ci": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
    "seed": {"type": "integer", "minimum": 0},
    "align": {"enum": ["index", "relative_depth"],
              "description": "across models of different depth: layers of the same index, or each layer of the shallower model with the deeper one's at the nearest relative depth"},
    "hypotheses": {"type": "object",
                   "additionalProperties": {"oneOf": [{"enum": ["category"]},
                                                      {"type": "string", "pattern": "\\.(csv|tsv|npy)$", "format": "path"}]},
                   "description": "NAME: category (0 within a category, 1 between) or an RDM file (.csv/.tsv with word labels, .npy with NAME.txt), paired as hypothesis:NAME"},
    "correction": )json" + std::string(kCorrectionSchema) + R"json(
  }
})json";

}  // namespace

LAMINAR_PLUGIN(laminar::Metric, "metric", RsaMetric, "rsa", "2.0.0", kSchema.c_str())
