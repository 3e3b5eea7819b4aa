// Stage "report": a plain-text table of every scalar result in a run file.
#include <iomanip>
#include <map>
#include <vector>

#include "h5.hpp"
#include "pipeline.hpp"
#include "run_file.hpp"

namespace laminar {

void print_summary(const std::filesystem::path& run_file, std::ostream& out) {
    h5::Handle f = open_run_file(run_file);
    if (!h5::exists(f, "results")) {
        out << "report: no results in " << run_file.string() << "\n";
        return;
    }
    out << "report: " << run_file.string() << "\n";
    // The headline numbers of each result, in this order, where present.
    static const std::vector<std::string> keys = {"index", "r", "p_value", "ci_low", "ci_high", "n_pairs",
                                                  "mean_within", "mean_between", "mean_all"};
    h5::walk(f, "results", [&](const std::string& path, bool) {
        std::map<std::string, std::string> attrs;
        for (const auto& [name, value] : h5::attributes_as_text(f, path)) attrs[name] = value;
        std::string line;
        for (const auto& key : keys)
            if (auto it = attrs.find(key); it != attrs.end()) line += "  " + key + "=" + it->second;
        if (line.empty())  // a metric with other names: its short attributes, so new plugins show up too
            for (const auto& [name, value] : attrs)
                if (value.size() <= 24 && name != "metric" && name != "plugin_version" && name != "params")
                    line += "  " + name + "=" + value;
        if (!line.empty()) out << "  " << std::left << std::setw(56) << path.substr(8) << line << "\n";
    });
}

}  // namespace laminar
