#include "ranks.hpp"

#include <chrono>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>

#ifdef LAMINAR_WITH_MPI
#include <mpi.h>
#endif

namespace laminar::ranks {

#ifdef LAMINAR_WITH_MPI

namespace {

bool started = false;

/// mpirun (Open MPI, MPICH) and srun's PMI announce the job in the environment. Not Slurm's own
/// variables: a job array's task (--shard K/N) has them too and must not start MPI.
bool launched_by_mpi() {
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
        if (std::getenv(name)) return true;
    return false;
}

}  // namespace

Session::Session(int& argc, char**& argv) {
    if (!launched_by_mpi()) return;
    MPI_Init(&argc, &argv);
    started = true;
}

Session::~Session() {
    if (started) MPI_Finalize();
}

int rank() {
    int r = 0;
    if (started) MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

int size() {
    int n = 1;
    if (started) MPI_Comm_size(MPI_COMM_WORLD, &n);
    return n;
}

bool built_with_mpi() { return true; }

void together(const std::function<void()>& step) {
    std::exception_ptr error;
    try {
        step();
    } catch (...) {
        error = std::current_exception();
    }
    if (!started) {
        if (error) std::rethrow_exception(error);
        return;
    }
    // The lowest failing rank, or size() when none failed.
    const int mine = error ? rank() : size();
    int first = size();
    // Waiting without spinning: a blocking collective polls at full speed on every rank that is
    // done, taking cores from the ranks still working (with 2 ranks on 2 cores an analysis took
    // 1.6 times as long). Polled every few milliseconds instead.
    MPI_Request request;
    MPI_Iallreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD, &request);
    for (int done = 0;;) {
        MPI_Test(&request, &done, MPI_STATUS_IGNORE);
        if (done) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (error) std::rethrow_exception(error);
    if (first < size()) throw std::runtime_error("rank " + std::to_string(first) + " failed (its error is above); this rank stops too");
}

#else

Session::Session(int&, char**&) {}
Session::~Session() = default;
int rank() { return 0; }
int size() { return 1; }
bool built_with_mpi() { return false; }
void together(const std::function<void()>& step) { step(); }

#endif

}  // namespace laminar::ranks
