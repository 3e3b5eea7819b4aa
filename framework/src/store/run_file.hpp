// The HDF5 run file: its layout (see ../../../shared/DESIGN.md and the README) and the
// transaction that makes every stage all-or-nothing.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/h5.hpp"
#include "runtime/profile.hpp"
#include "runtime/progress.hpp"
#include "laminar/metric.hpp"
#include "laminar/types.hpp"

namespace laminar {

/// A stage writes into `<run>.partial`, a new file holding what the run file held except the
/// groups the stage replaces, and commit() seals it (run_file_seal.hpp) and renames it over the
/// run file in one step. A run killed at any moment therefore leaves the previous run file
/// untouched, plus a `.partial` that the next transaction detects and discards; and since the
/// partial file is written anew, a replaced stage leaves no dead space behind.
class RunTransaction {
public:
    /// `replaced`: paths ("activations", "results/rsa") not carried over from the run file.
    /// Throws when the run file exists but is not an intact laminar run file.
    RunTransaction(const std::filesystem::path& run_file, const std::vector<std::string>& replaced);
    ~RunTransaction();  ///< without commit(): the partial file is deleted
    RunTransaction(const RunTransaction&) = delete;
    RunTransaction& operator=(const RunTransaction&) = delete;

    hid_t file() const { return file_.get(); }
    void commit();

    static std::filesystem::path partial_path(const std::filesystem::path& run_file);

private:
    std::filesystem::path run_file_;
    std::filesystem::path partial_;
    h5::Handle file_;
    bool committed_ = false;
};

/// Held by a run for its whole duration: a second laminar process writing the same run file
/// would discard the first one's partial file. Released by the kernel if the process dies (the
/// `.lock` file then stays; the next run takes it over), deleted when the run ends.
class RunLock {
public:
    explicit RunLock(const std::filesystem::path& run_file);
    ~RunLock();
    RunLock(const RunLock&) = delete;
    RunLock& operator=(const RunLock&) = delete;

private:
    std::string path_;
    int fd_ = -1;
};

/// Throws unless `run_file` is absent or an intact laminar run file: a file laminar did not write
/// (another tool's HDF5, a text file) is never changed.
void require_writable(const std::filesystem::path& run_file);

/// The experiment (root attribute `experiment`) a run file holds; nothing when the file is absent
/// or records none (laminar 0.1).
std::optional<std::string> recorded_experiment(const std::filesystem::path& run_file);

/// Opens an existing run file read-only; a clear error when it is missing, not a laminar run
/// file, or corrupted.
h5::Handle open_run_file(const std::filesystem::path& run_file);

// --- stimuli -----------------------------------------------------------------------------
/// /stimuli: one word and category per analysed row (`rows`), and each prompt's text, tokens,
/// positions and context: beside them when each row is a prompt, else under /stimuli/prompts
/// with `row` (prompt_row) saying which row averages it. Attribute `contexts`: mean | keep.
void write_stimuli(hid_t file, const std::vector<Stimulus>& prompts, const std::vector<Stimulus>& rows,
                   const std::vector<std::size_t>& prompt_row, const std::vector<std::string>& categories,
                   const std::string& contexts);
/// One Stimulus per analysed row (without text and tokens when a row averages several prompts).
std::vector<Stimulus> read_stimuli(hid_t file);
/// One Stimulus per prompt run (word and category left empty when rows average prompts).
std::vector<Stimulus> read_prompts(hid_t file);
std::vector<std::string> read_category_names(hid_t file);

// --- activations ---------------------------------------------------------------------------
/// Writes one model's /activations/<model>/<hook> (float32 [stimuli x cols], attributes layer,
/// site, model_id, model_fingerprint) batch by batch, as the forward pass hands them over: a
/// set's dataset is created at its first batch and filled row by row, so memory holds one batch.
/// A set with a row per token (ActivationSet::tokens) has [sum of the prompts' lengths x cols]
/// and attribute `rows` = "tokens" (the caller writes the lengths: /stimuli/by_model/<model>/prompt_lengths).
class ActivationWriter {
public:
    /// `prompt_lengths`: each stimulus's token count (the rows it has in a per-token set), for
    /// the stimuli from `first` on (a shard's block: its datasets hold those rows only).
    ActivationWriter(hid_t file, std::string model, std::string fingerprint, std::vector<int64_t> prompt_lengths,
                     std::size_t first = 0);
    /// `set` holds the rows of stimuli `rows` (in that order).
    void write(const ActivationSet& set, const std::vector<std::size_t>& rows);
    /// Throws std::logic_error when a set did not receive every stimulus; returns the number of sets.
    std::size_t finish() const;

private:
    hid_t file_;
    std::string model_, fingerprint_;
    std::size_t stimuli_, first_;
    std::vector<int64_t> lengths_, first_row_;  // per stimulus: tokens, and its first row in a per-token set
    std::map<std::string, std::pair<int64_t, std::size_t>> written_;  // hook -> cols, stimuli written
};

// --- stage records ---------------------------------------------------------------------------
/// /stages/<stage> holds inputs_hash and completed (UTC time); written last, inside the
/// stage's transaction, so a record exists only for a stage whose every dataset exists.
/// `command` (when given): the command line that ran it.
void record_stage(hid_t file, const std::string& stage, const std::string& inputs_hash, const std::string& command = "");
std::optional<std::string> stage_hash(hid_t file, const std::string& stage);

/// The JSON attribute `name` of /activations/<model>: `model_files` (what the activations were
/// extracted from: name, size and hash of each file of the model folder) or `model_file_stats`
/// (what each hash was computed from). Nullopt when absent (a run file of laminar 0.2 or older)
/// or not JSON.
std::optional<nlohmann::json> recorded_model_files(hid_t file, const std::string& model, const std::string& name);

/// Metric input backed by a run file.
class RunFileSource : public ActivationSource {
public:
    explicit RunFileSource(hid_t file);
    const std::vector<Stimulus>& stimuli() const override { return stimuli_; }
    std::vector<std::string> categories() const override { return categories_; }
    std::vector<std::string> models() const override;
    std::vector<std::string> hooks(const std::string& model) const override;
    std::string site(const std::string& model, const std::string& hook) const override;
    int n_layer(const std::string& model) const override;
    ActivationSet read(const std::string& model, const std::string& hook) const override;
    bool per_token(const std::string& model, const std::string& hook) const override;
    std::string not_a_space(const std::string& model, const std::string& hook) const override;

private:
    hid_t file_;
    std::vector<Stimulus> stimuli_;
    std::vector<std::string> categories_;
};

/// Metric output into /results/<analysis name>/ of a run file.
class RunFileSink : public ResultSink {
public:
    RunFileSink(hid_t file, std::string analysis_name, Verbosity verbosity = Verbosity::quiet);
    void write(const std::string& path, const std::vector<int64_t>& shape, const std::vector<double>& data) override;
    void axes(const std::string& path, const std::vector<Axis>& axes) override;
    void axis_values(const std::string& path, std::size_t axis, const std::vector<int64_t>& values) override;
    void attribute(const std::string& path, const std::string& name, double value) override;
    void attribute(const std::string& path, const std::string& name, int64_t value) override;
    void attribute(const std::string& path, const std::string& name, const std::string& value) override;
    void warn(const std::string& message) override;
    void progress(std::size_t done, std::size_t total) override;
    void timing(const std::string& statistic, double wall_seconds, const std::vector<double>& thread_busy_seconds) override {
        timings_.add(statistic, wall_seconds, thread_busy_seconds);
    }
    const std::vector<std::string>& warnings() const { return warnings_; }
    /// The statistics the metric timed (--profile), in the order they first ran.
    const AnalysisTime& timings() const { return timings_; }
    /// Gives every "<model>/<hook>" and "<model>[~<model b>]/<hook a>~<hook b>" group the metric
    /// wrote its model, hook, layer, site and head (from the activations they name), and
    /// model_a/_b, hook_a/_b, ... for pairs (a side b that is no recorded space, such as a
    /// hypothesis, is named in `site`): what a tidy table's columns are made of.
    void describe_spaces(const ActivationSource& in);

private:
    hid_t file_;
    std::string name_;  ///< the analysis
    std::string root_;  ///< its group, "results/<name>"
    std::vector<std::string> warnings_;
    AnalysisTime timings_;
    Verbosity verbosity_;
    std::unique_ptr<Progress> progress_;
    std::string full(const std::string& path) const;
};

std::string utc_now();

}  // namespace laminar
