#include <doctest/doctest.h>

#include <cstdlib>
#include <iostream>
#include <sstream>
#include <thread>

#include "runtime/progress.hpp"

using namespace laminar;

namespace {

/// Runs `work` with std::cerr captured and LAMINAR_PROGRESS set to `mode`.
template <class Work>
std::string captured(const char* mode, Work work) {
    setenv("LAMINAR_PROGRESS", mode, 1);
    std::ostringstream err;
    auto* old = std::cerr.rdbuf(err.rdbuf());
    work();
    std::cerr.rdbuf(old);
    unsetenv("LAMINAR_PROGRESS");
    return err.str();
}

}  // namespace

TEST_CASE("a bar shows done/total, rate and time left, and is cleared at the end") {
    const std::string out = captured("bar", [] {
        Progress p("extract: m", "prompts", 4, Verbosity::normal);
        for (std::size_t i = 1; i <= 4; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(120));
            p.update(i);
        }
    });
    CHECK(out.find("\r\033[Kextract: m [######..................] 1/4 prompts, ") != std::string::npos);
    CHECK(out.find("3/4 prompts") != std::string::npos);
    CHECK(out.find(" left") != std::string::npos);
    CHECK(out.size() >= 6);
    CHECK(out.substr(out.size() - 4) == "\r\033[K");  // the stage's summary line takes its place
}

TEST_CASE("a log gets lines, not bars, --verbose every update and --quiet nothing") {
    const std::string normal = captured("lines", [] {
        Progress p("analyze: rsa", "spaces", 3, Verbosity::normal);
        for (std::size_t i = 1; i <= 3; ++i) p.update(i);
    });
    CHECK(normal.empty());  // a short step leaves only its summary line (on stdout)
    const std::string verbose = captured("lines", [] {
        Progress p("analyze: rsa", "spaces", 3, Verbosity::verbose);
        for (std::size_t i = 1; i <= 3; ++i) p.update(i);
    });
    CHECK(verbose.find("analyze: rsa: 0/3 spaces\n") == 0);
    CHECK(verbose.find("analyze: rsa: 2/3 spaces, ") != std::string::npos);
    CHECK(verbose.find("analyze: rsa: 3/3 spaces, ") != std::string::npos);
    CHECK(verbose.find('\r') == std::string::npos);
    const std::string quiet = captured("bar", [] {
        Progress p("x", "y", 2, Verbosity::quiet);
        std::this_thread::sleep_for(std::chrono::milliseconds(120));
        p.update(1);
        p.update(2);
    });
    CHECK(quiet.empty());
}

TEST_CASE("durations read as people say them") {
    CHECK(duration_text(3.21) == "3.2 s");
    CHECK(duration_text(245) == "4 min 05 s");
    CHECK(duration_text(3725) == "1 h 02 min");
}
