// Job arrays without MPI: `laminar run EXP --shard K/N` does one N-th of the first stage that is
// not up to date into a shard file beside the run file; `laminar merge` (or the next plain
// `laminar run`) assembles the shards into the run file, as a one-process run would have written
// it. Extraction splits the analysed rows (stimuli) into N contiguous blocks; analysis gives each
// analysis of the experiment, in order, to shard (its index mod N).
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "store/h5.hpp"

namespace laminar {

/// Part `index` (from 0) of `count`; count 1 is the whole work.
struct Shard {
    std::size_t index = 0;
    std::size_t count = 1;
    bool active() const { return count > 1; }
    std::string text() const { return std::to_string(index) + "/" + std::to_string(count); }
};

/// "K/N" with 0 <= K < N; InputError naming --shard otherwise.
Shard parse_shard(const std::string& text);

/// Where shard K of N of a run file is written: runs/demo.h5 -> runs/demo.shard-K-of-N.h5.
std::filesystem::path shard_path(const std::filesystem::path& run_file, const Shard& shard);

/// The analysed rows [begin, end) shard K of N extracts: N contiguous blocks, sizes differing by
/// at most one.
std::pair<std::size_t, std::size_t> shard_rows(std::size_t rows, const Shard& shard);

/// Whether analysis number `i` (in the experiment's order) is shard `shard`'s.
inline bool shard_takes(std::size_t i, const Shard& shard) { return i % shard.count == shard.index; }

/// What a shard file holds: which stage's work, of which inputs.
struct ShardFile {
    std::filesystem::path path;
    Shard shard;
    std::string stage;        ///< "extract" or "analyze"
    std::string inputs_hash;  ///< extract: the extraction's inputs; analyze: the extraction it analysed
};

/// The /shard group that makes a run file a shard file (attributes index, count, stage,
/// inputs_hash; never merged into the run file).
void mark_shard(hid_t file, const Shard& shard, const std::string& stage, const std::string& inputs_hash);

/// The shard files beside `run_file` (any N), read; a file by a shard's name that is not one is
/// an error naming it.
std::vector<ShardFile> find_shards(const std::filesystem::path& run_file);

/// Checks that `shards` are one complete set (one stage, one N, every K once, the same inputs,
/// and `expected_hash` when given): an InputError naming each missing, extra or stale shard.
void require_complete(const std::filesystem::path& run_file, const std::vector<ShardFile>& shards,
                      const std::optional<std::string>& expected_hash);

/// What a merge may replace and must check.
struct MergeChecks {
    /// A run file of another experiment (root attribute `experiment`) may be replaced (--force).
    bool force = false;
    /// Analysis shards must come from the experiment file the run file records (`laminar merge`,
    /// which has no experiment file to check each analysis against, as `laminar run` does).
    bool same_spec = false;
};

/// Assembles a complete set into `run_file` in one transaction (an extraction replaces the run
/// file's stimuli, activations, results and stages; analyses replace their own results), then
/// deletes the shard files. `command` is recorded with the stage(s) merged. An InputError naming
/// both experiments when the run file holds another experiment than the shards (unless
/// checks.force), and naming the first line that differs when checks.same_spec is not met.
void merge_shards(const std::filesystem::path& run_file, const std::vector<ShardFile>& shards, const std::string& command,
                  std::ostream& log, const MergeChecks& checks = {});

/// The next plain run's part: merges the shards of `stage` found beside the run file when they
/// are a complete set made from `expected_hash` (an error naming what is wrong when they are
/// not); false when there are none.
bool merge_found_shards(const std::filesystem::path& run_file, const std::string& stage, const std::string& expected_hash,
                        const std::string& command, std::ostream& log, const MergeChecks& checks = {});

}  // namespace laminar
