// Which spaces a comparison metric (rsa, cka) compares, from its `pairs:` option: sites pair
// layer by layer (or by relative depth across models of different depth) and per-head sets
// head by head; a named hook pairs with every set of the other side; `hypothesis:NAME` on side b
// pairs every set of side a with it. Sets left without a partner are said, never dropped
// silently; a set is not compared with itself (`[resid_post, resid_post]` with `grid: true`
// asks for the layer x layer grid only). Also the layer x layer grids. Header-only.
#pragma once

#include <algorithm>
#include <armadillo>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "laminar/analysis/matrices.hpp"
#include "laminar/hook_names.hpp"

namespace laminar::analysis {

struct SpacePair {
    std::string model_a, hook_a;
    std::string model_b, hook_b;  ///< model_b empty: hook_b is a hypothesis ("hypothesis:NAME")

    bool hypothesis() const { return model_b.empty(); }
    /// The result group: "<model>/<hook a>~<hook b>", "<model a>~<model b>/..." across models.
    std::string path() const {
        return (model_a == model_b || model_b.empty() ? model_a : model_a + "~" + model_b) + "/" + hook_a + "~" + hook_b;
    }
};

inline bool is_hypothesis(const std::string& space) { return parse_space(space).model == "hypothesis"; }

/// Whether layer `la` of a model of `na` layers pairs with layer `lb` of one of `nb`: the same
/// index, or with `relative_depth` each layer of the shallower model with the layer of the
/// deeper one nearest its relative depth.
inline bool aligned(int la, int na, int lb, int nb, bool relative_depth) {
    if (!relative_depth || na == nb || la < 0 || lb < 0) return la == lb;
    auto nearest = [](int l, int from, int to) {
        return from > 1 ? static_cast<int>(std::lround(l * double(to - 1) / (from - 1))) : 0;
    };
    return na < nb ? nearest(la, na, nb) == lb : nearest(lb, nb, na) == la;
}

/// "blocks.5.attn.hook_q.head3" -> "blocks.5.attn.hook_q".
inline std::string head_stem(const std::string& set) { return set.substr(0, set.rfind(".head")); }

/// How many per-head sets each hook has among `sets` (all the heads of a site's hook are there
/// when the sets were picked by site, the only case in which heads are paired).
inline std::map<std::string, int> heads_per_stem(const std::vector<std::string>& sets) {
    std::map<std::string, int> heads;
    for (const auto& s : sets)
        if (hook_head(s) >= 0) ++heads[head_stem(s)];
    return heads;
}

/// Whether two sets are of one head: the same head, or with grouped-query attention the query
/// head and the key/value head it attends with. A set of a whole layer pairs with any.
inline bool same_head(const std::string& a, const std::map<std::string, int>& heads_a, const std::string& b,
                      const std::map<std::string, int>& heads_b) {
    const int ha = hook_head(a), hb = hook_head(b);
    if (ha < 0 || hb < 0) return true;
    const int na = heads_a.at(head_stem(a)), nb = heads_b.at(head_stem(b));
    if (na == nb) return ha == hb;
    return na > nb ? ha / (na / nb) == hb : hb / (nb / na) == ha;
}

inline bool is_recorded_hook(const ActivationSource& in, const std::string& model, const std::string& what) {
    const auto hooks = in.hooks(model);
    return std::find(hooks.begin(), hooks.end(), what) != hooks.end();
}

/// The sets of `model` that `what` (a site or a hook) picks; an error naming `field` when the
/// model is not in the run file.
inline std::vector<std::string> matching_sets(const ActivationSource& in, const std::string& model,
                                              const std::string& what, const std::string& field) {
    const auto models = in.models();
    if (std::find(models.begin(), models.end(), model) == models.end())
        throw SpecError(field, "no model '" + model + "' in the run file");
    return hooks_for_sites(in, model, {what});
}

/// Every comparison `pairs` ask for; `left_out` says which sets found no partner.
inline std::vector<SpacePair> paired_spaces(const ActivationSource& in, const std::vector<std::vector<std::string>>& pairs,
                                            bool relative_depth, std::vector<std::string>& left_out) {
    std::vector<SpacePair> out;
    for (std::size_t i = 0; i < pairs.size(); ++i) {
        const std::string field = "pairs[" + std::to_string(i) + "]";
        const Space a = parse_space(pairs[i].at(0)), b = parse_space(pairs[i].at(1));
        const std::vector<std::string> models = a.model.empty() ? in.models() : std::vector<std::string>{a.model};
        const std::size_t before = out.size();
        std::size_t identical = 0;
        for (const auto& model : models) {
            if (is_hypothesis(pairs[i].at(1))) {  // every matching set against the hypothesis
                for (const auto& hook_a : matching_sets(in, model, a.what, field)) out.push_back({model, hook_a, "", pairs[i].at(1)});
                continue;
            }
            const std::string model_b = b.model.empty() ? model : b.model;
            const auto sets_a = matching_sets(in, model, a.what, field), sets_b = matching_sets(in, model_b, b.what, field);
            const bool named = is_recorded_hook(in, model, a.what) || is_recorded_hook(in, model_b, b.what);
            const int depth_a = in.n_layer(model), depth_b = in.n_layer(model_b);
            const auto heads_a = heads_per_stem(sets_a), heads_b = heads_per_stem(sets_b);
            std::set<std::string> paired_a, paired_b;
            for (const auto& hook_a : sets_a)
                for (const auto& hook_b : sets_b) {
                    // Sites pair up layer by layer, and per-head sets head by head.
                    if (!named && (!aligned(hook_layer(hook_a), depth_a, hook_layer(hook_b), depth_b, relative_depth) ||
                                   !same_head(hook_a, heads_a, hook_b, heads_b)))
                        continue;
                    paired_a.insert(hook_a);
                    paired_b.insert(hook_b);
                    if (model == model_b && hook_a == hook_b) {  // a space with itself: 1, nothing to learn
                        ++identical;                             // (a grid's diagonal has it)
                        continue;
                    }
                    out.push_back({model, hook_a, model_b, hook_b});
                }
            for (const auto& [sets, paired, owner, other] :
                 {std::tuple{&sets_a, &paired_a, model, model_b}, std::tuple{&sets_b, &paired_b, model_b, model}}) {
                std::string unpaired;
                std::size_t n = 0;
                for (const auto& h : *sets)
                    if (!paired->count(h)) unpaired += (n++ ? ", " : "") + h;
                if (n)
                    left_out.push_back(field + ": " + std::to_string(n) + " of the " + std::to_string(sets->size()) +
                                       " sets of model '" + owner + "' have no partner at the same layer in '" +
                                       other + "' and are left out (name hooks to pair other layers" +
                                       (relative_depth ? "" : ", or align: relative_depth") + "): " + unpaired);
            }
        }
        if (out.size() == before && identical == 0) throw SpecError(field, "no recorded activations match this pair");
    }
    return out;
}

/// A layer x layer grid of `grid: true`: every whole-layer set of site a in model a against
/// every one of site b in model b.
struct LayerGrid {
    std::string path;  ///< "<model a>[~<model b>]/<site a>[~<site b>]"
    std::string model_a, model_b, site_a, site_b;
    std::vector<std::pair<int, std::string>> layers_a, layers_b;  ///< (layer, set), by layer
};

/// The grids `pairs` ask for (pairs of sites; a named hook is one layer, a hypothesis none).
inline std::vector<LayerGrid> layer_grids(const ActivationSource& in, const std::vector<std::vector<std::string>>& pairs,
                                          ResultSink& out) {
    auto whole_layers = [&](const std::string& model, const std::string& site, const std::string& field) {
        std::vector<std::pair<int, std::string>> sets;
        for (const auto& hook : matching_sets(in, model, site, field))
            if (hook_head(hook) < 0 && hook_layer(hook) >= 0) sets.emplace_back(hook_layer(hook), hook);
        std::sort(sets.begin(), sets.end());
        return sets;
    };
    std::vector<LayerGrid> grids;
    for (std::size_t i = 0; i < pairs.size(); ++i) {
        if (is_hypothesis(pairs[i].at(1))) continue;
        const std::string field = "pairs[" + std::to_string(i) + "]";
        const Space a = parse_space(pairs[i].at(0)), b = parse_space(pairs[i].at(1));
        for (const auto& model_a : a.model.empty() ? in.models() : std::vector<std::string>{a.model}) {
            const std::string model_b = b.model.empty() ? model_a : b.model;
            if (is_recorded_hook(in, model_a, a.what) || is_recorded_hook(in, model_b, b.what)) continue;
            LayerGrid g{(model_a == model_b ? model_a : model_a + "~" + model_b) + "/" + (a.what == b.what ? a.what : a.what + "~" + b.what),
                        model_a, model_b, a.what, b.what, whole_layers(model_a, a.what, field), whole_layers(model_b, b.what, field)};
            if (g.layers_a.empty() || g.layers_b.empty())
                out.warn(field + ": grid: no whole-layer sets of " + a.what + " or " + b.what + " (per-head sets are not gridded)");
            else
                grids.push_back(std::move(g));
        }
    }
    return grids;
}

/// Writes a grid's values as dataset `grid` [layers a x layers b], its layers as the axes' labels,
/// and what it compares as the group's attributes.
inline void write_grid(ResultSink& out, const LayerGrid& g, const arma::mat& values) {
    const arma::mat row_major = values.t();
    out.write(g.path + "/grid", {static_cast<int64_t>(values.n_rows), static_cast<int64_t>(values.n_cols)},
              std::vector<double>(row_major.begin(), row_major.end()));
    std::vector<int64_t> la, lb;
    for (const auto& l : g.layers_a) la.push_back(l.first);
    for (const auto& l : g.layers_b) lb.push_back(l.first);
    out.axis_values(g.path + "/grid", 0, la);
    out.axis_values(g.path + "/grid", 1, lb);
    out.attribute(g.path, "model_a", g.model_a);
    out.attribute(g.path, "model_b", g.model_b);
    out.attribute(g.path, "site_a", g.site_a);
    out.attribute(g.path, "site_b", g.site_b);
}

/// JSON Schema fragments of the options every comparison metric takes.
inline constexpr const char* kPairsSchema = R"json({"type": "array", "minItems": 1,
    "items": {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "string"}},
    "description": "pairs of spaces: a site (q), a hook name, or model:site to compare two models"})json";
inline constexpr const char* kAlignSchema = R"json({"enum": ["index", "relative_depth"],
    "description": "across models of different depth: layers of the same index, or each layer of the shallower model with the deeper one's at the nearest relative depth"})json";
inline constexpr const char* kGridSchema = R"json({"type": "boolean",
    "description": "also every layer of one side against every layer of the other (dataset grid per pair of models and sites)"})json";

}  // namespace laminar::analysis
