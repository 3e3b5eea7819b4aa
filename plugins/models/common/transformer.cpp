#include "transformer.hpp"

#include <map>

namespace laminar::models {

namespace {

constexpr int64_t kMaxTokensPerBatch = 8192;  // bounds one batch's activations; prompts are short

/// Copies prompt `b` of a batch tensor [batch, ...] into a laminar::Tensor.
laminar::Tensor row(const torch::Tensor& batch, int64_t b) {
    const torch::Tensor t = batch[b].contiguous();
    laminar::Tensor out;
    out.shape.assign(t.sizes().begin(), t.sizes().end());
    out.data.assign(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
    return out;
}

}  // namespace

const Transformer& TransformerBackend::model() const {
    if (!model_) throw std::logic_error("model backend: load() was not called");
    return *model_;
}

const Tokenizer& TransformerBackend::tokenizer() const {
    if (!tokenizer_) throw std::logic_error("model backend: no tokenizer loaded");
    return *tokenizer_;
}

void TransformerBackend::load(const std::filesystem::path& dir, const Params&) {
    load_tokenizer(dir);
    model_ = make_(dir);
    const auto largest = tokenizer_->max_id();
    if (largest >= model_->vocab_size())
        throw std::runtime_error(dir.string() + ": the tokenizer has token id " + std::to_string(largest) +
                                 " but config.json's vocab_size is " + std::to_string(model_->vocab_size()));
}

void TransformerBackend::forward(const std::vector<std::vector<int32_t>>& prompts,
                                 const std::vector<std::string>& hooks, const BatchSink& sink) {
    const Transformer& m = model();
    const HookPlan plan = HookPlan::parse(hooks, m.catalog(), m.info().n_layer);

    // Length buckets: equal-length prompts batch without padding, so every prompt's numbers
    // are the ones it gets alone (no mask, no pad tokens).
    std::map<std::size_t, std::vector<std::size_t>> buckets;
    for (std::size_t i = 0; i < prompts.size(); ++i) {
        const auto& p = prompts[i];
        if (p.empty()) throw SpecError("", "prompt " + std::to_string(i) + " has no tokens");
        if (m.max_positions() > 0 && static_cast<int64_t>(p.size()) > m.max_positions())
            throw SpecError("", "prompt " + std::to_string(i) + " has " + std::to_string(p.size()) +
                                    " tokens; the model takes at most " + std::to_string(m.max_positions()));
        for (int32_t id : p)
            if (id < 0 || id >= m.vocab_size()) throw SpecError("", "token id " + std::to_string(id) + " is out of range");
        buckets[p.size()].push_back(i);
    }
    for (const auto& [length, members] : buckets) {
        const std::size_t per_batch = std::max<std::size_t>(1, kMaxTokensPerBatch / length);
        for (std::size_t start = 0; start < members.size(); start += per_batch) {
            const std::vector<std::size_t> batch(members.begin() + start,
                                                 members.begin() + std::min(members.size(), start + per_batch));
            torch::Tensor ids = torch::empty({static_cast<int64_t>(batch.size()), static_cast<int64_t>(length)}, torch::kInt64);
            auto a = ids.accessor<int64_t, 2>();
            for (std::size_t b = 0; b < batch.size(); ++b)
                for (std::size_t t = 0; t < length; ++t) a[b][t] = prompts[batch[b]][t];
            Captures captures;
            m.forward(ids, plan, [&](const std::string& hook, const torch::Tensor& value) {
                auto& rows = captures[hook];
                for (std::size_t b = 0; b < batch.size(); ++b) rows.push_back(row(value, b));
            });
            sink(batch, captures);
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

torch::Tensor linear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
    // mm then an in-place add: libtorch 1.13's addmm with a broadcast bias takes a path about
    // half as fast as plain mm on CPU (tools/bench/bench_extract.py measures it).
    torch::Tensor y = torch::mm(x, w.t());
    return b.defined() ? y.add_(b) : y;
}

}  // namespace laminar::models
