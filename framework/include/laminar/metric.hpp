// Interface of metric plugins (plugins/metrics/<name>/): read activation sets from the run
// file, write results under /results/<analysis name>/. Metrics never link libtorch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "laminar/plugin.hpp"
#include "laminar/team.hpp"
#include "laminar/types.hpp"

namespace laminar {

/// Read-only view of the run file's stimuli and activations (backed by HDF5 in the host).
class BOOST_SYMBOL_VISIBLE ActivationSource {
public:
    virtual ~ActivationSource() = default;
    virtual const std::vector<Stimulus>& stimuli() const = 0;
    /// Category names in the order the experiment file gives them.
    virtual std::vector<std::string> categories() const = 0;
    virtual std::vector<std::string> models() const = 0;
    /// Hook names recorded for a model, e.g. "blocks.5.attn.hook_q".
    virtual std::vector<std::string> hooks(const std::string& model) const = 0;
    /// The site of a recorded hook ("q", "resid_post", ...), without reading its data.
    virtual std::string site(const std::string& model, const std::string& hook) const = 0;
    /// How many layers the model has (not how many were recorded): for relative depth.
    virtual int n_layer(const std::string& model) const = 0;
    virtual ActivationSet read(const std::string& model, const std::string& hook) const = 0;
    /// Whether the set has a row per token (ActivationSet::tokens), without reading its data.
    virtual bool per_token(const std::string& model, const std::string& hook) const = 0;
    /// Why the set is not a representational space (token ids, statistics of a distribution:
    /// Recording::no_context_mean), or "" when it is one. A metric's default (no `sites:`) leaves
    /// such sets out; named, they are read like any other.
    virtual std::string not_a_space(const std::string& model, const std::string& hook) const {
        (void)model;
        (void)hook;
        return {};
    }
};

/// What the entries along one axis of a result dataset are, so that tables and figures can
/// name them: the stimuli (in /stimuli order) or the categories (in the experiment's order).
enum class Axis { none, stimuli, categories };

/// Where a metric writes. Paths are relative to the metric's own result group and use '/'
/// between levels: "<model>/<hook>/..." for one space, e.g. "gpt2-medium/blocks.5.attn.hook_q/matrix",
/// and "<model>[~<model b>]/<hook a>~<hook b>/..." for a pair. The host then gives each such
/// group its model, hook, layer, site (and head) as attributes, so that every metric's results
/// come out as tidy tables.
class BOOST_SYMBOL_VISIBLE ResultSink {
public:
    virtual ~ResultSink() = default;
    /// A float64 dataset of the given shape (row-major data).
    virtual void write(const std::string& path, const std::vector<int64_t>& shape,
                       const std::vector<double>& data) = 0;
    /// Names what each axis of the dataset at `path` runs over (one entry per dimension).
    virtual void axes(const std::string& path, const std::vector<Axis>& axes) = 0;
    /// Labels the entries along axis `axis` (0: rows, 1: columns) of the dataset at `path` with
    /// numbers, e.g. the layers of a layer x layer grid.
    virtual void axis_values(const std::string& path, std::size_t axis, const std::vector<int64_t>& values) = 0;
    /// An attribute on the group or dataset at `path` (created as a group if absent).
    virtual void attribute(const std::string& path, const std::string& name, double value) = 0;
    virtual void attribute(const std::string& path, const std::string& name, int64_t value) = 0;
    virtual void attribute(const std::string& path, const std::string& name,
                           const std::string& value) = 0;
    /// `done` of `total` pieces of work (spaces, pairs) are finished: the host shows progress.
    virtual void progress(std::size_t done, std::size_t total) { (void)done; (void)total; }
    /// Something the user should know (NaN from a zero vector, ...): printed by the host and
    /// kept in the analysis group's `warnings` attribute.
    virtual void warn(const std::string& message) = 0;
    /// The time one statistic took (`laminar run --profile`): its wall seconds and each thread's
    /// busy seconds in the parallel loops it ran. laminar/analysis/profile.hpp's Timed calls it.
    virtual void timing(const std::string& statistic, double wall_seconds, const std::vector<double>& thread_busy_seconds) {
        (void)statistic, (void)wall_seconds, (void)thread_busy_seconds;
    }
};

/// A representational space a metric reads, as the experiment names it ("q",
/// "blocks.5.attn.hook_q" or "gpt2-medium:q": see laminar/space.hpp), and the parameter that
/// names it ("sites[1]", "pairs[0][1]").
struct SpaceUse {
    std::string field;
    std::string space;
};

class BOOST_SYMBOL_VISIBLE Metric {
public:
    virtual ~Metric() = default;
    /// Reads this metric's parameters; throws SpecError on values it cannot use.
    virtual void configure(const Params& params) = 0;
    /// The spaces run() will read (after configure()), so that the host can check them against
    /// what the extractors record before any model runs. None (the default): nothing to check.
    virtual std::vector<SpaceUse> spaces() const { return {}; }
    /// Checks (after configure()) what the stimuli alone decide, as run() would, so that
    /// `validate` finds it and `run` refuses before extraction: e.g. a hypothesis file against
    /// the words. `rows` are the rows run() will read (ActivationSource::stimuli), without
    /// tokens; `categories` in the experiment's order. Throws SpecError; the default checks nothing.
    virtual void check(const std::vector<Stimulus>& rows, const std::vector<std::string>& categories) const {
        (void)rows;
        (void)categories;
    }
    /// Runs on every member of `team` alike (one process outside mpirun). A metric shares out
    /// its sites, layers and permutation blocks with laminar/team_work.hpp; work it does
    /// not share, every member repeats, and only member 0's `out` is written.
    virtual void run(const ActivationSource& in, ResultSink& out, const Team& team) = 0;
};

}  // namespace laminar
