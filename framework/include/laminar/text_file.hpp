// Reading a whole small file (config.json, tokenizer files) with an error that says what went
// wrong: missing, a directory, permission denied. Header-only, for the host and the plugins.
#pragma once

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace laminar {

/// The file's bytes; throws std::runtime_error naming the file and the reason. `missing_hint`
/// is added when the file does not exist ("is DIR a Hugging Face model folder?").
inline std::string read_text_file(const std::filesystem::path& file, const std::string& missing_hint = "") {
    std::error_code ec;
    if (std::filesystem::is_directory(file, ec))
        throw std::runtime_error(file.string() + ": is a directory, expected a file");
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        const int error = errno;
        std::string text = file.string() + ": cannot open (" + std::strerror(error) + ")";
        if (error == ENOENT && !missing_hint.empty()) text += "; " + missing_hint;
        throw std::runtime_error(text);
    }
    std::ostringstream content;
    content << in.rdbuf();
    if (in.bad()) throw std::runtime_error(file.string() + ": cannot read (" + std::strerror(errno) + ")");
    return content.str();
}

}  // namespace laminar
