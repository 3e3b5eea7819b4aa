#include "model.hpp"

#include <cmath>

#include "config_json.hpp"

namespace laminar::phi {

Config Config::load(const std::filesystem::path& dir) {
    const auto j = models::ConfigJson::load(dir);
    Config c;
    c.model_type = j.model_type({"phi"});
    c.n_layer = j.positive({"num_hidden_layers"});
    c.n_head = j.positive({"num_attention_heads"});
    c.n_kv_head = j.positive_or({"num_key_value_heads"}, c.n_head);  // absent or null: the heads
    c.d_model = j.positive({"hidden_size"});
    c.d_mlp = j.positive({"intermediate_size"});
    c.vocab_size = j.positive({"vocab_size"});
    c.layer_norm_eps = j.positive_number_or({"layer_norm_eps"}, 1e-5);
    c.rope_theta = j.rope_theta(10000.0);
    const auto [factor, factor_key] = j.rotary_factor({"partial_rotary_factor"}, 0.5);
    c.qk_layernorm = j.flag_or("qk_layernorm", false);
    c.tied = j.flag_or("tie_word_embeddings", false);
    c.hidden_act = j.string_or("hidden_act", "gelu_new");
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
    catalog_.family = "phi";
    catalog_.block = {"hook_resid_pre", "attn.hook_q", "attn.hook_k", "attn.hook_v"};
    if (c.qk_layernorm) catalog_.block.insert(catalog_.block.end(), {"attn.hook_q_normalized", "attn.hook_k_normalized"});
    // No hook_resid_mid: attention and the MLP read the same normalised input.
    catalog_.block.insert(catalog_.block.end(),
                          {"attn.hook_rot_q", "attn.hook_rot_k", "attn.hook_pattern", "hook_attn_out", "hook_mlp_out", "hook_resid_post"});
    catalog_.before = {"hook_embed"};
    catalog_.after = {"ln_final.hook_normalized", "logits"};

    embed_ = weights_.get_raw("embed_tokens.weight", {c.vocab_size, d});
    final_w_ = weights_.get("final_layernorm.weight", {d});
    final_b_ = weights_.get("final_layernorm.bias", {d});
    // PhiForCausalLM's lm_head is an nn.Linear with a bias; a tied file may leave its weight out.
    head_w_ = !c.tied || weights_.has("lm_head.weight") ? weights_.get_raw("lm_head.weight", {c.vocab_size, d}) : embed_;
    head_b_ = weights_.get("lm_head.bias", {c.vocab_size});
    blocks_.check((dir / "config.json").string() + ": num_hidden_layers");
}

BlockWeights Model::load_block(const models::WeightReader& r, int l) const {
    const Config& c = config_;
    const int64_t d = c.d_model, m = c.d_mlp, dh = c.d_head, q = c.n_head * dh, kv = c.n_kv_head * dh;
    const std::string p = "layers." + std::to_string(l) + ".", a = p + "self_attn.";
    BlockWeights w;
    w.ln_w = r.get(p + "input_layernorm.weight", {d});
    w.ln_b = r.get(p + "input_layernorm.bias", {d});
    w.wq = r.matrix(a + "q_proj.weight", {q, d});
    w.bq = r.get(a + "q_proj.bias", {q});
    w.wk = r.matrix(a + "k_proj.weight", {kv, d});
    w.bk = r.get(a + "k_proj.bias", {kv});
    w.wv = r.matrix(a + "v_proj.weight", {kv, d});
    w.bv = r.get(a + "v_proj.bias", {kv});
    if (c.qk_layernorm) {  // nn.LayerNorm(head_dim), one for q and one for k, shared by the heads
        w.q_norm_w = r.get(a + "q_layernorm.weight", {dh});
        w.q_norm_b = r.get(a + "q_layernorm.bias", {dh});
        w.k_norm_w = r.get(a + "k_layernorm.weight", {dh});
        w.k_norm_b = r.get(a + "k_layernorm.bias", {dh});
    }
    w.dense_w = r.matrix(a + "dense.weight", {d, q});
    w.dense_b = r.get(a + "dense.bias", {d});
    w.fc1_w = r.matrix(p + "mlp.fc1.weight", {m, d});
    w.fc1_b = r.get(p + "mlp.fc1.bias", {m});
    w.fc2_w = r.matrix(p + "mlp.fc2.weight", {d, m});
    w.fc2_b = r.get(p + "mlp.fc2.bias", {d});
    return w;
}

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

        const torch::Tensor h = models::layer_norm(x, w.ln_w, w.ln_b, eps);            // feeds attention and MLP
        torch::Tensor q = models::linear(h, w.wq, w.bq).view({B, T, H, dh});
        torch::Tensor k = models::linear(h, w.wk, w.bk).view({B, T, KV, dh});
        const torch::Tensor v = models::linear(h, w.wv, w.bv).view({B, T, KV, dh});
        hook("attn.hook_q", q);
        hook("attn.hook_k", k);
        hook("attn.hook_v", v);
        if (c.qk_layernorm) {  // over each head's dh dimensions (rows of [.., dh])
            q = models::layer_norm(q, w.q_norm_w, w.q_norm_b, eps);
            k = models::layer_norm(k, w.k_norm_w, w.k_norm_b, eps);
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
        const torch::Tensor attn_out = models::linear(z, w.dense_w, w.dense_b);
        hook("hook_attn_out", attn_out.view({B, T, d}));
        if (hook.done_after("hook_attn_out")) return;

        const torch::Tensor mlp_out =
            models::linear(models::activation(models::linear(h, w.fc1_w, w.fc1_b), c.hidden_act), w.fc2_w, w.fc2_b);
        hook("hook_mlp_out", mlp_out.view({B, T, d}));
        x = attn_out + mlp_out + x;  // in Hugging Face's order: attn_outputs + feed_forward_hidden_states + residual
        hook("hook_resid_post", x.view({B, T, d}));
    }

    if (hooks.want("ln_final.hook_normalized") || hooks.want("logits")) {
        const torch::Tensor normalized = final_norm(x);
        hooks("ln_final.hook_normalized", normalized.view({B, T, d}));
        if (hooks.want("logits")) hooks("logits", models::linear(normalized, head_w_, head_b_).view({B, T, -1}));
    }
}

torch::Tensor Model::final_norm(const torch::Tensor& x) const { return models::layer_norm(x, final_w_, final_b_, config_.layer_norm_eps); }

torch::Tensor Model::unembed(const torch::Tensor& residual) const { return models::linear(final_norm(residual), head_w_, head_b_); }

}  // namespace laminar::phi
