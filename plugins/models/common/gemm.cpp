#include "gemm.hpp"

#include <cpuid.h>
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <ATen/Parallel.h>

namespace laminar::models::gemm {

namespace {

// Blocks of the product: kDepth values of k at a time (a tile's x rows stay in L1) and
// kColumns output columns (their panels, kDepth deep, stay in L2 while every row passes).
// Each block of k is summed from zero and added to what y holds (gemm.hpp's chain): kDepth is
// part of the numbers' definition, not a tuning knob.
constexpr int64_t kDepth = kBlock;
constexpr int64_t kColumns = 512;

// Weights as the file stores them; widening F16 and BF16 to float32 is exact.
inline float widen(float w) { return w; }
inline float widen(c10::Half w) { return static_cast<float>(w); }
inline float widen(c10::BFloat16 w) { return static_cast<float>(w); }

// A tile: rows x the kernel's width of y, from k0 to k0 + depth (x and panel start at k0): the
// block's sums, each a chain from 0, stored in y (`first`: the first block of k) or added to it.
template <typename W>
using TileFn = void (*)(const float* x, int64_t ldx, const W* panel, int64_t depth, float* y, int64_t ldy, bool first);

// ---- AVX-512: 12 rows x 32 columns (24 accumulators in zmm registers).
// GCC 12 warns that the pass-through operand (_mm512_undefined_*) of unmasked AVX-512
// intrinsics is uninitialized (GCC bug 105593): their mask takes every lane, it is never read.
#pragma GCC diagnostic push
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
__attribute__((target("avx512f"))) inline __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
__attribute__((target("avx512f"))) inline __m512 load16(const c10::Half* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
__attribute__((target("avx512f"))) inline __m512 load16(const c10::BFloat16* p) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))), 16));
}

struct Avx512 {
    static constexpr int rows = 12, width = 32;
    template <int R, typename W>
    __attribute__((target("avx512f"))) static void tile(const float* x, int64_t ldx, const W* panel, int64_t depth, float* y,
                                                          int64_t ldy, bool first) {
        __m512 lo[R], hi[R];
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) lo[r] = hi[r] = _mm512_setzero_ps();
        for (int64_t k = 0; k < depth; ++k) {
            const __m512 w_lo = load16(panel + k * width), w_hi = load16(panel + k * width + 16);
#pragma GCC unroll 16
            for (int r = 0; r < R; ++r) {
                const __m512 a = _mm512_set1_ps(x[r * ldx + k]);
                lo[r] = _mm512_fmadd_ps(a, w_lo, lo[r]);
                hi[r] = _mm512_fmadd_ps(a, w_hi, hi[r]);
            }
        }
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
            _mm512_storeu_ps(y + r * ldy, first ? lo[r] : _mm512_add_ps(_mm512_loadu_ps(y + r * ldy), lo[r]));
            _mm512_storeu_ps(y + r * ldy + 16, first ? hi[r] : _mm512_add_ps(_mm512_loadu_ps(y + r * ldy + 16), hi[r]));
        }
    }
};

#pragma GCC diagnostic pop

// ---- AVX2 + FMA (+ F16C): 6 rows x 16 columns (12 accumulators in ymm registers).
__attribute__((target("avx2,fma,f16c"))) inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
__attribute__((target("avx2,fma,f16c"))) inline __m256 load8(const c10::Half* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
__attribute__((target("avx2,fma,f16c"))) inline __m256 load8(const c10::BFloat16* p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))), 16));
}

struct Avx2 {
    static constexpr int rows = 6, width = 16;
    template <int R, typename W>
    __attribute__((target("avx2,fma,f16c"))) static void tile(const float* x, int64_t ldx, const W* panel, int64_t depth,
                                                               float* y, int64_t ldy, bool first) {
        __m256 lo[R], hi[R];
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) lo[r] = hi[r] = _mm256_setzero_ps();
        for (int64_t k = 0; k < depth; ++k) {
            const __m256 w_lo = load8(panel + k * width), w_hi = load8(panel + k * width + 8);
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) {
                const __m256 a = _mm256_broadcast_ss(x + r * ldx + k);
                lo[r] = _mm256_fmadd_ps(a, w_lo, lo[r]);
                hi[r] = _mm256_fmadd_ps(a, w_hi, hi[r]);
            }
        }
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
            _mm256_storeu_ps(y + r * ldy, first ? lo[r] : _mm256_add_ps(_mm256_loadu_ps(y + r * ldy), lo[r]));
            _mm256_storeu_ps(y + r * ldy + 8, first ? hi[r] : _mm256_add_ps(_mm256_loadu_ps(y + r * ldy + 8), hi[r]));
        }
    }
};

// ---- Any x86-64: std::fma rounds once, as the vector instructions do (slowly where the CPU
// has no FMA: the reference the others are tested against, and the fallback).
struct Portable {
    static constexpr int rows = 4, width = 16;
    template <int R, typename W>
    static void tile(const float* x, int64_t ldx, const W* panel, int64_t depth, float* y, int64_t ldy, bool first) {
        float acc[R][width];
        for (int r = 0; r < R; ++r)
            for (int j = 0; j < width; ++j) acc[r][j] = 0.0f;
        for (int64_t k = 0; k < depth; ++k)
            for (int r = 0; r < R; ++r) {
                const float a = x[r * ldx + k];
                for (int j = 0; j < width; ++j) acc[r][j] = std::fma(a, widen(panel[k * width + j]), acc[r][j]);
            }
        for (int r = 0; r < R; ++r)
            for (int j = 0; j < width; ++j) y[r * ldy + j] = first ? acc[r][j] : y[r * ldy + j] + acc[r][j];
    }
};

// tiles[R]: the tile of R rows (1 .. K::rows), for the last rows of a product.
template <class K, typename W, int... R>
std::array<TileFn<W>, sizeof...(R) + 1> tile_table(std::integer_sequence<int, R...>) {
    return {nullptr, &K::template tile<R + 1, W>...};
}

template <class K, typename W>
void product(const float* x, int64_t rows, int64_t ldx, const Weights& w, float* y, int64_t ldy) {
    static const auto tiles = tile_table<K, W>(std::make_integer_sequence<int, K::rows>{});
    constexpr int64_t R = K::rows, N = K::width, P = kColumns / N;  // P: panels in a block of columns
    const int64_t in = w.in(), out = w.out(), row_blocks = (rows + R - 1) / R, panels = w.panels();
    if (in == 0) {
        for (int64_t r = 0; r < rows; ++r) std::fill(y + r * ldy, y + r * ldy + out, 0.0f);
        return;
    }
    // Tiles in the order: column block, row block, panel. Each thread takes a contiguous run of
    // them (one parallel region per product) and goes through it block of columns by block of
    // columns, all of k for one block of depth at a time: a tile's x rows are read from L1 while
    // the block's panels, laid out in the thread's buffer when its first tile needs them, stream
    // from L2 for every row block.
    auto tile = [&](int64_t t, int64_t k0, int64_t depth, const W* panel) {
        const int64_t block = t / (row_blocks * P), local = t - block * row_blocks * P;
        const int64_t here = std::min(P, panels - block * P);  // panels in this block
        const int64_t r0 = local / here * R, p = block * P + local % here;
        const int rows_here = static_cast<int>(std::min(R, rows - r0));
        const int64_t cols = std::min(N, out - p * N);
        const float* xs = x + r0 * ldx + k0;
        float* ys = y + r0 * ldy + p * N;
        if (cols == N) return tiles[rows_here](xs, ldx, panel, depth, ys, ldy, k0 == 0);
        // The last panel is padded with zero weights: its tile goes through a buffer, and only
        // the real columns come back.
        alignas(64) float buffer[R * N] = {};
        for (int r = 0; r < rows_here; ++r) std::copy(ys + r * ldy, ys + r * ldy + cols, buffer + r * N);
        tiles[rows_here](xs, ldx, panel, depth, buffer, N, k0 == 0);
        for (int r = 0; r < rows_here; ++r) std::copy(buffer + r * N, buffer + r * N + cols, ys + r * ldy);
    };
    at::parallel_for(0, row_blocks * panels, 1, [&](int64_t begin, int64_t end) {
        // One block's panels, kDepth deep, as the kernel reads them (P * kDepth * N weights: 512 KB
        // in float32), and which of them hold the current (block, k0).
        thread_local std::vector<W> laid_out(P * kDepth * N);
        thread_local std::vector<char> ready(P);
        for (int64_t start = begin; start < end;) {
            const int64_t block = start / (row_blocks * P), base = block * row_blocks * P;
            const int64_t here = std::min(P, panels - block * P);
            const int64_t stop = std::min(end, base + row_blocks * P);  // this block's tiles
            for (int64_t k0 = 0; k0 < in; k0 += kDepth) {
                const int64_t depth = std::min(kDepth, in - k0);
                std::fill(ready.begin(), ready.end(), 0);
                for (int64_t t = start; t < stop; ++t) {
                    const int64_t local = (t - base) % here;
                    W* panel = laid_out.data() + local * kDepth * N;
                    if (!ready[local]) {
                        w.pack(block * P + local, k0, depth, panel);
                        ready[local] = 1;
                    }
                    tile(t, k0, depth, panel);
                }
            }
            start = stop;
        }
    });
}

template <class K>
void product_of(const float* x, int64_t rows, int64_t ldx, const Weights& w, float* y, int64_t ldy) {
    switch (w.dtype()) {
        case torch::kFloat32: return product<K, float>(x, rows, ldx, w, y, ldy);
        case torch::kFloat16: return product<K, c10::Half>(x, rows, ldx, w, y, ldy);
        case torch::kBFloat16: return product<K, c10::BFloat16>(x, rows, ldx, w, y, ldy);
        default: throw std::logic_error("gemm: weights of an unexpected dtype");
    }
}

int64_t width_of(Kernel kernel) {
    switch (kernel) {
        case Kernel::avx512: return Avx512::width;
        case Kernel::avx2: return Avx2::width;
        case Kernel::portable: return Portable::width;
    }
    return Portable::width;
}

}  // namespace

bool supported(Kernel kernel) {
    switch (kernel) {
        case Kernel::avx512: return __builtin_cpu_supports("avx512f");
        case Kernel::avx2: {  // F16C through cpuid: clang 14's __builtin_cpu_supports does not know it
            unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
            const bool f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C);
            return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c;
        }
        case Kernel::portable: return true;
    }
    return false;
}

Kernel best_kernel() {
    static const Kernel chosen = [] {
        if (const char* asked = std::getenv("LAMINAR_GEMM_KERNEL"); asked && *asked) {
            const std::string name = asked;
            const Kernel k = name == "avx512" ? Kernel::avx512 : name == "avx2" ? Kernel::avx2 : Kernel::portable;
            if (name != "avx512" && name != "avx2" && name != "portable")
                throw std::runtime_error("LAMINAR_GEMM_KERNEL is \"" + name + "\"; expected avx512, avx2 or portable");
            if (!supported(k)) throw std::runtime_error("LAMINAR_GEMM_KERNEL is " + name + ", which this CPU does not have");
            return k;
        }
        return supported(Kernel::avx512) ? Kernel::avx512 : supported(Kernel::avx2) ? Kernel::avx2 : Kernel::portable;
    }();
    return chosen;
}

Weights::Weights(const torch::Tensor& w, bool in_by_out, Kernel kernel)
    : Weights(w.data_ptr(), w.scalar_type(), w.size(in_by_out ? 0 : 1), w.size(in_by_out ? 1 : 0), w.stride(in_by_out ? 0 : 1),
              w.stride(in_by_out ? 1 : 0), kernel) {
    keep_ = w;
}

Weights::Weights(const void* data, torch::ScalarType dtype, int64_t in, int64_t out, int64_t k_stride, int64_t c_stride,
                 Kernel kernel)
    : in_(in), out_(out), width_(width_of(kernel)), k_stride_(k_stride), c_stride_(c_stride), kernel_(kernel), dtype_(dtype),
      data_(data) {
    if (dtype != torch::kFloat32 && dtype != torch::kFloat16 && dtype != torch::kBFloat16)
        throw std::logic_error("gemm: weights must be F32, F16 or BF16");
}

namespace {

// to[k * ld_to + j] = from[j * ld_from + k] for j < cols, k < depth: an nn.Linear's rows turned
// into k-major panels, in blocks through SSE registers (4 x 4 float32 values, or 8 x 8 16-bit
// ones: SSE2, which every x86-64 has), the edges one by one. Moves only: no value changes.
template <typename T>
void transpose(const T* from, int64_t ld_from, int64_t cols, int64_t depth, T* to, int64_t ld_to) {
    constexpr int64_t B = sizeof(T) == 4 ? 4 : 8;
    int64_t j = 0;
    for (; j + B <= cols; j += B) {
        int64_t k = 0;
        for (; k + B <= depth; k += B) {
            const T* f = from + j * ld_from + k;
            T* t = to + k * ld_to + j;
            if constexpr (sizeof(T) == 4) {
                __m128 r0 = _mm_loadu_ps(reinterpret_cast<const float*>(f)),
                       r1 = _mm_loadu_ps(reinterpret_cast<const float*>(f + ld_from)),
                       r2 = _mm_loadu_ps(reinterpret_cast<const float*>(f + 2 * ld_from)),
                       r3 = _mm_loadu_ps(reinterpret_cast<const float*>(f + 3 * ld_from));
                _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
                _mm_storeu_ps(reinterpret_cast<float*>(t), r0);
                _mm_storeu_ps(reinterpret_cast<float*>(t + ld_to), r1);
                _mm_storeu_ps(reinterpret_cast<float*>(t + 2 * ld_to), r2);
                _mm_storeu_ps(reinterpret_cast<float*>(t + 3 * ld_to), r3);
            } else {
                __m128i a[8], b[8], c[8];
                for (int r = 0; r < 8; ++r) a[r] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(f + r * ld_from));
                for (int r = 0; r < 8; r += 2) {  // pairs of rows interleaved, then pairs of pairs
                    b[r] = _mm_unpacklo_epi16(a[r], a[r + 1]);
                    b[r + 1] = _mm_unpackhi_epi16(a[r], a[r + 1]);
                }
                for (int r = 0; r < 8; r += 4)
                    for (int h = 0; h < 2; ++h) {
                        c[r + 2 * h] = _mm_unpacklo_epi32(b[r + h], b[r + h + 2]);
                        c[r + 2 * h + 1] = _mm_unpackhi_epi32(b[r + h], b[r + h + 2]);
                    }
                for (int q = 0; q < 4; ++q) {  // column 2q and 2q + 1: rows 0-3 from c[q], 4-7 from c[q + 4]
                    _mm_storeu_si128(reinterpret_cast<__m128i*>(t + 2 * q * ld_to), _mm_unpacklo_epi64(c[q], c[q + 4]));
                    _mm_storeu_si128(reinterpret_cast<__m128i*>(t + (2 * q + 1) * ld_to), _mm_unpackhi_epi64(c[q], c[q + 4]));
                }
            }
        }
        for (; k < depth; ++k)
            for (int64_t i = 0; i < B; ++i) to[k * ld_to + j + i] = from[(j + i) * ld_from + k];
    }
    for (; j < cols; ++j)
        for (int64_t k = 0; k < depth; ++k) to[k * ld_to + j] = from[j * ld_from + k];
}

}  // namespace

template <typename T>
void Weights::pack(int64_t p, int64_t k0, int64_t depth, T* to) const {
    const int64_t cols = std::min(width_, out_ - p * width_);
    const T* from = static_cast<const T*>(data_) + p * width_ * c_stride_ + k0 * k_stride_;
    if (k_stride_ == 1)  // nn.Linear: a column's weights side by side
        transpose(from, c_stride_, cols, depth, to, width_);
    else  // Conv1D: a k's weights side by side, read k by k
        for (int64_t k = 0; k < depth; ++k)
            for (int64_t j = 0; j < cols; ++j) to[k * width_ + j] = from[k * k_stride_ + j * c_stride_];
    for (int64_t k = 0; k < depth; ++k)  // the last panel's other columns
        std::fill(to + k * width_ + cols, to + (k + 1) * width_, T(0));
}

template void Weights::pack(int64_t, int64_t, int64_t, float*) const;
template void Weights::pack(int64_t, int64_t, int64_t, c10::Half*) const;
template void Weights::pack(int64_t, int64_t, int64_t, c10::BFloat16*) const;

void multiply(const float* x, int64_t rows, int64_t ldx, const Weights& w, float* y, int64_t ldy) {
    switch (w.kernel()) {
        case Kernel::avx512: return product_of<Avx512>(x, rows, ldx, w, y, ldy);
        case Kernel::avx2: return product_of<Avx2>(x, rows, ldx, w, y, ldy);
        case Kernel::portable: return product_of<Portable>(x, rows, ldx, w, y, ldy);
    }
}

}  // namespace laminar::models::gemm
