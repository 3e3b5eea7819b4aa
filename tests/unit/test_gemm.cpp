// The forward passes' product (plugins/models/common/gemm.hpp): every element is the documented
// sum (chains of fused multiply-adds over blocks of k, the blocks' sums added in order), so a
// row's numbers are the same alone, in any batch, at any offset, on any thread count and with
// every kernel this CPU can run. The reference is that sum written out here with std::fma, and
// a float64 product for the accuracy.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include <ATen/Parallel.h>
#include <torch/types.h>
#include <torch/utils.h>

#include "gemm.hpp"

// libtorch brings glog, whose CHECK aborts instead of counting: doctest's is DOCTEST_CHECK here.

using laminar::models::gemm::Kernel;
using laminar::models::gemm::multiply;
using laminar::models::gemm::Weights;

namespace {

std::vector<Kernel> kernels_here() {
    std::vector<Kernel> out;
    for (Kernel k : {Kernel::portable, Kernel::avx2, Kernel::avx512})
        if (laminar::models::gemm::supported(k)) out.push_back(k);
    return out;
}

struct Case {
    torch::Tensor x;  // [rows, in] float32
    torch::Tensor w;  // [out, in] or [in, out], in `dtype`
    bool in_by_out;
};

Case random_case(int64_t rows, int64_t in, int64_t out, torch::ScalarType dtype, bool in_by_out, uint64_t seed) {
    torch::manual_seed(seed);
    return {torch::randn({rows, in}), (in_by_out ? torch::randn({in, out}) : torch::randn({out, in})).to(dtype), in_by_out};
}

/// The documented sum, element by element: a chain of fused multiply-adds from 0 over each block
/// of `block` values of k, the blocks' sums added in order (block = in: one chain over all of k).
std::vector<float> chain(const Case& c, int64_t block = laminar::models::gemm::kBlock) {
    const torch::Tensor w = (c.in_by_out ? c.w : c.w.t()).to(torch::kFloat32).contiguous();  // [in, out], widened exactly
    const int64_t rows = c.x.size(0), in = c.x.size(1), out = w.size(1);
    const float* x = c.x.data_ptr<float>();
    const float* wf = w.data_ptr<float>();
    std::vector<float> y(rows * out);
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < out; ++j) {
            float sum = 0.0f;
            for (int64_t k0 = 0; k0 < in; k0 += block) {
                float acc = 0.0f;
                for (int64_t k = k0; k < std::min(in, k0 + block); ++k) acc = std::fma(x[r * in + k], wf[k * out + j], acc);
                sum = k0 == 0 ? acc : sum + acc;
            }
            y[r * out + j] = sum;
        }
    return y;
}

std::vector<float> product(const Case& c, Kernel kernel, int64_t first_row = 0, int64_t rows = -1) {
    const Weights w(c.w, c.in_by_out, kernel);
    if (rows < 0) rows = c.x.size(0) - first_row;
    std::vector<float> y(rows * w.out());
    multiply(c.x.data_ptr<float>() + first_row * w.in(), rows, w.in(), w, y.data(), w.out());
    return y;
}

bool same_bits(const std::vector<float>& a, const float* b, std::size_t n) { return std::memcmp(a.data(), b, n * sizeof(float)) == 0; }

}  // namespace

TEST_CASE("every kernel computes the documented chain of fused multiply-adds, bit for bit") {
    // Shapes across the kernels' tiles (4, 6, 12 rows; 16, 32 columns) and blocks (256 of k,
    // 512 columns), in every weight dtype and both layouts.
    const int64_t shapes[][3] = {{1, 1, 1}, {5, 64, 192}, {13, 300, 40}, {25, 257, 513}, {7, 520, 1030}};
    uint64_t seed = 1;
    for (const auto& s : shapes)
        for (auto dtype : {torch::kFloat32, torch::kFloat16, torch::kBFloat16})
            for (bool in_by_out : {false, true}) {
                const Case c = random_case(s[0], s[1], s[2], dtype, in_by_out, seed++);
                const std::vector<float> expected = chain(c);
                for (Kernel k : kernels_here()) {
                    CAPTURE(static_cast<int>(k));
                    CAPTURE(s[0]);
                    CAPTURE(s[1]);
                    CAPTURE(s[2]);
                    DOCTEST_CHECK(same_bits(product(c, k), expected.data(), expected.size()));
                }
            }
}

TEST_CASE("a row's numbers are the same alone, in any batch, at any offset and on 1 to 4 threads") {
    const Case c = random_case(70, 600, 700, torch::kFloat32, false, 7);
    const int threads_before = at::get_num_threads();
    for (Kernel k : kernels_here()) {
        at::set_num_threads(1);
        const std::vector<float> all = product(c, k);  // 70 rows, one thread
        const int64_t out = 700;
        for (int threads : {1, 2, 3, 4}) {
            at::set_num_threads(threads);
            for (int64_t first : {0, 1, 5, 11, 12, 13, 37, 69})
                for (int64_t rows : {1, 2, 7, 12, 33})
                    if (first + rows <= 70) {
                        CAPTURE(threads);
                        CAPTURE(first);
                        CAPTURE(rows);
                        DOCTEST_CHECK(same_bits(product(c, k, first, rows), all.data() + first * out, rows * out));
                    }
        }
    }
    at::set_num_threads(threads_before);
}

TEST_CASE("rows and weights with strides, as attention reads them, give the same chain") {
    // Attention's q kᵀ: query rows H * dh apart, keys [Tk, dh] KV * dh apart; its output rows
    // wider than the product (ldy > out) keep what lies beyond.
    const int64_t T = 5, Tk = 9, dh = 24, H = 3, KV = 2;
    torch::manual_seed(3);
    const torch::Tensor q = torch::randn({T, H, dh}), k = torch::randn({Tk, KV, dh});
    const Case c{q.select(1, 2).contiguous(), k.select(1, 1), false};  // head 2 against key/value head 1
    const std::vector<float> expected = chain(c);
    for (Kernel kernel : kernels_here()) {
        const Weights keys(k.data_ptr<float>() + dh, torch::kFloat32, dh, Tk, 1, KV * dh, kernel);
        std::vector<float> y(T * (Tk + 3), -7.0f);
        multiply(q.data_ptr<float>() + 2 * dh, T, H * dh, keys, y.data(), Tk + 3);
        for (int64_t t = 0; t < T; ++t) {
            DOCTEST_CHECK(same_bits(std::vector<float>(expected.begin() + t * Tk, expected.begin() + (t + 1) * Tk), y.data() + t * (Tk + 3), Tk));
            for (int64_t j = Tk; j < Tk + 3; ++j) DOCTEST_CHECK(y[t * (Tk + 3) + j] == -7.0f);
        }
    }
}

TEST_CASE("the product is within float32's error bound of the float64 product") {
    // |fl(sum) - sum| <= gamma_n sum |x_k w_k| with gamma_n = n u / (1 - n u), u = 2^-24
    // (Higham, Accuracy and Stability of Numerical Algorithms, 3.1), n = in.
    const Case c = random_case(9, 1000, 50, torch::kBFloat16, false, 11);
    const torch::Tensor x = c.x.to(torch::kFloat64), w = c.w.to(torch::kFloat64);
    const torch::Tensor exact = x.matmul(w.t()), bound_terms = x.abs().matmul(w.abs().t());
    const double u = std::ldexp(1.0, -24), gamma = 1000 * u / (1 - 1000 * u);
    const std::vector<float> y = product(c, laminar::models::gemm::best_kernel());
    for (int64_t r = 0; r < 9; ++r)
        for (int64_t j = 0; j < 50; ++j)
            DOCTEST_CHECK(std::abs(y[r * 50 + j] - exact[r][j].item<double>()) <= gamma * bound_terms[r][j].item<double>());
}

TEST_CASE("at the depths of large models the blocks' sum drifts several times less than one chain") {
    // k = 16,384 (GPT-J's and Gemma-2B's MLP): one chain over all of k accumulates ~sqrt(k)
    // roundings of a growing sum; blocks of 256 ~sqrt(256) + sqrt(64). Root-mean-square error
    // against the float64 product, over 4 x 64 random elements: the blocks' at most a third of
    // the chain's (expected ~1/5); the product is the documented sum, bit for bit.
    const int64_t in = 16384;
    const Case c = random_case(4, in, 64, torch::kBFloat16, false, 19);
    const torch::Tensor exact = c.x.to(torch::kFloat64).matmul(c.w.to(torch::kFloat64).t());
    const std::vector<float> blocked = product(c, laminar::models::gemm::best_kernel()), one_chain = chain(c, in);
    DOCTEST_CHECK(same_bits(blocked, chain(c).data(), blocked.size()));
    double blocked_sq = 0, chain_sq = 0;
    for (int64_t i = 0; i < 4 * 64; ++i) {
        const double e = exact.view(-1)[i].item<double>();
        blocked_sq += (blocked[i] - e) * (blocked[i] - e);
        chain_sq += (one_chain[i] - e) * (one_chain[i] - e);
    }
    CAPTURE(std::sqrt(blocked_sq / 256));
    CAPTURE(std::sqrt(chain_sq / 256));
    DOCTEST_CHECK(blocked_sq * 9 < chain_sq);
}
