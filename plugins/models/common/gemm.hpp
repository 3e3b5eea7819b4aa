// The matrix products of a forward pass, computed so that a row's numbers never depend on the
// rows beside it. BLAS libraries pick kernels, blockings and thread splits by the shape of the
// whole product, and OpenBLAS's Haswell kernels give a row at some offsets of a batch other
// last bits than the same row alone: a prompt's activations would then depend on its batch,
// shard or rank. Here every output element is one fixed sum: k runs in blocks of kBlock, each
// block summed by a chain of fused multiply-adds from 0 in increasing k,
//     s_b[r][c] = fma(x[r][k1-1], w[k1-1][c], ... fma(x[r][k0], w[k0][c], 0))   (k0 = b kBlock)
// and the blocks' sums added in order, y = ((s_0 + s_1) + s_2) + ..., in float32, whichever
// rows share the call, whichever thread computes it and whichever kernel runs it (AVX-512,
// AVX2 + FMA, or std::fma on any x86-64): identical inputs meet identical arithmetic, by
// construction. Blocks, as BLAS kernels sum, keep the rounding error of the long products of
// large models (k = 10,240 to 16,384) near BLAS's: one chain over all of k drifts ~sqrt(k/kBlock)
// times further from the exact sum (tests/unit/test_gemm.cpp).
#pragma once

#include <cstdint>

#include <torch/types.h>  // (not torch/torch.h: nn, optim and data would double each compile)
#include <torch/utils.h>

namespace laminar::models::gemm {

/// The length of the blocks of k whose chains are summed (part of every product's definition).
inline constexpr int64_t kBlock = 256;

/// The instruction sets a product can run on; all give the same bits.
enum class Kernel { avx512, avx2, portable };
/// Whether this CPU can run `kernel` (avx512: AVX-512F; avx2: AVX2, FMA and F16C).
bool supported(Kernel kernel);
/// The fastest this CPU has, unless LAMINAR_GEMM_KERNEL names another (avx512, avx2, portable).
Kernel best_kernel();

/// A weight matrix as the product reads it: a view of the weights where they lie (the mapped
/// file, in its dtype: F32, F16 or BF16, widened exactly as the kernel reads them), never a copy.
/// The product lays each block of it out as its kernel wants, panels of the kernel's width, each
/// k-major, in a small buffer of the thread that computes with it (L2-sized, reused for every
/// row of the block): a model takes no memory beyond its file's pages, and loading it copies
/// nothing. Moving values changes no bit of the product.
class Weights {
public:
    /// `w` as nn.Linear stores it, [out, in], or (`in_by_out`) as GPT-2's Conv1D, [in, out];
    /// kept alive by this view.
    Weights(const torch::Tensor& w, bool in_by_out, Kernel kernel = best_kernel());
    /// Weights (k, c) at data + k * k_stride + c * c_stride (in elements of `dtype`), alive while
    /// this view is used.
    Weights(const void* data, torch::ScalarType dtype, int64_t in, int64_t out, int64_t k_stride, int64_t c_stride,
            Kernel kernel = best_kernel());
    int64_t in() const { return in_; }
    int64_t out() const { return out_; }
    Kernel kernel() const { return kernel_; }
    torch::ScalarType dtype() const { return dtype_; }
    int64_t width() const { return width_; }
    int64_t panels() const { return (out_ + width_ - 1) / width_; }
    /// Panel p's weights for k = k0 .. k0 + depth - 1 into `to`, `width()` per k (k-major),
    /// zeros past the last column. T is the dtype's C++ type (float, c10::Half, c10::BFloat16).
    template <typename T>
    void pack(int64_t p, int64_t k0, int64_t depth, T* to) const;

private:
    int64_t in_ = 0, out_ = 0, width_ = 0, k_stride_ = 0, c_stride_ = 0;
    Kernel kernel_;
    torch::ScalarType dtype_;
    const void* data_ = nullptr;
    torch::Tensor keep_;  // the tensor viewed, when there is one
};

/// y[r, c] = sum over k of x[r, k] w[k, c] (the sum above), for `rows` rows of x (float32,
/// row r at x + r * ldx, `w.in()` wide) into y (row r at y + r * ldy, `w.out()` wide).
/// Parallel over tiles of rows and columns with libtorch's threads (serial when called from
/// one of them; the library is built with OpenMP, as libtorch is, or libtorch's parallel_for
/// would run inline): the split changes which thread computes an element, never how.
void multiply(const float* x, int64_t rows, int64_t ldx, const Weights& w, float* y, int64_t ldy);

}  // namespace laminar::models::gemm
