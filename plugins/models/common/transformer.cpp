#include "transformer.hpp"

#include <algorithm>
#include <cstdlib>
#include <future>
#include <map>
#include <system_error>
#include <thread>

#include <malloc.h>
#include <sched.h>

#include <ATen/Parallel.h>

namespace laminar::models {

namespace {

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
    // A folder without an output head (a bare BertModel, RobertaModel, DistilBertModel) has no
    // logits in its catalog, and nothing to unembed with.
    const auto& after = model().catalog().after;
    if (std::find(after.begin(), after.end(), "logits") == after.end())
        throw SpecError("", "this " + model().catalog().family +
                                " folder has no output head (its weights hold the base model only): no logits, so no logit lens");
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

TransformerBackend::~TransformerBackend() = default;

namespace {

/// Under `ulimit -v` a new thread's stack can pass the limit, and the thread libraries answer
/// badly: OpenMP (libtorch's loops) ends the process with its own one-line message, and
/// libpthreadpool (libtorch's other pool) waits forever. Start as many threads here first, all
/// at once, and say so where that fails.
void require_threads(int n) {
    std::promise<void> go;
    const std::shared_future<void> released = go.get_future().share();
    std::vector<std::thread> started;
    std::string failure;
    try {
        for (int i = 0; i < n; ++i) started.emplace_back([released] { released.wait(); });
    } catch (const std::system_error& e) {
        failure = e.what();
    }
    go.set_value();
    for (auto& t : started) t.join();
    if (!failure.empty())
        throw std::runtime_error("out of memory: cannot start " + std::to_string(n) + " threads for the forward pass (" + failure +
                                 "; under ulimit -v, each thread's stack counts against the limit)");
}

}  // namespace

int use_allowed_cores() {
    // libtorch's threads (the products', norms' and attention's) default to the physical cores
    // its cpuinfo finds, which on some virtual machines is 1 of 2. Unless OMP_NUM_THREADS says
    // otherwise, take every core this process may run on (an mpirun rank bound to one core: 1)
    // by setting OMP_NUM_THREADS, which libtorch reads as its default in each thread that starts
    // a parallel loop. Not at::set_num_threads: each such thread would then call it again, and
    // each call re-creates libtorch's pthreadpool, whose new threads spin ~25 ms (four pools in a
    // seed-sized run on 2 cores, 7 % of its wall time; one per worker thread on a large node).
    // The numbers do not depend on the count (layers.hpp). A report's Python, started later,
    // inherits the variable: the count it would take anyway.
    cpu_set_t allowed;
    if (!std::getenv("OMP_NUM_THREADS") && ::sched_getaffinity(0, sizeof allowed, &allowed) == 0)
        ::setenv("OMP_NUM_THREADS", std::to_string(std::max(1, CPU_COUNT(&allowed))).c_str(), 0);
    at::init_num_threads();  // this thread's count, read again (it may have run a loop already)
    return at::get_num_threads();
}

void TransformerBackend::load(const std::filesystem::path& dir, const Params&) {
    // A forward pass frees and reallocates activations of tens of megabytes block after block.
    // glibc would hand blocks that large back to the kernel, whose fresh pages must then be
    // faulted in and zeroed again (5-8% of a full forward): keep them in the heap for reuse.
    ::mallopt(M_MMAP_THRESHOLD, 1 << 30);
    ::mallopt(M_TRIM_THRESHOLD, 1 << 30);
    require_threads(use_allowed_cores());
    load_tokenizer(dir);
    model_.reset();
    model_ = make_(dir);
    const auto largest = tokenizer_->max_id();
    if (largest >= model_->shape().vocab_size)
        throw std::runtime_error(dir.string() + ": the tokenizer has token id " + std::to_string(largest) +
                                 " but config.json's vocab_size is " + std::to_string(model_->shape().vocab_size));
}

void TransformerBackend::forward(const std::vector<std::vector<int32_t>>& prompts, const std::vector<int32_t>& shared,
                                 const std::vector<std::string>& hooks, const BatchSink& sink) {
    const Transformer& m = model();
    const HookPlan plan = HookPlan::parse(hooks, m.catalog(), m.info().n_layer);
    for (std::size_t i = 0; i < prompts.size(); ++i) {
        const auto& p = prompts[i];
        if (p.empty()) throw SpecError("", "prompt " + std::to_string(i) + " has no tokens");
        const int max_positions = m.shape().max_positions;
        if (max_positions > 0 && static_cast<int64_t>(p.size()) > max_positions)
            throw SpecError("", "prompt " + std::to_string(i) + " has " + std::to_string(p.size()) +
                                    " tokens; the model takes at most " + std::to_string(max_positions));
        for (int32_t id : p)
            if (id < 0 || id >= m.shape().vocab_size) throw SpecError("", "token id " + std::to_string(id) + " is out of range");
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
            const CaptureFn keep = [&](const std::string& hook, const torch::Tensor& value) {
                prefix_values[hook] = value[0].contiguous();
            };
            m.forward(ids, Hooks(plan, keep), {nullptr, &cache});
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
                const CaptureFn collect = [&](const std::string& hook, const torch::Tensor& value) {
                    auto& rows = captures[hook];
                    const auto shared_part = prefix_values.find(hook);
                    for (std::size_t b = 0; b < batch.size(); ++b)
                        rows.push_back(row(shared_part == prefix_values.end() ? value[b] : torch::cat({shared_part->second, value[b]})));
                    bytes += value.numel() * sizeof(float);
                };
                m.forward(ids, Hooks(plan, collect), context);
                capture_bytes_per_token = std::max(capture_bytes_per_token, static_cast<double>(bytes) / (batch.size() * length));
                sink(batch, captures);
            }
        }
    }
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

}  // namespace laminar::models
