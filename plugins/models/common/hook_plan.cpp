#include "hook_plan.hpp"

#include <algorithm>
#include <regex>
#include <stdexcept>

#include "laminar/types.hpp"

namespace laminar::models {

namespace {

/// Index of `name` in `list`, or list.size().
std::size_t index_of(const std::vector<std::string>& list, std::string_view name) {
    return static_cast<std::size_t>(std::find(list.begin(), list.end(), name) - list.begin());
}

[[noreturn]] void undeclared(const HookCatalog& catalog, std::string_view name) {
    throw std::logic_error(catalog.family + "'s forward pass names hook point '" + std::string(name) +
                           "', which its catalog does not declare");
}

}  // namespace

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
    static const std::regex block(R"(blocks\.(\d+)\.(.+))");
    HookPlan plan;
    plan.catalog_ = &catalog;
    plan.block_.assign(std::max(n_layer, 0), std::vector<bool>(catalog.block.size(), false));
    plan.before_.assign(catalog.before.size(), false);
    plan.after_.assign(catalog.after.size(), false);
    for (const auto& h : hooks) {
        if (const auto i = index_of(catalog.before, h); i < catalog.before.size()) { plan.before_[i] = true; continue; }
        if (const auto i = index_of(catalog.after, h); i < catalog.after.size()) {
            plan.after_[i] = true;
            plan.final_ = true;
            plan.last_layer_ = n_layer - 1;
            continue;
        }
        std::smatch m;
        const auto site = std::regex_match(h, m, block) ? index_of(catalog.block, m[2].str()) : catalog.block.size();
        if (site == catalog.block.size())
            throw SpecError("", catalog.family + " has no hook point '" + h + "' (known: " + known() + ")");
        const int layer = std::stoi(m[1]);
        if (layer >= n_layer)
            throw SpecError("", "hook '" + h + "': the model has " + std::to_string(n_layer) + " layers (0-" +
                                    std::to_string(n_layer - 1) + ")");
        plan.block_[layer][site] = true;
        plan.last_layer_ = std::max(plan.last_layer_, layer);
    }
    return plan;
}

std::size_t HookPlan::block_index(std::string_view site) const {
    const auto i = index_of(catalog_->block, site);
    if (i == catalog_->block.size()) undeclared(*catalog_, site);
    return i;
}

bool HookPlan::wants(int layer, std::string_view site) const { return block_.at(layer)[block_index(site)]; }

bool HookPlan::wants(std::string_view hook) const {
    if (const auto i = index_of(catalog_->before, hook); i < before_.size()) return before_[i];
    if (const auto i = index_of(catalog_->after, hook); i < after_.size()) return after_[i];
    undeclared(*catalog_, hook);
}

bool HookPlan::done_after(int layer, std::string_view site) const {
    const auto from = block_index(site) + 1;
    if (final_ || layer < last_layer_) return false;
    const auto& wanted = block_.at(layer);
    return std::none_of(wanted.begin() + static_cast<std::ptrdiff_t>(from), wanted.end(), [](bool w) { return w; });
}

}  // namespace laminar::models
