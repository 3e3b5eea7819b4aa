// The one way metrics run a loop on all cores: parallel_for(first, last, body) runs body(i) for
// each i in [first, last) through OpenMP.
//
// An exception must never leave an OpenMP region: the runtime then calls std::terminate, the
// process dies by SIGABRT and leaves the run file's .lock and .partial behind. parallel_for
// catches it inside the region, lets the iterations after it go, and rethrows after the region
// the exception of the lowest iteration that failed: the one a serial loop would have thrown,
// whatever the number of threads. The metric's run() then fails like any other error, and the
// host reports it (exit 1, the run file as the last completed analysis left it).
//
// Inside a Timed scope (profile.hpp), each thread's time in the body is added to the scope.
//
// Fault injection for the tests: with LAMINAR_TEST_FAIL_IN_PARALLEL set in the environment,
// every iteration throws before its body (tests/bad_inputs makes each metric fail so). Off
// unless that variable is set.
#pragma once

#include <dlfcn.h>
#include <omp.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>

#include "laminar/analysis/profile.hpp"

namespace laminar::analysis {

/// While it lives, OpenBLAS runs each call on the calling thread: inside an OpenMP loop on all
/// cores, N iterations each starting N OpenBLAS threads fight over N cores (the decoding
/// metric's logistic fits ran 4x slower so on 2 cores). OpenBLAS's setter is looked up at run
/// time, as threadpoolctl does in Python: with another BLAS this does nothing.
class SerialBlas {
public:
    SerialBlas()
        : set_(reinterpret_cast<void (*)(int)>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))),
          get_(reinterpret_cast<int (*)()>(::dlsym(RTLD_DEFAULT, "openblas_get_num_threads"))) {
        if (!set_ || !get_) return;
        threads_ = get_();
        set_(1);
    }
    ~SerialBlas() {
        if (set_ && get_) set_(threads_);
    }
    SerialBlas(const SerialBlas&) = delete;
    SerialBlas& operator=(const SerialBlas&) = delete;

private:
    void (*set_)(int);
    int (*get_)();
    int threads_ = 1;
};

/// body(i) for i in [first, last), on all cores (OpenMP, dynamic schedule, `chunk` iterations a
/// time); an exception thrown by body is rethrown after the loop (the lowest iteration's).
template <class Body>
void parallel_for(std::size_t first, std::size_t last, Body body, std::size_t chunk = 1) {
    const bool inject = std::getenv("LAMINAR_TEST_FAIL_IN_PARALLEL") != nullptr;
    std::atomic<std::size_t> failed_at{last};  // the lowest iteration that threw so far
    std::exception_ptr error;
    const SerialBlas serial_blas;  // the iterations share the cores, not each iteration's BLAS calls
    // A statistic being profiled: each thread's busy time, added up by the thread and handed over
    // once (a loop inside another's iterations is counted by the outer one).
    Timed* const timed = omp_in_parallel() ? nullptr : Timed::innermost();
    using Clock = std::chrono::steady_clock;
#pragma omp parallel
    {
        double busy = 0;
#pragma omp for schedule(dynamic, chunk)
        for (std::size_t i = first; i < last; ++i) {
            if (i > failed_at.load(std::memory_order_relaxed)) continue;  // only an earlier failure matters now
            try {
                if (inject)
                    throw std::runtime_error("a fault injected in a parallel loop (iteration " + std::to_string(i) +
                                             ", LAMINAR_TEST_FAIL_IN_PARALLEL is set)");
                const Clock::time_point started = timed ? Clock::now() : Clock::time_point{};
                body(i);
                if (timed) busy += std::chrono::duration<double>(Clock::now() - started).count();
            } catch (...) {
#pragma omp critical(laminar_parallel_for)
                if (i < failed_at.load()) {
                    failed_at = i;
                    error = std::current_exception();
                }
            }
        }
        if (timed) timed->add(omp_get_thread_num(), busy);
    }
    if (error) std::rethrow_exception(error);
}

}  // namespace laminar::analysis
