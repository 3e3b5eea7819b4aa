#include "pipeline.hpp"

#include <boost/version.hpp>

#include "content_hash.hpp"
#include "errors.hpp"
#include "h5.hpp"
#include "run_file.hpp"
#include "stages.hpp"

#ifndef LAMINAR_VERSION
#define LAMINAR_VERSION "0.0.0"
#endif

namespace laminar {

void stamp_root(hid_t file, const Experiment& exp) {
    h5::set_attr(file, ".", "laminar_version", std::string(LAMINAR_VERSION));
    unsigned major = 0, minor = 0, release = 0;
    H5get_libversion(&major, &minor, &release);
    h5::set_attr(file, ".", "libraries", "HDF5 " + std::to_string(major) + "." + std::to_string(minor) + "." +
                                             std::to_string(release) + "; Boost " + std::string(BOOST_LIB_VERSION));
    h5::set_attr(file, ".", "experiment", exp.name);
    h5::set_attr(file, ".", "spec", exp.document.text());
    h5::set_attr(file, ".", "spec_hash", hash_text(exp.document.text()));
    if (!h5::has_attr(file, ".", "created")) h5::set_attr(file, ".", "created", utc_now());
    h5::set_attr(file, ".", "updated", utc_now());
}

void rethrow_in_file(const Experiment& exp, const std::string& pointer, const SpecError& err) {
    throw InputError(exp.document.where(pointer_append_field(pointer, err.field())) + ": " + err.what());
}

void run_experiment(const Experiment& exp, const PluginRegistry& registry, const RunOptions& options,
                    std::ostream& log) {
    const std::string& s = options.stage;
    if (!s.empty() && s != "extract" && s != "analyze" && s != "report")
        throw InputError("--stage must be extract, analyze or report (got '" + s + "')");
    // Shards of a job array run side by side: each holds its own file, not the run file.
    const std::filesystem::path written = options.shard.active() ? shard_path(options.output, options.shard) : options.output;
    RunLock lock(written);
    if (std::filesystem::exists(RunTransaction::partial_path(written))) {
        std::filesystem::remove(RunTransaction::partial_path(written));
        log << "note: discarded " << RunTransaction::partial_path(written).string() << ", left by an interrupted run; "
            << (std::filesystem::exists(written)
                    ? written.string() + " is as its last completed stage left it\n"
                    : "no stage had completed, so there is no run file yet\n");
    }
    require_writable(options.output);  // before any stage, even one that finds itself up to date
    if (s.empty() || s == "extract")
        if (!run_extract(exp, registry, options, log)) return;  // a shard of the extraction: nothing to analyse yet
    if (s.empty() || s == "analyze") run_analyze(exp, registry, options, log);
    if (options.shard.active()) return;  // the report is the merged run's
    if (s.empty() || s == "report") {
        print_summary(options.output, log);
        write_report_page(options.output, report_folder(options.output), log);
    }
}

}  // namespace laminar
