#include "model.hpp"

#include <cmath>

#include "config_json.hpp"

namespace laminar::stablelm {

Config Config::load(const std::filesystem::path& dir) {
    const auto j = models::ConfigJson::load(dir);
    Config c;
    c.model_type = j.model_type({"stablelm"});
    c.n_layer = j.positive({"num_hidden_layers"});
    c.n_head = j.positive({"num_attention_heads"});
    c.n_kv_head = j.positive_or({"num_key_value_heads"}, c.n_head);
    c.d_model = j.positive({"hidden_size"});
    c.d_mlp = j.positive({"intermediate_size"});
    c.vocab_size = j.positive({"vocab_size"});
    c.layer_norm_eps = j.positive_number_or({"layer_norm_eps"}, 1e-5);
    c.rope_theta = j.rope_theta(10000.0);
    const auto [factor, factor_key] = j.rotary_factor({"partial_rotary_factor"}, 0.25);
    c.qkv_bias = j.flag_or("use_qkv_bias", false);
    c.qk_layernorm = j.flag_or("qk_layernorm", false);
    c.parallel_residual = j.flag_or("use_parallel_residual", false);
    c.tied = j.flag_or("tie_word_embeddings", false);
    c.hidden_act = j.string_or("hidden_act", "silu");
    models::check_activation(c.hidden_act, j.file());
    c.d_head = j.head_size(c.d_model, "hidden_size", c.n_head, "num_attention_heads");
    j.check_kv_heads(c.n_head, c.n_kv_head);
    c.rotary_dims = j.rotary_dims(factor, factor_key.c_str(), c.d_head);
    return c;
}

Model::Model(const std::filesystem::path& dir)
    : config_(Config::load(dir)), weights_(dir, {"model."}),
      blocks_(weights_, config_.n_layer, [this](const models::WeightReader& r, int l) { return load_block(r, l); }) {
    const Config& c = config_;
    const int64_t d = c.d_model;
    catalog_.family = "stablelm";
    catalog_.block = {"hook_resid_pre", "attn.hook_q", "attn.hook_k", "attn.hook_v"};
    if (c.qk_layernorm) catalog_.block.insert(catalog_.block.end(), {"attn.hook_q_normalized", "attn.hook_k_normalized"});
    catalog_.block.insert(catalog_.block.end(), {"attn.hook_rot_q", "attn.hook_rot_k", "attn.hook_pattern", "hook_attn_out"});
    if (!c.parallel_residual) catalog_.block.push_back("hook_resid_mid");  // no such point when both read the same input
    catalog_.block.insert(catalog_.block.end(), {"hook_mlp_out", "hook_resid_post"});
    catalog_.before = {"hook_embed"};
    catalog_.after = {"ln_final.hook_normalized", "logits"};

    embed_ = weights_.get_raw("embed_tokens.weight", {c.vocab_size, d});
    norm_w_ = weights_.get("norm.weight", {d});
    norm_b_ = weights_.get("norm.bias", {d});
    // Tied checkpoints may still carry lm_head.weight (a copy); untied ones must.
    lm_head_ = !c.tied || weights_.has("lm_head.weight") ? weights_.get_raw("lm_head.weight", {c.vocab_size, d}) : embed_;
    blocks_.check((dir / "config.json").string() + ": num_hidden_layers");
}

BlockWeights Model::load_block(const models::WeightReader& r, int l) const {
    const Config& c = config_;
    const int64_t d = c.d_model, m = c.d_mlp, q = c.n_head * c.d_head, kv = c.n_kv_head * c.d_head;
    // self_attn.rotary_emb.inv_freq (a buffer in older files) is ignored: it is recomputed.
    const std::string p = "layers." + std::to_string(l) + ".", a = p + "self_attn.";
    BlockWeights w;
    w.ln1_w = r.get(p + "input_layernorm.weight", {d});
    w.ln1_b = r.get(p + "input_layernorm.bias", {d});
    w.wq = r.matrix(a + "q_proj.weight", {q, d});
    w.wk = r.matrix(a + "k_proj.weight", {kv, d});
    w.wv = r.matrix(a + "v_proj.weight", {kv, d});
    if (c.qkv_bias) {
        w.bq = r.get(a + "q_proj.bias", {q});
        w.bk = r.get(a + "k_proj.bias", {kv});
        w.bv = r.get(a + "v_proj.bias", {kv});
    }
    w.wo = r.matrix(a + "o_proj.weight", {d, q});
    if (c.qk_layernorm) {  // StableLmLayerNormPerHead: one LayerNorm (no bias) per head
        for (int h = 0; h < c.n_head; ++h) w.q_norm.push_back(r.get(a + "q_layernorm.norms." + std::to_string(h) + ".weight", {c.d_head}));
        for (int h = 0; h < c.n_kv_head; ++h) w.k_norm.push_back(r.get(a + "k_layernorm.norms." + std::to_string(h) + ".weight", {c.d_head}));
    }
    if (!c.parallel_residual) {
        w.ln2_w = r.get(p + "post_attention_layernorm.weight", {d});
        w.ln2_b = r.get(p + "post_attention_layernorm.bias", {d});
    }
    w.gate = r.matrix(p + "mlp.gate_proj.weight", {m, d});
    w.up = r.matrix(p + "mlp.up_proj.weight", {m, d});
    w.down = r.matrix(p + "mlp.down_proj.weight", {d, m});
    return w;
}

namespace {

/// x [B, T, heads, dh]: head h normalised by its own LayerNorm (weight norms[h], no bias).
torch::Tensor per_head_norm(const torch::Tensor& x, const std::vector<torch::Tensor>& norms, double eps) {
    std::vector<torch::Tensor> heads;
    for (int64_t h = 0; h < x.size(2); ++h) heads.push_back(models::layer_norm(x.select(2, h), norms[h], {}, eps));
    return torch::stack(heads, 2);
}

}  // namespace

void Model::forward(const torch::Tensor& ids, const models::Hooks& hooks, const models::PassContext& context) const {
    torch::InferenceMode guard;
    const Config& c = config_;
    const int64_t B = ids.size(0), T = ids.size(1), d = c.d_model, H = c.n_head, KV = c.n_kv_head, dh = c.d_head;
    const double eps = c.layer_norm_eps;

    const torch::Tensor tok = models::embed(embed_, ids);                              // [B, T, d]
    hooks("hook_embed", tok);
    torch::Tensor x = tok.reshape({B * T, d});                                         // residual stream
    const models::Rotary rotary(T, c.rotary_dims, c.rope_theta, context.offset());    // positions after a cached prefix

    for (int l = 0; l <= hooks.last_layer(); ++l) {
        const BlockWeights& w = blocks_[l];
        const auto hook = hooks.block(l);
        hook("hook_resid_pre", x.view({B, T, d}));

        const torch::Tensor h1 = models::layer_norm(x, w.ln1_w, w.ln1_b, eps);
        torch::Tensor q = models::linear(h1, w.wq, w.bq).view({B, T, H, dh});
        torch::Tensor k = models::linear(h1, w.wk, w.bk).view({B, T, KV, dh});
        const torch::Tensor v = models::linear(h1, w.wv, w.bv).view({B, T, KV, dh});
        hook("attn.hook_q", q);
        hook("attn.hook_k", k);
        hook("attn.hook_v", v);
        if (c.qk_layernorm) {
            q = per_head_norm(q, w.q_norm, eps);
            k = per_head_norm(k, w.k_norm, eps);
            hook("attn.hook_q_normalized", q);
            hook("attn.hook_k_normalized", k);
        }
        const torch::Tensor rq = rotary.apply(q), rk = rotary.apply(k);
        hook("attn.hook_rot_q", rq);
        hook("attn.hook_rot_k", rk);
        const auto [keys, values] = context.keys_values(l, rk, v);                       // with a cached prefix's
        if (hook.done_after("attn.hook_rot_k")) return;
        const auto [z, pattern] = models::attention(rq, keys, values, 1.0 / std::sqrt(static_cast<double>(dh)), true);
        hook("attn.hook_pattern", pattern);
        const torch::Tensor attn_out = models::linear(z, w.wo, {});
        hook("hook_attn_out", attn_out.view({B, T, d}));

        // SwiGLU MLP: in parallel, on the block's one normalised input; in sequence, on the
        // stream after attention, normalised again.
        torch::Tensor mid;
        if (!c.parallel_residual) {
            mid = x + attn_out;
            hook("hook_resid_mid", mid.view({B, T, d}));
        }
        if (hook.done_after(c.parallel_residual ? "hook_attn_out" : "hook_resid_mid")) return;
        const torch::Tensor h2 = c.parallel_residual ? h1 : models::layer_norm(mid, w.ln2_w, w.ln2_b, eps);
        const torch::Tensor gated = models::activation(models::linear(h2, w.gate, {}), c.hidden_act).mul_(models::linear(h2, w.up, {}));
        const torch::Tensor mlp_out = models::linear(gated, w.down, {});
        hook("hook_mlp_out", mlp_out.view({B, T, d}));
        x = c.parallel_residual ? x + attn_out + mlp_out : mid + mlp_out;  // Hugging Face's order
        hook("hook_resid_post", x.view({B, T, d}));
    }

    if (hooks.want("ln_final.hook_normalized") || hooks.want("logits")) {
        const torch::Tensor normalized = final_norm(x);
        hooks("ln_final.hook_normalized", normalized.view({B, T, d}));
        if (hooks.want("logits")) hooks("logits", models::linear(normalized, lm_head_, {}).view({B, T, -1}));
    }
}

torch::Tensor Model::final_norm(const torch::Tensor& x) const { return models::layer_norm(x, norm_w_, norm_b_, config_.layer_norm_eps); }

torch::Tensor Model::unembed(const torch::Tensor& residual) const { return models::linear(final_norm(residual), lm_head_, {}); }

}  // namespace laminar::stablelm
