// The residual extractor: the residual stream before attention (resid_pre), between
// attention and MLP (resid_mid) and after the block (resid_post), at each stimulus's token;
// in post-LayerNorm encoders (BERT) also after the LayerNorms (normalized_resid_mid/post).
// With `positions: all` it keeps every token of each prompt instead (sets named
// "<hook>.tokens", site "<site>.tokens", a row per token): what effective dimensionality over the
// tokens of a sentence reads.
#include <string>

#include "laminar/extraction.hpp"
#include "laminar/extractor.hpp"

namespace {

class ResidualExtractor : public laminar::Extractor {
public:
    void configure(const laminar::Params& params, const laminar::ModelInfo& model) override {
        layers_ = laminar::parse_layers(params.at("layers"), model.n_layer);
        sites_ = params.value("sites", std::vector<std::string>{"resid_post"});
        all_tokens_ = params.value("positions", std::string("stimulus")) == "all";
    }

    std::vector<std::string> hooks() const override { return laminar::hook_names(layers_, sites_, hook); }

    std::vector<laminar::Recording> records() const override {
        std::vector<laminar::Recording> out;
        for (int l : layers_)
            for (const auto& site : sites_)
                out.push_back(all_tokens_ ? laminar::Recording{hook(l, site) + ".tokens", l, site + ".tokens", true}
                                          : laminar::Recording{hook(l, site), l, site});
        return out;
    }

    std::vector<laminar::ActivationSet> extract(const laminar::Captures& captured,
                                                const std::vector<laminar::Stimulus>& stimuli) const override {
        std::vector<laminar::ActivationSet> out;
        for (int l : layers_)
            for (const auto& site : sites_) {
                const auto& values = captured.at(hook(l, site));
                out.push_back(all_tokens_ ? laminar::token_rows(hook(l, site) + ".tokens", l, site + ".tokens", values, stimuli)
                                          : laminar::stimulus_rows(hook(l, site), l, site, values, stimuli));
            }
        return out;
    }

private:
    std::vector<int> layers_;
    std::vector<std::string> sites_;
    bool all_tokens_ = false;
    static std::string hook(int layer, const std::string& site) { return "blocks." + std::to_string(layer) + ".hook_" + site; }
};

const std::string kSchema = std::string(R"json({
  "type": "object", "additionalProperties": false, "required": ["layers"],
  "properties": {
    "sites": {"type": "array", "minItems": 1, "uniqueItems": true,
              "items": {"enum": ["resid_pre", "resid_mid", "resid_post", "normalized_resid_mid", "normalized_resid_post"]},
              "description": "a list of resid_pre, resid_mid, resid_post (and, for BERT, normalized_resid_mid, normalized_resid_post)"},
    "positions": {"enum": ["stimulus", "all"],
                  "description": "stimulus (default): the token stimuli.position picks; all: every token of each prompt, a row per token (sets <hook>.tokens)"},
    "layers": )json") + laminar::kLayersSchema + "}}";

}  // namespace

LAMINAR_PLUGIN(laminar::Extractor, "extractor", ResidualExtractor, "residual", "1.3.0", kSchema.c_str())
