// The processes of one `mpirun -n N laminar run ...`: rank r of N does the work a job array's
// shard r/N would (shards.hpp) into its shard file, and rank 0 alone writes the run file,
// merging them. Without mpirun, or in a build without MPI, laminar is rank 0 of 1.
#pragma once

#include <functional>
#include <memory>

#include "laminar/team.hpp"

namespace laminar::ranks {

/// Starts MPI when this process was launched by mpirun (or srun) and laminar was built with it;
/// otherwise nothing. Call once, first thing in main(); Session's destructor finalizes.
class Session {
public:
    Session(int& argc, char**& argv);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
};

int rank();
int size();
/// Whether this laminar was built with MPI (`laminar --version` says so).
bool built_with_mpi();

/// Runs `step` on every rank and waits for all of them: when it threw on any rank, it throws on
/// every rank — the failing rank its own error, the others one that names that rank — so that no
/// rank waits forever for one that failed.
void together(const std::function<void()>& step);

/// Every rank of the job as one Team, for the analyses they run together (Alone without MPI).
std::unique_ptr<Team> world();

}  // namespace laminar::ranks
