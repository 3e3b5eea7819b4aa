// Where a metric's time goes, for `laminar run --profile`: a Timed scope around each statistic
//
//     { const Timed timed(out, "mantel null"); null = mantel_null(...); }
//
// measures its wall time and, of the parallel loops (parallel_for) run while it is open, each
// thread's busy time; when it closes it hands both to the sink (ResultSink::timing), and the host
// prints them per analysis. Times are exclusive: a scope opened inside another (an RDM computed
// for a grid) takes its loops and its wall time out of the outer one's, so an analysis's
// statistics add up. Scopes are opened on the metric's own thread, not inside parallel loops.
// Under mpirun each rank times its own work, and rank 0 reports its own.
#pragma once

#include <omp.h>

#include <chrono>
#include <string>
#include <vector>

#include "laminar/metric.hpp"

namespace laminar::analysis {

class Timed {
public:
    Timed(ResultSink& out, std::string statistic)
        : out_(out), statistic_(std::move(statistic)), busy_(static_cast<std::size_t>(omp_get_max_threads()), 0.0),
          outer_(innermost()), started_(std::chrono::steady_clock::now()) {
        innermost() = this;
    }
    ~Timed() {
        innermost() = outer_;
        const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
        if (outer_) outer_->inner_ += wall;  // the outer scope's time excludes this one's
        try {
            out_.timing(statistic_, wall - inner_, busy_);
        } catch (...) {  // (a profile is not worth an exception leaving a destructor)
        }
    }
    Timed(const Timed&) = delete;
    Timed& operator=(const Timed&) = delete;

    /// The scope the parallel loops running now add their threads' time to (nullptr: none).
    static Timed*& innermost() {
        static Timed* open = nullptr;
        return open;
    }
    /// `seconds` of work by thread `thread` (each thread adds to its own slot only).
    void add(int thread, double seconds) {
        if (thread >= 0 && static_cast<std::size_t>(thread) < busy_.size()) busy_[static_cast<std::size_t>(thread)] += seconds;
    }

private:
    ResultSink& out_;
    std::string statistic_;
    std::vector<double> busy_;
    Timed* outer_;
    double inner_ = 0;  ///< wall seconds of the scopes opened inside this one
    std::chrono::steady_clock::time_point started_;
};

}  // namespace laminar::analysis
