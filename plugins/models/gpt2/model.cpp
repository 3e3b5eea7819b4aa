#include "model.hpp"

#include <cmath>
#include <stdexcept>

namespace laminar::gpt2 {

using models::conv1d;

Model::Model(const std::filesystem::path& dir)
    : config_(Config::load(dir)), weights_(dir, {"transformer."}),
      blocks_(weights_, config_.n_layer, [this](const models::WeightReader& r, int l) { return load_block(r, l); }) {
    const int64_t d = config_.d_model;
    wte_ = weights_.get_raw("wte.weight", {config_.vocab_size, d});
    wpe_ = weights_.get("wpe.weight", {config_.max_positions, d});
    ln_f_w_ = weights_.get("ln_f.weight", {d});
    ln_f_b_ = weights_.get("ln_f.bias", {d});
    blocks_.check((dir / "config.json").string() + ": n_layer");
}

BlockWeights Model::load_block(const models::WeightReader& r, int l) const {
    const int64_t d = config_.d_model, inner = config_.d_mlp;
    // h.N.attn.bias / h.N.attn.masked_bias (causal-mask buffers in older files) are ignored.
    const std::string p = "h." + std::to_string(l) + ".";
    return {r.get(p + "ln_1.weight", {d}), r.get(p + "ln_1.bias", {d}),
            r.matrix(p + "attn.c_attn.weight", {d, 3 * d}), r.get(p + "attn.c_attn.bias", {3 * d}),
            r.matrix(p + "attn.c_proj.weight", {d, d}), r.get(p + "attn.c_proj.bias", {d}),
            r.get(p + "ln_2.weight", {d}), r.get(p + "ln_2.bias", {d}),
            r.matrix(p + "mlp.c_fc.weight", {d, inner}), r.get(p + "mlp.c_fc.bias", {inner}),
            r.matrix(p + "mlp.c_proj.weight", {inner, d}), r.get(p + "mlp.c_proj.bias", {d})};
}

const models::HookCatalog& Model::catalog() const {
    static const models::HookCatalog hooks{
        "gpt2",
        {"hook_resid_pre", "attn.hook_q", "attn.hook_k", "attn.hook_v", "attn.hook_pattern", "hook_attn_out",
         "hook_resid_mid", "hook_mlp_out", "hook_resid_post"},
        {"hook_embed", "hook_pos_embed"},
        {"ln_final.hook_normalized", "logits"}};
    return hooks;
}

void Model::forward(const torch::Tensor& ids, const models::Hooks& hooks, const models::PassContext& context) const {
    torch::InferenceMode guard;
    const int64_t B = ids.size(0), T = ids.size(1);
    const int64_t d = config_.d_model, H = config_.n_head, dh = config_.d_head;
    const double eps = config_.layer_norm_epsilon;

    // Embeddings: token + position.
    const torch::Tensor tok = models::embed(wte_, ids);                        // [B, T, d]
    const int64_t first = context.offset();                                       // after a cached prefix
    const torch::Tensor pos = wpe_.slice(0, first, first + T).unsqueeze(0);       // [1, T, d]
    hooks("hook_embed", tok);
    hooks("hook_pos_embed", pos.expand({B, T, d}));
    torch::Tensor x = (tok + pos).view({B * T, d});                               // residual stream [B*T, d]

    for (int l = 0; l <= hooks.last_layer(); ++l) {
        const BlockWeights& w = blocks_[l];
        const auto hook = hooks.block(l);
        hook("hook_resid_pre", x.view({B, T, d}));

        // Attention. c_attn's output (bias included) split in three: q, k, v.
        const torch::Tensor h1 = models::layer_norm(x, w.ln_1_w, w.ln_1_b, eps);   // [B*T, d]
        const torch::Tensor qkv = conv1d(h1, w.c_attn_w, w.c_attn_b);            // [B*T, 3d]
        const auto parts = qkv.view({B, T, 3, H, dh}).unbind(2);                       // 3 x [B, T, H, dh]
        hook("attn.hook_q", parts[0]);
        hook("attn.hook_k", parts[1]);
        hook("attn.hook_v", parts[2]);
        const auto [keys, values] = context.keys_values(l, parts[1], parts[2]);        // with a cached prefix's
        if (hook.done_after("attn.hook_v")) return;
        double scale = 1.0 / std::sqrt(static_cast<double>(dh));
        if (config_.scale_attn_by_inverse_layer_idx) scale /= (l + 1);
        const auto [z, pattern] = models::attention(parts[0], keys, values, scale, true);  // z [B*T, d]
        hook("attn.hook_pattern", pattern);
        const torch::Tensor attn_out = conv1d(z, w.c_proj_w, w.c_proj_b);         // [B*T, d]
        hook("hook_attn_out", attn_out.view({B, T, d}));
        x = x + attn_out;
        hook("hook_resid_mid", x.view({B, T, d}));
        if (hook.done_after("hook_resid_mid")) return;

        // MLP.
        const torch::Tensor h2 = models::layer_norm(x, w.ln_2_w, w.ln_2_b, eps);
        const torch::Tensor mlp_out = conv1d(models::activation(conv1d(h2, w.fc_w, w.fc_b), config_.activation_function), w.proj_w, w.proj_b);
        hook("hook_mlp_out", mlp_out.view({B, T, d}));
        x = x + mlp_out;
        hook("hook_resid_post", x.view({B, T, d}));
    }

    if (hooks.want("ln_final.hook_normalized") || hooks.want("logits")) {
        const torch::Tensor normalized = final_norm(x);  // [B*T, d]
        hooks("ln_final.hook_normalized", normalized.view({B, T, d}));
        if (hooks.want("logits")) hooks("logits", models::linear(normalized, wte_, {}).view({B, T, -1}));  // tied unembedding
    }
}

torch::Tensor Model::final_norm(const torch::Tensor& x) const {
    return models::layer_norm(x, ln_f_w_, ln_f_b_, config_.layer_norm_epsilon);
}

torch::Tensor Model::unembed(const torch::Tensor& residual) const {  // tied: the token embedding
    return models::linear(final_norm(residual), wte_, {});
}

}  // namespace laminar::gpt2
