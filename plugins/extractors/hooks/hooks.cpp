// The `hooks` extractor: any hook points by their TransformerLens names, one row per stimulus
// at its analysed token, e.g. ln_final.hook_normalized and logits for a logit lens, or
// blocks.3.hook_mlp_out. An attention pattern (blocks.L.attn.hook_pattern) is the analysed
// token's row of it, a set with a row per token of the prompt (the keys) and a column per head
// (laminar::pattern_rows): where it looks, windows and soft-caps included.
#include <string>

#include "laminar/extraction.hpp"
#include "laminar/extractor.hpp"

namespace {

class HooksExtractor : public laminar::Extractor {
public:
    void configure(const laminar::Params& params, const laminar::ModelInfo&) override {
        hooks_ = params.at("hooks").get<std::vector<std::string>>();
    }

    std::vector<std::string> hooks() const override { return hooks_; }

    std::vector<laminar::Recording> records() const override {
        std::vector<laminar::Recording> out;
        for (const auto& h : hooks_) out.push_back({h, laminar::hook_layer(h), laminar::hook_site(h), laminar::hook_site(h) == "pattern"});
        return out;
    }

    std::vector<laminar::ActivationSet> extract(const laminar::Captures& captured,
                                                const std::vector<laminar::Stimulus>& stimuli) const override {
        std::vector<laminar::ActivationSet> out;
        for (const auto& r : records())
            out.push_back(r.per_token ? laminar::pattern_rows(r.name, r.layer, r.site, captured.at(r.name), stimuli)
                                      : laminar::stimulus_rows(r.name, r.layer, r.site, captured.at(r.name), stimuli));
        return out;
    }

private:
    std::vector<std::string> hooks_;
};

constexpr const char* kSchema = R"json({
  "type": "object", "additionalProperties": false, "required": ["hooks"],
  "properties": {
    "hooks": {"type": "array", "minItems": 1, "uniqueItems": true, "items": {"type": "string"},
              "description": "hook names, e.g. blocks.3.hook_mlp_out, ln_final.hook_normalized, logits; blocks.3.attn.hook_pattern gives the analysed token's attention to each token of its prompt (a row per token, a column per head)"}
  }
})json";

}  // namespace

LAMINAR_PLUGIN(laminar::Extractor, "extractor", HooksExtractor, "hooks", "1.2.0", kSchema)
