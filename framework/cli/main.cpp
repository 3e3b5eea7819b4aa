// laminar: representational analysis of transformer language models.
// Exit codes: 0 ok, 1 runtime failure, 2 usage or experiment-file error.
#include <csignal>
#include <iostream>
#include <map>

#include "commands.hpp"
#include "errors.hpp"
#include "ranks.hpp"

#ifndef LAMINAR_VERSION
#define LAMINAR_VERSION "0.0.0"
#endif

namespace po = boost::program_options;

namespace laminar::cli {

bool parse(const Args& args, const std::string& usage, po::options_description& options,
           const po::positional_options_description& positional, po::variables_map& vm) {
    options.add_options()("help,h", "show this help");
    po::store(po::command_line_parser(args).options(options).positional(positional).run(), vm);
    if (vm.count("help")) {
        std::cout << "usage: " << usage << "\n\n" << options << "\n";
        return true;
    }
    po::notify(vm);
    return false;
}

}  // namespace laminar::cli

namespace {

const char* kUsage =
    "usage: laminar <command> [options]\n\n"
    "commands:\n"
    "  run EXPERIMENT.yaml    run the extract, analyze and report stages (skipping unchanged ones)\n"
    "  validate FILE.yaml...  check experiment files against the schema and the plugins' parameters\n"
    "  plugins                list the plugins found (kind, name, version, API version, file)\n"
    "  inspect RUN.h5         show the groups and datasets of a run file with shapes and attributes\n"
    "                         (--table ANALYSIS: its results as a table, text, CSV, TSV or JSON)\n"
    "  report RUN.h5          write the report page (index.html, figures) of a run file\n"
    "  merge RUN.h5 [SHARD...] assemble the shard files of `run --shard K/N` into the run file\n"
    "  tokenize --model DIR TEXT...  print token ids and token strings\n"
    "  hooks --model DIR      list the hook points of a model folder\n\n"
    "`laminar <command> --help` describes each command. Exit codes: 0 ok, 1 runtime failure,\n"
    "2 usage or experiment-file error.\n";

}  // namespace

int main(int argc, char** argv) {
    using namespace laminar;
    const std::map<std::string, int (*)(const cli::Args&)> commands = {
        {"run", cli::run}, {"validate", cli::validate}, {"plugins", cli::plugins}, {"inspect", cli::inspect},
        {"tokenize", cli::tokenize}, {"hooks", cli::hooks}, {"report", cli::report}, {"merge", cli::merge}};
    const ranks::Session mpi(argc, argv);  // under mpirun: MPI, for `run`
    if (argc < 2) {
        std::cerr << kUsage;
        return kExitUsage;
    }
    // Past a file-size limit (ulimit -f), a write fails with EFBIG and is reported, rather than
    // the signal killing the process halfway through a stage.
    std::signal(SIGXFSZ, SIG_IGN);
    const std::string name = argv[1];
    if (name == "--help" || name == "-h" || name == "help") {
        std::cout << kUsage;
        return kExitOk;
    }
    if (name == "--version") {
        std::cout << "laminar " << LAMINAR_VERSION << (ranks::built_with_mpi() ? " (with MPI)" : "") << "\n";
        return kExitOk;
    }
    const auto command = commands.find(name);
    if (command == commands.end()) {
        std::cerr << "laminar: unknown command '" << name << "'\n\n" << kUsage;
        return kExitUsage;
    }
    try {
        return command->second(cli::Args(argv + 2, argv + argc));
    } catch (const po::error& e) {
        std::cerr << "laminar " << name << ": " << e.what() << " (see `laminar " << name << " --help`)\n";
        return kExitUsage;
    } catch (const InputError& e) {
        std::cerr << "error: " << e.what() << "\n";
        return kExitUsage;
    } catch (const SpecError& e) {
        std::cerr << "error: " << (e.field().empty() ? "" : e.field() + ": ") << e.what() << "\n";
        return kExitUsage;
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
        return kExitRuntime;
    }
}
