#include "hooks.hpp"

#include <regex>

#include "laminar/types.hpp"

namespace laminar::gpt2 {

HookPlan HookPlan::parse(const std::vector<std::string>& hooks, int n_layer) {
    HookPlan plan;
    plan.layers.resize(n_layer);
    static const std::regex block(R"(blocks\.(\d+)\.(attn\.hook_q|attn\.hook_k|attn\.hook_v|attn\.hook_pattern|)"
                                  R"(hook_resid_pre|hook_resid_mid|hook_resid_post|hook_attn_out|hook_mlp_out))");
    for (const auto& h : hooks) {
        std::smatch m;
        if (h == "hook_embed") { plan.embed = true; continue; }
        if (h == "hook_pos_embed") { plan.pos_embed = true; continue; }
        if (h == "ln_final.hook_normalized") { plan.ln_final = true; plan.last_layer = n_layer - 1; continue; }
        if (h == "logits") { plan.logits = true; plan.last_layer = n_layer - 1; continue; }
        if (!std::regex_match(h, m, block))
            throw SpecError("", "gpt2 has no hook point '" + h + "' (known: hook_embed, hook_pos_embed, "
                                "blocks.L.attn.hook_q/k/v/pattern, blocks.L.hook_resid_pre/mid/post, "
                                "blocks.L.hook_attn_out/mlp_out, ln_final.hook_normalized, logits)");
        const int layer = std::stoi(m[1]);
        if (layer >= n_layer)
            throw SpecError("", "hook '" + h + "': the model has " + std::to_string(n_layer) + " layers (0-" +
                                    std::to_string(n_layer - 1) + ")");
        LayerHooks& l = plan.layers[layer];
        const std::string what = m[2];
        if (what == "attn.hook_q") l.q = true;
        else if (what == "attn.hook_k") l.k = true;
        else if (what == "attn.hook_v") l.v = true;
        else if (what == "attn.hook_pattern") l.pattern = true;
        else if (what == "hook_resid_pre") l.resid_pre = true;
        else if (what == "hook_resid_mid") l.resid_mid = true;
        else if (what == "hook_resid_post") l.resid_post = true;
        else if (what == "hook_attn_out") l.attn_out = true;
        else l.mlp_out = true;
        plan.last_layer = std::max(plan.last_layer, layer);
    }
    return plan;
}

}  // namespace laminar::gpt2
