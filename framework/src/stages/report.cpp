// Stage "report": the headline numbers of each analysis on the log, and the report page
// (index.html and its figures), which the Python reader draws (tools/python/laminar/report.py):
// the figures are matplotlib's, the C++ side stays the engine.
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <fstream>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <iterator>
#include <map>
#include <sstream>
#include <vector>

#include <boost/dll/runtime_symbol_info.hpp>

#include "runtime/content_hash.hpp"
#include "runtime/errors.hpp"
#include "store/h5.hpp"
#include "stages/pipeline.hpp"
#include "store/run_file.hpp"
#include "store/run_layout.hpp"

#ifndef LAMINAR_BUILD_PYTHON_DIR
#define LAMINAR_BUILD_PYTHON_DIR ""
#endif
#ifndef LAMINAR_INSTALL_PYTHON_DIR
#define LAMINAR_INSTALL_PYTHON_DIR ""
#endif
#ifndef LAMINAR_SOURCE_PYTHON_DIR
#define LAMINAR_SOURCE_PYTHON_DIR ""
#endif

namespace laminar {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kSummaryRows = 12;  // per analysis; the page and `inspect --table` have them all


/// LAMINAR_PYTHON, else Debian's python3 (which has the packages tools/setup.sh installs), else
/// the first python3 on PATH.
std::string python_executable() {
    if (const char* env = std::getenv("LAMINAR_PYTHON"); env && *env) return env;
    return fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

/// The first `bytes` of a page (its head: what laminar looks for before reading more).
std::string page_head(const fs::path& page, std::size_t bytes = 8192) {
    std::ifstream in(page, std::ios::binary);
    std::string head(bytes, '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<std::size_t>(std::max<std::streamsize>(in.gcount(), 0)));
    return head;
}

/// Whether `page` is a report page laminar wrote: the generator tag of report.py, or the title
/// of the pages before it ("<experiment> - laminar").
bool laminar_page(const fs::path& page) {
    const std::string head = page_head(page);
    return head.find("<meta name='generator' content='laminar'>") != std::string::npos ||
           head.find(" - laminar</title>") != std::string::npos;
}

/// The report folder, made: an InputError naming it when it is a file, cannot be made or written,
/// or is a folder that laminar did not write (another program's index.html is never replaced).
void prepare_report_folder(const fs::path& dir) {
    std::error_code ec;
    const fs::file_status st = fs::status(dir, ec);
    if (st.type() != fs::file_type::not_found) {
        if (ec) throw InputError(dir.string() + ": cannot use it as the report folder (" + ec.message() + ")");
        if (!fs::is_directory(st))
            throw InputError(dir.string() + ": exists and is not a folder; the report is a folder (index.html and figures/)");
        const fs::path page = dir / "index.html";
        if (fs::exists(page, ec) && !laminar_page(page))
            throw InputError(page.string() + ": a page laminar did not write; refusing to replace it (choose another report "
                             "folder: --out DIR)");
        if (!fs::exists(page, ec))
            for (const auto& entry : fs::directory_iterator(dir, ec)) {
                const std::string name = entry.path().filename().string();
                if (name != "figures" && name != "index.html.partial")
                    throw InputError(dir.string() + ": a folder laminar did not write (it holds " + name +
                                     "); refusing to write a report page into it (choose an empty or new folder: --out DIR)");
            }
    }
    fs::create_directories(dir / "figures", ec);
    if (ec) throw InputError(dir.string() + ": cannot make the report folder (" + ec.message() + ")");
    for (const fs::path& d : {dir, dir / "figures"})
        if (::access(d.c_str(), W_OK) != 0)
            throw InputError(d.string() + ": cannot write into it (" + std::strerror(errno) + ")");
}

/// What a report page is drawn from: the run file's stages (each one's inputs, completion time
/// and command), its experiment, where it and the page are, and the code that draws the page
/// (the package's sources and the Python that runs them).
/// A page whose head holds the same key is the page that would be drawn again.
std::string report_key(hid_t file, const fs::path& run_file, const fs::path& dir, const fs::path& package) {
    std::string text = std::string("laminar ") + LAMINAR_VERSION + "\n" + fs::absolute(run_file).string() + "\n" +
                       fs::absolute(dir).string() + "\n" + python_executable() + "\n";
    for (const auto& [name, value] : h5::attributes_as_text(file, "/"))
        if (name != "updated" && name != "created") text += name + "=" + value + "\n";
    h5::walk(file, RunFile::stages, [&](const std::string& path, bool) {
        for (const auto& [name, value] : h5::attributes_as_text(file, path)) text += path + "@" + name + "=" + value + "\n";
    });
    std::vector<fs::path> code;
    std::error_code ec;
    for (const auto& entry : fs::recursive_directory_iterator(package / "laminar", ec))
        if (entry.path().extension() == ".py") code.push_back(entry.path());
    std::sort(code.begin(), code.end());
    for (const auto& source : code) text += fs::relative(source, package).string() + ":" + hash_file(source) + "\n";
    return hash_text(text);
}

/// Whether `dir` holds the page drawn with `key`, whole (its head says so, its figures are there).
bool page_is_current(const fs::path& dir, const std::string& key) {
    const fs::path page = dir / "index.html";
    if (page_head(page).find("<meta name='laminar-report-key' content='" + key + "'>") == std::string::npos) return false;
    std::ifstream whole(page, std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(whole)), std::istreambuf_iterator<char>());
    for (std::size_t at = text.find("href='figures/"); at != std::string::npos; at = text.find("href='figures/", at + 1)) {
        const std::size_t begin = at + 6, end = text.find('\'', begin);
        if (end == std::string::npos || !fs::exists(dir / text.substr(begin, end - begin))) return false;
    }
    return true;
}

/// A p-value as the report page writes it (tools/python/laminar/findings.py, p_text): "<0.002"
/// when none of n relabellings beat the observed value (p = 1/(n + 1), its smallest), else as is.
std::string p_text(const std::map<std::string, std::string>& attrs, const std::string& p) {
    const auto used = attrs.find("n_permutations_used"), exact = attrs.find("exact");
    if (used == attrs.end() || (exact != attrs.end() && exact->second == "1")) return p;
    const double n = std::atof(used->second.c_str()), value = std::atof(p.c_str());
    if (n < 1 || value > 1.0 / (n + 1) * (1 + 1e-9)) return p;
    const double bound = 1.0 / (n + 1);
    const double scale = std::pow(10.0, 1 - std::floor(std::log10(bound)));  // two significant digits, rounded up
    std::ostringstream out;
    out << "<" << std::ceil(bound * scale - 1e-9) / scale;
    return out.str();
}

}  // namespace

/// Beside the build's sources or in the installation, relative to this executable, else the
/// sources it was built from (e.g. after `pip install tools/python`, Python's own path).
fs::path python_package_dir() {
    const fs::path here = fs::path(boost::dll::program_location().string()).parent_path();
    std::vector<fs::path> candidates;
    for (const char* relative : {LAMINAR_BUILD_PYTHON_DIR, LAMINAR_INSTALL_PYTHON_DIR})
        if (*relative) candidates.push_back((here / relative).lexically_normal());
    candidates.emplace_back(LAMINAR_SOURCE_PYTHON_DIR);
    for (const auto& dir : candidates)
        if (!dir.empty() && fs::exists(dir / "laminar" / "report.py")) return dir;
    return {};
}

void print_summary(const fs::path& run_file, std::ostream& out) {
    h5::Handle f = open_run_file(run_file);
    if (!h5::exists(f, RunFile::results)) {
        out << "report: no results in " << run_file.string() << "\n";
        return;
    }
    out << "report: " << run_file.string() << "\n";
    // The headline numbers of each result, in this order, where present.
    static const std::vector<std::string> keys = {"index", "r", "cka", "cka_unbiased", "cka_rbf", "mi_binned",
                                                  "mi_equal_frequency", "mi_ksg", "n95", "participation_ratio",
                                                  "shuffled_n95_mean", "p_value", "ci_of", "ci_low", "ci_high",
                                                  "r_subjects", "noise_ceiling_low", "noise_ceiling_high", "n_pairs",
                                                  "mean_within", "mean_between", "mean_all"};
    for (const auto& analysis : h5::children(h5::open_group(f, RunFile::results))) {
        std::size_t rows = 0;
        h5::walk(f, RunFile::result(analysis), [&](const std::string& path, bool) {
            std::map<std::string, std::string> attrs;
            for (const auto& [name, value] : h5::attributes_as_text(f, path)) attrs[name] = value;
            std::string line;
            for (const auto& key : keys)
                if (auto it = attrs.find(key); it != attrs.end())
                    line += "  " + key + "=" + (key == "p_value" ? p_text(attrs, it->second) : it->second);
            if (line.empty() && attrs.count("hook"))  // a metric with other names: its short results
                for (const auto& [name, value] : attrs)
                    if (value.size() <= 24 && name != "model" && name != "hook" && name != "site" && name != "layer")
                        line += "  " + name + "=" + value;
            if (line.empty() || ++rows > kSummaryRows) return;
            out << "  " << std::left << std::setw(56) << path.substr(8) << line << "\n";
        });
        if (rows > kSummaryRows)
            out << "  " << analysis << ": " << rows - kSummaryRows << " more lines (laminar inspect " << run_file.string()
                << " --table " << analysis << ")\n";
    }
}

fs::path report_folder(const fs::path& run_file) {
    fs::path dir = run_file;
    return dir.extension() == ".h5" ? dir.replace_extension() : fs::path(run_file.string() + ".report");
}

void write_report_page(const fs::path& run_file, const fs::path& dir, std::ostream& log, bool redraw) {
    const fs::path package = python_package_dir();
    std::string key;
    {
        h5::Handle file = open_run_file(run_file);  // the clear error for a missing, foreign or corrupted file, before Python
        key = report_key(file, run_file, dir, package);
    }
    if (!redraw && page_is_current(dir, key)) {
        log << "report: " << (dir / "index.html").string() << " (up to date: nothing changed since it was drawn; "
            << "`laminar report " << run_file.string() << "` redraws it)\n";
        return;
    }
    prepare_report_folder(dir);  // the clear error for a folder it cannot or must not write
    const std::string python = python_executable();
    const std::string run_arg = run_file.string(), out_arg = dir.string();
    std::vector<const char*> argv = {python.c_str(), "-m", "laminar.report", run_arg.c_str(), "--out", out_arg.c_str(),
                                     "--key", key.c_str(), nullptr};
    std::string pythonpath = package.string();
    if (const char* existing = std::getenv("PYTHONPATH"); existing && *existing)
        pythonpath += (pythonpath.empty() ? "" : ":") + std::string(existing);
    log.flush();
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("report: cannot start " + python + ": " + std::strerror(errno));
    if (pid == 0) {
        // Python ends with laminar (kill -9 of `laminar run` included), also if laminar died
        // before this line: then the parent is another process already.
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(127);
        // The page's path is what the child prints; the log has its own line for it.
        if (!freopen("/dev/null", "w", stdout)) _exit(127);
        if (!pythonpath.empty()) setenv("PYTHONPATH", pythonpath.c_str(), 1);
        execvp(argv[0], const_cast<char* const*>(argv.data()));
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw std::runtime_error(
            "report: " + python + " -m laminar.report " + run_arg + " failed (" +
            (!WIFEXITED(status) ? std::string("killed by a signal")
             : WEXITSTATUS(status) == 127 ? "not found: install python3 with h5py, pandas and matplotlib (tools/setup.sh does)"
                                         : "exit " + std::to_string(WEXITSTATUS(status)) + ", Python's message above") +
            "); the results in the run file are complete");
    log << "report: " << (dir / "index.html").string() << "\n";
}

}  // namespace laminar
