// The layers every family's forward pass is made of, each computed so that a prompt's numbers
// are the same alone and in any batch, shard or rank, on any x86-64 CPU and thread count:
//   * products with weights and attention's two products run gemm.hpp's kernel, whose every
//     element is one fixed sum (chains of fused multiply-adds over blocks of k, added in order);
//   * norms are written out row by row; activations run on each row by a libtorch call of its
//     own (libtorch picks vector widths, scalar tails and thread splits by a tensor's size: for
//     one row, by the row alone);
//   * attention runs prompt by prompt and head by head;
//   * what remains (embedding lookups, additions, products by a scalar or by cos/sin, copies) is
//     exact elementwise arithmetic, the same in any lane.
#pragma once

#include <filesystem>
#include <string>
#include <utility>

#include <torch/types.h>  // (not torch/torch.h: nn, optim and data would double each compile)
#include <torch/utils.h>

namespace laminar::models {

/// nn.Linear: x W^T + b for x [..., in] float32 and W [out, in] as stored (F32, F16 or BF16);
/// b float32 or undefined.
torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b);
/// GPT-2's Conv1D: x W + b for W [in, out].
torch::Tensor conv1d(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b);
/// LayerNorm over the last dimension (w and b float32 [d]; b may be undefined).
torch::Tensor layer_norm(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b, double eps);
/// RMSNorm as Llama's: x / sqrt(mean(x^2) + eps) * w.
torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& w, double eps);

/// The activation functions config.json files name (hidden_act, activation_function).
torch::Tensor activation(const torch::Tensor& x, const std::string& name);
/// Throws std::runtime_error naming the file when `name` is not one activation() knows.
void check_activation(const std::string& name, const std::filesystem::path& config);

/// Rows `ids` [B, T] of an embedding table in its file's dtype, as float32 [B, T, d].
torch::Tensor embed(const torch::Tensor& table, const torch::Tensor& ids);

/// Softmax attention of q [B, Tq, H, dh] over k, v [B, Tk, KV, dh] (Tk - Tq cached positions come
/// first); KV divides H and query head h reads key/value head h / (H / KV) (grouped-query
/// attention). `causal` masks later keys, `window` > 0 also keys `window` or more positions back
/// (Mistral). `softcap` > 0 soft-caps the scaled scores before the mask, softcap * tanh(s / softcap)
/// (Gemma 2). Returns the heads' outputs side by side [B*Tq, H*dh] and the pattern [B, H, Tq, Tk].
std::pair<torch::Tensor, torch::Tensor> attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                                  double scale, bool causal, int window = 0, double softcap = 0);

/// Soft-capping, cap * tanh(x / cap), element by element in float32 (std::tanh, not libtorch's
/// vectorised tanh, whose lanes and scalar tails can differ in the last bit): Gemma 2's final
/// logits.
torch::Tensor soft_cap(const torch::Tensor& x, double cap);

/// Rotary position embeddings as Hugging Face applies them (the rotate-half convention: the
/// first and second halves of the rotated dimensions pair up), for positions 0..T-1, on the
/// first `dims` dimensions of each head (all of them, or GPT-NeoX's rotary_pct share).
/// `interleaved`: GPT-J's rotate-every-two convention instead, where neighbouring dimensions
/// (0, 1), (2, 3), ... pair up and pair i turns at frequency i (modeling_gptj's
/// rotate_every_two); the arithmetic is the same elementwise products by cos and sin.
class Rotary {
public:
    /// For positions offset .. offset + T - 1.
    Rotary(int64_t T, int64_t dims, double theta, int64_t offset = 0, bool interleaved = false);
    /// x [B, T, heads, d_head] -> the same shape, rotated.
    torch::Tensor apply(const torch::Tensor& x) const;

private:
    int64_t dims_;
    bool interleaved_ = false;
    torch::Tensor cos_, sin_;  // [1, T, 1, dims]
};

}  // namespace laminar::models
