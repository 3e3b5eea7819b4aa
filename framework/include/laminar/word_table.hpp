// Numbers given per word in a file a user wrote: a CSV/TSV table (a header with a `word` column
// and one column per value, then one row per word) or a .npy [words x values] array with its
// words, one per line in row order, in a .txt file of the same name beside it. What hypothesis
// RDMs (rsa), targets (encoding) and their repeated measurements are read from. Header-only, for
// the host and the plugins (which link `csv`).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "laminar/delimited_file.hpp"
#include "laminar/text_file.hpp"
#include "laminar/utf8.hpp"

namespace laminar {

/// A 2-D float array from a .npy file: format versions 1-3, little-endian float64 or float32,
/// C or Fortran order; `values` row-major [rows x cols].
struct NpyMatrix {
    std::size_t rows = 0, cols = 0;
    std::vector<double> values;
};

/// Throws std::runtime_error "<file>: <what was wrong>".
inline NpyMatrix read_npy_matrix(const std::filesystem::path& file) {
    const std::string bytes = read_text_file(file);
    auto fail = [&](const std::string& what) { throw std::runtime_error(file.string() + ": " + what); };
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
    if (!std::regex_search(header, m, std::regex(R"('shape':\s*\((\d+),\s*(\d+)\))"))) fail("expected a 2-D array");
    NpyMatrix out;
    out.rows = std::stoul(m[1]);
    out.cols = std::stoul(m[2]);
    const std::size_t item = kind == "f8" ? 8 : 4, n = out.rows * out.cols;
    if (out.cols && out.rows > (bytes.size() - data_at) / item / out.cols) fail("shorter than its shape says");
    out.values.resize(n);
    for (std::size_t k = 0; k < n; ++k) {
        double v;
        if (item == 8) std::memcpy(&v, bytes.data() + data_at + 8 * k, 8);
        else { float f; std::memcpy(&f, bytes.data() + data_at + 4 * k, 4); v = f; }
        // C order: k = i * cols + j; Fortran: k = j * rows + i.
        out.values[fortran ? (k % out.rows) * out.cols + k / out.rows : k] = v;
    }
    return out;
}

/// The labels of a .npy file's rows: its .txt twin, one per line (blank lines skipped), which
/// must list `rows` of them. Throws std::runtime_error naming the files.
inline std::vector<std::string> read_npy_row_labels(const std::filesystem::path& npy, std::size_t rows) {
    std::filesystem::path labels = npy;
    labels.replace_extension(".txt");
    if (!std::filesystem::exists(labels))
        throw std::runtime_error(npy.string() + ": its words are missing: expected " + labels.string() + ", one word per line in row order");
    const std::string text = without_utf8_bom(read_text_file(labels));
    require_utf8(text, labels.string());
    std::vector<std::string> out;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);)
        if (!line.empty()) out.push_back(line.back() == '\r' ? line.substr(0, line.size() - 1) : line);
    if (out.size() != rows)
        throw std::runtime_error(npy.string() + ": " + labels.string() + " lists " + std::to_string(out.size()) + " words for " +
                                 std::to_string(rows) + " rows");
    return out;
}

/// Numbers per word, as a file gives them.
struct WordTable {
    std::vector<std::string> words;    ///< of each row, in the file's order
    std::vector<std::string> columns;  ///< the values' names (a .npy's: "0", "1", ...)
    std::vector<std::size_t> lines;    ///< the line each row is on (0 in a .npy)
    std::vector<double> values;        ///< row-major [words x columns], every one finite
};

/// A table of numbers per word from a .csv/.tsv (header: `word` and the values' names) or a .npy
/// with its .txt. Throws std::runtime_error "<file>[:line]: ..." on a missing `word` column, a
/// row of the wrong length, a value that is not a finite number.
inline WordTable read_word_table(const std::filesystem::path& file) {
    WordTable t;
    if (file.extension() == ".npy") {
        const NpyMatrix m = read_npy_matrix(file);
        t.words = read_npy_row_labels(file, m.rows);
        for (std::size_t j = 0; j < m.cols; ++j) t.columns.push_back(std::to_string(j));
        t.lines.assign(m.rows, 0);
        for (std::size_t k = 0; k < m.values.size(); ++k)
            if (!std::isfinite(m.values[k]))
                throw std::runtime_error(file.string() + ": row " + std::to_string(k / m.cols + 1) + " ('" + t.words[k / m.cols] +
                                         "'), column " + std::to_string(k % m.cols) + ": not a finite number");
        t.values = m.values;
        return t;
    }
    const auto records = read_delimited(file);
    auto fail = [&](std::size_t line, const std::string& what) {
        throw std::runtime_error(file.string() + ":" + std::to_string(line) + ": " + what);
    };
    if (records.empty()) fail(1, "empty; expected a header with a column word and one column per value");
    const auto& header = records[0].fields;
    std::size_t word_at = header.size();
    for (std::size_t j = 0; j < header.size(); ++j)
        if (header[j] == "word") word_at = j;
    if (word_at == header.size()) fail(records[0].line, "no column 'word' in the header (expected word and one column per value)");
    for (std::size_t j = 0; j < header.size(); ++j)
        if (j != word_at) t.columns.push_back(header[j]);
    if (t.columns.empty()) fail(records[0].line, "no value columns beside 'word'");
    for (std::size_t r = 1; r < records.size(); ++r) {
        const auto& rec = records[r];
        if (rec.fields.size() != header.size())
            fail(rec.line, std::to_string(rec.fields.size()) + " fields; the header has " + std::to_string(header.size()));
        t.words.push_back(rec.fields[word_at]);
        t.lines.push_back(rec.line);
        for (std::size_t j = 0; j < header.size(); ++j) {
            if (j == word_at) continue;
            const std::string& text = rec.fields[j];
            char* end = nullptr;
            const double v = std::strtod(text.c_str(), &end);
            if (text.empty() || *end != '\0' || !std::isfinite(v))
                fail(rec.line, "column '" + header[j] + "': '" + text + "' is not a finite number");
            t.values.push_back(v);
        }
    }
    return t;
}

}  // namespace laminar
