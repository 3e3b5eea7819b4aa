#include "store/run_file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <stdexcept>

#include "runtime/errors.hpp"
#include "store/run_layout.hpp"
#include "laminar/hook_names.hpp"
#include "laminar/text_file.hpp"
#include "store/run_file_seal.hpp"

namespace laminar {

namespace fs = std::filesystem;

namespace {

// Data reaches the disk before the rename makes it visible (ext4 and friends).
void fsync_path(const fs::path& p) {
    const int fd = ::open(p.c_str(), O_RDONLY);
    if (fd < 0) return;
    ::fsync(fd);
    ::close(fd);
}

/// The replaced run file's mode (0600 stays private), group and, where allowed (root), owner go
/// to the new file, as `cp` onto an existing file keeps them: the rename would otherwise give it
/// the umask's mode and the writer's owner.
void keep_mode_and_owner(const fs::path& previous, const fs::path& replacement) {
    struct stat st {};
    if (::stat(previous.c_str(), &st) != 0) return;  // a new run file: the umask decides, as for any new file
    if (::chown(replacement.c_str(), st.st_uid, st.st_gid) != 0)
        (void)!::chown(replacement.c_str(), static_cast<uid_t>(-1), st.st_gid);  // a group the writer is not in: as it is
    if (::chmod(replacement.c_str(), st.st_mode & 07777) != 0)
        throw std::runtime_error(replacement.string() + ": cannot give it the mode of " + previous.string() + " (" +
                                 std::strerror(errno) + ")");
}

std::string join(const std::string& a, const std::string& b) { return a.empty() ? b : a + "/" + b; }

}  // namespace

std::string utc_now() {
    const std::time_t t = std::time(nullptr);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    return buf;
}

fs::path RunTransaction::partial_path(const fs::path& run_file) {
    return fs::path(run_file.string() + ".partial");
}

RunTransaction::RunTransaction(const fs::path& run_file, const std::vector<std::string>& replaced)
    : run_file_(run_file), partial_(partial_path(run_file)) {
    if (run_file_.has_parent_path()) fs::create_directories(run_file_.parent_path());
    std::error_code ec;
    fs::remove(partial_, ec);  // left by an interrupted run (the caller said so)
    h5::Handle previous;
    require_writable(run_file_);
    if (fs::exists(run_file_)) previous = h5::open_file(run_file_, false);
    file_ = h5::create_file(partial_, seal::kBytes);
    // A failure here (a full disk while the kept groups are copied) is not the interrupted run
    // that the next run's note would call it: the partial file goes, as the destructor's would.
    try {
        if (previous.get() < 0) return;  // a new run file
        auto is_replaced = [&](const std::string& path) {
            return std::find(replaced.begin(), replaced.end(), path) != replaced.end();
        };
        for (const auto& name : h5::children(h5::open_group(previous, ".")))
            if (!is_replaced(name)) h5::copy(previous, name, file_);
        for (const auto& path : replaced)  // nested ones ("results/rsa"): small, copied then dropped
            if (path.find('/') != std::string::npos) h5::remove(file_, path);
        h5::copy_attributes(previous, ".", file_);
    } catch (...) {
        file_.reset();
        fs::remove(partial_, ec);
        throw;
    }
}

RunTransaction::~RunTransaction() {
    if (committed_) return;
    file_.reset();
    std::error_code ec;
    fs::remove(partial_, ec);
}

void RunTransaction::commit() {
    h5::check(H5Fflush(file_, H5F_SCOPE_GLOBAL), "flush " + partial_.string());
    file_.reset();
    seal::write(partial_);  // hashes the content and syncs it to disk
    keep_mode_and_owner(run_file_, partial_);
    fs::rename(partial_, run_file_);
    fsync_path(run_file_.has_parent_path() ? run_file_.parent_path() : fs::path("."));
    committed_ = true;
}

RunLock::RunLock(const fs::path& run_file) : path_(run_file.string() + ".lock") {
    if (run_file.has_parent_path()) fs::create_directories(run_file.parent_path());
    // The holder deletes the lock file when done; a run that opened it just before then holds a
    // lock on a deleted file, which it sees (another inode at the path) and so tries again.
    for (;;) {
        fd_ = ::open(path_.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
        if (fd_ < 0) throw std::runtime_error(path_ + ": cannot create the lock file (" + std::strerror(errno) + ")");
        if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
            ::close(fd_);
            throw InputError(run_file.string() + ": another laminar run is writing this file");
        }
        struct stat held {}, at_path {};
        if (::fstat(fd_, &held) == 0 && ::stat(path_.c_str(), &at_path) == 0 && held.st_ino == at_path.st_ino &&
            held.st_dev == at_path.st_dev)
            return;
        ::close(fd_);
    }
}

RunLock::~RunLock() {
    ::unlink(path_.c_str());  // while still holding it: see the constructor
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
}

/// A FIFO or a device at a run file's path would block every read of it forever.
static void require_regular(const fs::path& run_file) {
    try {
        require_regular_file(run_file);
    } catch (const std::runtime_error& e) {
        throw InputError(e.what());
    }
}

namespace {

/// Why HDF5 does not open `file`: a run file or HDF5 file cut short (its first bytes are laminar's
/// header or the HDF5 signature) is corrupted (exit 1), anything else is not an HDF5 file (exit 2).
[[noreturn]] void throw_not_hdf5(const fs::path& file, const std::string& refusing) {
    std::error_code ec;
    const auto size = fs::file_size(file, ec);
    std::string head(1024, '\0');
    std::ifstream in(file, std::ios::binary);
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<std::size_t>(std::max<std::streamsize>(in.gcount(), 0)));
    static const std::string hdf5 = "\x89HDF\r\n\x1a\n";
    const bool laminar = head.rfind("LAMINAR RUN FILE", 0) == 0 ||
                         (head.find("xxh3-128 ") != std::string::npos && head.find("format ") != std::string::npos);
    const bool signature = head.rfind(hdf5, 0) == 0 || head.compare(std::min<std::size_t>(512, head.size()), hdf5.size(), hdf5) == 0;
    const std::string bytes = ec ? std::string("?") : std::to_string(size);
    if (laminar || signature)
        throw std::runtime_error(file.string() + ": a truncated or corrupted HDF5 file (" +
                                 (laminar ? "a laminar run file" : "an HDF5 file") + " cut to " + bytes + " bytes, or damaged)" +
                                 (refusing.empty() ? "; re-run the experiment into a new file" : refusing));
    throw InputError(file.string() + (refusing.empty() ? ": " : ": exists but ") +
                     (size == 0 && !ec ? "is an empty file, not an HDF5 file" : "is not an HDF5 file") + refusing);
}

/// A path the user gave to read: an error naming it when it is not there or cannot be read (a
/// loop of symbolic links, no permission, a folder).
void require_readable_file(const fs::path& file, const std::string& what) {
    std::error_code ec;
    const fs::file_status st = fs::status(file, ec);
    if (st.type() == fs::file_type::not_found) throw InputError(file.string() + ": no such " + what);
    if (ec) throw InputError(file.string() + ": cannot read the " + what + " (" + ec.message() + ")");
    if (fs::is_directory(st)) throw InputError(file.string() + ": is a directory, expected a " + what);
    if (::access(file.c_str(), R_OK) != 0)
        throw InputError(file.string() + ": cannot read the " + what + " (" + std::strerror(errno) + ")");
}

}  // namespace

void require_writable(const fs::path& run_file) {
    std::error_code ec;
    if (fs::status(run_file, ec).type() == fs::file_type::not_found) return;
    require_readable_file(run_file, "run file");
    require_regular(run_file);
    // As `cp` onto it: a file without write permission for this user is not replaced (root's
    // access() allows it, as root's cp does).
    if (::access(run_file.c_str(), W_OK) != 0)
        throw InputError(run_file.string() + ": cannot replace it (" + std::strerror(errno) +
                         "); laminar replaces a run file only where it may write it (chmod u+w it, or choose another output)");
    if (!h5::is_hdf5(run_file))
        throw_not_hdf5(run_file, "; refusing to overwrite it (move it away or choose another output)");
    seal::require_intact(run_file, true);
}

std::optional<std::string> recorded_experiment(const fs::path& run_file) {
    std::error_code ec;
    if (fs::status(run_file, ec).type() == fs::file_type::not_found) return std::nullopt;
    const h5::Handle f = open_run_file(run_file);
    if (!h5::has_attr(f, ".", "experiment")) return std::nullopt;
    return h5::get_string_attr(f, ".", "experiment");
}

h5::Handle open_run_file(const fs::path& run_file) {
    require_readable_file(run_file, "run file");
    require_regular(run_file);
    if (!h5::is_hdf5(run_file)) throw_not_hdf5(run_file, "");
    seal::require_intact(run_file, false);
    return h5::open_file(run_file, false);
}

namespace {

/// The per-prompt datasets (text, tokens, positions, context) under `group`.
void write_prompts(hid_t file, const std::string& group, const std::vector<Stimulus>& prompts) {
    std::vector<std::string> text;
    std::vector<std::vector<int32_t>> ids;
    std::vector<int32_t> position, word_begin, word_end, context;
    for (const auto& s : prompts) {
        text.push_back(s.text);
        ids.push_back(s.token_ids);
        position.push_back(s.position);
        word_begin.push_back(s.word_begin);
        word_end.push_back(s.word_end);
        context.push_back(s.context);
    }
    h5::write(file, group + "/text", text);
    h5::write(file, group + "/token_ids", ids);
    h5::write(file, group + "/position", position);
    h5::write(file, group + "/word_begin", word_begin);
    h5::write(file, group + "/word_end", word_end);
    h5::write(file, group + "/context", context);
}

std::vector<Stimulus> read_prompts_in(hid_t file, const std::string& group) {
    const auto text = h5::read_strings(file, group + "/text");
    const auto ids = h5::read_vlen_ints(file, group + "/token_ids");
    const auto position = h5::read_ints(file, group + "/position");
    const auto begin = h5::read_ints(file, group + "/word_begin");
    const auto end = h5::read_ints(file, group + "/word_end");
    // Run files of laminar 0.2 and before have one context per word and no `context`.
    const auto context = h5::exists(file, group + "/context") ? h5::read_ints(file, group + "/context")
                                                              : std::vector<int32_t>(text.size(), 0);
    std::vector<Stimulus> out(text.size());
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = {text[i], "", "", ids[i], begin[i], end[i], position[i], context[i]};
    return out;
}

}  // namespace

void write_stimuli(hid_t file, const std::vector<Stimulus>& prompts, const std::vector<Stimulus>& rows,
                   const std::vector<std::size_t>& prompt_row, const std::vector<std::string>& categories,
                   const std::string& contexts) {
    std::vector<std::string> word, category;
    for (const auto& s : rows) {
        word.push_back(s.word);
        category.push_back(s.category);
    }
    h5::write(file, RunFile::stimulus("word"), word);
    h5::write(file, RunFile::stimulus("category"), category);
    h5::write(file, RunFile::stimulus("category_names"), categories);
    h5::require_group(file, RunFile::stimuli);
    h5::set_attr(file, RunFile::stimuli, "contexts", contexts);
    if (prompts.size() == rows.size()) {  // each row is a prompt
        write_prompts(file, RunFile::stimuli, prompts);
        return;
    }
    write_prompts(file, RunFile::stimulus("prompts"), prompts);
    std::vector<int32_t> row(prompt_row.begin(), prompt_row.end()), n_contexts(rows.size(), 0);
    for (std::size_t r : prompt_row) ++n_contexts[r];
    h5::write(file, RunFile::stimulus("prompts/row"), row);
    h5::write(file, RunFile::stimulus("n_contexts"), n_contexts);
}

std::vector<Stimulus> read_stimuli(hid_t file) {
    if (!h5::exists(file, RunFile::stimulus("word"))) return {};
    const auto word = h5::read_strings(file, RunFile::stimulus("word"));
    const auto category = h5::read_strings(file, RunFile::stimulus("category"));
    std::vector<Stimulus> out = h5::exists(file, RunFile::stimulus("prompts")) ? std::vector<Stimulus>(word.size())
                                                                    : read_prompts_in(file, RunFile::stimuli);
    if (out.size() != word.size() || category.size() != word.size())
        throw std::runtime_error("/stimuli: " + std::to_string(word.size()) + " words, " + std::to_string(category.size()) +
                                 " categories and " + std::to_string(out.size()) + " prompts");
    for (std::size_t i = 0; i < out.size(); ++i) {
        out[i].word = word[i];
        out[i].category = category[i];
    }
    return out;
}

std::vector<Stimulus> read_prompts(hid_t file) {
    if (!h5::exists(file, RunFile::stimulus("prompts"))) return read_stimuli(file);
    return read_prompts_in(file, RunFile::stimulus("prompts"));
}

std::vector<std::string> read_category_names(hid_t file) {
    return h5::exists(file, RunFile::stimulus("category_names")) ? h5::read_strings(file, RunFile::stimulus("category_names"))
                                                      : std::vector<std::string>{};
}

ActivationWriter::ActivationWriter(hid_t file, std::string model, std::string fingerprint, std::vector<int64_t> prompt_lengths,
                                   std::size_t first)
    : file_(file), model_(std::move(model)), fingerprint_(std::move(fingerprint)), stimuli_(prompt_lengths.size()), first_(first),
      lengths_(std::move(prompt_lengths)), first_row_(lengths_.size() + 1, 0) {
    for (std::size_t i = 0; i < lengths_.size(); ++i) first_row_[i + 1] = first_row_[i] + lengths_[i];
}

void ActivationWriter::write(const ActivationSet& set, const std::vector<std::size_t>& stimuli) {
    const bool per_token = !set.tokens.empty();
    std::vector<std::size_t> rows;  // the stimuli's rows in this writer's block
    for (std::size_t s : stimuli) {
        if (s < first_ || s - first_ >= stimuli_) throw std::logic_error("activation " + set.hook + ": stimulus " + std::to_string(s) + " is not this writer's");
        rows.push_back(s - first_);
    }
    std::vector<std::size_t> targets = rows;  // the dataset's rows these values go to
    if (per_token) {
        targets.clear();
        for (std::size_t i = 0; i < rows.size(); ++i) {
            if (i >= set.tokens.size() || set.tokens[i] != lengths_.at(rows[i]))
                throw std::logic_error("activation " + set.hook + ": stimulus " + std::to_string(stimuli[i]) + " has " +
                                       std::to_string(lengths_.at(rows[i])) + " tokens, not the rows given");
            for (int64_t t = 0; t < set.tokens[i]; ++t) targets.push_back(static_cast<std::size_t>(first_row_[rows[i]] + t));
        }
    }
    if (set.rows != static_cast<int64_t>(targets.size()) || set.data.size() != static_cast<std::size_t>(set.rows * set.cols))
        throw std::logic_error("activation " + set.hook + " has " + std::to_string(set.data.size()) + " values for " +
                               std::to_string(targets.size()) + " rows of width " + std::to_string(set.cols));
    // Hook names contain dots, never slashes: one dataset per hook directly under the model.
    const std::string path = RunFile::activation(model_, set.hook);
    auto [it, first] = written_.emplace(set.hook, std::make_pair(set.cols, std::size_t{0}));
    if (first) {
        h5::create_matrix(file_, path, per_token ? static_cast<hsize_t>(first_row_.back()) : stimuli_, static_cast<hsize_t>(set.cols));
        h5::set_attr(file_, path, "layer", static_cast<int64_t>(set.layer));
        h5::set_attr(file_, path, "site", set.site);
        h5::set_attr(file_, path, "model_id", model_);
        h5::set_attr(file_, path, "model_fingerprint", fingerprint_);
        if (per_token) h5::set_attr(file_, path, "rows", std::string("tokens"));
    } else if (it->second.first != set.cols) {
        throw std::logic_error("activation " + set.hook + " changed width between batches");
    }
    h5::write_rows(file_, path, targets, set.data.data());
    it->second.second += rows.size();
}

std::size_t ActivationWriter::finish() const {
    for (const auto& [hook, state] : written_)
        if (state.second != stimuli_)
            throw std::logic_error("activation " + hook + " received " + std::to_string(state.second) + " of " +
                                   std::to_string(stimuli_) + " stimuli");
    return written_.size();
}

void record_stage(hid_t file, const std::string& stage, const std::string& inputs_hash, const std::string& command) {
    const std::string path = RunFile::stage(stage);
    h5::require_group(file, path);
    if (!command.empty()) h5::set_attr(file, path, "command", command);
    h5::set_attr(file, path, "inputs_hash", inputs_hash);
    h5::set_attr(file, path, "completed", utc_now());
}

std::optional<std::string> stage_hash(hid_t file, const std::string& stage) {
    const std::string path = RunFile::stage(stage);
    if (!h5::has_attr(file, path, "inputs_hash") || !h5::has_attr(file, path, "completed")) return std::nullopt;
    return h5::get_string_attr(file, path, "inputs_hash");
}

std::optional<nlohmann::json> recorded_model_files(hid_t file, const std::string& model, const std::string& name) {
    const std::string path = RunFile::activations_of(model);
    if (!h5::has_attr(file, path, name)) return std::nullopt;
    auto value = nlohmann::json::parse(h5::get_string_attr(file, path, name), nullptr, false);
    if (value.is_discarded()) return std::nullopt;
    return value;
}

RunFileSource::RunFileSource(hid_t file)
    : file_(file), stimuli_(read_stimuli(file)), categories_(read_category_names(file)) {}

std::vector<std::string> RunFileSource::models() const {
    if (!h5::exists(file_, RunFile::activations)) return {};
    return h5::children(h5::open_group(file_, RunFile::activations));
}

std::vector<std::string> RunFileSource::hooks(const std::string& model) const {
    const std::string path = RunFile::activations_of(model);
    if (!h5::exists(file_, path)) return {};
    return h5::children(h5::open_group(file_, path));
}

int RunFileSource::n_layer(const std::string& model) const {
    const std::string path = RunFile::activations_of(model);
    if (h5::has_attr(file_, path, "n_layer")) return static_cast<int>(h5::get_int_attr(file_, path, "n_layer"));
    int deepest = -1;  // a run file of laminar 0.1: the deepest layer recorded is all it knows
    for (const auto& hook : hooks(model)) deepest = std::max(deepest, hook_layer(hook));
    return deepest + 1;
}

std::string RunFileSource::site(const std::string& model, const std::string& hook) const {
    const std::string path = RunFile::activation(model, hook);
    if (!h5::exists(file_, path)) throw SpecError("", "no activations recorded for model '" + model + "' at '" + hook + "'");
    return h5::get_string_attr(file_, path, "site");
}

ActivationSet RunFileSource::read(const std::string& model, const std::string& hook) const {
    const std::string path = RunFile::activation(model, hook);
    if (!h5::exists(file_, path))
        throw SpecError("", "no activations recorded for model '" + model + "' at '" + hook + "'");
    ActivationSet set;
    set.hook = hook;
    const auto dims = h5::shape(file_, path);
    if (dims.size() != 2) throw std::runtime_error(path + ": expected a 2-D dataset");
    set.rows = static_cast<int64_t>(dims[0]);
    set.cols = static_cast<int64_t>(dims[1]);
    set.layer = static_cast<int>(h5::get_int_attr(file_, path, "layer"));
    set.site = h5::get_string_attr(file_, path, "site");
    if (per_token(model, hook)) {
        const std::string lengths = RunFile::stimuli_of(model, "prompt_lengths");
        if (!h5::exists(file_, lengths)) throw std::runtime_error(path + ": a set per token, but /" + lengths + " is missing");
        int64_t total = 0;
        for (int32_t n : h5::read_ints(file_, lengths)) {
            set.tokens.push_back(n);
            total += n;
        }
        if (total != set.rows || set.tokens.size() != stimuli_.size())
            throw std::runtime_error(path + ": its rows do not match /" + lengths);
    }
    set.data = h5::read_floats(file_, path);
    return set;
}

bool RunFileSource::per_token(const std::string& model, const std::string& hook) const {
    const std::string path = RunFile::activation(model, hook);
    return h5::has_attr(file_, path, "rows") && h5::get_string_attr(file_, path, "rows") == "tokens";
}

std::string RunFileSource::not_a_space(const std::string& model, const std::string& hook) const {
    const std::string path = RunFile::activation(model, hook);
    return h5::has_attr(file_, path, "not_a_space") ? h5::get_string_attr(file_, path, "not_a_space") : std::string();
}

RunFileSink::RunFileSink(hid_t file, std::string analysis_name, Verbosity verbosity)
    : file_(file), name_(std::move(analysis_name)), root_(RunFile::result(name_)), verbosity_(verbosity) {
    h5::require_group(file_, root_);
}

std::string RunFileSink::full(const std::string& path) const { return path.empty() ? root_ : join(root_, path); }

void RunFileSink::write(const std::string& path, const std::vector<int64_t>& shape, const std::vector<double>& data) {
    std::vector<hsize_t> dims(shape.begin(), shape.end());
    hsize_t n = 1;
    for (hsize_t d : dims) n *= d;
    if (n != data.size())
        throw std::runtime_error("result " + path + ": shape holds " + std::to_string(n) + " values, data has " +
                                 std::to_string(data.size()));
    h5::write(file_, full(path), dims, data.data());
}

void RunFileSink::axes(const std::string& path, const std::vector<Axis>& axes) {
    // The labels' dataset is named, not copied: a 10,000-word study would otherwise repeat its
    // words on every matrix of every layer.
    static const char* const names[] = {"rows", "columns"};
    for (std::size_t i = 0; i < axes.size() && i < 2; ++i)
        if (axes[i] != Axis::none)
            h5::set_attr(file_, full(path), names[i],
                         std::string(axes[i] == Axis::stimuli ? "/stimuli/word" : "/stimuli/category_names"));
}

void RunFileSink::axis_values(const std::string& path, std::size_t axis, const std::vector<int64_t>& values) {
    // Beside the dataset, named by its `rows` / `columns` attribute relative to its group.
    static const char* const names[] = {"rows", "columns"};
    if (axis > 1) throw std::logic_error("axis_values: axis " + std::to_string(axis) + " of " + path);
    const std::string labels = path.substr(path.rfind('/') + 1) + "_" + names[axis];
    h5::write(file_, join(full(path).substr(0, full(path).rfind('/')), labels), std::vector<int32_t>(values.begin(), values.end()));
    h5::set_attr(file_, full(path), names[axis], labels);
}

void RunFileSink::attribute(const std::string& path, const std::string& name, double value) {
    h5::set_attr(file_, full(path), name, value);
}
void RunFileSink::attribute(const std::string& path, const std::string& name, int64_t value) {
    h5::set_attr(file_, full(path), name, value);
}
void RunFileSink::attribute(const std::string& path, const std::string& name, const std::string& value) {
    h5::set_attr(file_, full(path), name, value);
}

}  // namespace laminar

namespace laminar {

void RunFileSink::describe_spaces(const ActivationSource& in) {
    const auto models = in.models();
    auto recorded = [&](const std::string& model, const std::string& hook) {
        if (std::find(models.begin(), models.end(), model) == models.end()) return false;
        const auto hooks = in.hooks(model);
        return std::find(hooks.begin(), hooks.end(), hook) != hooks.end();
    };
    auto split = [](const std::string& text) {
        const auto tilde = text.find('~');
        return tilde == std::string::npos ? std::pair{text, text} : std::pair{text.substr(0, tilde), text.substr(tilde + 1)};
    };
    auto describe = [&](const std::string& group, const std::string& suffix, const std::string& model, const std::string& hook) {
        h5::set_attr(file_, group, "model" + suffix, model);
        h5::set_attr(file_, group, "hook" + suffix, hook);
        h5::set_attr(file_, group, "layer" + suffix, static_cast<int64_t>(hook_layer(hook)));
        h5::set_attr(file_, group, "site" + suffix, in.site(model, hook));
        if (hook_head(hook) >= 0) h5::set_attr(file_, group, "head" + suffix, static_cast<int64_t>(hook_head(hook)));
    };
    for (const auto& model_name : h5::children(h5::open_group(file_, root_))) {
        const std::string model_group = join(root_, model_name);
        if (!h5::is_group(file_, model_group)) continue;
        const auto [model_a, model_b] = split(model_name);
        for (const auto& leaf : h5::children(h5::open_group(file_, model_group))) {
            const std::string group = join(model_group, leaf);
            const auto [hook_a, hook_b] = split(leaf);
            if (!h5::is_group(file_, group) || !recorded(model_a, hook_a)) continue;
            const bool pair = leaf.find('~') != std::string::npos;
            if (!pair) {
                if (model_a == model_b) describe(group, "", model_a, hook_a);
                continue;
            }
            // Side b is a recorded space, or something the metric compares with that is not one
            // (a hypothesis, "hypothesis:category"): then it is named in `site` and has no layer.
            const bool b_recorded = recorded(model_b, hook_b);
            describe(group, "_a", model_a, hook_a);
            if (b_recorded) describe(group, "_b", model_b, hook_b);
            h5::set_attr(file_, group, "model", model_name);
            h5::set_attr(file_, group, "hook", leaf);
            h5::set_attr(file_, group, "site", in.site(model_a, hook_a) + "~" + (b_recorded ? in.site(model_b, hook_b) : hook_b));
            // A pair at one layer (q~k of block 5) belongs on a per-layer profile.
            if (!b_recorded || hook_layer(hook_a) == hook_layer(hook_b))
                h5::set_attr(file_, group, "layer", static_cast<int64_t>(hook_layer(hook_a)));
            // A pair with a per-head side belongs on a layer x head map: side a's head (with
            // grouped-query attention the query head), else side b's.
            const int head = hook_head(hook_a) >= 0 ? hook_head(hook_a) : b_recorded ? hook_head(hook_b) : -1;
            if (head >= 0) h5::set_attr(file_, group, "head", static_cast<int64_t>(head));
        }
    }
}

void RunFileSink::progress(std::size_t done, std::size_t total) {
    if (!progress_) progress_ = std::make_unique<Progress>("analyze: " + name_, "spaces", total, verbosity_);
    progress_->update(done);
}

void RunFileSink::warn(const std::string& message) {
    // Said once: ranks that share an analysis may each meet the same space (and its warning).
    if (std::find(warnings_.begin(), warnings_.end(), message) != warnings_.end()) return;
    warnings_.push_back(message);
    std::string all;
    for (const auto& w : warnings_) all += (all.empty() ? "" : "\n") + w;
    h5::set_attr(file_, root_, "warnings", all);
}

}  // namespace laminar
