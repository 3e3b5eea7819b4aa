#include "store/shards.hpp"

#include <algorithm>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "runtime/errors.hpp"
#include "store/run_layout.hpp"
#include "store/run_file.hpp"

namespace laminar {

namespace fs = std::filesystem;

namespace {

/// "x.shard-K-of-N.h5" for run file "x.h5": K and N, or nothing.
std::optional<Shard> shard_of_name(const fs::path& run_file, const fs::path& candidate) {
    const std::string prefix = run_file.stem().string() + ".shard-", suffix = run_file.extension().string();
    const std::string name = candidate.filename().string();
    if (name.size() <= prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
        return std::nullopt;
    static const std::regex re("([0-9]{1,6})-of-([0-9]{1,6})");
    std::smatch m;
    const std::string middle = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (!std::regex_match(middle, m, re)) return std::nullopt;
    return Shard{std::stoul(m[1]), std::stoul(m[2])};
}

/// The stimulus rows and, for sets with a row per token, each row's first token row.
struct RowLayout {
    std::size_t rows = 0;
    std::map<std::string, std::vector<int64_t>> first_token;  // model -> [rows + 1]
};

RowLayout row_layout(hid_t file) {
    RowLayout layout;
    layout.rows = h5::shape(file, RunFile::stimulus("word")).at(0);
    if (h5::exists(file, RunFile::stimuli_by_model))
        for (const auto& model : h5::children(h5::open_group(file, RunFile::stimuli_by_model))) {
            const std::string lengths = RunFile::stimuli_of(model, "prompt_lengths");
            if (!h5::exists(file, lengths)) continue;
            std::vector<int64_t> first{0};
            for (int32_t n : h5::read_ints(file, lengths)) first.push_back(first.back() + n);
            layout.first_token[model] = std::move(first);
        }
    return layout;
}

/// Every shard's rows of each activation set, into full datasets of the transaction's file. A
/// set's attributes come from the first shard that has it (a shard of no rows has none).
void merge_activations(hid_t to, const std::vector<ShardFile>& shards, const std::vector<h5::Handle>& files) {
    const RowLayout layout = row_layout(files.front());
    std::map<std::string, std::size_t> owner;  // "model/hook" (and "model") -> the first shard that has it
    for (std::size_t k = 0; k < files.size(); ++k)
        if (h5::exists(files[k], RunFile::activations))
            for (const auto& model : h5::children(h5::open_group(files[k], RunFile::activations))) {
                owner.emplace(model, k);
                for (const auto& hook : h5::children(h5::open_group(files[k], RunFile::activations_of(model)))) owner.emplace(model + "/" + hook, k);
            }
    for (const auto& [name, k] : owner) {
        const std::string path = RunFile::activations_of(name);
        if (name.find('/') == std::string::npos) {  // a model's group
            h5::require_group(to, path);
            h5::copy_attributes(files[k], path, to);
            continue;
        }
        const std::string model = name.substr(0, name.find('/'));
        const bool per_token = h5::has_attr(files[k], path, "rows") && h5::get_string_attr(files[k], path, "rows") == "tokens";
        const hsize_t cols = h5::shape(files[k], path).at(1);
        auto target_row = [&](std::size_t stimulus_row) {
            return per_token ? static_cast<std::size_t>(layout.first_token.at(model).at(stimulus_row)) : stimulus_row;
        };
        h5::require_group(to, RunFile::activations_of(model));
        h5::create_matrix(to, path, target_row(layout.rows), cols);
        h5::copy_attributes(files[k], path, to);
        for (std::size_t j = 0; j < shards.size(); ++j) {
            const auto [begin, end] = shard_rows(layout.rows, shards[j].shard);
            if (begin == end) continue;
            if (!h5::exists(files[j], path))
                throw std::runtime_error(shards[j].path.string() + ": has no /" + path + ", which " + shards[k].path.string() + " has");
            const std::vector<float> values = h5::read_floats(files[j], path);
            std::vector<std::size_t> rows;
            for (std::size_t r = target_row(begin); r < target_row(end); ++r) rows.push_back(r);
            if (values.size() != rows.size() * cols)
                throw std::runtime_error(shards[j].path.string() + ": /" + path + " has " + std::to_string(values.size() / cols) +
                                         " rows, not the " + std::to_string(rows.size()) + " of its part");
            h5::write_rows(to, path, rows, values.data());
        }
    }
}

/// Where two experiment files differ: their first line that differs, as "line N: `a` in A, `b` in B".
std::string first_difference(const std::string& a, const std::string& a_name, const std::string& b, const std::string& b_name) {
    std::istringstream in_a(a), in_b(b);
    std::string line_a, line_b;
    for (std::size_t n = 1;; ++n) {
        const bool more_a = static_cast<bool>(std::getline(in_a, line_a)), more_b = static_cast<bool>(std::getline(in_b, line_b));
        if (!more_a && !more_b) return "they differ only in line endings";
        if (more_a && more_b && line_a == line_b) continue;
        auto shown = [](bool more, const std::string& line) { return more ? "`" + line + "`" : std::string("the end of the file"); };
        return "line " + std::to_string(n) + " is " + shown(more_a, line_a) + " in " + a_name + " and " + shown(more_b, line_b) +
               " in " + b_name;
    }
}

std::string root_text(hid_t file, const std::string& name) {
    return h5::has_attr(file, ".", name) ? h5::get_string_attr(file, ".", name) : std::string();
}

/// The checks of MergeChecks, before anything is written.
void check_merge(const fs::path& run_file, const std::vector<ShardFile>& shards, const std::vector<h5::Handle>& files,
                 const MergeChecks& checks) {
    std::error_code ec;
    if (fs::status(run_file, ec).type() == fs::file_type::not_found) return;
    const h5::Handle current = open_run_file(run_file);
    const std::string theirs = root_text(current, "experiment"), ours = root_text(files.front(), "experiment");
    if (!checks.force && !theirs.empty() && !ours.empty() && theirs != ours)
        throw InputError(run_file.string() + " holds the results of experiment '" + theirs + "', but the " + shards.front().stage +
                         " shards (" + shards.front().path.string() + (shards.size() > 1 ? ", ..." : "") +
                         ") are of experiment '" + ours + "'; refusing to replace them (add --force to replace them)");
    if (!checks.same_spec || shards.front().stage != "analyze" || !h5::has_attr(current, ".", "spec_hash")) return;
    const std::string spec = root_text(current, "spec");
    for (std::size_t k = 0; k < files.size(); ++k)
        if (root_text(files[k], "spec_hash") != root_text(current, "spec_hash"))
            throw InputError(shards[k].path.string() + " was made from another experiment file than the one " + run_file.string() +
                             " records (" + first_difference(root_text(files[k], "spec"), "the shard's", spec, "the run file's") +
                             "); run `laminar run` with the experiment file the shards were made from (it merges them and "
                             "analyses again what differs), or delete them");
}

}  // namespace

Shard parse_shard(const std::string& text) {
    static const std::regex re("([0-9]{1,6})/([0-9]{1,6})");
    std::smatch m;
    if (std::regex_match(text, m, re)) {
        const Shard s{std::stoul(m[1]), std::stoul(m[2])};
        if (s.count >= 1 && s.index < s.count) return s;
    }
    throw InputError("--shard expects K/N with 0 <= K < N, e.g. 3/8 (got '" + text + "')");
}

fs::path shard_path(const fs::path& run_file, const Shard& shard) {
    return run_file.parent_path() / (run_file.stem().string() + ".shard-" + std::to_string(shard.index) + "-of-" +
                                     std::to_string(shard.count) + run_file.extension().string());
}

std::pair<std::size_t, std::size_t> shard_rows(std::size_t rows, const Shard& shard) {
    return {rows * shard.index / shard.count, rows * (shard.index + 1) / shard.count};
}

void mark_shard(hid_t file, const Shard& shard, const std::string& stage, const std::string& inputs_hash) {
    h5::require_group(file, RunFile::shard);
    h5::set_attr(file, RunFile::shard, "index", static_cast<int64_t>(shard.index));
    h5::set_attr(file, RunFile::shard, "count", static_cast<int64_t>(shard.count));
    h5::set_attr(file, RunFile::shard, "stage", stage);
    h5::set_attr(file, RunFile::shard, "inputs_hash", inputs_hash);
}

std::vector<ShardFile> find_shards(const fs::path& run_file) {
    std::vector<ShardFile> out;
    const fs::path folder = run_file.has_parent_path() ? run_file.parent_path() : fs::path(".");
    if (!fs::is_directory(folder)) return out;
    for (const auto& entry : fs::directory_iterator(folder)) {
        const auto named = shard_of_name(run_file, entry.path());
        if (!named) continue;
        h5::Handle f = open_run_file(entry.path());  // a torn or foreign file is an error naming it
        if (!h5::exists(f, RunFile::shard)) throw InputError(entry.path().string() + ": named as a shard, but not a laminar shard file");
        ShardFile s{entry.path(),
                    {static_cast<std::size_t>(h5::get_int_attr(f, RunFile::shard, "index")), static_cast<std::size_t>(h5::get_int_attr(f, RunFile::shard, "count"))},
                    h5::get_string_attr(f, RunFile::shard, "stage"), h5::get_string_attr(f, RunFile::shard, "inputs_hash")};
        if (s.shard.index != named->index || s.shard.count != named->count)
            throw InputError(entry.path().string() + ": holds shard " + s.shard.text() + ", not the " + named->text() + " its name says");
        out.push_back(std::move(s));
    }
    std::sort(out.begin(), out.end(), [](const ShardFile& a, const ShardFile& b) {
        return std::make_pair(a.shard.count, a.shard.index) < std::make_pair(b.shard.count, b.shard.index);
    });
    return out;
}

void require_complete(const fs::path& run_file, const std::vector<ShardFile>& shards, const std::optional<std::string>& expected_hash) {
    if (shards.empty()) throw InputError("no shard files to merge");
    std::vector<std::string> problems;
    const ShardFile& first = shards.front();
    std::set<std::size_t> seen;
    for (const auto& s : shards) {
        if (s.shard.count != first.shard.count || s.stage != first.stage)
            problems.push_back(s.path.string() + " is shard " + s.shard.text() + " of the " + s.stage + " stage, but " + first.path.string() +
                               " is " + first.shard.text() + " of " + first.stage);
        else if (!seen.insert(s.shard.index).second)
            problems.push_back(s.path.string() + " is shard " + s.shard.text() + " a second time");
        else if (expected_hash ? s.inputs_hash != *expected_hash : s.inputs_hash != first.inputs_hash)
            problems.push_back(s.path.string() + " is stale: written from other inputs (" +
                               (first.stage == "extract" ? "models, stimuli or extractors" : "activations") + ") than " +
                               (expected_hash ? "the experiment's now" : first.path.string() + "'s"));
    }
    for (std::size_t k = 0; k < first.shard.count; ++k)
        if (!seen.count(k) && problems.size() < 20)
            problems.push_back("shard " + std::to_string(k) + "/" + std::to_string(first.shard.count) + " is missing (" +
                               shard_path(run_file, Shard{k, first.shard.count}).string() + ")");
    if (problems.empty()) return;
    std::string text = "the shard files do not make one complete set:";
    for (const auto& p : problems) text += "\n  " + p;
    throw InputError(text + "\n(run the missing shards, or delete stale shard files)");
}

void merge_shards(const fs::path& run_file, const std::vector<ShardFile>& shards, const std::string& command, std::ostream& log,
                  const MergeChecks& checks) {
    require_complete(run_file, shards, std::nullopt);
    std::vector<ShardFile> ordered = shards;
    std::sort(ordered.begin(), ordered.end(), [](const ShardFile& a, const ShardFile& b) { return a.shard.index < b.shard.index; });
    std::vector<h5::Handle> files;
    for (const auto& s : ordered) files.push_back(open_run_file(s.path));
    check_merge(run_file, ordered, files, checks);
    std::vector<std::string> merged;
    if (ordered.front().stage == "extract") {
        RunTransaction tx(run_file, {RunFile::stimuli, RunFile::activations, RunFile::results, RunFile::stages});
        h5::copy(files.front(), RunFile::stimuli, tx.file());
        merge_activations(tx.file(), ordered, files);
        h5::copy(files.front(), RunFile::stages, tx.file());
        h5::copy_attributes(files.front(), ".", tx.file());
        if (!command.empty()) h5::set_attr(tx.file(), RunFile::stage("extract"), "command", command);
        tx.commit();
        merged.push_back("extract");
    } else {
        {
            h5::Handle current = open_run_file(run_file);
            if (stage_hash(current, "extract") != ordered.front().inputs_hash)
                throw InputError(run_file.string() + ": its activations are not those the analysis shards analysed: run them again");
        }
        std::vector<std::string> replaced;
        for (const auto& f : files)
            if (h5::exists(f, RunFile::results))
                for (const auto& name : h5::children(h5::open_group(f, RunFile::results))) {
                    merged.push_back("analyze " + name);
                    replaced.push_back(RunFile::result(name));
                    replaced.push_back(RunFile::analysis_stage(name));
                }
        RunTransaction tx(run_file, replaced);
        for (const auto& f : files)
            if (h5::exists(f, RunFile::results))
                for (const auto& name : h5::children(h5::open_group(f, RunFile::results))) {
                    h5::copy(f, RunFile::result(name), tx.file());
                    h5::copy(f, RunFile::analysis_stage(name), tx.file());
                    if (!command.empty()) h5::set_attr(tx.file(), RunFile::analysis_stage(name), "command", command);
                }
        h5::set_attr(tx.file(), ".", "updated", utc_now());
        tx.commit();
    }
    files.clear();
    for (const auto& s : ordered) fs::remove(s.path);
    log << "merge: " << ordered.size() << " shard(s) of " << ordered.front().stage << " into " << run_file.string() << " (";
    for (std::size_t i = 0; i < merged.size(); ++i) log << (i ? ", " : "") << merged[i];
    log << ")\n";
}

bool merge_found_shards(const fs::path& run_file, const std::string& stage, const std::string& expected_hash,
                        const std::string& command, std::ostream& log, const MergeChecks& checks) {
    std::vector<ShardFile> shards;
    for (auto& s : find_shards(run_file))
        if (s.stage == stage) shards.push_back(std::move(s));
    if (shards.empty()) return false;
    require_complete(run_file, shards, expected_hash);
    merge_shards(run_file, shards, command, log, checks);
    return true;
}

}  // namespace laminar
