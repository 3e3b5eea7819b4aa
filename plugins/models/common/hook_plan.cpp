#include "hook_plan.hpp"

#include <algorithm>
#include <regex>

#include "laminar/types.hpp"

namespace laminar::models {

std::vector<std::string> HookCatalog::names(int n_layer) const {
    std::vector<std::string> out(before);
    for (int l = 0; l < n_layer; ++l)
        for (const auto& site : block) out.push_back("blocks." + std::to_string(l) + "." + site);
    out.insert(out.end(), after.begin(), after.end());
    return out;
}

HookPlan HookPlan::parse(const std::vector<std::string>& hooks, const HookCatalog& catalog, int n_layer) {
    auto known = [&] {
        std::string list;
        for (const auto& h : catalog.before) list += h + ", ";
        list += "blocks.L.{";
        for (std::size_t i = 0; i < catalog.block.size(); ++i) list += (i ? ", " : "") + catalog.block[i];
        list += "}";
        for (const auto& h : catalog.after) list += ", " + h;
        return list;
    };
    auto listed = [](const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); };
    static const std::regex block(R"(blocks\.(\d+)\.(.+))");
    HookPlan plan;
    for (const auto& h : hooks) {
        if (listed(catalog.before, h)) { plan.other_.insert(h); continue; }
        if (listed(catalog.after, h)) { plan.other_.insert(h); plan.final_ = true; plan.last_layer_ = n_layer - 1; continue; }
        std::smatch m;
        if (!std::regex_match(h, m, block) || !listed(catalog.block, m[2]))
            throw SpecError("", catalog.family + " has no hook point '" + h + "' (known: " + known() + ")");
        const int layer = std::stoi(m[1]);
        if (layer >= n_layer)
            throw SpecError("", "hook '" + h + "': the model has " + std::to_string(n_layer) + " layers (0-" +
                                    std::to_string(n_layer - 1) + ")");
        plan.block_.insert({layer, m[2]});
        plan.last_layer_ = std::max(plan.last_layer_, layer);
    }
    return plan;
}

bool HookPlan::done(int layer, std::initializer_list<const char*> sites) const {
    if (final_ || layer < last_layer_) return false;
    return std::none_of(sites.begin(), sites.end(), [&](const char* s) { return wants(layer, s); });
}

}  // namespace laminar::models
