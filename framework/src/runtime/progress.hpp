// What a long run shows while it works. On a terminal: one bar per piece of work on stderr,
// redrawn in place (done / total, rate, time left). Elsewhere (a log file, CI): a flushed line
// every ten seconds with the elapsed time (with --verbose: every batch, and the start), so a log
// says where a run is; each step's summary line on stdout says how long it took.
#pragma once

#include <chrono>
#include <cstddef>
#include <ostream>
#include <string>

namespace laminar {

enum class Verbosity { quiet, normal, verbose };

class Progress {
public:
    /// `what`: "extract: gpt2-medium", `unit`: "prompts". Nothing is shown when quiet.
    Progress(std::string what, std::string unit, std::size_t total, Verbosity verbosity);
    ~Progress();  ///< clears a bar left on the terminal
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    /// `done` units of `total` are finished.
    void update(std::size_t done);
    double elapsed_s() const;

    /// Whether stderr is a terminal (bars) or not (lines); LAMINAR_PROGRESS=bar|lines overrides.
    static bool bars();

private:
    std::string what_, unit_;
    std::size_t total_, done_ = 0;
    Verbosity verbosity_;
    bool bar_;
    bool drawn_ = false;
    std::chrono::steady_clock::time_point start_, last_;
    void draw(bool final);
};

/// "12.3 s", "4 min 05 s", "1 h 02 min".
std::string duration_text(double seconds);

}  // namespace laminar
