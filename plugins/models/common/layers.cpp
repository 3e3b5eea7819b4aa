#include "layers.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <mutex>
#include <map>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include <ATen/Parallel.h>
#include <ATen/ThreadLocalState.h>

#include "gemm.hpp"

namespace laminar::models {

namespace {

/// x [..., in] times the weights, plus b.
torch::Tensor times(const torch::Tensor& x, const gemm::Weights& w, const torch::Tensor& b) {
    const torch::Tensor rows = x.reshape({-1, w.in()}).to(torch::kFloat32).contiguous();
    torch::Tensor y = torch::empty({rows.size(0), w.out()}, torch::kFloat32);
    gemm::multiply(rows.data_ptr<float>(), rows.size(0), w.in(), w, y.data_ptr<float>(), w.out());
    if (b.defined()) y.add_(b);  // exact, elementwise
    std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
    shape.back() = w.out();
    return y.view(shape);
}

/// `f(in, out, d)` on each row of x (last dimension d, float32), rows shared among libtorch's
/// threads: a row's numbers come from that row alone.
template <typename F>
torch::Tensor each_row(const torch::Tensor& x, F f) {
    const torch::Tensor rows = x.to(torch::kFloat32).contiguous();
    torch::Tensor out = torch::empty_like(rows);
    const int64_t d = rows.size(-1), n = d ? rows.numel() / d : 0;
    const float* in = rows.data_ptr<float>();
    float* to = out.data_ptr<float>();
    at::parallel_for(0, n, 16, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) f(in + r * d, to + r * d, d);
    });
    return out;
}

/// `f` (libtorch operations) applied to each row of x by a call of its own: libtorch picks vector
/// widths, scalar tails and thread splits by a tensor's size, here the row's alone.
template <typename F>
torch::Tensor per_row(const torch::Tensor& x, F f) {
    const torch::Tensor rows = x.reshape({-1, x.size(-1)}).contiguous();
    torch::Tensor out = torch::empty_like(rows);
    const at::ThreadLocalState caller;  // inference mode, grad mode: a worker thread starts without them
    at::parallel_for(0, rows.size(0), 1, [&](int64_t begin, int64_t end) {
        at::ThreadLocalStateGuard guard(caller);
        for (int64_t r = begin; r < end; ++r) out[r].copy_(f(rows[r]));
    });
    return out.view(x.sizes());
}

}  // namespace

torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) { return times(x, gemm::Weights(w, false), b); }

torch::Tensor conv1d(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) { return times(x, gemm::Weights(w, true), b); }

// The norms as Hugging Face's modules compute them, written out row by row (mean and variance
// summed in double, in order): the same arithmetic on every CPU, and no libtorch call per row.
torch::Tensor layer_norm(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b, double eps) {
    const float* weight = w.data_ptr<float>();
    const float* bias = b.defined() ? b.data_ptr<float>() : nullptr;
    return each_row(x, [&](const float* in, float* out, int64_t d) {
        double sum = 0, squares = 0;
        for (int64_t i = 0; i < d; ++i) sum += in[i];
        const double mean = sum / d;
        for (int64_t i = 0; i < d; ++i) squares += (in[i] - mean) * (in[i] - mean);
        const double scale = 1.0 / std::sqrt(squares / d + eps);  // biased variance, as torch's
        for (int64_t i = 0; i < d; ++i) out[i] = static_cast<float>((in[i] - mean) * scale) * weight[i] + (bias ? bias[i] : 0.0f);
    });
}

torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& w, double eps) {
    const float* weight = w.data_ptr<float>();
    return each_row(x, [&](const float* in, float* out, int64_t d) {
        double squares = 0;
        for (int64_t i = 0; i < d; ++i) squares += static_cast<double>(in[i]) * in[i];
        const float scale = static_cast<float>(1.0 / std::sqrt(squares / d + eps));
        for (int64_t i = 0; i < d; ++i) out[i] = in[i] * scale * weight[i];  // as Llama: (x * rsqrt) * w, in float32
    });
}

torch::Tensor activation(const torch::Tensor& x, const std::string& name) {
    using Fn = torch::Tensor (*)(const torch::Tensor&);
    const Fn f = name == "gelu" ? Fn([](const torch::Tensor& r) { return torch::gelu(r); })  // exact (erf)
                 : name == "relu" ? Fn([](const torch::Tensor& r) { return torch::relu(r); })
                 : name == "silu" || name == "swish" ? Fn([](const torch::Tensor& r) { return torch::silu(r); })
                 // gelu_new, gelu_fast, gelu_pytorch_tanh: the tanh approximation
                 : Fn([](const torch::Tensor& r) { return torch::gelu(r, "tanh"); });
    return per_row(x, f);
}

void check_activation(const std::string& name, const std::filesystem::path& config) {
    for (const char* known : {"gelu", "relu", "silu", "swish", "gelu_new", "gelu_fast", "gelu_pytorch_tanh"})
        if (name == known) return;
    throw std::runtime_error(config.string() + ": activation \"" + name +
                             "\" is not supported (gelu, gelu_new, gelu_fast, gelu_pytorch_tanh, relu, silu)");
}

torch::Tensor embed(const torch::Tensor& table, const torch::Tensor& ids) {
    return torch::embedding(table, ids).to(torch::kFloat32);
}

std::pair<torch::Tensor, torch::Tensor> attention(const torch::Tensor& q_in, const torch::Tensor& k_in, const torch::Tensor& v_in,
                                                  double scale, bool causal, int window, double softcap) {
    const torch::Tensor q = q_in.to(torch::kFloat32).contiguous(), k = k_in.to(torch::kFloat32).contiguous(),
                        v = v_in.to(torch::kFloat32).contiguous();
    const int64_t B = q.size(0), T = q.size(1), H = q.size(2), dh = q.size(3), KV = k.size(2), group = H / KV;
    const int64_t Tk = k.size(1), past = Tk - T;  // query t stands at position past + t
    torch::Tensor z = torch::empty({B, T, H, dh}, torch::kFloat32);
    torch::Tensor pattern = torch::empty({B, H, T, Tk}, torch::kFloat32);  // every entry is written below
    const float* qs = q.data_ptr<float>();
    const float* ks = k.data_ptr<float>();
    const float* vs = v.data_ptr<float>();
    float* zs = z.data_ptr<float>();
    float* ps = pattern.data_ptr<float>();
    const float factor = static_cast<float>(scale), cap = static_cast<float>(softcap);
    // One prompt's head at a time: its products and its softmax depend on it alone.
    at::parallel_for(0, B * H, 1, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
            const int64_t b = i / H, h = i % H, g = h / group;
            const float* keys = ks + (b * Tk * KV + g) * dh;  // key j at keys + j * KV * dh
            const float* values = vs + (b * Tk * KV + g) * dh;
            float* p = ps + i * T * Tk;                            // [T, Tk]
            // scores = q kᵀ: the keys as the weights of a [Tk, dh] nn.Linear.
            gemm::multiply(qs + (b * T * H + h) * dh, T, H * dh, gemm::Weights(keys, torch::kFloat32, dh, Tk, 1, KV * dh), p, Tk);
            for (int64_t t = 0; t < T; ++t) {
                float* row = p + t * Tk;
                const int64_t last = causal ? past + t : Tk - 1;
                const int64_t first = causal && window > 0 ? std::max<int64_t>(0, past + t - window + 1) : 0;
                float top = -std::numeric_limits<float>::infinity();
                if (softcap > 0)  // Gemma 2: cap * tanh(s / cap) of the scaled score, before the mask
                    for (int64_t j = first; j <= last; ++j) row[j] = cap * std::tanh(row[j] * factor / cap);
                else
                    for (int64_t j = first; j <= last; ++j) row[j] *= factor;
                for (int64_t j = first; j <= last; ++j) top = std::max(top, row[j]);
                double sum = 0;
                for (int64_t j = first; j <= last; ++j) sum += (row[j] = std::exp(row[j] - top));
                const float total = static_cast<float>(sum);
                std::fill(row, row + first, 0.0f);
                for (int64_t j = first; j <= last; ++j) row[j] /= total;
                std::fill(row + last + 1, row + Tk, 0.0f);
            }
            // z = pattern v: the values as the weights of a [Tk, dh] Conv1D.
            gemm::multiply(p, T, Tk, gemm::Weights(values, torch::kFloat32, Tk, dh, KV * dh, 1), zs + (b * T * H + h) * dh, H * dh);
        }
    });
    return {z.view({B * T, H * dh}), std::move(pattern)};
}

torch::Tensor soft_cap(const torch::Tensor& x, double cap) {
    const float c = static_cast<float>(cap);
    return each_row(x, [&](const float* in, float* out, int64_t d) {
        for (int64_t i = 0; i < d; ++i) out[i] = c * std::tanh(in[i] / c);
    }).view(x.sizes());
}

Rotary::Rotary(int64_t T, int64_t dims, double theta, int64_t offset, bool interleaved) : dims_(dims), interleaved_(interleaved) {
    // As Hugging Face computes them: inv_freq in float32, angles for positions 0..T-1.
    const torch::Tensor inv_freq =
        1.0 / torch::pow(theta, torch::arange(0, dims, 2, torch::kInt64).to(torch::kFloat32) / static_cast<double>(dims));
    const torch::Tensor angles = torch::outer(torch::arange(offset, offset + T, torch::kFloat32), inv_freq);  // [T, dims/2]
    // Rotate-half: angle i for dimensions i and i + dims/2; rotate-every-two: for 2i and 2i + 1.
    const torch::Tensor both = (interleaved ? angles.repeat_interleave(2, -1) : torch::cat({angles, angles}, -1)).view({1, T, 1, dims});
    cos_ = both.cos();
    sin_ = both.sin();
}

torch::Tensor Rotary::apply(const torch::Tensor& x) const {
    const bool partial = dims_ < x.size(-1);
    const torch::Tensor r = partial ? x.narrow(-1, 0, dims_) : x;
    torch::Tensor turned;  // the partner of each dimension, signed: x_i's rotated value is x_i cos + partner sin
    if (interleaved_) {
        const torch::Tensor even = r.slice(-1, 0, dims_, 2), odd = r.slice(-1, 1, dims_, 2);
        turned = torch::stack({-odd, even}, -1).flatten(-2);  // (-x1, x0, -x3, x2, ...)
    } else {
        const auto halves = r.chunk(2, -1);
        turned = torch::cat({-halves[1], halves[0]}, -1);
    }
    const torch::Tensor rotated = r * cos_ + turned * sin_;
    return partial ? torch::cat({rotated, x.narrow(-1, dims_, x.size(-1) - dims_)}, -1) : rotated;
}

}  // namespace laminar::models
