#include "model.hpp"

#include <cmath>

#include "config_json.hpp"

namespace laminar::gptj {

Config Config::load(const std::filesystem::path& dir) {
    const auto j = models::ConfigJson::load(dir);
    Config c;
    c.model_type = j.model_type({"gptj"});
    c.n_layer = j.positive({"n_layer"});
    c.n_head = c.n_kv_head = j.positive({"n_head"});
    c.d_model = j.positive({"n_embd"});
    c.d_mlp = j.positive_or({"n_inner"}, 0);
    if (c.d_mlp == 0) c.d_mlp = 4 * c.d_model;  // null: 4 * n_embd
    c.max_positions = j.positive({"n_positions"});  // Hugging Face's rotary table has that many rows
    c.vocab_size = j.positive({"vocab_size"});
    c.layer_norm_epsilon = j.positive_number_or({"layer_norm_epsilon"}, 1e-5);
    c.activation_function = j.string_or("activation_function", "gelu_new");
    c.tied = j.flag_or("tie_word_embeddings", false);
    models::check_activation(c.activation_function, j.file());
    c.d_head = j.head_size(c.d_model, "n_embd", c.n_head, "n_head");
    c.rotary_dims = j.positive_or({"rotary_dim"}, c.d_head);  // null: every dimension of the head
    if (c.rotary_dims > c.d_head || c.rotary_dims % 2 != 0)
        j.fail("rotary_dim (" + std::to_string(c.rotary_dims) + ") must be even and at most the head size (" +
               std::to_string(c.d_head) + ")");
    j.rope_theta(10000.0);  // GPT-J's base is fixed at 10,000; this refuses rope_scaling
    return c;
}

Model::Model(const std::filesystem::path& dir)
    : config_(Config::load(dir)), weights_(dir, {"transformer."}),
      blocks_(weights_, config_.n_layer, [this](const models::WeightReader& r, int l) { return load_block(r, l); }) {
    const Config& c = config_;
    const int64_t d = c.d_model;
    wte_ = weights_.get_raw("wte.weight", {c.vocab_size, d});
    ln_f_w_ = weights_.get("ln_f.weight", {d});
    ln_f_b_ = weights_.get("ln_f.bias", {d});
    // GPTJForCausalLM's lm_head is an nn.Linear with a bias; a tied file may leave its weight out.
    head_w_ = !c.tied || weights_.has("lm_head.weight") ? weights_.get_raw("lm_head.weight", {c.vocab_size, d}) : wte_;
    head_b_ = weights_.get("lm_head.bias", {c.vocab_size});
    blocks_.check((dir / "config.json").string() + ": n_layer");
}

BlockWeights Model::load_block(const models::WeightReader& r, int l) const {
    const int64_t d = config_.d_model, m = config_.d_mlp;
    // h.N.attn.bias / masked_bias (causal-mask buffers in older files) are ignored.
    const std::string p = "h." + std::to_string(l) + ".", a = p + "attn.";
    return {r.get(p + "ln_1.weight", {d}), r.get(p + "ln_1.bias", {d}),
            r.matrix(a + "q_proj.weight", {d, d}), r.matrix(a + "k_proj.weight", {d, d}), r.matrix(a + "v_proj.weight", {d, d}),
            r.matrix(a + "out_proj.weight", {d, d}),
            r.matrix(p + "mlp.fc_in.weight", {m, d}), r.get(p + "mlp.fc_in.bias", {m}),
            r.matrix(p + "mlp.fc_out.weight", {d, m}), r.get(p + "mlp.fc_out.bias", {d})};
}

const models::HookCatalog& Model::catalog() const {
    // No hook_resid_mid: attention and the MLP read the same normalised input.
    static const models::HookCatalog hooks{
        "gptj",
        {"hook_resid_pre", "attn.hook_q", "attn.hook_k", "attn.hook_v", "attn.hook_rot_q", "attn.hook_rot_k",
         "attn.hook_pattern", "hook_attn_out", "hook_mlp_out", "hook_resid_post"},
        {"hook_embed"},
        {"ln_final.hook_normalized", "logits"}};
    return hooks;
}

void Model::forward(const torch::Tensor& ids, const models::Hooks& hooks, const models::PassContext& context) const {
    torch::InferenceMode guard;
    const Config& c = config_;
    const int64_t B = ids.size(0), T = ids.size(1), d = c.d_model, H = c.n_head, dh = c.d_head;
    const double eps = c.layer_norm_epsilon;

    const torch::Tensor tok = models::embed(wte_, ids);                                       // [B, T, d]
    hooks("hook_embed", tok);
    torch::Tensor x = tok.reshape({B * T, d});                                                // residual stream
    // Rotate-every-two on the first rotary_dim dimensions, base 10000 (fixed in GPT-J).
    const models::Rotary rotary(T, c.rotary_dims, 10000.0, context.offset(), /*interleaved=*/true);

    for (int l = 0; l <= hooks.last_layer(); ++l) {
        const BlockWeights& w = blocks_[l];
        const auto hook = hooks.block(l);
        hook("hook_resid_pre", x.view({B, T, d}));

        const torch::Tensor h = models::layer_norm(x, w.ln_w, w.ln_b, eps);                  // feeds attention and MLP
        const torch::Tensor q = models::linear(h, w.wq, {}).view({B, T, H, dh});
        const torch::Tensor k = models::linear(h, w.wk, {}).view({B, T, H, dh});
        const torch::Tensor v = models::linear(h, w.wv, {}).view({B, T, H, dh});
        hook("attn.hook_q", q);
        hook("attn.hook_k", k);
        hook("attn.hook_v", v);
        const torch::Tensor rq = rotary.apply(q), rk = rotary.apply(k);
        hook("attn.hook_rot_q", rq);
        hook("attn.hook_rot_k", rk);
        const auto [keys, values] = context.keys_values(l, rk, v);                             // with a cached prefix's
        if (hook.done_after("attn.hook_rot_k")) return;
        const auto [z, pattern] = models::attention(rq, keys, values, 1.0 / std::sqrt(static_cast<double>(dh)), true);
        hook("attn.hook_pattern", pattern);
        const torch::Tensor attn_out = models::linear(z, w.wo, {});
        hook("hook_attn_out", attn_out.view({B, T, d}));
        if (hook.done_after("hook_attn_out")) return;

        const torch::Tensor mlp_out = models::linear(
            models::activation(models::linear(h, w.fc_in_w, w.fc_in_b), c.activation_function), w.fc_out_w, w.fc_out_b);
        hook("hook_mlp_out", mlp_out.view({B, T, d}));
        x = attn_out + mlp_out + x;  // in Hugging Face's order: attn_output + feed_forward + residual
        hook("hook_resid_post", x.view({B, T, d}));
    }

    if (hooks.want("ln_final.hook_normalized") || hooks.want("logits")) {
        const torch::Tensor normalized = final_norm(x);
        hooks("ln_final.hook_normalized", normalized.view({B, T, d}));
        if (hooks.want("logits")) hooks("logits", models::linear(normalized, head_w_, head_b_).view({B, T, -1}));
    }
}

torch::Tensor Model::final_norm(const torch::Tensor& x) const { return models::layer_norm(x, ln_f_w_, ln_f_b_, config_.layer_norm_epsilon); }

torch::Tensor Model::unembed(const torch::Tensor& residual) const { return models::linear(final_norm(residual), head_w_, head_b_); }

}  // namespace laminar::gptj
