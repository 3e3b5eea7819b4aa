// Checking that text read from a user's file is UTF-8, and where it stops being so. What reads
// the strings afterwards (the schema validator's lengths, nlohmann::json's dump into the run
// file, HDF5's UTF-8 strings) assumes UTF-8 and fails late, naming no file, when it is not.
// Header-only, for the host and the plugins.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace laminar {

/// A 1-based line and column (in characters).
struct TextPosition {
    std::size_t line = 1;
    std::size_t column = 1;
};

/// Where `text` stops being UTF-8, or nothing when all of it is.
inline std::optional<TextPosition> invalid_utf8(const std::string& text) {
    TextPosition at;
    for (std::size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        if (n == 0 || i + n > text.size()) return at;
        uint32_t cp = n == 1 ? c : c & (0x7F >> n);
        for (std::size_t k = 1; k < n; ++k) {
            const auto next = static_cast<unsigned char>(text[i + k]);
            if ((next & 0xC0) != 0x80) return at;
            cp = (cp << 6) | (next & 0x3F);
        }
        // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8 either.
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return at;
        if (c == '\n') { ++at.line; at.column = 1; } else { ++at.column; }
        i += n;
    }
    return std::nullopt;
}

/// `text` without the byte order mark that spreadsheets put at the start of a UTF-8 file.
inline std::string without_utf8_bom(std::string text) {
    if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);
    return text;
}

/// Throws std::runtime_error "FILE:LINE:COLUMN: not valid UTF-8 ..." where `text` (read from
/// `file`) stops being UTF-8.
inline void require_utf8(const std::string& text, const std::string& file) {
    if (const auto at = invalid_utf8(text))
        throw std::runtime_error(file + ":" + std::to_string(at->line) + ":" + std::to_string(at->column) +
                                 ": not valid UTF-8 (expected UTF-8 text: save the file as UTF-8, e.g. \"CSV UTF-8\" "
                                 "in a spreadsheet, or convert it with iconv -f latin1 -t utf-8)");
}

}  // namespace laminar
