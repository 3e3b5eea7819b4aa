#include "model.hpp"

#include "config_json.hpp"

namespace laminar::gpt_neo {

Config Config::load(const std::filesystem::path& dir) {
    const auto j = models::ConfigJson::load(dir);
    Config c;
    c.model_type = j.model_type({"gpt_neo"});
    c.n_layer = j.positive({"num_layers"});
    c.n_head = c.n_kv_head = j.positive({"num_heads"});
    c.d_model = j.positive({"hidden_size"});
    c.d_mlp = j.positive_or({"intermediate_size"}, 0);
    if (c.d_mlp == 0) c.d_mlp = 4 * c.d_model;  // null: 4 * hidden_size
    c.max_positions = j.positive({"max_position_embeddings"});
    c.vocab_size = j.positive({"vocab_size"});
    c.layer_norm_epsilon = j.positive_number_or({"layer_norm_epsilon"}, 1e-5);
    c.activation_function = j.string_or("activation_function", "gelu_new");
    c.window_size = j.positive_or({"window_size"}, 256);
    models::check_activation(c.activation_function, j.file());
    c.d_head = j.head_size(c.d_model, "hidden_size", c.n_head, "num_heads");

    // attention_types: [[["global", "local"], 12]] repeats the pattern 12 times, layer by layer
    // (Hugging Face's expand_attention_types_params); attention_layers is that expansion.
    const auto& json = j.json();
    auto bad = [&](const std::string& why) { j.fail("attention_types " + json.value("attention_types", nlohmann::json()).dump() + ": " + why); };
    std::vector<std::string> kinds;
    if (json.contains("attention_types")) {
        if (!json["attention_types"].is_array()) bad("expected a list of [[kinds...], repeats]");
        for (const auto& item : json["attention_types"]) {
            if (!item.is_array() || item.size() != 2 || !item[0].is_array() || !item[1].is_number_integer() || item[1].get<int64_t>() < 0 ||
                item[1].get<int64_t>() > c.n_layer)
                bad("expected a list of [[kinds...], repeats]");
            for (int64_t r = 0; r < item[1].get<int64_t>(); ++r)
                for (const auto& kind : item[0]) {
                    if (!kind.is_string() || (kind != "global" && kind != "local")) bad("a kind is \"global\" or \"local\"");
                    kinds.push_back(kind.get<std::string>());
                }
        }
    } else {
        for (int l = 0; l < c.n_layer; ++l) kinds.push_back(l % 2 ? "local" : "global");  // the default: [[["global", "local"], n/2]]
    }
    if (static_cast<int>(kinds.size()) != c.n_layer)
        bad("it names " + std::to_string(kinds.size()) + " layers; num_layers is " + std::to_string(c.n_layer));
    if (json.contains("attention_layers") && json["attention_layers"] != nlohmann::json(kinds))
        j.fail("attention_layers " + json["attention_layers"].dump() + " is not what attention_types expands to");
    for (const auto& kind : kinds) c.local.push_back(kind == "local");
    return c;
}

Model::Model(const std::filesystem::path& dir)
    : config_(Config::load(dir)), weights_(dir, {"transformer."}),
      blocks_(weights_, config_.n_layer, [this](const models::WeightReader& r, int l) { return load_block(r, l); }) {
    const Config& c = config_;
    const int64_t d = c.d_model;
    wte_ = weights_.get_raw("wte.weight", {c.vocab_size, d});
    wpe_ = weights_.get("wpe.weight", {c.max_positions, d});
    ln_f_w_ = weights_.get("ln_f.weight", {d});
    ln_f_b_ = weights_.get("ln_f.bias", {d});
    blocks_.check((dir / "config.json").string() + ": num_layers");
}

BlockWeights Model::load_block(const models::WeightReader& r, int l) const {
    const int64_t d = config_.d_model, m = config_.d_mlp;
    // h.N.attn.attention.bias / masked_bias (causal-mask buffers in older files) are ignored.
    const std::string p = "h." + std::to_string(l) + ".", a = p + "attn.attention.";
    return {r.get(p + "ln_1.weight", {d}), r.get(p + "ln_1.bias", {d}),
            r.matrix(a + "q_proj.weight", {d, d}), r.matrix(a + "k_proj.weight", {d, d}), r.matrix(a + "v_proj.weight", {d, d}),
            r.matrix(a + "out_proj.weight", {d, d}), r.get(a + "out_proj.bias", {d}),
            r.get(p + "ln_2.weight", {d}), r.get(p + "ln_2.bias", {d}),
            r.matrix(p + "mlp.c_fc.weight", {m, d}), r.get(p + "mlp.c_fc.bias", {m}),
            r.matrix(p + "mlp.c_proj.weight", {d, m}), r.get(p + "mlp.c_proj.bias", {d})};
}

const models::HookCatalog& Model::catalog() const {
    static const models::HookCatalog hooks{
        "gpt_neo",
        {"hook_resid_pre", "attn.hook_q", "attn.hook_k", "attn.hook_v", "attn.hook_pattern", "hook_attn_out",
         "hook_resid_mid", "hook_mlp_out", "hook_resid_post"},
        {"hook_embed", "hook_pos_embed"},
        {"ln_final.hook_normalized", "logits"}};
    return hooks;
}

void Model::forward(const torch::Tensor& ids, const models::Hooks& hooks, const models::PassContext& context) const {
    torch::InferenceMode guard;
    const Config& c = config_;
    const int64_t B = ids.size(0), T = ids.size(1), d = c.d_model, H = c.n_head, dh = c.d_head;
    const double eps = c.layer_norm_epsilon;

    const torch::Tensor tok = models::embed(wte_, ids);                           // [B, T, d]
    const int64_t first = context.offset();                                          // after a cached prefix
    const torch::Tensor pos = wpe_.slice(0, first, first + T).unsqueeze(0);          // [1, T, d]
    hooks("hook_embed", tok);
    hooks("hook_pos_embed", pos.expand({B, T, d}));
    torch::Tensor x = (tok + pos).view({B * T, d});                                  // residual stream

    for (int l = 0; l <= hooks.last_layer(); ++l) {
        const BlockWeights& w = blocks_[l];
        const auto hook = hooks.block(l);
        hook("hook_resid_pre", x.view({B, T, d}));

        const torch::Tensor h1 = models::layer_norm(x, w.ln_1_w, w.ln_1_b, eps);
        const torch::Tensor q = models::linear(h1, w.wq, {}).view({B, T, H, dh});
        const torch::Tensor k = models::linear(h1, w.wk, {}).view({B, T, H, dh});
        const torch::Tensor v = models::linear(h1, w.wv, {}).view({B, T, H, dh});
        hook("attn.hook_q", q);
        hook("attn.hook_k", k);
        hook("attn.hook_v", v);
        const auto [keys, values] = context.keys_values(l, k, v);                      // with a cached prefix's
        if (hook.done_after("attn.hook_v")) return;
        // Scores are q.k unscaled (GPT-Neo never divides by sqrt(d_head)); local layers see the
        // last window_size keys, the query's own included.
        const auto [z, pattern] = models::attention(q, keys, values, 1.0, true, c.local[l] ? c.window_size : 0);
        hook("attn.hook_pattern", pattern);
        const torch::Tensor attn_out = models::linear(z, w.wo, w.bo);
        hook("hook_attn_out", attn_out.view({B, T, d}));
        x = x + attn_out;
        hook("hook_resid_mid", x.view({B, T, d}));
        if (hook.done_after("hook_resid_mid")) return;

        const torch::Tensor h2 = models::layer_norm(x, w.ln_2_w, w.ln_2_b, eps);
        const torch::Tensor mlp_out =
            models::linear(models::activation(models::linear(h2, w.fc_w, w.fc_b), c.activation_function), w.proj_w, w.proj_b);
        hook("hook_mlp_out", mlp_out.view({B, T, d}));
        x = x + mlp_out;
        hook("hook_resid_post", x.view({B, T, d}));
    }

    if (hooks.want("ln_final.hook_normalized") || hooks.want("logits")) {
        const torch::Tensor normalized = final_norm(x);
        hooks("ln_final.hook_normalized", normalized.view({B, T, d}));
        if (hooks.want("logits")) hooks("logits", models::linear(normalized, wte_, {}).view({B, T, -1}));  // tied head
    }
}

torch::Tensor Model::final_norm(const torch::Tensor& x) const { return models::layer_norm(x, ln_f_w_, ln_f_b_, config_.layer_norm_epsilon); }

torch::Tensor Model::unembed(const torch::Tensor& residual) const { return models::linear(final_norm(residual), wte_, {}); }

}  // namespace laminar::gpt_neo
