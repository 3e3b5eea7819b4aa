#include "runtime/ranks.hpp"

#include <chrono>
#include <cstdlib>
#include <exception>
#include <limits>
#include <optional>
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
/// Where a failing rank tells the others at once (tag kAlarm), so that a rank waiting in an
/// analysis's collective for it stops instead of waiting forever.
MPI_Comm alarms = MPI_COMM_NULL;
constexpr int kAlarm = 1;

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
    MPI_Comm_dup(MPI_COMM_WORLD, &alarms);
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

namespace {

/// Tells every other rank that this one failed.
void raise_alarm() {
    const int me = rank();
    for (int r = 0; r < size(); ++r) {
        if (r == me) continue;
        MPI_Request request;
        MPI_Isend(&me, 1, MPI_INT, r, kAlarm, alarms, &request);
        MPI_Request_free(&request);
    }
}

/// The rank that raised an alarm, if one did (the message stays, so every later wait sees it).
std::optional<int> alarm_raised() {
    int flag = 0;
    MPI_Status status;
    MPI_Iprobe(MPI_ANY_SOURCE, kAlarm, alarms, &flag, &status);
    if (!flag) return std::nullopt;
    return status.MPI_SOURCE;
}

/// Waits for a non-blocking operation without spinning: a blocking collective polls at full
/// speed on every rank that is done, taking cores from the ranks still working (with 2 ranks on
/// 2 cores an analysis took 1.6 times as long). Polled every few milliseconds instead. With
/// `alarms`, a rank that failed where the others could not see it (outside the shares that
/// carry errors) stops the wait.
void wait(MPI_Request& request, bool heed_alarms = false) {
    for (int done = 0;;) {
        MPI_Test(&request, &done, MPI_STATUS_IGNORE);
        if (done) return;
        if (heed_alarms)
            if (const auto from = alarm_raised())
                throw std::runtime_error("rank " + std::to_string(*from) + " failed (its error is above); this rank stops too");
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

int checked_count(std::size_t bytes) {
    if (bytes > static_cast<std::size_t>(std::numeric_limits<int>::max()))
        throw std::runtime_error("a rank has " + std::to_string(bytes) + " bytes of results to send: more than MPI's 2 GB per message");
    return static_cast<int>(bytes);
}

/// A Team over an MPI communicator of its own (a duplicate, so that its collectives never meet
/// another's).
class MpiTeam final : public Team {
public:
    explicit MpiTeam(MPI_Comm comm) : comm_(comm) {
        MPI_Comm_rank(comm_, &rank_);
        MPI_Comm_size(comm_, &size_);
    }
    ~MpiTeam() override { MPI_Comm_free(&comm_); }
    int size() const override { return size_; }
    int rank() const override { return rank_; }
    int process() const override { return ranks::rank(); }

    std::vector<std::string> all_gather(const std::string& mine) const override { return exchange(mine, true); }
    std::vector<std::string> gather(const std::string& mine) const override { return exchange(mine, false); }

    std::unique_ptr<Team> split(int groups) const override {
        exchange("", true);  // MPI_Comm_split blocks: first make sure no rank failed before it
        MPI_Comm part;
        MPI_Comm_split(comm_, rank_ % groups, rank_, &part);
        return std::make_unique<MpiTeam>(part);
    }

private:
    MPI_Comm comm_;
    int rank_ = 0, size_ = 1;

    /// Sizes first, then the bytes: to every member (all) or to member 0.
    std::vector<std::string> exchange(const std::string& mine, bool all) const {
        const int count = checked_count(mine.size());
        std::vector<int> counts(size_), offsets(size_);
        MPI_Request request;
        if (all) MPI_Iallgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, comm_, &request);
        else MPI_Igather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, comm_, &request);
        wait(request, true);
        std::size_t total = 0;
        for (int m = 0; m < size_; ++m) {
            offsets[m] = checked_count(total);
            total += static_cast<std::size_t>(counts[m]);
        }
        const bool receives = all || rank_ == 0;
        std::string buffer(receives ? total : 0, '\0');
        if (receives) checked_count(total);
        if (all) MPI_Iallgatherv(mine.data(), count, MPI_BYTE, buffer.data(), counts.data(), offsets.data(), MPI_BYTE, comm_, &request);
        else MPI_Igatherv(mine.data(), count, MPI_BYTE, buffer.data(), counts.data(), offsets.data(), MPI_BYTE, 0, comm_, &request);
        wait(request, true);
        std::vector<std::string> out;
        if (!receives) return out;
        for (int m = 0; m < size_; ++m) out.push_back(buffer.substr(static_cast<std::size_t>(offsets[m]), static_cast<std::size_t>(counts[m])));
        return out;
    }
};

}  // namespace

std::unique_ptr<Team> world() {
    if (!started) return std::make_unique<Alone>();
    MPI_Comm comm;
    MPI_Comm_dup(MPI_COMM_WORLD, &comm);
    return std::make_unique<MpiTeam>(comm);
}

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
    if (error && size() > 1) raise_alarm();
    // The lowest failing rank, or size() when none failed.
    const int mine = error ? rank() : size();
    int first = size();
    MPI_Request request;
    MPI_Iallreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD, &request);
    wait(request);
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
std::unique_ptr<Team> world() { return std::make_unique<Alone>(); }

#endif

}  // namespace laminar::ranks
