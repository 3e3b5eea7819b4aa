// The experiment's `stimuli:` section read into the prompts to run: one template, several
// templates, or a CSV/TSV file of sentences.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "spec/experiment.hpp"

namespace laminar {

/// Reports a problem at a JSON pointer of the experiment file (at its key when `at_key`).
using ProblemAt = std::function<void(const std::string& pointer, const std::string& message, bool at_key)>;

/// Why `name` cannot name a category (empty when it can): it becomes an HDF5 group of the run
/// file (results/.../categories/NAME), where "" is the parent group, '/' nests a group inside
/// another and "." and ".." are no names at all.
std::string category_name_problem(const std::string& name);

/// Reads the validated `stimuli` section `s`, its categories in `category_order` (the file's
/// order, which JSON objects do not keep); `file` is the stimuli file's resolved path (empty
/// when there is none). Problems in the experiment file go to `at`; those in the stimuli file
/// to `in_file` as "FILE:LINE: column C: message".
StimuliSpec read_stimuli_spec(const nlohmann::json& s, const std::vector<std::string>& category_order,
                              const std::filesystem::path& file, const ProblemAt& at, std::vector<std::string>& in_file);

}  // namespace laminar
