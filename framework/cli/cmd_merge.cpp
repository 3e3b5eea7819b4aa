// `laminar merge RUN.h5 [SHARD.h5...]`: assembles the shard files of a job array (`laminar run
// --shard K/N`) into the run file, as one process would have written it. Without shard files
// named, those beside the run file. Needs neither the experiment file nor the models.
#include <algorithm>
#include <iostream>

#include "commands.hpp"
#include "runtime/errors.hpp"
#include "store/run_file.hpp"
#include "store/shards.hpp"

namespace po = boost::program_options;

namespace laminar::cli {

namespace {

/// The file a path names, without following it through a loop of symbolic links into an exception.
std::filesystem::path resolved(const std::string& given) {
    std::error_code ec;
    const auto path = std::filesystem::weakly_canonical(std::filesystem::absolute(given), ec);
    if (ec) throw InputError(given + ": cannot resolve the path (" + ec.message() + ")");
    return path;
}

}  // namespace

int merge(const Args& args) {
    po::options_description options("laminar merge");
    std::string run;
    std::vector<std::string> named;
    options.add_options()("run", po::value<std::string>(&run)->required(), "the run file to assemble (HDF5)")
                         ("shards", po::value<std::vector<std::string>>(&named), "the shard files (default: all beside the run file)")
                         ("force", "replace a run file that holds another experiment's results");
    po::positional_options_description positional;
    positional.add("run", 1).add("shards", -1);
    po::variables_map vm;
    if (parse(args, "laminar merge RUN.h5 [SHARD.h5...] [--force]", options, positional, vm)) return kExitOk;
    namespace fs = std::filesystem;
    const fs::path run_file = resolved(run);
    RunLock lock(run_file);
    std::vector<ShardFile> found = find_shards(run_file), shards;
    if (named.empty()) {
        shards = found;
    } else {
        for (const auto& n : named) {
            const fs::path p = resolved(n);
            const auto it = std::find_if(found.begin(), found.end(), [&](const ShardFile& s) { return fs::equivalent(s.path, p); });
            if (!fs::exists(p)) throw InputError(n + ": no such shard file");
            if (it == found.end())
                throw InputError(n + ": not a shard of " + run_file.string() + " (shards are named " +
                                 shard_path(run_file, Shard{0, 2}).filename().string() + " and so on, beside the run file)");
            shards.push_back(*it);
        }
    }
    if (shards.empty()) throw InputError(run_file.string() + ": no shard files beside it to merge");
    require_complete(run_file, shards, std::nullopt);
    merge_shards(run_file, shards, "laminar merge " + run, std::cout, MergeChecks{vm.count("force") > 0, true});
    return kExitOk;
}

}  // namespace laminar::cli
