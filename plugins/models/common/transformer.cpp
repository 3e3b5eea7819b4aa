#include "transformer.hpp"

#include <algorithm>
#include <map>
#include <unordered_map>

#include <malloc.h>

namespace laminar::models {

namespace {

/// Float32 copies of F16/BF16 matrices that products of many rows used, by the address of the
/// mapped original; cleared when a model is unloaded (~TransformerBackend).
std::unordered_map<const void*, torch::Tensor>& kept_widened() {
    static std::unordered_map<const void*, torch::Tensor> kept;
    return kept;
}

constexpr int64_t kMaxTokensPerBatch = 8192;           // bounds one batch's activations; prompts are short
constexpr std::size_t kCaptureBytesPerBatch = 256 << 20;  // bounds one batch's captures (all hooks, all positions)

/// Copies one prompt's hook value [pos, ...] into a laminar::Tensor.
laminar::Tensor row(const torch::Tensor& value) {
    const torch::Tensor t = value.contiguous();
    laminar::Tensor out;
    out.shape.assign(t.sizes().begin(), t.sizes().end());
    out.data.assign(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
    return out;
}

}  // namespace

Tensor TransformerBackend::unembed(const Tensor& residual) const {
    torch::NoGradGuard no_grad;
    if (residual.shape.size() != 2 || residual.shape[1] != model().info().d_model)
        throw SpecError("", "unembed: expected rows of width d_model (" + std::to_string(model().info().d_model) + ")");
    const torch::Tensor rows = torch::from_blob(const_cast<float*>(residual.data.data()), {residual.shape[0], residual.shape[1]},
                                                torch::kFloat32);
    const torch::Tensor logits = model().unembed(rows).to(torch::kFloat32).contiguous();
    return {{logits.size(0), logits.size(1)}, std::vector<float>(logits.data_ptr<float>(), logits.data_ptr<float>() + logits.numel())};
}

const Transformer& TransformerBackend::model() const {
    if (!model_) throw std::logic_error("model backend: load() was not called");
    return *model_;
}

const Tokenizer& TransformerBackend::tokenizer() const {
    if (!tokenizer_) throw std::logic_error("model backend: no tokenizer loaded");
    return *tokenizer_;
}

TransformerBackend::~TransformerBackend() { kept_widened().clear(); }  // their originals are unmapped next

void TransformerBackend::load(const std::filesystem::path& dir, const Params&) {
    // A forward pass frees and reallocates activations of tens of megabytes block after block.
    // glibc would hand blocks that large back to the kernel, whose fresh pages must then be
    // faulted in and zeroed again (5-8% of a full forward): keep them in the heap for reuse.
    ::mallopt(M_MMAP_THRESHOLD, 1 << 30);
    ::mallopt(M_TRIM_THRESHOLD, 1 << 30);
    load_tokenizer(dir);
    model_ = make_(dir);
    const auto largest = tokenizer_->max_id();
    if (largest >= model_->vocab_size())
        throw std::runtime_error(dir.string() + ": the tokenizer has token id " + std::to_string(largest) +
                                 " but config.json's vocab_size is " + std::to_string(model_->vocab_size()));
}

void TransformerBackend::forward(const std::vector<std::vector<int32_t>>& prompts, const std::vector<int32_t>& shared,
                                 const std::vector<std::string>& hooks, const BatchSink& sink) {
    const Transformer& m = model();
    const HookPlan plan = HookPlan::parse(hooks, m.catalog(), m.info().n_layer);
    for (std::size_t i = 0; i < prompts.size(); ++i) {
        const auto& p = prompts[i];
        if (p.empty()) throw SpecError("", "prompt " + std::to_string(i) + " has no tokens");
        if (m.max_positions() > 0 && static_cast<int64_t>(p.size()) > m.max_positions())
            throw SpecError("", "prompt " + std::to_string(i) + " has " + std::to_string(p.size()) +
                                    " tokens; the model takes at most " + std::to_string(m.max_positions()));
        for (int32_t id : p)
            if (id < 0 || id >= m.vocab_size()) throw SpecError("", "token id " + std::to_string(id) + " is out of range");
    }

    // Prompts are grouped by the first tokens they share (the template before the word, as the
    // host says): a causal model runs those once per group and each prompt's own tokens after
    // them. The split depends on the prompt alone, never on its batch, so a prompt's numbers are
    // the same alone and in any batch. Attention patterns ([head, query, key]) are not split.
    const bool split = m.causal() && !shared.empty() && hooks.end() == std::find_if(hooks.begin(), hooks.end(), [](const std::string& h) {
                           return h.find("hook_pattern") != std::string::npos; });
    std::map<std::vector<int32_t>, std::vector<std::size_t>> groups;  // shared tokens -> prompts
    for (std::size_t i = 0; i < prompts.size(); ++i) {
        const auto n = split ? std::clamp<std::size_t>(shared.at(i), 0, prompts[i].size() - 1) : 0;
        groups[std::vector<int32_t>(prompts[i].begin(), prompts[i].begin() + n)].push_back(i);
    }

    double capture_bytes_per_token = 0;
    for (const auto& [prefix, members] : groups) {
        // The shared tokens: their keys and values, and their hook values (position first).
        PrefixCache cache;
        std::map<std::string, torch::Tensor> prefix_values;
        const int64_t P = static_cast<int64_t>(prefix.size());
        if (P > 0) {
            torch::Tensor ids = torch::tensor(std::vector<int64_t>(prefix.begin(), prefix.end()), torch::kInt64).view({1, P});
            m.forward(ids, plan, [&](const std::string& hook, const torch::Tensor& value) {
                prefix_values[hook] = value[0].contiguous();
            }, {nullptr, &cache});
        }
        const PassContext context{P > 0 ? &cache : nullptr, nullptr};

        // Length buckets of the rest: equal lengths batch without padding (no mask, no pad
        // tokens). Batch sizes follow what a prompt's captures weigh, measured on the batches
        // run so far: 72 hooks x 5 positions x 1,024 floats is 1.5 MB, so ~170 prompts a batch.
        std::map<std::size_t, std::vector<std::size_t>> buckets;
        for (std::size_t i : members) buckets[prompts[i].size() - P].push_back(i);
        for (const auto& [length, bucket] : buckets) {
            const std::size_t by_tokens = std::max<std::size_t>(1, kMaxTokensPerBatch / length);
            for (std::size_t start = 0, per_batch = std::min<std::size_t>(by_tokens, 64); start < bucket.size(); start += per_batch) {
                if (capture_bytes_per_token > 0)
                    per_batch = std::clamp<std::size_t>(kCaptureBytesPerBatch / (capture_bytes_per_token * (length + P)), 1, by_tokens);
                const std::vector<std::size_t> batch(bucket.begin() + start, bucket.begin() + std::min(bucket.size(), start + per_batch));
                torch::Tensor ids = torch::empty({static_cast<int64_t>(batch.size()), static_cast<int64_t>(length)}, torch::kInt64);
                auto a = ids.accessor<int64_t, 2>();
                for (std::size_t b = 0; b < batch.size(); ++b)
                    for (std::size_t t = 0; t < length; ++t) a[b][t] = prompts[batch[b]][P + t];
                Captures captures;
                std::size_t bytes = 0;
                m.forward(ids, plan, [&](const std::string& hook, const torch::Tensor& value) {
                    auto& rows = captures[hook];
                    const auto shared_part = prefix_values.find(hook);
                    for (std::size_t b = 0; b < batch.size(); ++b)
                        rows.push_back(row(shared_part == prefix_values.end() ? value[b] : torch::cat({shared_part->second, value[b]})));
                    bytes += value.numel() * sizeof(float);
                }, context);
                capture_bytes_per_token = std::max(capture_bytes_per_token, static_cast<double>(bytes) / (batch.size() * length));
                sink(batch, captures);
            }
        }
    }
}

torch::Tensor activation(const torch::Tensor& x, const std::string& name) {
    if (name == "gelu") return torch::gelu(x);  // exact (erf)
    if (name == "relu") return torch::relu(x);
    if (name == "silu" || name == "swish") return torch::silu(x);
    return torch::gelu(x, "tanh");  // gelu_new, gelu_fast, gelu_pytorch_tanh: the tanh approximation
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

namespace {

constexpr int64_t kMinRows = 64;
constexpr int64_t kLargeWeight = int64_t{1} << 22;  // elements (16 MB in float32)

constexpr int64_t kKeepWidenedRows = 256;

/// `w` as float32 for a product of `rows` rows: itself (F32), or widened. A small pass (the
/// seed's study: tens of rows) widens into this thread's reused buffer: a fresh float32 copy
/// would cost about ten times the copy itself in page faults, and the model stays at its file's
/// size. A pass of many rows is compute-bound and comes in a study of many batches: its widened
/// matrix is kept, so later passes skip the copy (memory for speed, as PyTorch holds a model).
torch::Tensor widened(const torch::Tensor& w, int64_t rows) {
    if (w.scalar_type() == torch::kFloat32) return w;
    if (rows >= kKeepWidenedRows) {
        auto& kept = kept_widened()[w.data_ptr()];
        if (!kept.defined()) kept = w.to(torch::kFloat32);
        return kept;
    }
    thread_local torch::Tensor buffer;
    if (!buffer.defined() || buffer.numel() < w.numel()) buffer = torch::empty({w.numel()}, torch::kFloat32);
    return buffer.narrow(0, 0, w.numel()).view(w.sizes()).copy_(w);
}

/// x B, with at least kMinRows rows given to BLAS when B is small (see linear()); B may be a
/// transposed view.
torch::Tensor batch_invariant_mm(const torch::Tensor& x, const torch::Tensor& b) {
    const int64_t rows = x.size(0);
    if (rows >= kMinRows || b.numel() >= kLargeWeight) return torch::mm(x, b);
    return torch::mm(torch::cat({x, x.new_zeros({kMinRows - rows, x.size(1)})}), b).narrow(0, 0, rows);
}

}  // namespace

// mm then an in-place add: libtorch 1.13's addmm with a broadcast bias takes a path about half
// as fast as plain mm on CPU (tools/bench/bench_extract.py measures it).
torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
    torch::Tensor y = batch_invariant_mm(x, widened(w, x.size(0)).t());
    return b.defined() ? y.add_(b) : y;
}

torch::Tensor conv1d(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
    return batch_invariant_mm(x, widened(w, x.size(0))).add_(b);
}

std::pair<torch::Tensor, torch::Tensor> PassContext::keys_values(int layer, const torch::Tensor& k, const torch::Tensor& v) const {
    if (record) {
        record->k.push_back(k);
        record->v.push_back(v);
        record->length = k.size(1);
    }
    if (!past) return {k, v};
    const int64_t B = k.size(0);
    auto before = [&](const torch::Tensor& cached, const torch::Tensor& own) {
        return torch::cat({cached.expand({B, cached.size(1), cached.size(2), cached.size(3)}), own}, 1);
    };
    return {before(past->k.at(layer), k), before(past->v.at(layer), v)};
}

std::pair<torch::Tensor, torch::Tensor> attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                                  double scale, bool causal, int window) {
    const int64_t B = q.size(0), T = q.size(1), H = q.size(2), dh = q.size(3), group = H / k.size(2);
    const int64_t Tk = k.size(1), past = Tk - T;
    const torch::Tensor qh = q.transpose(1, 2);                                      // [B, H, T, dh]
    torch::Tensor kh = k.transpose(1, 2), vh = v.transpose(1, 2);
    if (group > 1) {
        kh = kh.repeat_interleave(group, 1);
        vh = vh.repeat_interleave(group, 1);
    }
    torch::Tensor scores = torch::matmul(qh, kh.transpose(-1, -2)).mul_(scale);     // [B, H, T, T]
    if (causal) {  // query i stands at position past + i
        torch::Tensor masked = torch::ones({T, Tk}, torch::kBool).triu(1 + past);
        if (window > 0) masked = masked | torch::ones({T, Tk}, torch::kBool).tril(past - window);
        scores.masked_fill_(masked, -std::numeric_limits<float>::infinity());
    }
    torch::Tensor pattern = torch::softmax(scores, -1);
    torch::Tensor z = torch::matmul(pattern, vh).transpose(1, 2).reshape({B * T, H * dh});
    return {std::move(z), std::move(pattern)};
}

Rotary::Rotary(int64_t T, int64_t dims, double theta, int64_t offset) : dims_(dims) {
    // As Hugging Face computes them: inv_freq in float32, angles for positions 0..T-1.
    const torch::Tensor inv_freq =
        1.0 / torch::pow(theta, torch::arange(0, dims, 2, torch::kInt64).to(torch::kFloat32) / static_cast<double>(dims));
    const torch::Tensor angles = torch::outer(torch::arange(offset, offset + T, torch::kFloat32), inv_freq);  // [T, dims/2]
    const torch::Tensor both = torch::cat({angles, angles}, -1).view({1, T, 1, dims});
    cos_ = both.cos();
    sin_ = both.sin();
}

torch::Tensor Rotary::apply(const torch::Tensor& x) const {
    const bool partial = dims_ < x.size(-1);
    const torch::Tensor r = partial ? x.narrow(-1, 0, dims_) : x;
    const auto halves = r.chunk(2, -1);
    const torch::Tensor rotated = r * cos_ + torch::cat({-halves[1], halves[0]}, -1) * sin_;
    return partial ? torch::cat({rotated, x.narrow(-1, dims_, x.size(-1) - dims_)}, -1) : rotated;
}

}  // namespace laminar::models
