// File paths inside a plugin's parameters: a plugin marks a string option as a path with
// `"format": "path"` in its parameter schema (alone, or as one branch of a oneOf / anyOf,
// with a `pattern` saying which strings are paths). The host resolves such values against the
// experiment file's folder, so that plugins never need to know where the experiment lives,
// and hashes the files' contents into the stage's inputs, so that an edited file re-runs it.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace laminar {

struct ParamPath {
    std::string pointer;          ///< inside the parameters, e.g. "/hypotheses/mine"
    std::filesystem::path path;   ///< resolved
};

/// Rewrites every path-valued string of `params` (as `schema` marks them) to its absolute path,
/// relative ones taken from `base`.
std::vector<ParamPath> resolve_param_paths(nlohmann::json& params, const nlohmann::json& schema,
                                           const std::filesystem::path& base);

}  // namespace laminar
