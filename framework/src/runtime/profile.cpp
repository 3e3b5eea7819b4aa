#include "runtime/profile.hpp"

#include <algorithm>
#include <cstdio>
#include <numeric>

namespace laminar {

void AnalysisTime::add(const std::string& statistic, double wall_seconds, const std::vector<double>& busy_seconds) {
    auto it = std::find_if(statistics.begin(), statistics.end(), [&](const StatisticTime& s) { return s.name == statistic; });
    if (it == statistics.end()) it = statistics.insert(statistics.end(), StatisticTime{statistic, 0, 0, {}});
    it->calls += 1;
    it->wall += wall_seconds;
    if (it->busy.size() < busy_seconds.size()) it->busy.resize(busy_seconds.size(), 0.0);
    for (std::size_t t = 0; t < busy_seconds.size(); ++t) it->busy[t] += busy_seconds[t];
}

namespace {

std::string format(const char* pattern, double value) {
    char text[64];
    std::snprintf(text, sizeof text, pattern, value);
    return text;
}

std::string row(const std::string& analysis, const std::string& statistic, const std::string& calls, double wall,
                const std::vector<double>& busy) {
    std::string line = "  " + analysis + std::string(analysis.size() < 22 ? 22 - analysis.size() : 1, ' ') + statistic;
    line += std::string(statistic.size() < 30 ? 30 - statistic.size() : 1, ' ');
    line += std::string(calls.size() < 5 ? 5 - calls.size() : 0, ' ') + calls + format("%10.3f", wall);
    if (!busy.empty()) {
        std::string threads;
        for (const double b : busy) threads += format(" %.3f", b);
        line += "  " + threads.substr(1);
        const double used = std::accumulate(busy.begin(), busy.end(), 0.0) / (wall * double(busy.size()));
        if (wall > 0) line += format("  (%.0f %% of the cores)", 100 * used);
    }
    return line + "\n";
}

}  // namespace

std::string Profile::table() const {
    std::size_t threads = 0;
    for (const auto& a : analyses_)
        for (const auto& s : a.statistics) threads = std::max(threads, s.busy.size());
    std::string out = "profile: analyze, " + std::to_string(threads) +
                      " thread(s): each statistic's calls, wall seconds, and each thread's busy seconds in its parallel loops\n";
    for (const auto& a : analyses_) {
        double timed = 0;
        for (const auto& s : a.statistics) {
            out += row(a.name, s.name, std::to_string(s.calls), s.wall, s.busy);
            timed += s.wall;
        }
        out += row(a.name, a.statistics.empty() ? "(all)" : "(the rest: reading, writing)", "", std::max(0.0, a.wall - timed), {});
    }
    return out;
}

nlohmann::json Profile::json() const {
    nlohmann::json analyses = nlohmann::json::array();
    for (const auto& a : analyses_) {
        nlohmann::json statistics = nlohmann::json::array();
        for (const auto& s : a.statistics)
            statistics.push_back({{"name", s.name}, {"calls", s.calls}, {"wall_s", s.wall}, {"busy_s", s.busy}});
        analyses.push_back({{"name", a.name}, {"metric", a.metric}, {"wall_s", a.wall}, {"statistics", statistics}});
    }
    return {{"analyses", analyses}};
}

}  // namespace laminar
