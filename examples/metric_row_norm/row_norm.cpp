// A complete metric plugin: the Euclidean norm of every activation row of every recorded
// space, and their mean. Build it against an installed laminar (see CMakeLists.txt), then
//
//     LAMINAR_PLUGIN_PATH=build/plugins laminar run experiment.yaml
//
// with `analyze: [{metric: row_norm, name: norms}]`. Its results: results/norms/<model>/<hook>/
// norms [rows], and attributes mean_norm and n on the group.
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "laminar/metric.hpp"
#include "laminar/team_work.hpp"

namespace {

class RowNorm : public laminar::Metric {
public:
    void configure(const laminar::Params&) override {}  // no options (the schema below says so)

    void run(const laminar::ActivationSource& in, laminar::ResultSink& out, const laminar::Team& team) override {
        std::vector<std::pair<std::string, std::string>> spaces;  // (model, hook) of every recorded set
        for (const auto& model : in.models())
            for (const auto& hook : in.hooks(model)) spaces.emplace_back(model, hook);
        // One item per space; under mpirun the items are shared out and written in this order.
        laminar::analysis::for_each_item(team, spaces.size(), out, {}, [&](std::size_t i, laminar::ResultSink& sink,
                                                                            const laminar::Team&) {
            const auto& [model, hook] = spaces[i];
            const laminar::ActivationSet set = in.read(model, hook);  // rows x cols, float32, row-major
            std::vector<double> norms(set.rows);
            double sum = 0;
            for (int64_t r = 0; r < set.rows; ++r) {
                double squares = 0;
                for (int64_t c = 0; c < set.cols; ++c) squares += double(set.data[r * set.cols + c]) * set.data[r * set.cols + c];
                norms[r] = std::sqrt(squares);
                sum += norms[r];
            }
            const std::string path = model + "/" + hook;
            sink.write(path + "/norms", {set.rows}, norms);
            sink.attribute(path, "mean_norm", sum / double(set.rows));
            sink.attribute(path, "n", set.rows);
        });
    }
};

// The options it takes, as JSON Schema: `laminar validate` checks an experiment against it.
constexpr const char* kSchema = R"({"type": "object", "additionalProperties": false, "properties": {}})";

}  // namespace

LAMINAR_PLUGIN(laminar::Metric, "metric", RowNorm, "row_norm", "1.0.0", kSchema)
