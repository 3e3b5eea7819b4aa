// Stage "analyze": run each metric on the activations stored by "extract". Never loads a
// model. Each analysis is its own transaction, so finished ones survive a later failure. With
// --shard K/N, the analyses numbered K mod N go to a shard file (shards.hpp). Under mpirun,
// every rank runs each analysis with the others (the metric shares its work out: Team) and
// rank 0 writes it.
#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <new>
#include <set>

#include "runtime/content_hash.hpp"
#include "runtime/errors.hpp"
#include "laminar/text_file.hpp"
#include "runtime/ranks.hpp"
#include "store/run_file.hpp"
#include "store/run_layout.hpp"
#include "store/shards.hpp"
#include "stages/stages.hpp"

namespace laminar {

namespace fs = std::filesystem;

namespace {

/// Prints an analysis's warnings, each kind once: warnings that differ only in their numbers
/// (the layer, the count) are one kind, said for its first space with the count of the rest.
/// The run file keeps every one (results/NAME's `warnings`), so nothing is lost to the summary.
void print_warnings(const std::string& analysis, const std::vector<std::string>& warnings, std::ostream& log) {
    std::vector<std::string> order;         // kinds, in the order first met
    std::map<std::string, std::size_t> seen;  // kind -> how many
    std::map<std::string, std::string> first;
    for (const auto& w : warnings) {
        std::string kind;
        for (std::size_t i = 0; i < w.size(); ++i)
            if (!std::isdigit(static_cast<unsigned char>(w[i])))
                kind += w[i];
            else if (kind.empty() || kind.back() != '#')
                kind += '#';
        if (seen[kind]++ == 0) order.push_back(kind), first[kind] = w;
    }
    for (const auto& kind : order) {
        log << "warning: analyze " << analysis << ": " << first[kind] << "\n";
        if (seen[kind] > 1)
            log << "warning: analyze " << analysis << ": (and " << seen[kind] - 1
                << " more like it at other spaces: `laminar inspect RUN.h5 --all` lists them, results/" << analysis
                << "'s warnings)\n";
    }
}

/// What the ranks other than 0 write: nothing (rank 0 writes the analysis).
class NoSink : public ResultSink {
public:
    void write(const std::string&, const std::vector<int64_t>&, const std::vector<double>&) override {}
    void axes(const std::string&, const std::vector<Axis>&) override {}
    void axis_values(const std::string&, std::size_t, const std::vector<int64_t>&) override {}
    void attribute(const std::string&, const std::string&, double) override {}
    void attribute(const std::string&, const std::string&, int64_t) override {}
    void attribute(const std::string&, const std::string&, const std::string&) override {}
    void warn(const std::string&) override {}
};

/// OpenBLAS (under Armadillo, in the metrics) reserves a 128 MiB buffer for each of its threads
/// on first use, and when it cannot have one it retries forever at full speed (0.3.21's
/// blas_memory_alloc: found under `ulimit -v`). The library cannot be mended here: under an
/// address-space limit, reserve (not touch) as much first, and refuse clearly where it fails.
void require_room_for_openblas(const std::string& analysis) {
    struct rlimit limit {};
    if (::getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return;
    std::size_t threads = 0;
    for (const char* name : {"OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"})
        if (const char* v = std::getenv(name); v && !threads) threads = std::strtoul(v, nullptr, 10);
    cpu_set_t allowed;
    if (!threads && ::sched_getaffinity(0, sizeof allowed, &allowed) == 0) threads = CPU_COUNT(&allowed);
    const std::size_t bytes = std::max<std::size_t>(threads, 1) * ((128u << 20) + (64u << 10));
    void* p = std::malloc(bytes);
    if (!p)
        throw std::runtime_error("analyze " + analysis + ": out of memory: the address-space limit (ulimit -v, " +
                                 std::to_string(limit.rlim_cur >> 20) + " MiB) leaves less than the " + std::to_string(bytes >> 20) +
                                 " MiB OpenBLAS reserves for its " + std::to_string(threads) +
                                 " thread(s), and OpenBLAS would wait for it forever");
    std::free(p);
}

void run_metric(const Experiment& exp, const PluginRegistry& registry, const StepSpec& step, const ActivationSource& source,
                ResultSink& sink, const Team& team) {
    require_room_for_openblas(step.name);
    auto metric = registry.create_metric(step.plugin);
    try {
        metric->configure(step.params);
        metric->run(source, sink, team);
    } catch (const SpecError& e) {
        rethrow_in_file(exp, step.pointer, e);
    } catch (const InputError&) {
        throw;  // complete as it is (exit 2)
    } catch (const std::bad_alloc&) {  // "std::bad_alloc" alone names neither the analysis nor a remedy
        throw std::runtime_error("analyze " + step.name + " (metric " + step.plugin + "): out of memory (std::bad_alloc): "
                                 "ask it for less (fewer permutations, bootstrap samples, bins or spaces), or run it "
                                 "on a machine with more memory");
    } catch (const std::exception& e) {  // a failure inside the metric: say which analysis
        throw std::runtime_error("analyze " + step.name + " (metric " + step.plugin + "): " + e.what());
    }
}

/// --profile: the table on the log, and the JSON in `file` unless it is "". Written once the
/// results are committed: a file it cannot write costs a warning, not the run.
void write_profile(const Profile& profile, const fs::path& file, std::ostream& log) {
    if (profile.empty()) {
        log << "note: --profile: no analysis ran (all were up to date; --force runs them again)\n";
        return;
    }
    log << profile.table();
    if (file.empty()) return;
    std::ofstream out(file);
    out << profile.json().dump(2) << "\n";
    out.close();
    if (!out) log << "warning: --profile: cannot write " << file.string() << " (the results are written)\n";
    else log << "profile: written to " << file.string() << "\n";
}

/// Runs one analysis on the activations of `source_file`, writing its results and stage record
/// into `sink_file` (the run file's transaction, or a shard file's).
void run_one(const Experiment& exp, const PluginRegistry& registry, const StepSpec& step, const std::string& hash,
             const RunOptions& options, hid_t source_file, hid_t sink_file, const Team& team, std::ostream& log,
             Profile& profile) {
    const auto started = std::chrono::steady_clock::now();
    RunFileSource source(source_file);
    RunFileSink sink(sink_file, step.name, options.verbosity);
    run_metric(exp, registry, step, source, sink, team);
    sink.describe_spaces(source);
    const std::string group = RunFile::result(step.name);
    h5::set_attr(sink_file, group, "metric", step.plugin);
    h5::set_attr(sink_file, group, "plugin_version", registry.require(PluginKind::metric, step.plugin).version);
    h5::set_attr(sink_file, group, "params", step.params.dump());
    stamp_root(sink_file, exp.name, exp.document.text());
    record_stage(sink_file, "analyze/" + step.name, hash, options.command);
    print_warnings(step.name, sink.warnings(), log);
    AnalysisTime timings = sink.timings();
    timings.name = step.name;
    timings.metric = step.plugin;
    timings.wall = elapsed(started);
    profile.add(std::move(timings));
    log << "analyze: " << step.name << ": done (" << duration_text(elapsed(started)) << ")\n";
}

/// Each analysis is its own transaction of the run file, so finished ones survive a later
/// failure. With several ranks, rank 0 commits only once every rank has finished without error.
void run_in_place(const Experiment& exp, const PluginRegistry& registry, const StepSpec& step, const std::string& hash,
                  const RunOptions& options, const Team& team, hid_t kept, std::ostream& log, Profile& profile) {
    if (team.rank() != 0) {
        ranks::together([&] {
            RunFileSource source(kept);
            NoSink none;
            run_metric(exp, registry, step, source, none, team);
        });
        return;
    }
    RunTransaction tx(options.output, {RunFile::result(step.name), RunFile::analysis_stage(step.name)});
    ranks::together([&] { run_one(exp, registry, step, hash, options, tx.file(), tx.file(), team, log, profile); });
    tx.commit();
}

/// Where a model folder is there, what in it differs from the files the run file's activations
/// were extracted from (by content, content_hash.hpp): "" when nothing does. Where the folder is
/// gone, the activations are all there is, and they are analysed.
std::string changed_model_files(const Experiment& exp, hid_t run_file) {
    for (const auto& m : exp.models) {
        if (m.path.empty() || !fs::is_directory(m.path)) continue;
        const auto recorded = recorded_model_files(run_file, m.id, "model_files");
        if (!recorded || !recorded->is_array()) continue;  // extracted by laminar 0.2 or older: no hashes to compare
        const auto stats = recorded_model_files(run_file, m.id, "model_file_stats");
        const nlohmann::json now = folder_identity(m.path, stats.value_or(nlohmann::json::object())).files;
        if (now == *recorded) continue;
        std::map<std::string, nlohmann::json> before, after;
        for (const auto& f : *recorded) before[f.value("name", "")] = f;
        for (const auto& f : now) after[f.value("name", "")] = f;
        std::string changed;
        auto add = [&](const std::string& name, const char* how) { changed += (changed.empty() ? "" : ", ") + name + how; };
        for (const auto& [name, f] : before)
            if (!after.count(name)) add(name, " (gone)");
            else if (after[name] != f) add(name, " (other contents)");
        for (const auto& [name, f] : after)
            if (!before.count(name)) add(name, " (new)");
        return exp.document.where(m.pointer + "/path") + ": model '" + m.id + "' (" + m.path.string() + ") is not the model its activations were "
               "extracted from: " + changed;
    }
    return "";
}

}  // namespace

void run_analyze(const Experiment& exp, const PluginRegistry& registry, const RunOptions& options, std::ostream& log,
                 const Team& team) {
    std::optional<std::string> extract_hash, extracted_spec;
    std::set<std::string> recorded;
    std::string changed_model;
    if (fs::exists(options.output)) {
        h5::Handle f = open_run_file(options.output);
        changed_model = changed_model_files(exp, f);
        extract_hash = stage_hash(f, "extract");
        if (h5::has_attr(f, RunFile::stage("extract"), "spec_hash")) extracted_spec = h5::get_string_attr(f, RunFile::stage("extract"), "spec_hash");
        if (h5::exists(f, RunFile::stage("analyze")))
            for (const auto& n : h5::children(h5::open_group(f, RunFile::stage("analyze")))) recorded.insert(n);
        if (h5::exists(f, RunFile::results))
            for (const auto& n : h5::children(h5::open_group(f, RunFile::results))) recorded.insert(n);
    }
    if (!extract_hash)
        throw InputError(options.output.string() + ": no completed extract stage; run `laminar run " +
                         exp.document.file().string() + "` (or --stage extract) first");
    // The activations must be those of this experiment file: an edited stimulus list or
    // extractor would otherwise be analysed with the old activations under the new labels.
    if (extracted_spec != extraction_spec_hash(exp, registry))
        throw InputError(exp.document.file().string() + ": its models, stimuli or extract section differ from those " +
                         options.output.string() + " was extracted with; run `laminar run " +
                         exp.document.file().string() + "` (without --stage analyze) to extract again first");
    if (!changed_model.empty())
        throw InputError(changed_model + "; run `laminar run " + exp.document.file().string() +
                         "` (without --stage analyze) to extract again first");

    // A job array's analysis shards, all there and of these activations: merged first, so that
    // the analyses they hold are up to date below.
    // (Not under mpirun: rank 0 would change the file the other ranks are reading.)
    if (!options.shard.active() && team.size() == 1) merge_found_shards(options.output, "analyze", *extract_hash, options.command, log, {options.force});
    // Under mpirun, the ranks other than 0 read the run file as the stage found it, opened once:
    // rank 0 replaces it analysis by analysis, which changes neither the activations nor the
    // records of the analyses still to run (and each new file would be checked against its seal).
    h5::Handle kept;
    if (team.rank() != 0) kept = open_run_file(options.output);
    // With --shard K/N: the analyses numbered K mod N, into the shard file, reading the run file.
    h5::Handle run_file;
    std::unique_ptr<RunTransaction> shard_file;
    if (options.shard.active()) {
        run_file = open_run_file(options.output);
        shard_file = std::make_unique<RunTransaction>(shard_path(options.output, options.shard),
                                                      std::vector<std::string>{RunFile::results, RunFile::stages, RunFile::shard});
    }

    Profile profile;  // what --profile prints
    for (std::size_t i = 0; i < exp.analyze.size(); ++i) {
        const StepSpec& step = exp.analyze[i];
        recorded.erase(step.name);
        if (options.shard.active() && !shard_takes(i, options.shard)) continue;
        nlohmann::json files = nlohmann::json::object();  // the contents of the files it names
        for (const auto& f : step.files) files[f.pointer] = hash_text(read_text_file(f.path));
        const std::string hash = hash_json({{"section", step.section}, {"files", files},
                                            {"plugin_version", registry.require(PluginKind::metric, step.plugin).version},
                                            {"extract", *extract_hash}});
        std::optional<std::string> previous;
        if (team.rank() != 0) {
            previous = stage_hash(kept, "analyze/" + step.name);
        } else {
            h5::Handle f = open_run_file(options.output);
            previous = stage_hash(f, "analyze/" + step.name);
        }
        if (!options.force && previous == hash) {
            log << "analyze: " << step.name << ": up to date\n";
            continue;
        }
        if (shard_file) run_one(exp, registry, step, hash, options, run_file.get(), shard_file->file(), team, log, profile);
        else run_in_place(exp, registry, step, hash, options, team, kept.get(), log, profile);
    }
    if (shard_file) {
        mark_shard(shard_file->file(), options.shard, "analyze", *extract_hash);
        shard_file->commit();
        log << "analyze: shard " << options.shard.text() << " written to " << shard_path(options.output, options.shard).string()
            << "; once all " << options.shard.count << " are there, `laminar merge` or `laminar run` assembles them\n";
        if (options.profile) write_profile(profile, *options.profile, log);
        return;
    }

    if (!recorded.empty() && !options.shard.active() && team.rank() == 0) {  // analyses no longer in the experiment file
        std::vector<std::string> replaced;
        for (const auto& name : recorded) {
            replaced.push_back(RunFile::result(name));
            replaced.push_back(RunFile::analysis_stage(name));
        }
        RunTransaction tx(options.output, replaced);
        tx.commit();
        for (const auto& name : recorded)
            log << "analyze: removed results of '" << name << "' (no longer in the experiment)\n";
    }
    if (options.profile && team.rank() == 0) write_profile(profile, *options.profile, log);
}

}  // namespace laminar
