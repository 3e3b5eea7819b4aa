// `laminar run --profile [FILE]`: where each analysis's time went, per statistic and per thread,
// as its metric measured it (laminar/analysis/profile.hpp: a statistic's wall time, and each
// thread's busy time in its parallel loops). Printed after the analyze stage and, given FILE,
// written there as JSON (tools/bench/bench_analyze.py reads it).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace laminar {

/// One statistic of an analysis, summed over its calls.
struct StatisticTime {
    std::string name;
    std::size_t calls = 0;
    double wall = 0;            ///< seconds
    std::vector<double> busy;   ///< seconds, per thread
};

/// One analysis: its wall time and its statistics in the order they first ran.
struct AnalysisTime {
    std::string name, metric;
    double wall = 0;
    std::vector<StatisticTime> statistics;
    void add(const std::string& statistic, double wall_seconds, const std::vector<double>& busy_seconds);
};

class Profile {
public:
    void add(AnalysisTime analysis) { analyses_.push_back(std::move(analysis)); }
    bool empty() const { return analyses_.empty(); }
    /// The table printed after the stage: per analysis its statistics (calls, wall seconds, each
    /// thread's busy seconds, and how much of the cores they kept busy), then the rest of its time.
    std::string table() const;
    nlohmann::json json() const;

private:
    std::vector<AnalysisTime> analyses_;
};

}  // namespace laminar
