// A model folder's config.json, read with errors that name the file and the field.
#pragma once

#include <filesystem>
#include <initializer_list>
#include <string>

#include <nlohmann/json.hpp>

namespace laminar::models {

class ConfigJson {
public:
    /// Throws std::runtime_error when dir/config.json is missing, not JSON (naming the line and
    /// column) or not a JSON object.
    static ConfigJson load(const std::filesystem::path& dir);

    /// The first of `keys` present (families renamed fields over time, e.g. rotary_pct and
    /// partial_rotary_factor); throws naming them when none is there and there is no default.
    int positive(std::initializer_list<const char*> keys) const;
    int positive_or(std::initializer_list<const char*> keys, int fallback) const;
    double number_or(std::initializer_list<const char*> keys, double fallback) const;
    /// A finite number > 0 (epsilons, rotary bases); throws naming the key otherwise.
    double positive_number_or(std::initializer_list<const char*> keys, double fallback) const;
    bool flag_or(const char* key, bool fallback) const;
    std::string string_or(const char* key, const std::string& fallback) const;

    const nlohmann::json& json() const { return json_; }
    const std::filesystem::path& file() const { return file_; }
    /// "DIR/config.json: MESSAGE", for the family's own checks.
    [[noreturn]] void fail(const std::string& message) const;

private:
    std::filesystem::path file_;
    nlohmann::json json_;
    const nlohmann::json* first(std::initializer_list<const char*> keys, std::string& name) const;
};

}  // namespace laminar::models
