// The `logit_lens` metric: gathers what the logit_lens extractor kept, layer by layer, into one
// table per model under /results/<analysis>/<model>/: top_ids and top_probs [stimuli x layers x
// k], entropy, kl_to_final = KL(layer ‖ final) and kl_from_final = KL(final ‖ layer) (bits),
// target_rank (ties in the target's favour), target_prob and top_logit_z [stimuli x layers], the layers
// in each dataset's `columns` labels. No model needed: it reads the run file only.
#include <cmath>
#include <map>

#include "laminar/analysis/matrices.hpp"
#include "laminar/hook_names.hpp"

namespace {

using namespace laminar;

class LogitLensMetric : public Metric {
public:
    void configure(const Params& params) override { (void)params; }

    std::vector<SpaceUse> spaces() const override { return {}; }

    // Gathering what the extractor kept is quick: every rank of a team repeats it.
    void run(const ActivationSource& in, ResultSink& out, const Team&) override {
        std::size_t found = 0;
        const auto models = in.models();
        for (std::size_t m = 0; m < models.size(); ++m) {
            out.progress(m, models.size());
            std::map<int, std::map<std::string, ActivationSet>> layers;  // layer -> what -> set
            for (const auto& hook : in.hooks(models[m])) {
                const auto lens = hook.find(".lens.");
                if (lens != std::string::npos) layers[hook_layer(hook)][hook.substr(lens + 6)] = in.read(models[m], hook);
            }
            if (layers.empty()) continue;
            ++found;
            write(models[m], layers, out);
        }
        if (!found) throw SpecError("", "no logit lens recorded: add the logit_lens extractor to `extract:`");
        out.progress(models.size(), models.size());
    }

private:
    static void write(const std::string& model, const std::map<int, std::map<std::string, ActivationSet>>& layers, ResultSink& out) {
        const int64_t n = layers.begin()->second.at("stats").rows, L = static_cast<int64_t>(layers.size());
        const int64_t k = layers.begin()->second.at("top_ids").cols;
        std::vector<int64_t> layer_ids;
        for (const auto& [l, sets] : layers) {
            layer_ids.push_back(l);
            // A model whose logits overflowed: its probabilities and statistics are NaN, and say so.
            // (Probabilities of finite logits are finite; a KL divergence may be infinite by rights.)
            std::size_t nonfinite = 0;
            const ActivationSet& probs = sets.at("top_probs");
            for (int64_t i = 0; i < n; ++i) {
                bool finite = true;
                for (int64_t j = 0; j < probs.cols; ++j) finite = finite && std::isfinite(probs.data[i * probs.cols + j]);
                nonfinite += !finite;
            }
            if (nonfinite)
                out.warn(model + "/blocks." + std::to_string(l) + ".lens: " + std::to_string(nonfinite) +
                         " stimulus vector(s) contain NaN or infinite values (the logits were not finite); their "
                         "probabilities and statistics are NaN");
        }
        // [stimuli x layers x k]: stimulus-major, as the sets' rows are.
        for (const char* what : {"top_ids", "top_probs"}) {
            std::vector<double> data(static_cast<std::size_t>(n * L * k));
            int64_t li = 0;
            for (const auto& [l, sets] : layers) {
                const ActivationSet& s = sets.at(what);
                for (int64_t i = 0; i < n; ++i)
                    for (int64_t j = 0; j < k; ++j) data[(i * L + li) * k + j] = s.data[i * k + j];
                ++li;
            }
            out.write(model + "/" + what, {n, L, k}, data);
            out.axes(model + "/" + what, {Axis::stimuli});
            out.axis_values(model + "/" + what, 1, layer_ids);
        }
        // The extractor's columns in order; a run extracted by logit_lens 1.1 has the first five.
        const char* const stats[] = {"entropy", "kl_to_final", "target_rank", "target_prob", "top_logit_z", "kl_from_final"};
        const int64_t columns = layers.begin()->second.at("stats").cols;
        for (int64_t c = 0; c < columns && c < 6; ++c) {
            std::vector<double> data(static_cast<std::size_t>(n * L));
            int64_t li = 0;
            for (const auto& [l, sets] : layers) {
                const ActivationSet& s = sets.at("stats");
                for (int64_t i = 0; i < n; ++i) data[i * L + li] = s.data[i * columns + c];
                ++li;
            }
            out.write(model + "/" + stats[c], {n, L}, data);
            out.axes(model + "/" + stats[c], {Axis::stimuli});
            out.axis_values(model + "/" + stats[c], 1, layer_ids);
        }
        out.attribute(model, "k", k);
        out.attribute(model, "layers", L);
    }
};

const char* const kSchema = R"json({"type": "object", "additionalProperties": false, "properties": {}})json";

}  // namespace

LAMINAR_PLUGIN(laminar::Metric, "metric", LogitLensMetric, "logit_lens", "1.1.0", kSchema)
