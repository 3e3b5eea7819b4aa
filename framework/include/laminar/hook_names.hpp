// TransformerLens hook names ("blocks.5.attn.hook_q", "ln_final.hook_normalized", "logits"):
// building them and reading the layer back. Header-only.
#pragma once

#include <regex>
#include <string>
#include <vector>

namespace laminar {

/// Every hook `name(layer, site)` for the given layers and sites, layers outermost.
template <class Name>
std::vector<std::string> hook_names(const std::vector<int>& layers, const std::vector<std::string>& sites, Name name) {
    std::vector<std::string> out;
    for (int l : layers)
        for (const auto& s : sites) out.push_back(name(l, s));
    return out;
}

/// The layer of a hook name ("blocks.5.attn.hook_q" -> 5); -1 for hooks outside the blocks.
inline int hook_layer(const std::string& hook) {
    static const std::regex re(R"(^blocks\.(\d+)\..*)");
    std::smatch m;
    return std::regex_match(hook, m, re) ? std::stoi(m[1]) : -1;
}

/// The head of a per-head activation set ("blocks.5.attn.hook_q.head3" -> 3); -1 for others.
inline int hook_head(const std::string& name) {
    static const std::regex re(R"(.*\.head(\d+)$)");
    std::smatch m;
    return std::regex_match(name, m, re) ? std::stoi(m[1]) : -1;
}

/// The site of a hook name: "blocks.3.hook_mlp_out" -> "mlp_out", "ln_final.hook_normalized"
/// -> "ln_final", "logits" -> "logits".
inline std::string hook_site(const std::string& hook) {
    if (hook.rfind("ln_final.", 0) == 0) return "ln_final";
    const auto at = hook.rfind("hook_");
    return at == std::string::npos ? hook : hook.substr(at + 5);
}

}  // namespace laminar
