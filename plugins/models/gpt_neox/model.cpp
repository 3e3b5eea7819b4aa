#include "model.hpp"

#include <cmath>

#include "config_json.hpp"

namespace laminar::gpt_neox {

Config Config::load(const std::filesystem::path& dir) {
    const auto j = models::ConfigJson::load(dir);
    Config c;
    c.model_type = j.model_type({"gpt_neox"});
    c.n_layer = j.positive({"num_hidden_layers"});
    c.n_head = c.n_kv_head = j.positive({"num_attention_heads"});
    c.d_model = j.positive({"hidden_size"});
    c.d_mlp = j.positive({"intermediate_size"});
    c.vocab_size = j.positive({"vocab_size"});
    c.layer_norm_eps = j.positive_number_or({"layer_norm_eps"}, 1e-5);
    // Newer transformers write partial_rotary_factor and rope_theta for rotary_pct and rotary_emb_base.
    const auto [pct, pct_key] = j.rotary_factor({"rotary_pct", "partial_rotary_factor"}, 0.25);
    c.rotary_base = j.positive_number_or({"rotary_emb_base"}, j.rope_theta(10000.0));
    c.parallel_residual = j.flag_or("use_parallel_residual", true);
    c.hidden_act = j.string_or("hidden_act", "gelu");
    models::check_activation(c.hidden_act, j.file());
    c.d_head = j.head_size(c.d_model, "hidden_size", c.n_head, "num_attention_heads");
    c.rotary_dims = j.rotary_dims(pct, pct_key.c_str(), c.d_head);
    return c;
}

Model::Model(const std::filesystem::path& dir)
    : config_(Config::load(dir)), weights_(dir, {"gpt_neox."}),
      blocks_(weights_, config_.n_layer, [this](const models::WeightReader& r, int l) { return load_block(r, l); }) {
    const Config& c = config_;
    const int64_t d = c.d_model;
    catalog_.family = "gpt_neox";
    catalog_.block = {"hook_resid_pre", "attn.hook_q", "attn.hook_k", "attn.hook_v", "attn.hook_rot_q", "attn.hook_rot_k",
                      "attn.hook_pattern", "hook_attn_out"};
    if (!c.parallel_residual) catalog_.block.push_back("hook_resid_mid");  // no such point when both read the same input
    catalog_.block.insert(catalog_.block.end(), {"hook_mlp_out", "hook_resid_post"});
    catalog_.before = {"hook_embed"};
    catalog_.after = {"ln_final.hook_normalized", "logits"};

    embed_in_ = weights_.get_raw("embed_in.weight", {c.vocab_size, d});
    final_w_ = weights_.get("final_layer_norm.weight", {d});
    final_b_ = weights_.get("final_layer_norm.bias", {d});
    embed_out_ = weights_.get_raw("embed_out.weight", {c.vocab_size, d});
    blocks_.check((dir / "config.json").string() + ": num_hidden_layers");
}

BlockWeights Model::load_block(const models::WeightReader& r, int l) const {
    const int64_t d = config_.d_model, m = config_.d_mlp;
    // attention.bias / masked_bias / rotary_emb.inv_freq (buffers in older files) are ignored.
    const std::string p = "layers." + std::to_string(l) + ".";
    return {r.get(p + "input_layernorm.weight", {d}), r.get(p + "input_layernorm.bias", {d}),
            r.get(p + "post_attention_layernorm.weight", {d}), r.get(p + "post_attention_layernorm.bias", {d}),
            r.matrix(p + "attention.query_key_value.weight", {3 * d, d}), r.get_if(p + "attention.query_key_value.bias", {3 * d}),
            r.matrix(p + "attention.dense.weight", {d, d}), r.get_if(p + "attention.dense.bias", {d}),
            r.matrix(p + "mlp.dense_h_to_4h.weight", {m, d}), r.get(p + "mlp.dense_h_to_4h.bias", {m}),
            r.matrix(p + "mlp.dense_4h_to_h.weight", {d, m}), r.get(p + "mlp.dense_4h_to_h.bias", {d})};
}

void Model::forward(const torch::Tensor& ids, const models::Hooks& hooks, const models::PassContext& context) const {
    torch::InferenceMode guard;
    const Config& c = config_;
    const int64_t B = ids.size(0), T = ids.size(1), d = c.d_model, H = c.n_head, dh = c.d_head;
    const double eps = c.layer_norm_eps;

    const torch::Tensor tok = models::embed(embed_in_, ids);                       // [B, T, d]
    hooks("hook_embed", tok);
    torch::Tensor x = tok.reshape({B * T, d});                                     // residual stream
    const models::Rotary rotary(T, c.rotary_dims, c.rotary_base, context.offset());  // positions after a cached prefix

    for (int l = 0; l <= hooks.last_layer(); ++l) {
        const BlockWeights& w = blocks_[l];
        const auto hook = hooks.block(l);
        hook("hook_resid_pre", x.view({B, T, d}));

        // Attention. The fused projection is laid out per head: [q_h | k_h | v_h] for each head h.
        const torch::Tensor h1 = models::layer_norm(x, w.ln1_w, w.ln1_b, eps);
        const auto parts = models::linear(h1, w.qkv_w, w.qkv_b).view({B, T, H, 3 * dh}).split(dh, -1);
        const torch::Tensor &q = parts[0], &k = parts[1], &v = parts[2];         // [B, T, H, dh]
        hook("attn.hook_q", q);
        hook("attn.hook_k", k);
        hook("attn.hook_v", v);
        const torch::Tensor rq = rotary.apply(q), rk = rotary.apply(k);
        hook("attn.hook_rot_q", rq);
        hook("attn.hook_rot_k", rk);
        const auto [keys, values] = context.keys_values(l, rk, v);                   // with a cached prefix's
        if (hook.done_after("attn.hook_rot_k")) return;
        const auto [z, pattern] = models::attention(rq, keys, values, 1.0 / std::sqrt(static_cast<double>(dh)), true);
        hook("attn.hook_pattern", pattern);
        const torch::Tensor attn_out = models::linear(z, w.dense_w, w.dense_b);
        hook("hook_attn_out", attn_out.view({B, T, d}));

        // MLP: in parallel, it reads the block's input; in sequence, the stream after attention.
        const torch::Tensor mid = x + attn_out;
        if (!c.parallel_residual) hook("hook_resid_mid", mid.view({B, T, d}));
        if (hook.done_after(c.parallel_residual ? "hook_attn_out" : "hook_resid_mid")) return;
        const torch::Tensor h2 = models::layer_norm(c.parallel_residual ? x : mid, w.ln2_w, w.ln2_b, eps);
        const torch::Tensor mlp_out =
            models::linear(models::activation(models::linear(h2, w.up_w, w.up_b), c.hidden_act), w.down_w, w.down_b);
        hook("hook_mlp_out", mlp_out.view({B, T, d}));
        x = mid + mlp_out;
        hook("hook_resid_post", x.view({B, T, d}));
    }

    if (hooks.want("ln_final.hook_normalized") || hooks.want("logits")) {
        const torch::Tensor normalized = final_norm(x);
        hooks("ln_final.hook_normalized", normalized.view({B, T, d}));
        if (hooks.want("logits")) hooks("logits", models::linear(normalized, embed_out_, {}).view({B, T, -1}));
    }
}

torch::Tensor Model::final_norm(const torch::Tensor& x) const {
    return models::layer_norm(x, final_w_, final_b_, config_.layer_norm_eps);
}

torch::Tensor Model::unembed(const torch::Tensor& residual) const {
    return models::linear(final_norm(residual), embed_out_, {});
}

}  // namespace laminar::gpt_neox
