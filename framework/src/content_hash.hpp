// Content hashes that decide whether a stage must run again (XXH3-128, hex).
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace laminar {

std::string hash_text(const std::string& text);

/// Hash of a JSON value's canonical form (keys sorted, no whitespace).
std::string hash_json(const nlohmann::json& value);

/// Identity of a model folder without reading the weights: name, size and modification
/// time of every regular file in it (not recursive). Throws when the folder is missing.
nlohmann::json folder_identity(const std::filesystem::path& dir);

}  // namespace laminar
