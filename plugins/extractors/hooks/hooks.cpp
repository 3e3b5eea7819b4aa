// The `hooks` extractor: any hook points by their TransformerLens names, one row per stimulus
// at its analysed token, e.g. ln_final.hook_normalized and logits for a logit lens, or
// blocks.3.hook_mlp_out. (attn.hook_pattern has no position-first rows: use a pattern
// extractor for it.)
#include <string>

#include "laminar/extraction.hpp"
#include "laminar/extractor.hpp"

namespace {

class HooksExtractor : public laminar::Extractor {
public:
    void configure(const laminar::Params& params, const laminar::ModelInfo&) override {
        hooks_ = params.at("hooks").get<std::vector<std::string>>();
        for (std::size_t i = 0; i < hooks_.size(); ++i)
            if (hooks_[i].find("hook_pattern") != std::string::npos)
                throw laminar::SpecError("hooks[" + std::to_string(i) + "]",
                                         "attention patterns are [head, query, key], not one row per token");
    }

    std::vector<std::string> hooks() const override { return hooks_; }

    std::vector<laminar::Recording> records() const override {
        std::vector<laminar::Recording> out;
        for (const auto& h : hooks_) out.push_back({h, laminar::hook_layer(h), laminar::hook_site(h)});
        return out;
    }

    std::vector<laminar::ActivationSet> extract(const laminar::Captures& captured,
                                                const std::vector<laminar::Stimulus>& stimuli) const override {
        std::vector<laminar::ActivationSet> out;
        for (const auto& r : records()) out.push_back(laminar::stimulus_rows(r.name, r.layer, r.site, captured.at(r.name), stimuli));
        return out;
    }

private:
    std::vector<std::string> hooks_;
};

constexpr const char* kSchema = R"json({
  "type": "object", "additionalProperties": false, "required": ["hooks"],
  "properties": {
    "hooks": {"type": "array", "minItems": 1, "uniqueItems": true, "items": {"type": "string"},
              "description": "hook names, e.g. blocks.3.hook_mlp_out, ln_final.hook_normalized, logits"}
  }
})json";

}  // namespace

LAMINAR_PLUGIN(laminar::Extractor, "extractor", HooksExtractor, "hooks", "1.1.0", kSchema)
