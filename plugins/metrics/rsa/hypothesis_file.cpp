#include "hypothesis_file.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include "laminar/delimited_file.hpp"
#include "laminar/types.hpp"
#include "laminar/word_table.hpp"

namespace laminar::rsa {

namespace fs = std::filesystem;

namespace {

struct Labelled {
    std::vector<std::string> labels;
    arma::mat values;  ///< [labels x labels], in the file's order
};

Labelled read_table(const fs::path& file, const std::string& field) {
    std::vector<DelimitedRecord> records;
    try {
        records = read_delimited(file);
    } catch (const std::exception& e) {
        throw SpecError(field, e.what());
    }
    auto fail = [&](std::size_t line, const std::string& what) {
        throw SpecError(field, file.string() + ":" + std::to_string(line) + ": " + what);
    };
    if (records.empty()) fail(1, "empty; expected a header row of words, then one row per word");
    Labelled out;
    out.labels.assign(records[0].fields.begin() + 1, records[0].fields.end());
    const std::size_t n = out.labels.size();
    if (records.size() != n + 1)
        fail(records.back().line, std::to_string(records.size() - 1) + " rows for the " + std::to_string(n) +
                                      " words of the header; expected one row per word");
    out.values.set_size(n, n);
    for (std::size_t i = 0; i < n; ++i) {
        const auto& rec = records[i + 1];
        if (rec.fields.size() != n + 1) fail(rec.line, std::to_string(rec.fields.size()) + " fields; expected a label and " + std::to_string(n) + " values");
        if (rec.fields[0] != out.labels[i])
            fail(rec.line, "row '" + rec.fields[0] + "' where the header's order has '" + out.labels[i] + "'");
        for (std::size_t j = 0; j < n; ++j) {
            const std::string& text = rec.fields[j + 1];
            char* end = nullptr;
            const double v = std::strtod(text.c_str(), &end);
            if (text.empty() || *end != '\0' || !std::isfinite(v))
                fail(rec.line, "column " + std::to_string(j + 2) + ": '" + text + "' is not a finite number");
            out.values(i, j) = v;
        }
    }
    return out;
}

/// A .npy file [n x n] (laminar/word_table.hpp) with its words in a .txt of the same name.
Labelled read_npy(const fs::path& file, const std::string& field) {
    try {
        const NpyMatrix m = read_npy_matrix(file);
        if (m.rows != m.cols) throw std::runtime_error(file.string() + ": expected a square [n, n] array");
        Labelled out;
        out.values = arma::mat(m.values.data(), m.cols, m.rows).t();  // row-major to column-major
        if (!out.values.is_finite()) throw std::runtime_error(file.string() + ": contains NaN or infinite values");
        out.labels = read_npy_row_labels(file, m.rows);
        return out;
    } catch (const SpecError&) {
        throw;
    } catch (const std::exception& e) {
        throw SpecError(field, e.what());
    }
}

}  // namespace

arma::mat read_hypothesis_rdm(const fs::path& file, const std::vector<std::string>& words, const std::string& field) {
    const Labelled t = file.extension() == ".npy" ? read_npy(file, field) : read_table(file, field);
    std::map<std::string, arma::uword> at;
    for (arma::uword i = 0; i < t.labels.size(); ++i)
        if (!at.emplace(t.labels[i], i).second) throw SpecError(field, file.string() + ": the word '" + t.labels[i] + "' is listed twice");
    std::string missing, unknown;
    arma::uvec order(words.size());
    for (std::size_t i = 0; i < words.size(); ++i) {
        auto it = at.find(words[i]);
        if (it == at.end()) missing += (missing.empty() ? "" : ", ") + words[i];
        else order(i) = it->second;
    }
    for (const auto& label : t.labels)
        if (std::find(words.begin(), words.end(), label) == words.end()) unknown += (unknown.empty() ? "" : ", ") + label;
    if (!missing.empty()) throw SpecError(field, file.string() + ": no row for the stimuli's word(s) " + missing);
    if (!unknown.empty()) throw SpecError(field, file.string() + ": word(s) not among the stimuli: " + unknown);
    const double scale = std::max(1.0, arma::abs(t.values).max());
    if (arma::abs(t.values - t.values.t()).max() > 1e-12 * scale)
        throw SpecError(field, file.string() + ": not symmetric (an RDM's entry (i, j) equals its entry (j, i))");
    arma::mat D = t.values.submat(order, order);
    D.diag().zeros();  // a dissimilarity to itself is not compared
    return D;
}

}  // namespace laminar::rsa
