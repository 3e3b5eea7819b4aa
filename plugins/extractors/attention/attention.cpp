// The attention extractor: q, k and v of chosen layers at each stimulus's analysed token,
// heads concatenated (the seed's choice: c_attn's output split in three, bias included) or
// one activation set per head.
#include <string>

#include "laminar/extraction.hpp"
#include "laminar/extractor.hpp"

namespace {

class AttentionExtractor : public laminar::Extractor {
public:
    void configure(const laminar::Params& params, const laminar::ModelInfo& model) override {
        layers_ = laminar::parse_layers(params.at("layers"), model.n_layer);
        sites_ = params.value("sites", std::vector<std::string>{"q", "k", "v"});
        per_head_ = params.value("heads", std::string("concat")) == "separate";
        n_head_ = model.n_head;
    }

    std::vector<std::string> hooks() const override {
        std::vector<std::string> out;
        for (int l : layers_)
            for (const auto& s : sites_) out.push_back(hook(l, s));
        return out;
    }

    std::vector<laminar::ActivationSet> extract(const laminar::Captures& captured,
                                                const std::vector<laminar::Stimulus>& stimuli) const override {
        std::vector<laminar::ActivationSet> out;
        for (int l : layers_)
            for (const auto& site : sites_) {
                const auto& values = captured.at(hook(l, site));  // per prompt [pos, head, d_head]
                const int64_t heads = values.at(0).shape.at(1), d_head = values.at(0).shape.at(2);
                if (!per_head_) {
                    laminar::ActivationSet set{hook(l, site), l, site, static_cast<int64_t>(stimuli.size()), heads * d_head, {}};
                    for (std::size_t i = 0; i < stimuli.size(); ++i) {
                        const auto row = laminar::stimulus_row(values[i], stimuli[i]);
                        set.data.insert(set.data.end(), row.begin(), row.end());
                    }
                    out.push_back(std::move(set));
                    continue;
                }
                for (int64_t h = 0; h < heads; ++h) {
                    laminar::ActivationSet set{hook(l, site) + ".head" + std::to_string(h), l, site,
                                               static_cast<int64_t>(stimuli.size()), d_head, {}};
                    for (std::size_t i = 0; i < stimuli.size(); ++i) {
                        const auto row = laminar::stimulus_row(values[i], stimuli[i]);  // [head * d_head]
                        set.data.insert(set.data.end(), row.begin() + h * d_head, row.begin() + (h + 1) * d_head);
                    }
                    out.push_back(std::move(set));
                }
            }
        return out;
    }

private:
    std::vector<int> layers_;
    std::vector<std::string> sites_;
    bool per_head_ = false;
    int n_head_ = 0;
    static std::string hook(int layer, const std::string& site) {
        return "blocks." + std::to_string(layer) + ".attn.hook_" + site;
    }
};

const std::string kSchema = std::string(R"({
  "type": "object", "additionalProperties": false, "required": ["layers"],
  "properties": {
    "sites": {"type": "array", "minItems": 1, "uniqueItems": true, "items": {"enum": ["q", "k", "v"]},
              "description": "a list of q, k, v"},
    "heads": {"enum": ["concat", "separate"], "description": "concat: all heads side by side; separate: one set per head"},
    "layers": )") + laminar::kLayersSchema + "}}";

}  // namespace

LAMINAR_PLUGIN(laminar::Extractor, "extractor", AttentionExtractor, "attention", "1.0.0", kSchema.c_str())
