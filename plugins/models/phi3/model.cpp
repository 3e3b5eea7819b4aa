#include "model.hpp"

#include <cmath>

#include "config_json.hpp"

namespace laminar::phi3 {

namespace {

/// Rows [first, first + n) of a fused matrix, a view of the file (undefined stays undefined: a
/// check-only read). linear() gives each output the same chain of products as the fused one.
torch::Tensor rows(const torch::Tensor& w, int64_t first, int64_t n) { return w.defined() ? w.narrow(0, first, n) : w; }

}  // namespace

Config Config::load(const std::filesystem::path& dir) {
    const auto j = models::ConfigJson::load(dir);
    Config c;
    c.model_type = j.model_type({"phi3"});
    c.n_layer = j.positive({"num_hidden_layers"});
    c.n_head = j.positive({"num_attention_heads"});
    c.n_kv_head = j.positive_or({"num_key_value_heads"}, c.n_head);
    c.d_model = j.positive({"hidden_size"});
    c.d_head = j.head_size(c.d_model, "hidden_size", c.n_head, "num_attention_heads");
    c.d_mlp = j.positive({"intermediate_size"});
    c.vocab_size = j.positive({"vocab_size"});
    c.rms_norm_eps = j.positive_number_or({"rms_norm_eps"}, 1e-5);
    c.rope_theta = j.rope_theta(10000.0, "longrope / su / yarn rotary scaling, as the 128k Phi-3 models have it");
    c.hidden_act = j.string_or("hidden_act", "silu");
    c.tied = j.flag_or("tie_word_embeddings", false);
    c.sliding_window = j.positive_or({"sliding_window"}, 0);  // absent or null: none
    models::check_activation(c.hidden_act, j.file());
    j.check_kv_heads(c.n_head, c.n_kv_head);
    const auto [factor, factor_key] = j.rotary_factor({"partial_rotary_factor"}, 1.0);
    c.rotary_dims = j.rotary_dims(factor, factor_key.c_str(), c.d_head);
    return c;
}

Model::Model(const std::filesystem::path& dir)
    : config_(Config::load(dir)), weights_(dir, {"model."}),
      blocks_(weights_, config_.n_layer, [this](const models::WeightReader& r, int l) { return load_block(r, l); }) {
    const Config& c = config_;
    embed_ = weights_.get_raw("embed_tokens.weight", {c.vocab_size, c.d_model});
    norm_ = weights_.get("norm.weight", {c.d_model});
    lm_head_ = !c.tied || weights_.has("lm_head.weight") ? weights_.get_raw("lm_head.weight", {c.vocab_size, c.d_model}) : embed_;
    blocks_.check((dir / "config.json").string() + ": num_hidden_layers");
}

BlockWeights Model::load_block(const models::WeightReader& r, int l) const {
    const Config& c = config_;
    const int64_t d = c.d_model, m = c.d_mlp, q = c.n_head * c.d_head, kv = c.n_kv_head * c.d_head;
    const std::string p = "layers." + std::to_string(l) + ".";
    const torch::Tensor qkv = r.matrix(p + "self_attn.qkv_proj.weight", {q + 2 * kv, d});
    const torch::Tensor gate_up = r.matrix(p + "mlp.gate_up_proj.weight", {2 * m, d});
    return {r.get(p + "input_layernorm.weight", {d}),
            rows(qkv, 0, q), rows(qkv, q, kv), rows(qkv, q + kv, kv),
            r.matrix(p + "self_attn.o_proj.weight", {d, q}),
            r.get(p + "post_attention_layernorm.weight", {d}),
            rows(gate_up, 0, m), rows(gate_up, m, m),
            r.matrix(p + "mlp.down_proj.weight", {d, m})};
}

const models::HookCatalog& Model::catalog() const {
    static const models::HookCatalog hooks{
        "phi3",
        {"hook_resid_pre", "attn.hook_q", "attn.hook_k", "attn.hook_v", "attn.hook_rot_q", "attn.hook_rot_k",
         "attn.hook_pattern", "hook_attn_out", "hook_resid_mid", "hook_mlp_out", "hook_resid_post"},
        {"hook_embed"},
        {"ln_final.hook_normalized", "logits"}};
    return hooks;
}

void Model::forward(const torch::Tensor& ids, const models::Hooks& hooks, const models::PassContext& context) const {
    torch::InferenceMode guard;
    const Config& c = config_;
    const int64_t B = ids.size(0), T = ids.size(1), d = c.d_model, H = c.n_head, KV = c.n_kv_head, dh = c.d_head;
    const double eps = c.rms_norm_eps;

    const torch::Tensor tok = models::embed(embed_, ids);                          // [B, T, d]
    hooks("hook_embed", tok);
    torch::Tensor x = tok.reshape({B * T, d});                                     // residual stream

    const models::Rotary rotary(T, c.rotary_dims, c.rope_theta, context.offset()); // the first rotary_dims of each head

    for (int l = 0; l <= hooks.last_layer(); ++l) {
        const BlockWeights& w = blocks_[l];
        const auto hook = hooks.block(l);
        hook("hook_resid_pre", x.view({B, T, d}));

        // Attention: qkv_proj's q, k and v rows; rotary on q and k; k and v have the key/value heads.
        const torch::Tensor h = models::rms_norm(x, w.input_norm, eps);
        const torch::Tensor q = models::linear(h, w.wq, {}).view({B, T, H, dh});
        const torch::Tensor k = models::linear(h, w.wk, {}).view({B, T, KV, dh});
        const torch::Tensor v = models::linear(h, w.wv, {}).view({B, T, KV, dh});
        hook("attn.hook_q", q);
        hook("attn.hook_k", k);
        hook("attn.hook_v", v);
        const torch::Tensor rq = rotary.apply(q), rk = rotary.apply(k);
        hook("attn.hook_rot_q", rq);
        hook("attn.hook_rot_k", rk);
        const auto [keys, values] = context.keys_values(l, rk, v);                    // with a cached prefix's
        if (hook.done_after("attn.hook_rot_k")) return;

        const auto [z, pattern] = models::attention(rq, keys, values, 1.0 / std::sqrt(static_cast<double>(dh)), true, c.sliding_window);
        hook("attn.hook_pattern", pattern);
        const torch::Tensor attn_out = models::linear(z, w.wo, {});
        hook("hook_attn_out", attn_out.view({B, T, d}));
        x = x + attn_out;
        hook("hook_resid_mid", x.view({B, T, d}));
        if (hook.done_after("hook_resid_mid")) return;

        // gate_up_proj: up * act(gate), then down.
        const torch::Tensor h2 = models::rms_norm(x, w.post_norm, eps);
        const torch::Tensor gated = models::activation(models::linear(h2, w.gate, {}), c.hidden_act).mul_(models::linear(h2, w.up, {}));
        const torch::Tensor mlp_out = models::linear(gated, w.down, {});
        hook("hook_mlp_out", mlp_out.view({B, T, d}));
        x = x + mlp_out;
        hook("hook_resid_post", x.view({B, T, d}));
    }

    if (hooks.want("ln_final.hook_normalized") || hooks.want("logits")) {
        const torch::Tensor normalized = final_norm(x);
        hooks("ln_final.hook_normalized", normalized.view({B, T, d}));
        if (hooks.want("logits")) hooks("logits", models::linear(normalized, lm_head_, {}).view({B, T, -1}));
    }
}

torch::Tensor Model::final_norm(const torch::Tensor& x) const { return models::rms_norm(x, norm_, config_.rms_norm_eps); }

torch::Tensor Model::unembed(const torch::Tensor& residual) const { return models::linear(final_norm(residual), lm_head_, {}); }

}  // namespace laminar::phi3
