// A YAML file read as JSON (for JSON Schema validation) that remembers where each value
// came from, so that every error can name the file, line and column.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/json_schema.hpp"  // pointer_append: findings and documents share JSON pointers

namespace laminar {

struct SourceMark {
    int line = 0;    ///< 1-based; 0 when unknown
    int column = 0;  ///< 1-based
};

/// The most values (scalars, lists and mappings, each alias counted as what it names) that a
/// YAML file may expand to: far more than any experiment file holds, and few enough that a
/// small file of nested aliases cannot take all memory (a few hundred bytes per value).
inline constexpr std::size_t kMaxYamlValues = 1'000'000;

class YamlDocument {
public:
    /// Parses `text` (read from `file`, used in messages). Plain scalars are typed by the
    /// YAML 1.2 core schema (null, bool, int, float, else string); quoted scalars are always
    /// strings. Duplicate keys are an error. Throws InputError naming file, line and column.
    static YamlDocument parse(const std::string& text, const std::filesystem::path& file);
    static YamlDocument load(const std::filesystem::path& file);

    const nlohmann::json& json() const { return json_; }
    const std::string& text() const { return text_; }
    const std::filesystem::path& file() const { return file_; }

    /// Where the value at a JSON pointer ("/stimuli/position") starts; the nearest enclosing
    /// value that has a mark when the pointer itself has none.
    SourceMark mark(const std::string& pointer) const;

    /// The keys of the mapping at `pointer` in file order (nlohmann::json sorts them).
    std::vector<std::string> keys_in_order(const std::string& pointer) const;

    /// Where the key of the mapping entry at `pointer` starts (its value's mark for list items).
    SourceMark key_mark(const std::string& pointer) const;

    /// "file:line:column: field.path" for the value at `pointer` (or its key).
    std::string where(const std::string& pointer, bool at_key = false) const;

private:
    nlohmann::json json_;
    std::string text_;
    std::filesystem::path file_;
    std::map<std::string, SourceMark> marks_;
    std::map<std::string, SourceMark> key_marks_;
    std::map<std::string, std::vector<std::string>> key_order_;

    friend struct YamlConverter;
};

/// "/models/0/backend" -> "models[0].backend"; "" -> "(top level)".
std::string field_path(const std::string& pointer);

/// Appends a plugin's field path ("layers[2]", "histogram.bins") to a JSON pointer.
std::string pointer_append_field(const std::string& pointer, const std::string& field);

}  // namespace laminar
