#include "store/result_table.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <ostream>

#include <nlohmann/json.hpp>

#include "runtime/errors.hpp"
#include "store/run_layout.hpp"

namespace laminar {

namespace {

/// The describing columns first, in this order; the results after them as they come.
const std::vector<std::string> kKeyColumns = {"model",   "hook",    "layer",   "site",   "head",
                                              "model_a", "hook_a",  "layer_a", "site_a", "head_a",
                                              "model_b", "hook_b",  "layer_b", "site_b", "head_b"};

/// Shortest text that reads back as the same double (what Python's repr gives).
std::string exact(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    char buf[64];
    const auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
    return {buf, end};
}

std::string cell_text(const std::optional<h5::Scalar>& cell, bool short_numbers) {
    if (!cell) return "";
    if (const auto* i = std::get_if<int64_t>(&*cell)) return std::to_string(*i);
    if (const auto* d = std::get_if<double>(&*cell)) {
        if (!short_numbers) return exact(*d);
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.6g", *d);
        return buf;
    }
    return std::get<std::string>(*cell);
}

std::optional<double> as_number(const std::string& text) {
    double v = 0;
    const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
    if (r.ec != std::errc() || r.ptr != text.data() + text.size()) return std::nullopt;
    return v;
}

std::string csv_field(const std::string& text, char sep) {
    if (text.find_first_of(std::string(1, sep) + "\"\n\r") == std::string::npos) return text;
    std::string out = "\"";
    for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

using Record = std::map<std::string, h5::Scalar>;

std::string text_of(const Record& record, const std::string& column) {
    const auto it = record.find(column);
    return it == record.end() ? std::string() : cell_text(it->second, false);
}

/// rsa's noise ceilings on the rows they bound: a space's own ceiling row (its `<hook>` group:
/// bounds, no r) is joined onto the pairs it is side a of (noise_ceiling_low/high, already there
/// when rsa wrote them) or side b of (noise_ceiling_low_b/high_b), and left out as a row of its
/// own when some pair took it. tools/python/laminar/run_file.py joins them the same way.
void join_noise_ceilings(std::vector<Record>& records, std::vector<std::string>& seen) {
    static const std::vector<std::string> bounds = {"noise_ceiling_low", "noise_ceiling_high", "noise_ceiling_subjects",
                                                    "noise_ceiling_rdm"};
    std::map<std::pair<std::string, std::string>, std::size_t> ceilings;  // (model, hook) -> its row
    for (std::size_t i = 0; i < records.size(); ++i)
        if (records[i].count("noise_ceiling_low") && !records[i].count("r") && !records[i].count("hook_a"))
            ceilings[{text_of(records[i], "model"), text_of(records[i], "hook")}] = i;
    if (ceilings.empty()) return;
    std::vector<bool> joined(records.size(), false);
    for (auto& record : records) {
        if (!record.count("hook_a")) continue;
        for (const char* side : {"_a", "_b"}) {
            const auto it = ceilings.find({text_of(record, std::string("model") + side), text_of(record, std::string("hook") + side)});
            if (it == ceilings.end()) continue;
            joined[it->second] = true;
            for (const auto& name : bounds) {
                const std::string column = side == std::string("_a") ? name : name + "_b";
                const auto value = records[it->second].find(name);
                if (value == records[it->second].end() || record.count(column)) continue;
                record[column] = value->second;
                if (std::find(seen.begin(), seen.end(), column) == seen.end()) seen.push_back(column);
            }
        }
    }
    std::vector<Record> kept;
    for (std::size_t i = 0; i < records.size(); ++i)
        if (!joined[i]) kept.push_back(std::move(records[i]));
    records = std::move(kept);
}

}  // namespace

ResultTable result_table(hid_t file, const std::string& analysis) {
    const std::string root = RunFile::result(analysis);
    if (analysis.empty() || analysis.find('/') != std::string::npos || !h5::exists(file, root)) {
        std::string names;
        if (h5::exists(file, RunFile::results))
            for (const auto& n : h5::children(h5::open_group(file, RunFile::results))) names += (names.empty() ? "" : ", ") + n;
        throw InputError("no analysis '" + analysis + "' in the run file (analyses: " + (names.empty() ? "none" : names) + ")");
    }
    std::vector<std::string> seen;  // columns in first-seen order
    std::vector<Record> records;
    auto add = [&](Record& record, const std::string& prefix, const std::string& path) {
        for (auto& [name, value] : h5::scalar_attributes(file, path)) {
            const std::string column = prefix + name;
            if (std::find(seen.begin(), seen.end(), column) == seen.end()) seen.push_back(column);
            record[column] = std::move(value);
        }
    };
    std::vector<std::string> row_groups;
    h5::walk(file, root, [&](const std::string& path, bool is_group) {
        if (is_group && h5::has_attr(file, path, "model") && h5::has_attr(file, path, "hook")) row_groups.push_back(path);
    });
    for (const auto& group : row_groups) {
        Record record;
        add(record, "", group);
        h5::walk(file, group, [&](const std::string& path, bool is_group) {
            if (is_group) add(record, path.substr(group.size() + 1) + "/", path);
        });
        records.push_back(std::move(record));
    }
    join_noise_ceilings(records, seen);
    ResultTable table;
    for (const auto& key : kKeyColumns)
        if (std::find(seen.begin(), seen.end(), key) != seen.end()) table.columns.push_back(key);
    for (const auto& column : seen)
        if (std::find(kKeyColumns.begin(), kKeyColumns.end(), column) == kKeyColumns.end()) table.columns.push_back(column);
    for (const auto& record : records) {
        std::vector<std::optional<h5::Scalar>> row;
        for (const auto& column : table.columns) {
            const auto it = record.find(column);
            row.push_back(it == record.end() ? std::nullopt : std::optional<h5::Scalar>(it->second));
        }
        table.rows.push_back(std::move(row));
    }
    return table;
}

std::vector<std::string> filter_rows(ResultTable& table, const std::vector<std::string>& conditions) {
    std::vector<std::string> notes;
    for (const auto& condition : conditions) {
        const auto eq = condition.find('=');
        if (eq == std::string::npos || eq == 0)
            throw InputError("--where " + condition + ": expected COLUMN=VALUE, e.g. layer=5");
        auto trimmed = [](std::string text) {
            const auto first = text.find_first_not_of(" \t"), last = text.find_last_not_of(" \t");
            return first == std::string::npos ? std::string() : text.substr(first, last - first + 1);
        };
        const std::string column = trimmed(condition.substr(0, eq)), wanted = trimmed(condition.substr(eq + 1));
        const auto at = std::find(table.columns.begin(), table.columns.end(), column);
        const bool sides = std::find(table.columns.begin(), table.columns.end(), column + "_a") != table.columns.end();
        const std::string pairs = "; a pair's sides have " + column + "_a and " + column + "_b (e.g. --where " + column + "_a=" +
                                  wanted + ")";
        if (at == table.columns.end()) {
            std::string names;
            for (const auto& c : table.columns) names += (names.empty() ? "" : ", ") + c;
            throw InputError("--where " + condition + ": no column '" + column + "'" + (sides ? pairs : "") +
                             " (columns: " + names + ")");
        }
        const auto index = static_cast<std::size_t>(at - table.columns.begin());
        const auto number = as_number(wanted);
        auto keep = [&](const std::vector<std::optional<h5::Scalar>>& row) {
            const std::string text = cell_text(row[index], false);
            if (number && !std::holds_alternative<std::string>(row[index].value_or(std::string()))) {
                const auto value = as_number(text);
                return value && *value == *number;
            }
            return text == wanted;
        };
        std::size_t empty = 0;
        std::vector<std::string> values;  // what the column holds, for the note below
        for (const auto& row : table.rows) {
            empty += !row[index].has_value();
            const std::string text = cell_text(row[index], true);
            if (row[index] && values.size() < 12 && std::find(values.begin(), values.end(), text) == values.end()) values.push_back(text);
        }
        std::string held;
        for (const auto& v : values) held += (held.empty() ? "" : ", ") + v;
        const std::size_t before = table.rows.size();
        table.rows.erase(std::remove_if(table.rows.begin(), table.rows.end(), [&](const auto& r) { return !keep(r); }),
                         table.rows.end());
        if (before > 0 && table.rows.empty())  // said, so that an empty answer is not taken for "none"
            notes.push_back("--where " + condition + ": no row matches; '" + column + "' holds " +
                            (held.empty() ? std::string("nothing") : held + (values.size() == 12 ? ", ..." : "")) +
                            (empty > 0 ? " and is empty in " + std::to_string(empty) + " of " + std::to_string(before) + " rows" : "") +
                            (sides && empty > 0 ? pairs : "") +
                            (wanted.find('=') != std::string::npos ? " (one condition per --where: --where a=1 --where b=2)" : ""));
    }
    return notes;
}

void select_columns(ResultTable& table, const std::string& wanted) {
    std::vector<std::size_t> picked;
    std::size_t begin = 0;
    while (begin <= wanted.size()) {
        const std::size_t comma = std::min(wanted.find(',', begin), wanted.size());
        const std::string pattern = wanted.substr(begin, comma - begin);
        begin = comma + 1;
        if (pattern.empty()) continue;
        bool matched = false;  // (a column named twice is printed once)
        for (std::size_t i = 0; i < table.columns.size(); ++i)
            if (fnmatch(pattern.c_str(), table.columns[i].c_str(), 0) == 0) {
                matched = true;
                if (std::find(picked.begin(), picked.end(), i) == picked.end()) picked.push_back(i);
            }
        if (!matched) {
            std::string names;
            for (const auto& c : table.columns) names += (names.empty() ? "" : ", ") + c;
            throw InputError("--columns: no column '" + pattern + "' (columns: " + names + "; patterns such as 'categories/*/r' work)");
        }
    }
    if (picked.empty()) throw InputError("--columns expects column names separated by commas (got '" + wanted + "')");
    ResultTable out;
    for (std::size_t i : picked) out.columns.push_back(table.columns[i]);
    for (const auto& row : table.rows) {
        std::vector<std::optional<h5::Scalar>> cells;
        for (std::size_t i : picked) cells.push_back(row[i]);
        out.rows.push_back(std::move(cells));
    }
    table = std::move(out);
}

void print_table(const ResultTable& table, const std::string& format, std::ostream& out) {
    if (format == "csv" || format == "tsv") {
        const char sep = format == "csv" ? ',' : '\t';
        for (std::size_t c = 0; c < table.columns.size(); ++c) out << (c ? std::string(1, sep) : "") << csv_field(table.columns[c], sep);
        out << "\n";
        for (const auto& row : table.rows) {
            for (std::size_t c = 0; c < row.size(); ++c) out << (c ? std::string(1, sep) : "") << csv_field(cell_text(row[c], false), sep);
            out << "\n";
        }
    } else if (format == "json") {
        nlohmann::ordered_json records = nlohmann::ordered_json::array();
        for (const auto& row : table.rows) {
            nlohmann::ordered_json record = nlohmann::ordered_json::object();
            for (std::size_t c = 0; c < row.size(); ++c) {
                const auto& cell = row[c];
                if (!cell) record[table.columns[c]] = nullptr;
                else if (const auto* i = std::get_if<int64_t>(&*cell)) record[table.columns[c]] = *i;
                else if (const auto* d = std::get_if<double>(&*cell)) record[table.columns[c]] = std::isfinite(*d) ? nlohmann::ordered_json(*d) : nullptr;
                else record[table.columns[c]] = std::get<std::string>(*cell);
            }
            records.push_back(std::move(record));
        }
        out << records.dump(2) << "\n";
    } else if (format == "text") {
        std::vector<std::size_t> width;
        for (const auto& c : table.columns) width.push_back(c.size());
        for (const auto& row : table.rows)
            for (std::size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], cell_text(row[c], true).size());
        auto line = [&](auto text_of) {
            std::string s;
            for (std::size_t c = 0; c < width.size(); ++c) {
                const std::string t = text_of(c);
                s += t + (c + 1 < width.size() ? std::string(width[c] - t.size() + 2, ' ') : "");
            }
            out << s << "\n";
        };
        line([&](std::size_t c) { return table.columns[c]; });
        for (const auto& row : table.rows) line([&](std::size_t c) { return cell_text(row[c], true); });
    } else {
        throw InputError("--format must be text, csv, tsv or json (got '" + format + "')");
    }
}

}  // namespace laminar
