#include "post_ln_encoder.hpp"

#include <cmath>

namespace laminar::models {

const std::vector<std::string>& post_ln_block_hooks() {
    static const std::vector<std::string> hooks = {
        "hook_resid_pre", "attn.hook_q",           "attn.hook_k",    "attn.hook_v",
        "attn.hook_pattern", "hook_attn_out",      "hook_resid_mid", "hook_normalized_resid_mid",
        "hook_mlp_out",   "hook_resid_post",       "hook_normalized_resid_post"};
    return hooks;
}

torch::Tensor post_ln_block(const torch::Tensor& x, const PostLnBlock& w, const Hooks::Block& hook, const EncoderShape& s) {
    const int64_t B = s.batch, T = s.tokens, H = s.heads, dh = s.d_head, d = H * dh;
    hook("hook_resid_pre", x.view({B, T, d}));

    const torch::Tensor q = linear(x, w.wq, w.bq).view({B, T, H, dh});
    const torch::Tensor k = linear(x, w.wk, w.bk).view({B, T, H, dh});
    const torch::Tensor v = linear(x, w.wv, w.bv).view({B, T, H, dh});
    hook("attn.hook_q", q);
    hook("attn.hook_k", k);
    hook("attn.hook_v", v);
    if (hook.done_after("attn.hook_v")) return {};
    const auto [z, pattern] = attention(q, k, v, 1.0 / std::sqrt(static_cast<double>(dh)), false);
    hook("attn.hook_pattern", pattern);
    const torch::Tensor attn_out = linear(z, w.wo, w.bo);
    hook("hook_attn_out", attn_out.view({B, T, d}));

    const torch::Tensor mid = x + attn_out;
    hook("hook_resid_mid", mid.view({B, T, d}));
    const torch::Tensor mid_normalized = layer_norm(mid, w.attn_ln_w, w.attn_ln_b, s.eps);
    hook("hook_normalized_resid_mid", mid_normalized.view({B, T, d}));
    if (hook.done_after("hook_normalized_resid_mid")) return {};
    const torch::Tensor mlp_out = linear(activation(linear(mid_normalized, w.up_w, w.up_b), s.activation), w.down_w, w.down_b);
    hook("hook_mlp_out", mlp_out.view({B, T, d}));
    const torch::Tensor post = mid_normalized + mlp_out;
    hook("hook_resid_post", post.view({B, T, d}));
    torch::Tensor out = layer_norm(post, w.out_ln_w, w.out_ln_b, s.eps);
    hook("hook_normalized_resid_post", out.view({B, T, d}));
    return out;
}

torch::Tensor MlmHead::operator()(const torch::Tensor& x, const std::string& act, double eps) const {
    return linear(layer_norm(activation(linear(x, dense_w, dense_b), act), ln_w, ln_b, eps), decoder, decoder_b);
}

}  // namespace laminar::models
