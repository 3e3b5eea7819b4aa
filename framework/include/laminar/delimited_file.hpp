// Reading a small CSV or TSV file (stimuli, hypothesis RDMs) with libcsv: quoted fields, quotes
// doubled inside them, newlines inside quotes. Each record keeps the line it starts on, so that
// errors can name it. Header-only, for the host and the plugins (which link `csv`).
#pragma once

#include <csv.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "laminar/text_file.hpp"
#include "laminar/utf8.hpp"

namespace laminar {

struct DelimitedRecord {
    std::size_t line = 0;             ///< 1-based line of the file the record starts on
    std::vector<std::string> fields;  ///< as written, quotes removed, spaces around them kept
};

/// Tab-separated for .tsv and .tab files, comma-separated otherwise.
inline char delimiter_for(const std::filesystem::path& file) {
    const std::string ext = file.extension().string();
    return ext == ".tsv" || ext == ".tab" ? '\t' : ',';
}

/// The records of `file`, blank lines skipped, a UTF-8 byte order mark ignored; throws
/// std::runtime_error "file:line: ..." on a quote left open or a stray quote,
/// "file:line:column: not valid UTF-8 ..." on text that is not UTF-8, and on a file that cannot
/// be read.
inline std::vector<DelimitedRecord> read_delimited(const std::filesystem::path& file) {
    // A spreadsheet's "CSV UTF-8" starts with a byte order mark, which is not part of the header.
    const std::string text = without_utf8_bom(read_text_file(file));
    require_utf8(text, file.string());
    struct State {
        std::vector<DelimitedRecord> records;
        DelimitedRecord current;
        std::size_t line = 1;  ///< the line being fed to the parser
        bool open = false;     ///< a record has started
    } state;
    auto on_field = [](void* field, std::size_t length, void* data) {
        auto& s = *static_cast<State*>(data);
        if (!s.open) s.current = {s.line, {}}, s.open = true;
        s.current.fields.emplace_back(static_cast<const char*>(field), length);
    };
    auto on_record = [](int, void* data) {
        auto& s = *static_cast<State*>(data);
        if (!s.open) return;
        s.records.push_back(std::move(s.current));
        s.open = false;
    };
    csv_parser parser;
    if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI) != 0) throw std::runtime_error("libcsv: cannot initialise");
    csv_set_delim(&parser, static_cast<unsigned char>(delimiter_for(file)));
    // Spaces around a field are part of it (libcsv trims them by default).
    csv_set_space_func(&parser, [](unsigned char) { return 0; });
    auto fail = [&](std::size_t line) {
        const std::string reason = csv_strerror(csv_error(&parser));
        csv_free(&parser);
        throw std::runtime_error(file.string() + ":" + std::to_string(line) + ": " + reason +
                                 " (a quote left open, or a quote inside an unquoted field?)");
    };
    // Fed line by line, so that each record knows the line it starts on.
    for (std::size_t begin = 0; begin < text.size();) {
        std::size_t end = text.find('\n', begin);
        end = end == std::string::npos ? text.size() : end + 1;
        if (csv_parse(&parser, text.data() + begin, end - begin, on_field, on_record, &state) != end - begin)
            fail(state.line);
        ++state.line;
        begin = end;
    }
    if (csv_fini(&parser, on_field, on_record, &state) != 0) fail(state.current.line ? state.current.line : state.line);
    csv_free(&parser);
    return state.records;
}

}  // namespace laminar
