#include "hypothesis_file.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <regex>
#include <sstream>

#include "laminar/delimited_file.hpp"
#include "laminar/types.hpp"
#include "laminar/utf8.hpp"

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

/// A .npy file (format versions 1-3) of float64 or float32, [n x n], C or Fortran order.
Labelled read_npy(const fs::path& file, const std::string& field) {
    const std::string bytes = read_text_file(file);
    auto fail = [&](const std::string& what) { throw SpecError(field, file.string() + ": " + what); };
    if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) fail("not a .npy file");
    const int major = static_cast<unsigned char>(bytes[6]);
    const std::size_t width = major == 1 ? 2 : 4;
    std::size_t header_len = 0;
    for (std::size_t k = 0; k < width; ++k) header_len |= std::size_t(static_cast<unsigned char>(bytes[8 + k])) << (8 * k);
    const std::size_t data_at = 8 + width + header_len;
    if (data_at > bytes.size()) fail("truncated header");
    const std::string header = bytes.substr(8 + width, header_len);
    std::smatch m;
    if (!std::regex_search(header, m, std::regex(R"('descr':\s*'([<>|=]?)([fi])(\d)')")))
        fail("expected a float64 or float32 array");
    const std::string kind = m[2].str() + m[3].str();
    if ((kind != "f8" && kind != "f4") || m[1] == ">") fail("expected a little-endian float64 or float32 array (descr " + m[0].str() + ")");
    const bool fortran = header.find("'fortran_order': True") != std::string::npos;
    if (!std::regex_search(header, m, std::regex(R"('shape':\s*\((\d+),\s*(\d+)\))")) || m[1] != m[2])
        fail("expected a square [n, n] array");
    const std::size_t n = std::stoul(m[1]);
    const std::size_t item = kind == "f8" ? 8 : 4;
    if (bytes.size() - data_at < n * n * item) fail("shorter than its shape says");
    Labelled out;
    out.values.set_size(n, n);
    for (std::size_t k = 0; k < n * n; ++k) {
        double v;
        if (item == 8) std::memcpy(&v, bytes.data() + data_at + 8 * k, 8);
        else { float f; std::memcpy(&f, bytes.data() + data_at + 4 * k, 4); v = f; }
        // C order: k = i * n + j; Fortran: k = j * n + i.
        (fortran ? out.values(k % n, k / n) : out.values(k / n, k % n)) = v;
    }
    if (!out.values.is_finite()) fail("contains NaN or infinite values");
    fs::path labels = file;
    labels.replace_extension(".txt");
    if (!fs::exists(labels)) fail("its words are missing: expected " + labels.string() + ", one word per line in row order");
    const std::string words = without_utf8_bom(read_text_file(labels));
    try {
        require_utf8(words, labels.string());
    } catch (const std::exception& e) {
        throw SpecError(field, e.what());
    }
    std::istringstream lines(words);
    for (std::string line; std::getline(lines, line);)
        if (!line.empty()) out.labels.push_back(line.back() == '\r' ? line.substr(0, line.size() - 1) : line);
    if (out.labels.size() != n)
        fail(labels.string() + " lists " + std::to_string(out.labels.size()) + " words for " + std::to_string(n) + " rows");
    return out;
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
