// The helpers that share a metric's work among a team's members (laminar/team_work.hpp),
// run on a team of threads: for 1 to 5 members and 0 to 7 items, member 0 ends with the writes
// and p-values one process makes, byte for byte and in the same order; the permutation nulls
// and bootstrap samples the members share are one process's; an error in one member's share
// stops every member.
#include <doctest/doctest.h>

#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include "laminar/analysis/rsa.hpp"
#include "laminar/analysis/selectivity.hpp"
#include "laminar/team_work.hpp"

using namespace laminar;
using namespace laminar::analysis;

namespace {

/// What the members of a thread team share: a slot each and a barrier.
struct Board {
    explicit Board(int n) : size(n), slots(n) {}
    const int size;
    std::mutex m;
    std::condition_variable cv;
    int arrived = 0;
    long generation = 0;
    std::vector<std::string> slots;
    std::map<std::pair<long, int>, std::shared_ptr<Board>> parts;  ///< (split number, group) -> its board

    void barrier() {
        std::unique_lock<std::mutex> lock(m);
        const long mine = generation;
        if (++arrived == size) {
            arrived = 0;
            ++generation;
            cv.notify_all();
        } else {
            cv.wait(lock, [&] { return generation != mine; });
        }
    }
};

/// A Team whose members are threads of this process: MPI's collectives, by hand.
class ThreadTeam final : public Team {
public:
    ThreadTeam(std::shared_ptr<Board> board, int rank, int process) : board_(std::move(board)), rank_(rank), process_(process) {}
    int size() const override { return board_->size; }
    int rank() const override { return rank_; }
    int process() const override { return process_; }
    std::vector<std::string> all_gather(const std::string& mine) const override {
        {
            std::lock_guard<std::mutex> lock(board_->m);
            board_->slots[rank_] = mine;
        }
        board_->barrier();
        std::vector<std::string> all;
        {
            std::lock_guard<std::mutex> lock(board_->m);
            all = board_->slots;
        }
        board_->barrier();  // nobody writes the next round's slot before everyone has read this one
        return all;
    }
    std::vector<std::string> gather(const std::string& mine) const override {
        auto all = all_gather(mine);
        return rank_ == 0 ? all : std::vector<std::string>{};
    }
    std::unique_ptr<Team> split(int groups) const override {
        const int group = rank_ % groups;
        std::shared_ptr<Board> part;
        {
            std::lock_guard<std::mutex> lock(board_->m);
            auto& slot = board_->parts[{splits_, group}];
            if (!slot) slot = std::make_shared<Board>((board_->size - group + groups - 1) / groups);
            part = slot;
        }
        ++splits_;
        return std::make_unique<ThreadTeam>(part, rank_ / groups, process_);
    }

private:
    std::shared_ptr<Board> board_;
    int rank_, process_;
    mutable long splits_ = 0;
};

/// A metric-like body: per item, attributes, a dataset, a warning for every third item, a
/// p-value in one of two families, and a null shared out among the item's group.
struct Outcome {
    std::string writes;
    std::vector<std::pair<std::string, double>> first, second;
    std::string error;
};

Outcome analyse(const Team& team, std::size_t items, std::size_t failing = SIZE_MAX) {
    RecordingSink out;
    CorrectedPValues<ResultSink> first("holm"), second("holm");
    Outcome o;
    try {
        out.warn("before the items");  // every member says it; member 0's counts
        for_each_item(team, items, out, {&first, &second}, [&](std::size_t i, ResultSink& sink, const Team& group) {
            const std::string path = "m/site" + std::to_string(i);
            if (i == failing) throw SpecError("pairs[" + std::to_string(i) + "]", "item " + std::to_string(i) + " fails");
            const arma::vec null = gather_blocks(group, 11, [&](std::size_t a, std::size_t b) {
                arma::vec v(b - a);
                for (std::size_t k = a; k < b; ++k) v(k - a) = 1000.0 * i + static_cast<double>(k) / 3;
                return v;
            });
            sink.write(path + "/null", {static_cast<int64_t>(null.n_elem)}, std::vector<double>(null.begin(), null.end()));
            sink.attribute(path, "mean", arma::mean(null));
            sink.attribute(path, "n", static_cast<int64_t>(i));
            sink.attribute(path, "name", "item " + std::to_string(i));
            sink.axes(path + "/null", {Axis::stimuli});
            sink.axis_values(path + "/null", 0, std::vector<int64_t>(null.n_elem, static_cast<int64_t>(i)));
            if (i % 3 == 0) sink.warn("item " + std::to_string(i) + " warns");
            (i % 2 ? first : second).add(path, 0.01 * static_cast<double>(i + 1));
        });
        const arma::vec grid = gather_blocks(team, 4, [&](std::size_t a, std::size_t b) {
            arma::vec v(4 * (b - a));  // 4 values per row
            for (std::size_t k = 0; k < v.n_elem; ++k) v(k) = static_cast<double>(4 * a + k);
            return v;
        }, 4);
        out.write("grid", {4, 4}, std::vector<double>(grid.begin(), grid.end()));
    } catch (const std::exception& e) {
        o.error = e.what();
    }
    o.writes = out.bytes();
    for (std::size_t k = 0; k < first.size(); ++k) o.first.emplace_back(first.path(k), first.p(k));
    for (std::size_t k = 0; k < second.size(); ++k) o.second.emplace_back(second.path(k), second.p(k));
    return o;
}

std::vector<Outcome> on_threads(int members, std::size_t items, std::size_t failing = SIZE_MAX) {
    auto board = std::make_shared<Board>(members);
    std::vector<Outcome> outcomes(members);
    std::vector<std::thread> threads;
    for (int m = 0; m < members; ++m)
        threads.emplace_back([&, m] { outcomes[m] = analyse(ThreadTeam(board, m, m), items, failing); });
    for (auto& t : threads) t.join();
    return outcomes;
}

}  // namespace

TEST_CASE("block_of splits items into contiguous blocks differing by at most one") {
    for (std::size_t count = 0; count <= 20; ++count)
        for (std::size_t parts = 1; parts <= 7; ++parts) {
            std::size_t next = 0;
            for (std::size_t p = 0; p < parts; ++p) {
                const auto [first, last] = block_of(count, p, parts);
                CHECK(first == next);
                CHECK(last - first <= count / parts + 1);
                CHECK(last - first >= count / parts);
                next = last;
            }
            CHECK(next == count);
        }
}

TEST_CASE("a team of 1 to 5 threads gives member 0 the writes and p-values of one process, in order") {
    for (std::size_t items = 0; items <= 7; ++items) {
        const Outcome alone = analyse(Alone(), items);
        REQUIRE(alone.error.empty());
        for (int members = 1; members <= 5; ++members) {
            CAPTURE(items);
            CAPTURE(members);
            const auto outcomes = on_threads(members, items);
            CHECK_MESSAGE(outcomes[0].error.empty(), outcomes[0].error);
            CHECK(outcomes[0].writes == alone.writes);  // every value, bit for bit, and their order
            CHECK(outcomes[0].first == alone.first);
            CHECK(outcomes[0].second == alone.second);
        }
    }
    // The check can fail: another item count writes something else.
    CHECK(analyse(Alone(), 4).writes != analyse(Alone(), 5).writes);
}

TEST_CASE("an error in one member's items stops every member: its own error there, the failing rank's name elsewhere") {
    // 6 items on 3 members: items 4 and 5 are member 2's.
    const auto outcomes = on_threads(3, 6, 4);
    CHECK(outcomes[2].error == "item 4 fails");
    CHECK(outcomes[0].error == "rank 2 failed (item 4 fails); this rank stops too");
    CHECK(outcomes[1].error == "rank 2 failed (item 4 fails); this rank stops too");
    // 2 items on 4 members: item 1's group is members 1 and 3; both fail, the others name rank 1.
    const auto shared = on_threads(4, 2, 1);
    CHECK(shared[1].error == "item 1 fails");
    CHECK(shared[3].error == "item 1 fails");
    CHECK(shared[0].error.rfind("rank 1 failed", 0) == 0);
    CHECK(shared[2].error.rfind("rank 1 failed", 0) == 0);
}

TEST_CASE("permutation nulls and bootstrap samples shared by 1 to 4 threads are one process's, bit for bit") {
    arma::arma_rng::set_seed(5);
    const arma::uword n = 23;
    arma::mat X(n, 6, arma::fill::randn), Y(n, 6, arma::fill::randn);
    const arma::mat A = X * X.t(), B = Y * Y.t() + A;
    arma::uvec labels(n);
    arma::vec row_counts(n);  // each unit's rows, for a null over words of several contexts
    for (arma::uword i = 0; i < n; ++i) {
        labels(i) = i % 3;
        row_counts(i) = 1 + i % 4;
    }
    arma::mat big_x(1500, 8, arma::fill::randn), big_y(1500, 8, arma::fill::randn);
    const arma::mat big_a = 1 - big_x * big_x.t() / 8, big_b = 1 - big_y * big_y.t() / 8;
    auto all = [&](const Team& team) {
        std::vector<arma::vec> out;
        for (const char* method : {"corr", "spearman", "tau-a", "cosine_cov"}) out.push_back(mantel_null(A, B, method, 37, 1, team));
        out.push_back(bootstrap(A, B, "corr", 150, 2, team));  // 3 batches of 64 resamples
        out.push_back(mantel_null(big_a, big_b, "corr", 70, 1, team));  // floats stored (1,500 words), chunks of 32
        out.push_back(bootstrap(A, B, "spearman", 29, 2, team));
        out.push_back(arma::vectorise(permutation_null(A, labels, 3, Variant::mean_of_blocks, 600, 3, team)));  // 600: 3 batches of 256
        out.push_back(arma::vectorise(permutation_null(A, labels, 3, Variant::pooled, 300, 4, team, row_counts)));  // words of several rows
        // Exact nulls: every relabelling of 7 words (5040), every labelling of 3 + 3 + 3 words (1680, 7 batches).
        const arma::uvec seven = arma::regspace<arma::uvec>(0, 6), nine = arma::regspace<arma::uvec>(0, 8);
        out.push_back(mantel_null(A.submat(seven, seven), B.submat(seven, seven), "corr", relabellings(7, 5040, 9).perms, team));
        const arma::uvec small_labels = nine / 3;
        out.push_back(arma::vectorise(permutation_null(A.submat(nine, nine), small_labels, 3, Variant::mean_of_blocks,
                                                       distinct_labellings_up_to(small_labels, 2000), 0, team, {}, true)));
        return out;
    };
    const auto alone = all(Alone());
    for (int members = 1; members <= 4; ++members) {
        CAPTURE(members);
        auto board = std::make_shared<Board>(members);
        std::vector<std::vector<arma::vec>> results(members);
        std::vector<std::thread> threads;
        for (int m = 0; m < members; ++m) threads.emplace_back([&, m] { results[m] = all(ThreadTeam(board, m, m)); });
        for (auto& t : threads) t.join();
        for (int m = 0; m < members; ++m)
            for (std::size_t k = 0; k < alone.size(); ++k) {
                REQUIRE(results[m][k].n_elem == alone[k].n_elem);
                CHECK(std::memcmp(results[m][k].memptr(), alone[k].memptr(), alone[k].n_elem * sizeof(double)) == 0);
            }
    }
}
