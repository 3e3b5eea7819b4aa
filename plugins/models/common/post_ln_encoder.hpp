// The post-LayerNorm encoder that BERT, RoBERTa and DistilBERT share (Devlin et al. 2019): each
// block's attention and MLP sums are normalised before the next sublayer reads them, and the
// masked-language-model head reads the stream after the last block's output LayerNorm. The
// families differ only in their embeddings, their tensors' names and their epsilons and
// activations; each folder reads its own and calls these. Hook names as TransformerLens's
// HookedEncoder: hook_resid_post is a block's sum before its output LayerNorm,
// hook_normalized_resid_post after it (Hugging Face's hidden state).
#pragma once

#include <string>
#include <vector>

#include "transformer.hpp"

namespace laminar::models {

/// A block's hook points, in forward order (the family's HookCatalog::block).
const std::vector<std::string>& post_ln_block_hooks();

struct PostLnBlock {
    torch::Tensor wq, bq, wk, bk, wv, bv;   // [d, d] as stored, [d]
    torch::Tensor wo, bo;                   // attention's output projection
    torch::Tensor attn_ln_w, attn_ln_b;     // the LayerNorm after attention [d]
    torch::Tensor up_w, up_b, down_w, down_b;  // the MLP: [mlp, d], [mlp]; [d, mlp], [d]
    torch::Tensor out_ln_w, out_ln_b;       // the block's output LayerNorm [d]
};

struct EncoderShape {
    int64_t batch, tokens, heads, d_head;
    double eps;               // every LayerNorm of the block
    std::string activation;   // the MLP's (config.json's name)
};

/// One block on x [B*T, d] (bidirectional attention over the whole prompt): its hooks captured
/// as `hook` wants them; returns the block's output [B*T, d], or an undefined tensor when the
/// plan needs nothing after the point it stopped at.
torch::Tensor post_ln_block(const torch::Tensor& x, const PostLnBlock& w, const Hooks::Block& hook, const EncoderShape& s);

/// The masked-language-model head: decoder(layer_norm(activation(dense(x)))) + decoder bias, the
/// decoder [vocab, d] as stored (its own, or the word embeddings it is tied to). Undefined
/// tensors when a folder has no head (BertModel, RobertaModel, DistilBertModel).
struct MlmHead {
    torch::Tensor dense_w, dense_b, ln_w, ln_b, decoder, decoder_b;
    bool present() const { return dense_w.defined(); }
    torch::Tensor operator()(const torch::Tensor& x, const std::string& activation, double eps) const;
};

}  // namespace laminar::models
