// Which TransformerLens hook points a forward pass must materialise, parsed once.
#pragma once

#include <string>
#include <vector>

namespace laminar::gpt2 {

struct LayerHooks {
    bool q = false, k = false, v = false, pattern = false;
    bool resid_pre = false, resid_mid = false, resid_post = false, attn_out = false, mlp_out = false;
};

struct HookPlan {
    std::vector<LayerHooks> layers;  ///< one per layer of the model
    bool embed = false, pos_embed = false, ln_final = false, logits = false;
    int last_layer = -1;             ///< the forward pass stops after this block (early exit)

    /// Throws laminar::SpecError naming the first unknown hook and listing the known forms.
    static HookPlan parse(const std::vector<std::string>& hooks, int n_layer);
};

}  // namespace laminar::gpt2
