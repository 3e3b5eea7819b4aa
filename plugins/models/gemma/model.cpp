#include "model.hpp"

#include <cmath>

#include "config_json.hpp"

namespace laminar::gemma {

namespace {

/// 1 + w in float32, as GemmaRMSNorm scales (an undefined tensor stays undefined: a check-only read).
torch::Tensor plus_one(const torch::Tensor& w) { return w.defined() ? w + 1.0f : w; }

/// A soft-cap field: absent, its default; null, none (0); else a number > 0.
double softcap(const models::ConfigJson& j, const char* key, double fallback) {
    if (j.json().contains(key) && j.json()[key].is_null()) return 0;
    return j.positive_number_or({key}, fallback);
}

}  // namespace

Config Config::load(const std::filesystem::path& dir) {
    const auto j = models::ConfigJson::load(dir);
    const auto& json = j.json();
    Config c;
    c.model_type = j.model_type({"gemma", "gemma2"});
    c.gemma2 = c.model_type == "gemma2";
    c.n_layer = j.positive({"num_hidden_layers"});
    c.n_head = j.positive({"num_attention_heads"});
    c.n_kv_head = j.positive_or({"num_key_value_heads"}, c.n_head);
    c.d_model = j.positive({"hidden_size"});
    c.d_head = j.positive_or({"head_dim"}, 256);  // Gemma's head_dim is its own (256 by default), not hidden_size / heads
    c.d_mlp = j.positive({"intermediate_size"});
    c.vocab_size = j.positive({"vocab_size"});
    c.rms_norm_eps = j.positive_number_or({"rms_norm_eps"}, 1e-6);
    // Gemma's MLP reads hidden_activation; when it is absent or null Hugging Face uses
    // gelu_pytorch_tanh whatever hidden_act says (the first Gemma configs wrote hidden_act "gelu"
    // for what the checkpoints were trained with: the tanh approximation; transformers PR 29402).
    c.hidden_activation = j.string_or("hidden_activation", "gelu_pytorch_tanh");
    models::check_activation(c.hidden_activation, j.file());
    if (!j.flag_or("tie_word_embeddings", true)) j.fail("tie_word_embeddings is false; Gemma's unembedding is the embedding");
    if (j.flag_or("use_bidirectional_attention", false)) j.fail("use_bidirectional_attention is true; only causal attention is supported");
    j.check_kv_heads(c.n_head, c.n_kv_head);
    j.rotary_dims(1.0, nullptr, c.d_head);
    c.rope_theta = j.rope_theta(10000.0);

    c.window.assign(c.n_layer, 0);
    if (!c.gemma2) {
        c.scale = 1.0 / std::sqrt(static_cast<double>(c.d_head));
        return c;
    }
    c.scale = 1.0 / std::sqrt(j.positive_number_or({"query_pre_attn_scalar"}, 256.0));
    c.attn_softcap = softcap(j, "attn_logit_softcapping", 50.0);
    c.final_softcap = softcap(j, "final_logit_softcapping", 30.0);
    // layer_types names each layer "sliding_attention" or "full_attention"; without it layers
    // 0, 2, 4, ... slide. A key is seen while query - key < sliding_window (null: no window).
    const int window = json.contains("sliding_window") && json["sliding_window"].is_null() ? 0 : j.positive_or({"sliding_window"}, 4096);
    if (json.contains("layer_types") && !json["layer_types"].is_null()) {
        const auto& types = json["layer_types"];
        if (!types.is_array() || static_cast<int>(types.size()) != c.n_layer)
            j.fail("layer_types " + types.dump() + " is not a list of num_hidden_layers (" + std::to_string(c.n_layer) + ") kinds");
        for (int l = 0; l < c.n_layer; ++l) {
            if (types[l] == "sliding_attention") c.window[l] = window;
            else if (types[l] != "full_attention")
                j.fail("layer_types[" + std::to_string(l) + "] is " + types[l].dump() + ", not \"sliding_attention\" or \"full_attention\"");
        }
    } else {
        for (int l = 0; l < c.n_layer; l += 2) c.window[l] = window;
    }
    return c;
}

Model::Model(const std::filesystem::path& dir)
    : config_(Config::load(dir)), weights_(dir, {"model."}),
      blocks_(weights_, config_.n_layer, [this](const models::WeightReader& r, int l) { return load_block(r, l); }) {
    const Config& c = config_;
    embed_ = weights_.get_raw("embed_tokens.weight", {c.vocab_size, c.d_model});
    // torch.tensor(hidden_size ** 0.5, dtype=hidden_states.dtype): rounded to the model's dtype
    // (a BF16 gemma-2b multiplies by 45.25, not 45.2548...).
    normalizer_ = torch::tensor(std::sqrt(static_cast<double>(c.d_model)), torch::kFloat64)
                      .to(embed_.scalar_type()).to(torch::kFloat32).item<float>();
    norm_ = plus_one(weights_.get("norm.weight", {c.d_model}));
    blocks_.check((dir / "config.json").string() + ": num_hidden_layers");
}

BlockWeights Model::load_block(const models::WeightReader& r, int l) const {
    const Config& c = config_;
    const int64_t d = c.d_model, m = c.d_mlp, q = c.n_head * c.d_head, kv = c.n_kv_head * c.d_head;
    const std::string p = "layers." + std::to_string(l) + ".", a = p + "self_attn.";
    BlockWeights w{plus_one(r.get(p + "input_layernorm.weight", {d})),
                   r.matrix(a + "q_proj.weight", {q, d}), r.matrix(a + "k_proj.weight", {kv, d}), r.matrix(a + "v_proj.weight", {kv, d}),
                   r.get_if(a + "q_proj.bias", {q}), r.get_if(a + "k_proj.bias", {kv}), r.get_if(a + "v_proj.bias", {kv}),
                   r.matrix(a + "o_proj.weight", {d, q}), r.get_if(a + "o_proj.bias", {d}),
                   plus_one(r.get(p + "post_attention_layernorm.weight", {d})), {}, {},
                   r.matrix(p + "mlp.gate_proj.weight", {m, d}), r.matrix(p + "mlp.up_proj.weight", {m, d}),
                   r.matrix(p + "mlp.down_proj.weight", {d, m})};
    if (c.gemma2) {
        w.pre_feedforward_norm = plus_one(r.get(p + "pre_feedforward_layernorm.weight", {d}));
        w.post_feedforward_norm = plus_one(r.get(p + "post_feedforward_layernorm.weight", {d}));
    }
    return w;
}

const models::HookCatalog& Model::catalog() const {
    static const models::HookCatalog hooks{
        "gemma",
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

    // hook_embed is the scaled embedding: what enters the residual stream.
    const torch::Tensor tok = models::embed(embed_, ids) * normalizer_;             // [B, T, d]
    hooks("hook_embed", tok);
    torch::Tensor x = tok.reshape({B * T, d});                                       // residual stream

    const models::Rotary rotary(T, dh, c.rope_theta, context.offset());            // positions after a cached prefix

    for (int l = 0; l <= hooks.last_layer(); ++l) {
        const BlockWeights& w = blocks_[l];
        const auto hook = hooks.block(l);
        hook("hook_resid_pre", x.view({B, T, d}));

        const torch::Tensor h = models::rms_norm(x, w.input_norm, eps);
        const torch::Tensor q = models::linear(h, w.wq, w.bq).view({B, T, H, dh});
        const torch::Tensor k = models::linear(h, w.wk, w.bk).view({B, T, KV, dh});
        const torch::Tensor v = models::linear(h, w.wv, w.bv).view({B, T, KV, dh});
        hook("attn.hook_q", q);
        hook("attn.hook_k", k);
        hook("attn.hook_v", v);
        const torch::Tensor rq = rotary.apply(q), rk = rotary.apply(k);
        hook("attn.hook_rot_q", rq);
        hook("attn.hook_rot_k", rk);
        const auto [keys, values] = context.keys_values(l, rk, v);                    // with a cached prefix's
        if (hook.done_after("attn.hook_rot_k")) return;

        const auto [z, pattern] = models::attention(rq, keys, values, c.scale, true, c.window[l], c.attn_softcap);
        hook("attn.hook_pattern", pattern);
        torch::Tensor attn_out = models::linear(z, w.wo, w.bo);
        if (c.gemma2) attn_out = models::rms_norm(attn_out, w.post_attention_norm, eps);  // before the add
        hook("hook_attn_out", attn_out.view({B, T, d}));
        x = x + attn_out;
        hook("hook_resid_mid", x.view({B, T, d}));
        if (hook.done_after("hook_resid_mid")) return;

        // GeGLU: down(act(gate(h)) * up(h)).
        const torch::Tensor h2 = models::rms_norm(x, c.gemma2 ? w.pre_feedforward_norm : w.post_attention_norm, eps);
        const torch::Tensor gated =
            models::activation(models::linear(h2, w.gate, {}), c.hidden_activation).mul_(models::linear(h2, w.up, {}));
        torch::Tensor mlp_out = models::linear(gated, w.down, {});
        if (c.gemma2) mlp_out = models::rms_norm(mlp_out, w.post_feedforward_norm, eps);
        hook("hook_mlp_out", mlp_out.view({B, T, d}));
        x = x + mlp_out;
        hook("hook_resid_post", x.view({B, T, d}));
    }

    if (hooks.want("ln_final.hook_normalized") || hooks.want("logits")) {
        const torch::Tensor normalized = final_norm(x);
        hooks("ln_final.hook_normalized", normalized.view({B, T, d}));
        if (hooks.want("logits")) hooks("logits", head(normalized).view({B, T, -1}));
    }
}

torch::Tensor Model::final_norm(const torch::Tensor& x) const { return models::rms_norm(x, norm_, config_.rms_norm_eps); }

torch::Tensor Model::head(const torch::Tensor& normalized) const {
    const torch::Tensor logits = models::linear(normalized, embed_, {});
    return config_.final_softcap > 0 ? models::soft_cap(logits, config_.final_softcap) : logits;
}

torch::Tensor Model::unembed(const torch::Tensor& residual) const { return head(final_norm(residual)); }

}  // namespace laminar::gemma
