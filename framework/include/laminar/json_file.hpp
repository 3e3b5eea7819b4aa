// JSON files a user gave (config.json, tokenizer.json, safetensors headers): errors that name the
// file, line and column, and a bound on nesting. nlohmann::json parses iteratively, but copying,
// comparing and printing a value recurse, and so do the readers of recursive structures (a
// tokenizer's Sequence of normalizers): 30,000 nested arrays would overflow the stack there.
// Header-only, for the host and the plugins.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "laminar/text_file.hpp"

namespace laminar {

/// The deepest nesting of arrays and objects accepted; Hub files nest 5 deep at most.
inline constexpr int kJsonDepthLimit = 100;

/// "LINE:COLUMN" (both from 1; the column counts bytes) of byte `offset` of `text`.
inline std::string text_position(const std::string& text, std::size_t offset) {
    std::size_t line = 1, column = 1;
    for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
        if (text[i] == '\n') ++line, column = 1;
        else ++column;
    }
    return std::to_string(line) + ":" + std::to_string(column);
}

/// Parses `text`, the content of `file`; throws std::runtime_error "FILE:LINE:COLUMN: ..." when
/// it is not JSON or nests deeper than kJsonDepthLimit. `callback` as nlohmann's parse() takes.
inline nlohmann::json parse_json(const std::string& text, const std::filesystem::path& file,
                                 const nlohmann::json::parser_callback_t& callback = nullptr) {
    // Nesting first, by a scan of the brackets outside strings (cheap, and before any value is built).
    int depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') ++i;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > kJsonDepthLimit)
                throw std::runtime_error(file.string() + ":" + text_position(text, i) + ": arrays and objects nested more than " +
                                         std::to_string(kJsonDepthLimit) + " deep (laminar's limit)");
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    try {
        return nlohmann::json::parse(text, callback);
    } catch (const nlohmann::json::parse_error& e) {
        // nlohmann's message: "[json.exception.parse_error.101] parse error at line 1, column 2: WHY".
        std::string why = e.what();
        if (const auto colon = why.find(": "); why.rfind("[json.exception", 0) == 0 && colon != std::string::npos)
            why = why.substr(colon + 2);
        const std::size_t at = e.byte > 0 ? e.byte - 1 : 0;  // e.byte counts from 1
        throw std::runtime_error(file.string() + ":" + text_position(text, at) + ": not valid JSON: " + why);
    }
}

/// A whole JSON file (see read_text_file and parse_json).
inline nlohmann::json read_json_file(const std::filesystem::path& file, const std::string& missing_hint = "") {
    return parse_json(read_text_file(file, missing_hint), file);
}

}  // namespace laminar
