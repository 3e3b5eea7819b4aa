// Stage "report": a plain-text table of every scalar result in a run file.
#include <iomanip>

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
    h5::walk(f, "results", [&](const std::string& path, bool) {
        std::string line;
        for (const auto& [name, value] : h5::attributes_as_text(f, path)) {
            if (name == "params" || name == "metric" || name == "plugin_version") continue;
            if (value.size() > 40) continue;
            line += "  " + name + "=" + value;
        }
        if (!line.empty()) out << "  " << std::left << std::setw(50) << path.substr(8) << line << "\n";
    });
}

}  // namespace laminar
