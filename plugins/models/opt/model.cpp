#include "model.hpp"

#include <cmath>

#include "config_json.hpp"

namespace laminar::opt {

Config Config::load(const std::filesystem::path& dir) {
    const auto j = models::ConfigJson::load(dir);
    Config c;
    c.model_type = j.model_type({"opt"});
    c.n_layer = j.positive({"num_hidden_layers"});
    c.n_head = c.n_kv_head = j.positive({"num_attention_heads"});
    c.d_model = j.positive({"hidden_size", "d_model"});  // (older configs: d_model)
    c.d_mlp = j.positive({"ffn_dim"});
    c.max_positions = j.positive({"max_position_embeddings"});
    c.vocab_size = j.positive({"vocab_size"});
    c.word_embed_proj_dim = j.positive_or({"word_embed_proj_dim"}, c.d_model);  // null: hidden_size
    c.layer_norm_before = j.flag_or("do_layer_norm_before", true);
    c.final_norm = c.layer_norm_before && !j.flag_or("_remove_final_layer_norm", false);
    c.bias = j.flag_or("enable_bias", true);
    c.affine = j.flag_or("layer_norm_elementwise_affine", true);
    c.activation_function = j.string_or("activation_function", "relu");
    models::check_activation(c.activation_function, j.file());
    c.d_head = j.head_size(c.d_model, "hidden_size", c.n_head, "num_attention_heads");
    return c;
}

Model::Model(const std::filesystem::path& dir)
    : config_(Config::load(dir)), weights_(dir, {"model.decoder.", "decoder."}),
      blocks_(weights_, config_.n_layer, [this](const models::WeightReader& r, int l) { return load_block(r, l); }) {
    const Config& c = config_;
    const int64_t d = c.d_model, e = c.word_embed_proj_dim, V = c.vocab_size;
    embed_ = weights_.get_raw("embed_tokens.weight", {V, e});
    pos_ = weights_.get("embed_positions.weight", {c.max_positions + 2, d});  // two rows before position 0
    if (e != d) {  // no bias
        project_in_ = weights_.get_raw("project_in.weight", {d, e});
        project_out_ = weights_.get_raw("project_out.weight", {e, d});
    }
    if (c.final_norm && c.affine) {
        ln_f_w_ = weights_.get("final_layer_norm.weight", {d});
        ln_f_b_ = weights_.get("final_layer_norm.bias", {d});
    }
    ones_ = torch::ones({d}, torch::kFloat32);
    // The head is tied to embed_tokens (OPTForCausalLM does not write it; a file that does is read).
    head_ = weights_.has("lm_head.weight") ? weights_.get_raw("lm_head.weight", {V, e}) : embed_;
    catalog_ = {"opt",
                c.layer_norm_before
                    ? std::vector<std::string>{"hook_resid_pre", "attn.hook_q", "attn.hook_k", "attn.hook_v", "attn.hook_pattern",
                                               "hook_attn_out", "hook_resid_mid", "hook_mlp_out", "hook_resid_post"}
                    : std::vector<std::string>{"hook_resid_pre", "attn.hook_q", "attn.hook_k", "attn.hook_v", "attn.hook_pattern",
                                               "hook_attn_out", "hook_resid_mid", "hook_normalized_resid_mid", "hook_mlp_out",
                                               "hook_resid_post", "hook_normalized_resid_post"},
                {"hook_embed", "hook_pos_embed"},
                c.final_norm ? std::vector<std::string>{"ln_final.hook_normalized", "logits"} : std::vector<std::string>{"logits"}};
    blocks_.check((dir / "config.json").string() + ": num_hidden_layers");
}

BlockWeights Model::load_block(const models::WeightReader& r, int l) const {
    const int64_t d = config_.d_model, m = config_.d_mlp;
    const std::string p = "layers." + std::to_string(l) + ".", a = p + "self_attn.";
    const bool bias = config_.bias, affine = config_.affine;
    auto vec = [&](const std::string& name, int64_t n, bool present) { return present ? r.get(name, {n}) : torch::Tensor(); };
    return {r.matrix(a + "q_proj.weight", {d, d}), vec(a + "q_proj.bias", d, bias),
            r.matrix(a + "k_proj.weight", {d, d}), vec(a + "k_proj.bias", d, bias),
            r.matrix(a + "v_proj.weight", {d, d}), vec(a + "v_proj.bias", d, bias),
            r.matrix(a + "out_proj.weight", {d, d}), vec(a + "out_proj.bias", d, bias),
            vec(p + "self_attn_layer_norm.weight", d, affine), vec(p + "self_attn_layer_norm.bias", d, affine),
            r.matrix(p + "fc1.weight", {m, d}), vec(p + "fc1.bias", m, bias),
            r.matrix(p + "fc2.weight", {d, m}), vec(p + "fc2.bias", d, bias),
            vec(p + "final_layer_norm.weight", d, affine), vec(p + "final_layer_norm.bias", d, affine)};
}

// nn.LayerNorm's default eps (OPT's config has none); without elementwise_affine, weight 1 and no bias.
torch::Tensor Model::norm(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) const {
    return models::layer_norm(x, w.defined() ? w : ones_, b, 1e-5);
}

void Model::forward(const torch::Tensor& ids, const models::Hooks& hooks, const models::PassContext& context) const {
    torch::InferenceMode guard;
    const Config& c = config_;
    const int64_t B = ids.size(0), T = ids.size(1), d = c.d_model, H = c.n_head, dh = c.d_head;

    torch::Tensor tok = models::embed(embed_, ids);                                  // [B, T, e]
    if (project_in_.defined()) tok = models::linear(tok, project_in_, {});           // [B, T, d]
    const int64_t first = context.offset() + 2;                                      // OPT's offset of 2 rows
    const torch::Tensor pos = pos_.slice(0, first, first + T).unsqueeze(0);          // [1, T, d]
    hooks("hook_embed", tok);
    hooks("hook_pos_embed", pos.expand({B, T, d}));
    torch::Tensor x = (tok + pos).view({B * T, d});                                  // residual stream
    const double scale = 1.0 / std::sqrt(static_cast<double>(dh));

    for (int l = 0; l <= hooks.last_layer(); ++l) {
        const BlockWeights& w = blocks_[l];
        const auto hook = hooks.block(l);
        hook("hook_resid_pre", x.view({B, T, d}));

        const torch::Tensor h1 = c.layer_norm_before ? norm(x, w.attn_ln_w, w.attn_ln_b) : x;
        const torch::Tensor q = models::linear(h1, w.wq, w.bq).view({B, T, H, dh});
        const torch::Tensor k = models::linear(h1, w.wk, w.bk).view({B, T, H, dh});
        const torch::Tensor v = models::linear(h1, w.wv, w.bv).view({B, T, H, dh});
        hook("attn.hook_q", q);
        hook("attn.hook_k", k);
        hook("attn.hook_v", v);
        const auto [keys, values] = context.keys_values(l, k, v);                      // with a cached prefix's
        if (hook.done_after("attn.hook_v")) return;
        // OPT multiplies q by 1/sqrt(d_head) before the product; here the scores are scaled.
        const auto [z, pattern] = models::attention(q, keys, values, scale, true);
        hook("attn.hook_pattern", pattern);
        const torch::Tensor attn_out = models::linear(z, w.wo, w.bo);
        hook("hook_attn_out", attn_out.view({B, T, d}));
        x = x + attn_out;
        hook("hook_resid_mid", x.view({B, T, d}));
        if (!c.layer_norm_before) {  // post-LayerNorm (opt-350m): the sum is normalised before the MLP reads it
            x = norm(x, w.attn_ln_w, w.attn_ln_b);
            hook("hook_normalized_resid_mid", x.view({B, T, d}));
            if (hook.done_after("hook_normalized_resid_mid")) return;
        } else if (hook.done_after("hook_resid_mid")) {
            return;
        }

        const torch::Tensor h2 = c.layer_norm_before ? norm(x, w.mlp_ln_w, w.mlp_ln_b) : x;
        const torch::Tensor mlp_out =
            models::linear(models::activation(models::linear(h2, w.fc1_w, w.fc1_b), c.activation_function), w.fc2_w, w.fc2_b);
        hook("hook_mlp_out", mlp_out.view({B, T, d}));
        x = x + mlp_out;
        hook("hook_resid_post", x.view({B, T, d}));
        if (!c.layer_norm_before) {
            x = norm(x, w.mlp_ln_w, w.mlp_ln_b);
            hook("hook_normalized_resid_post", x.view({B, T, d}));
        }
    }

    if (c.final_norm && (hooks.want("ln_final.hook_normalized") || hooks.want("logits"))) {
        const torch::Tensor normalized = norm(x, ln_f_w_, ln_f_b_);
        hooks("ln_final.hook_normalized", normalized.view({B, T, d}));
        if (hooks.want("logits")) hooks("logits", head(normalized).view({B, T, -1}));
    } else if (!c.final_norm && hooks.want("logits")) {
        hooks("logits", head(x).view({B, T, -1}));
    }
}

torch::Tensor Model::head(const torch::Tensor& x) const {
    return models::linear(project_out_.defined() ? models::linear(x, project_out_, {}) : x, head_, {});
}

torch::Tensor Model::unembed(const torch::Tensor& residual) const {
    return head(config_.final_norm ? norm(residual, ln_f_w_, ln_f_b_) : residual);
}

}  // namespace laminar::opt
