// The attention extractor: q, k and v (and, in rotary models, q and k after rotation) of chosen layers at each stimulus's analysed token,
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
        n_kv_head_ = model.n_kv_head > 0 ? model.n_kv_head : model.n_head;
    }

    std::vector<std::string> hooks() const override { return laminar::hook_names(layers_, sites_, hook); }

    std::vector<laminar::Recording> records() const override {
        std::vector<laminar::Recording> out;
        for (int l : layers_)
            for (const auto& site : sites_) {
                if (!per_head_) out.push_back({hook(l, site), l, site});
                else
                    for (int h = 0; h < heads(site); ++h) out.push_back({head_set(l, site, h), l, site});
            }
        return out;
    }

    std::vector<laminar::ActivationSet> extract(const laminar::Captures& captured,
                                                const std::vector<laminar::Stimulus>& stimuli) const override {
        std::vector<laminar::ActivationSet> out;
        for (int l : layers_)
            for (const auto& site : sites_) {
                const std::string name = hook(l, site);
                laminar::ActivationSet all = laminar::stimulus_rows(name, l, site, captured.at(name), stimuli);
                if (!per_head_) {  // [n x (head * d_head)]: the heads side by side
                    out.push_back(std::move(all));
                    continue;
                }
                const int64_t d_head = all.cols / heads(site);
                for (int h = 0; h < heads(site); ++h) {
                    laminar::ActivationSet set{head_set(l, site, h), l, site, all.rows, d_head, {}, {}};
                    for (int64_t i = 0; i < all.rows; ++i) {
                        const auto row = all.data.begin() + i * all.cols + h * d_head;
                        set.data.insert(set.data.end(), row, row + d_head);
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
    int n_head_ = 0, n_kv_head_ = 0;
    static std::string hook(int layer, const std::string& site) {
        return "blocks." + std::to_string(layer) + ".attn.hook_" + site;
    }
    static std::string head_set(int layer, const std::string& site, int head) {
        return hook(layer, site) + ".head" + std::to_string(head);
    }
    /// With grouped-query attention, k and v have fewer heads than q.
    int heads(const std::string& site) const { return site == "q" || site == "rot_q" ? n_head_ : n_kv_head_; }
};

const std::string kSchema = std::string(R"json({
  "type": "object", "additionalProperties": false, "required": ["layers"],
  "properties": {
    "sites": {"type": "array", "minItems": 1, "uniqueItems": true, "items": {"enum": ["q", "k", "v", "rot_q", "rot_k"]},
              "description": "a list of q, k, v (before rotary embeddings), rot_q, rot_k (after them)"},
    "heads": {"enum": ["concat", "separate"], "description": "concat: all heads side by side; separate: one set per head"},
    "layers": )json") + laminar::kLayersSchema + "}}";

}  // namespace

LAMINAR_PLUGIN(laminar::Extractor, "extractor", AttentionExtractor, "attention", "1.2.0", kSchema.c_str())
