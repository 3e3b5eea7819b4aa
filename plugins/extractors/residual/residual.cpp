// The residual extractor: the residual stream before attention (resid_pre), between
// attention and MLP (resid_mid) and after the block (resid_post), at each stimulus's token;
// in post-LayerNorm encoders (BERT) also after the LayerNorms (normalized_resid_mid/post).
#include <string>

#include "laminar/extraction.hpp"
#include "laminar/extractor.hpp"

namespace {

class ResidualExtractor : public laminar::Extractor {
public:
    void configure(const laminar::Params& params, const laminar::ModelInfo& model) override {
        layers_ = laminar::parse_layers(params.at("layers"), model.n_layer);
        sites_ = params.value("sites", std::vector<std::string>{"resid_post"});
    }

    std::vector<std::string> hooks() const override { return laminar::hook_names(layers_, sites_, hook); }

    std::vector<laminar::Recording> records() const override {
        std::vector<laminar::Recording> out;
        for (int l : layers_)
            for (const auto& site : sites_) out.push_back({hook(l, site), l, site});
        return out;
    }

    std::vector<laminar::ActivationSet> extract(const laminar::Captures& captured,
                                                const std::vector<laminar::Stimulus>& stimuli) const override {
        std::vector<laminar::ActivationSet> out;
        for (const auto& r : records()) out.push_back(laminar::stimulus_rows(r.name, r.layer, r.site, captured.at(r.name), stimuli));
        return out;
    }

private:
    std::vector<int> layers_;
    std::vector<std::string> sites_;
    static std::string hook(int layer, const std::string& site) { return "blocks." + std::to_string(layer) + ".hook_" + site; }
};

const std::string kSchema = std::string(R"json({
  "type": "object", "additionalProperties": false, "required": ["layers"],
  "properties": {
    "sites": {"type": "array", "minItems": 1, "uniqueItems": true,
              "items": {"enum": ["resid_pre", "resid_mid", "resid_post", "normalized_resid_mid", "normalized_resid_post"]},
              "description": "a list of resid_pre, resid_mid, resid_post (and, for BERT, normalized_resid_mid, normalized_resid_post)"},
    "layers": )json") + laminar::kLayersSchema + "}}";

}  // namespace

LAMINAR_PLUGIN(laminar::Extractor, "extractor", ResidualExtractor, "residual", "1.2.0", kSchema.c_str())
