#include "runtime/progress.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

namespace laminar {

using Clock = std::chrono::steady_clock;

std::string duration_text(double s) {
    char buf[32];
    if (s < 60) std::snprintf(buf, sizeof buf, "%.1f s", s);
    else if (s < 3600) std::snprintf(buf, sizeof buf, "%d min %02d s", int(s) / 60, int(s) % 60);
    else std::snprintf(buf, sizeof buf, "%d h %02d min", int(s) / 3600, int(s) % 3600 / 60);
    return buf;
}

bool Progress::bars() {
    if (const char* mode = std::getenv("LAMINAR_PROGRESS")) return std::strcmp(mode, "bar") == 0;
    return isatty(STDERR_FILENO) == 1;
}

Progress::Progress(std::string what, std::string unit, std::size_t total, Verbosity verbosity)
    : what_(std::move(what)), unit_(std::move(unit)), total_(total), verbosity_(verbosity), bar_(bars()),
      start_(Clock::now()), last_(start_) {
    if (verbosity_ == Verbosity::verbose && !bar_)
        std::cerr << what_ << ": 0/" << total_ << " " << unit_ << std::endl;
}

Progress::~Progress() {
    if (drawn_ && bar_) std::cerr << "\r\033[K" << std::flush;  // the stage's summary line replaces the bar
}

double Progress::elapsed_s() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

void Progress::update(std::size_t done) {
    done_ = done;
    if (verbosity_ == Verbosity::quiet) return;
    const auto now = Clock::now();
    const double since = std::chrono::duration<double>(now - last_).count();
    // A bar is redrawn ten times a second at most and cleared at the end, where the stage's
    // summary line (with its time) takes its place. A log gets a line every ten seconds (every
    // update with --verbose): a short step leaves only its summary line.
    const bool final = done_ >= total_;
    if (bar_) {
        if (final) {
            if (drawn_) std::cerr << "\r\033[K" << std::flush;
            drawn_ = false;
        } else if (since >= 0.1) {
            last_ = now;
            draw(false);
        }
        return;
    }
    if (verbosity_ == Verbosity::verbose || (since >= 10 && !final)) {
        last_ = now;
        draw(final);
    }
}

void Progress::draw(bool final) {
    const double t = elapsed_s();
    const double rate = t > 0 ? done_ / t : 0;
    const double left = rate > 0 ? (total_ - done_) / rate : 0;
    char numbers[128];
    std::snprintf(numbers, sizeof numbers, "%zu/%zu %s, %.1f/s", done_, total_, unit_.c_str(), rate);
    if (bar_) {
        const std::size_t width = 24, filled = total_ ? done_ * width / total_ : width;
        std::cerr << "\r\033[K" << what_ << " [" << std::string(filled, '#') << std::string(width - filled, '.') << "] "
                  << numbers << ", " << (final ? duration_text(t) : duration_text(left) + " left") << std::flush;
        drawn_ = true;
    } else {
        std::cerr << what_ << ": " << numbers << ", " << duration_text(t) << " elapsed"
                  << (final ? "" : ", about " + duration_text(left) + " left") << std::endl;
    }
}

}  // namespace laminar
