// The logit_lens extractor: each layer's residual stream, at one token of each prompt, through
// the model's final norm and unembedding (ModelBackend::unembed), as if the model stopped there
// (nostalgebraist 2020). What it keeps is small — per stimulus and layer the top k tokens and
// their probabilities, the entropy, the KL divergence between it and the last layer's distribution
// in both directions and the rank and probability of a target token, and the z-score of the top
// logit — so that the logit_lens metric, and any re-analysis, needs neither the model nor its
// unembedding. Being statistics of each prompt's own distribution, they cannot be averaged over a
// word's contexts (`contexts: mean` is refused): the mean distribution would need the whole
// vocabulary of every layer kept for every word until its last context has run. The token read is the one before the word (what
// predicts the word) or the experiment's analysed position; the target is the word's first token
// or the first token of a continuation. A masked language model (BERT) has no next token to
// predict: its lens reads the word itself, masked (each of its tokens replaced by [MASK] in the
// forward pass it reads), and the target is the word's true first token, through the MLM head
// at every layer. Post-LayerNorm encoders read the stream after each block's output LayerNorm.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "laminar/extraction.hpp"
#include "laminar/extractor.hpp"
#include "laminar/model_backend.hpp"

namespace {

using namespace laminar;

/// Per stimulus and layer: entropy, KL(layer ‖ final) (bits), target rank, target probability,
/// z-score of the top logit, KL(final ‖ layer) (bits; last, so that runs from before keep their columns).
constexpr int64_t kStats = 6;

class LogitLens : public Extractor {
public:
    void configure(const Params& params, const ModelInfo& model) override {
        layers_ = parse_layers(params.value("layers", Params("all")), model.n_layer);
        last_ = model.n_layer - 1;
        k_ = params.value("k", 10);
        const bool masked_lm = model.architecture == "bert";
        at_ = params.value("at", std::string(masked_lm ? "masked_word" : "before_word"));
        continuation_ = params.contains("continuation") ? params["continuation"].get<std::string>() : "";
        if (at_ == "masked_word" && !continuation_.empty())
            throw SpecError("continuation", "the masked word is its own target: a continuation is for 'at: before_word' or 'position'");
        site_ = masked_lm ? "normalized_resid_post" : "resid_post";
    }

    void attach(const ModelBackend& model) override {
        model_ = &model;
        if (at_ == "masked_word" && model.mask_token() < 0)
            throw SpecError("at", "masked_word needs a mask token, and this model's tokenizer has none: it is for masked language models (BERT)");
        if (continuation_.empty()) return;
        const Encoding e = model.encode(continuation_);
        if (e.content_end <= e.content_begin) throw SpecError("continuation", "\"" + continuation_ + "\" has no tokens");
        target_ = e.ids[e.content_begin];
    }

    Input input() const override { return at_ == "masked_word" ? Input::word_masked : Input::prompts; }

    std::vector<std::string> hooks() const override {
        std::vector<int> layers = layers_;
        if (std::find(layers.begin(), layers.end(), last_) == layers.end()) layers.push_back(last_);  // the KL's reference
        std::vector<std::string> out;
        for (int l : layers) out.push_back(stream(l));
        return out;
    }

    std::vector<Recording> records() const override {
        // Each row describes one prompt's distribution: the mean over a word's contexts of token
        // ids, of ranks or of probabilities of different tokens is none of the mean distribution's.
        const std::pair<const char*, const char*> sets[] = {
            {"top_ids", "token ids"},
            {"top_probs", "the probabilities of each context's own top tokens"},
            {"stats", "statistics of each context's own distribution: a mean rank, a mean of entropies"}};
        std::vector<Recording> out;
        for (int l : layers_)
            for (const auto& [what, why] : sets)
                out.push_back({"blocks." + std::to_string(l) + ".lens." + what, l, std::string("lens_") + what, false, why});
        return out;
    }

    std::vector<ActivationSet> extract(const Captures& captured, const std::vector<Stimulus>& stimuli) const override {
        const int64_t n = static_cast<int64_t>(stimuli.size());
        std::vector<int64_t> position(n);
        std::vector<int32_t> target(n);
        for (int64_t i = 0; i < n; ++i) {
            const Stimulus& s = stimuli[i];
            position[i] = at_ == "before_word" ? s.word_begin - 1
                          : at_ == "masked_word" ? s.word_begin
                          : s.position >= 0 ? s.position : s.word_end - 1;
            if (position[i] < 0)
                throw SpecError("at", "'" + s.word + "' is the first token of \"" + s.text + "\": no token before it predicts it");
            target[i] = continuation_.empty() ? s.token_ids.at(s.word_begin) : target_;
        }
        const std::vector<std::vector<double>> final = log_probs(captured, last_, position);
        std::vector<ActivationSet> out;
        for (int l : layers_) {
            const std::vector<std::vector<double>> lp = l == last_ ? final : log_probs(captured, l, position);
            const std::string name = "blocks." + std::to_string(l) + ".lens.";
            ActivationSet ids{name + "top_ids", l, "lens_top_ids", n, k_, {}, {}}, probs{name + "top_probs", l, "lens_top_probs", n, k_, {}, {}};
            ActivationSet stats{name + "stats", l, "lens_stats", n, kStats, {}, {}};
            for (int64_t i = 0; i < n; ++i) {
                const auto& row = lp[i];
                std::vector<int32_t> order(row.size());
                std::iota(order.begin(), order.end(), 0);
                std::partial_sort(order.begin(), order.begin() + k_, order.end(), [&](int32_t a, int32_t b) { return row[a] > row[b]; });
                for (int j = 0; j < k_; ++j) {
                    ids.data.push_back(static_cast<float>(order[j]));  // exact: ids are below 2^24
                    probs.data.push_back(static_cast<float>(std::exp(row[order[j]])));
                }
                // KL(layer ‖ final), the logit lens's usual direction, and KL(final ‖ layer), the
                // tuned lens's (Belrose et al. 2023: the final distribution as the truth).
                double entropy = 0, kl_to = 0, kl_from = 0;
                for (std::size_t v = 0; v < row.size(); ++v) {
                    const double p = std::exp(row[v]), q = std::exp(final[i][v]);
                    entropy -= p * row[v];
                    kl_to += p * (row[v] - final[i][v]);
                    kl_from += q * (final[i][v] - row[v]);
                }
                const double t = row.at(target[i]);
                // Ties count in the target's favour: 1 + the tokens strictly more probable (the
                // best rank among its equals, as a top-k list that can show it would).
                const auto rank = 1 + std::count_if(row.begin(), row.end(), [&](double v) { return v > t; });
                // How far the top logit stands above the rest, in standard deviations (log-probs
                // are the logits shifted by a constant: the same z).
                double mean = 0, sq = 0;
                for (double v : row) { mean += v; sq += v * v; }
                mean /= double(row.size());
                const double sd = std::sqrt(std::max(0.0, sq / double(row.size()) - mean * mean));
                const double top_z = sd > 0 ? (row[order[0]] - mean) / sd : 0.0;
                for (double v : {entropy / std::log(2.0), kl_to / std::log(2.0), double(rank), std::exp(t), top_z,
                                 kl_from / std::log(2.0)})
                    stats.data.push_back(static_cast<float>(v));
            }
            out.push_back(std::move(ids));
            out.push_back(std::move(probs));
            out.push_back(std::move(stats));
        }
        return out;
    }

private:
    std::vector<int> layers_;
    int last_ = 0, k_ = 10;
    std::string at_, continuation_, site_;
    int32_t target_ = -1;
    const ModelBackend* model_ = nullptr;

    std::string stream(int layer) const { return "blocks." + std::to_string(layer) + ".hook_" + site_; }

    /// The log-probabilities (double) of the next token at each prompt's position, from layer `layer`.
    std::vector<std::vector<double>> log_probs(const Captures& captured, int layer, const std::vector<int64_t>& position) const {
        const auto& values = captured.at(stream(layer));
        Tensor rows;
        for (std::size_t i = 0; i < position.size(); ++i) {
            const Tensor& t = values.at(i);  // [pos, d]
            const int64_t d = t.shape.at(1);
            if (position[i] >= t.shape[0]) throw SpecError("at", "position " + std::to_string(position[i]) + " is beyond the prompt");
            rows.data.insert(rows.data.end(), t.data.begin() + position[i] * d, t.data.begin() + (position[i] + 1) * d);
            rows.shape = {static_cast<int64_t>(i + 1), d};
        }
        const Tensor logits = model_->unembed(rows);
        const int64_t vocab = logits.shape.at(1);
        if (k_ > vocab) throw SpecError("k", std::to_string(k_) + " top tokens asked of a vocabulary of " + std::to_string(vocab));
        std::vector<std::vector<double>> out(position.size(), std::vector<double>(vocab));
        for (std::size_t i = 0; i < position.size(); ++i) {
            const float* z = logits.data.data() + i * vocab;
            const double top = *std::max_element(z, z + vocab);
            double sum = 0;
            for (int64_t v = 0; v < vocab; ++v) sum += std::exp(double(z[v]) - top);
            const double log_sum = top + std::log(sum);
            for (int64_t v = 0; v < vocab; ++v) out[i][v] = double(z[v]) - log_sum;
        }
        return out;
    }
};

const std::string kSchema = std::string(R"json({
  "type": "object", "additionalProperties": false,
  "properties": {
    "k": {"type": "integer", "minimum": 1, "maximum": 1000, "description": "top tokens kept per stimulus and layer (default 10)"},
    "at": {"enum": ["before_word", "position", "masked_word"],
           "description": "the token read: the one before the word (decoders' default: what predicts the word), stimuli.position's, or the word's first token with the word masked (BERT's default: the model's guess at the word it cannot see)"},
    "continuation": {"type": "string", "minLength": 1,
                     "description": "the target is this text's first token (default: the word's first token)"},
    "layers": )json") + kLayersSchema + "}}";

}  // namespace

LAMINAR_PLUGIN(laminar::Extractor, "extractor", LogitLens, "logit_lens", "1.2.0", kSchema.c_str())
