// The gpt2 model plugin: Hugging Face GPT-2 folders (gpt2, gpt2-medium, gpt2-large,
// distilgpt2, ...) behind laminar's ModelBackend interface.
#include <map>
#include <memory>
#include <optional>

#include "laminar/model_backend.hpp"
#include "model.hpp"
#include "tokenizer.hpp"

namespace laminar::gpt2 {

namespace {

constexpr int64_t kMaxTokensPerBatch = 8192;  // bounds activation memory; prompts are short

/// Copies prompt `b` of a batch tensor [batch, ...] into a laminar::Tensor.
laminar::Tensor row(const torch::Tensor& batch, int64_t b) {
    const torch::Tensor t = batch[b].contiguous();
    laminar::Tensor out;
    out.shape.assign(t.sizes().begin(), t.sizes().end());
    out.data.assign(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
    return out;
}

}  // namespace

class Gpt2Backend : public ModelBackend {
public:
    void load(const std::filesystem::path& dir, const Params&) override {
        load_tokenizer(dir);
        model_ = std::make_unique<Model>(dir);
        if (tokenizer_->vocab_size() > static_cast<std::size_t>(model_->config().vocab_size))
            throw std::runtime_error(dir.string() + ": the tokenizer has " + std::to_string(tokenizer_->vocab_size()) +
                                     " tokens but config.json's vocab_size is " +
                                     std::to_string(model_->config().vocab_size));
    }

    void load_tokenizer(const std::filesystem::path& dir) override { tokenizer_ = Tokenizer::load(dir); }

    ModelInfo info() const override {
        const Config& c = model_->config();
        return {"gpt2", c.n_layer, c.n_head, c.n_embd};
    }

    std::vector<int32_t> tokenize(const std::string& text) const override { return tokenizer_->encode(text); }
    std::string token_text(int32_t id) const override { return tokenizer_->decode(id); }

    Captures forward(const std::vector<std::vector<int32_t>>& prompts, const std::vector<std::string>& hooks) override {
        const Config& c = model_->config();
        const HookPlan plan = HookPlan::parse(hooks, c.n_layer);
        Captures out;
        for (const auto& h : hooks) out[h].resize(prompts.size());

        // Length buckets: equal-length prompts batch without padding, so every prompt's
        // numbers are the ones it gets alone (no mask, no pad tokens).
        std::map<std::size_t, std::vector<std::size_t>> buckets;
        for (std::size_t i = 0; i < prompts.size(); ++i) {
            const auto& p = prompts[i];
            if (p.empty()) throw SpecError("", "prompt " + std::to_string(i) + " has no tokens");
            if (p.size() > static_cast<std::size_t>(c.n_positions))
                throw SpecError("", "prompt " + std::to_string(i) + " has " + std::to_string(p.size()) +
                                        " tokens; the model takes at most " + std::to_string(c.n_positions));
            for (int32_t id : p)
                if (id < 0 || id >= c.vocab_size) throw SpecError("", "token id " + std::to_string(id) + " is out of range");
            buckets[p.size()].push_back(i);
        }
        for (const auto& [length, members] : buckets) {
            const std::size_t per_batch = std::max<std::size_t>(1, kMaxTokensPerBatch / length);
            for (std::size_t start = 0; start < members.size(); start += per_batch) {
                const std::vector<std::size_t> batch(members.begin() + start,
                                                     members.begin() + std::min(members.size(), start + per_batch));
                torch::Tensor ids = torch::empty({static_cast<int64_t>(batch.size()), static_cast<int64_t>(length)}, torch::kInt64);
                for (std::size_t b = 0; b < batch.size(); ++b)
                    for (std::size_t t = 0; t < length; ++t) ids[b][t] = prompts[batch[b]][t];
                model_->forward(ids, plan, [&](const std::string& hook, const torch::Tensor& value) {
                    for (std::size_t b = 0; b < batch.size(); ++b) out[hook][batch[b]] = row(value, b);
                });
            }
        }
        return out;
    }

private:
    std::optional<Tokenizer> tokenizer_;
    std::unique_ptr<Model> model_;
};

namespace {
constexpr const char* kSchema = R"({
  "type": "object", "additionalProperties": false, "properties": {},
  "description": "the gpt2 backend takes no options: everything comes from the model folder"
})";
}

}  // namespace laminar::gpt2

LAMINAR_PLUGIN(laminar::ModelBackend, "model", laminar::gpt2::Gpt2Backend, "gpt2", "1.0.0", laminar::gpt2::kSchema)
