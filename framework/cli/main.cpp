// laminar: representational analysis of transformer language models.
// Exit codes: 0 ok, 1 runtime failure, 2 usage or experiment-file error.
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <streambuf>

#include <unistd.h>

#include <boost/dll/runtime_symbol_info.hpp>
#include <filesystem>

#include "commands.hpp"
#include "stages/pipeline.hpp"
#include "runtime/plugin_registry.hpp"
#include "runtime/errors.hpp"
#include "runtime/ranks.hpp"

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

/// std::cout's buffer, written to file descriptor 1 with write(2) so that the first failure's
/// errno is kept until exit (stdio drops it, and the buffered bytes, at the failed write).
class StandardOutput : public std::streambuf {
public:
    StandardOutput() { setp(buffer_, buffer_ + sizeof buffer_); }
    int error() const { return error_; }

    /// Flushes and closes descriptor 1, as coreutils' close_stdout does: output that did not
    /// reach its file (a full disk, /dev/full) is an error, not a silent exit 0. A reader that
    /// went away (`| head`) is not: its SIGPIPE ends the process quietly, and EPIPE, where
    /// SIGPIPE is ignored, is not reported.
    bool close() {
        sync();
        if (::close(1) != 0 && error_ == 0 && errno != EINTR) error_ = errno;
        return error_ == 0 || error_ == EPIPE;
    }

protected:
    int overflow(int c) override {
        if (sync() != 0) return traits_type::eof();
        if (c != traits_type::eof()) {
            *pptr() = static_cast<char>(c);
            pbump(1);
        }
        return traits_type::not_eof(c);
    }
    int sync() override {
        const char* at = pbase();
        while (at < pptr() && error_ == 0) {
            const ssize_t n = ::write(1, at, static_cast<std::size_t>(pptr() - at));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) error_ = errno;
            else at += n;
        }
        setp(buffer_, buffer_ + sizeof buffer_);  // after a failure the rest is dropped: it has nowhere to go
        return error_ == 0 ? 0 : -1;
    }

private:
    char buffer_[1 << 16];
    int error_ = 0;
};

/// Every command's end: standard output flushed and closed, a failed write turned into exit 1.
int close_stdout(StandardOutput& out, int code) {
    std::cout.flush();
    const bool ok = out.close();
    std::cout.rdbuf(nullptr);  // nothing is written to descriptor 1 after this (it may be reused)
    if (ok) return code;
    std::cerr << "error: could not write standard output: " << std::strerror(out.error()) << "\n";
    return code == laminar::kExitOk ? laminar::kExitRuntime : code;
}

/// The version, and where this laminar takes its plugins and its Python package from: which
/// of several installations (or a build) a user is running.
void print_version(std::ostream& out) {
    namespace fs = std::filesystem;
    out << "laminar " << LAMINAR_VERSION << (laminar::ranks::built_with_mpi() ? " (with MPI)" : "") << "\n";
    out << "  executable: " << boost::dll::program_location().string() << "\n";
    for (const auto& dir : laminar::PluginRegistry::default_search_path()) {
        std::error_code ec;
        std::size_t plugins = 0;
        if (fs::is_directory(dir, ec))
            for (const auto& e : fs::directory_iterator(dir, ec))
                plugins += e.path().filename().string().rfind("laminar_", 0) == 0 && e.path().extension() == ".so";
        out << "  plugins:    " << dir.string() << (fs::is_directory(dir, ec) ? " (" + std::to_string(plugins) + ")" : " (absent)") << "\n";
    }
    const fs::path python = laminar::python_package_dir();
    out << "  python:     " << (python.empty() ? std::string("(none beside laminar: Python's own path)") : (python / "laminar").string())
        << "\n";
}

}  // namespace

/// The command named by argv[1], its exit code; errors printed.
int dispatch(int argc, char** argv) {
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
        print_version(std::cout);
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

int main(int argc, char** argv) {
    static StandardOutput out;
    std::cout.rdbuf(&out);
    return close_stdout(out, dispatch(argc, argv));
}
