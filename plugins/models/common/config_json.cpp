#include "config_json.hpp"

#include <cmath>
#include <stdexcept>

#include "laminar/json_file.hpp"

namespace laminar::models {

ConfigJson ConfigJson::load(const std::filesystem::path& dir) {
    ConfigJson c;
    c.file_ = dir / "config.json";
    c.json_ = read_json_file(c.file_, "is " + dir.string() + " a Hugging Face model folder?");
    if (!c.json_.is_object()) c.fail("expected a JSON object");
    return c;
}

void ConfigJson::fail(const std::string& message) const { throw std::runtime_error(file_.string() + ": " + message); }

const nlohmann::json* ConfigJson::first(std::initializer_list<const char*> keys, std::string& name) const {
    for (const char* k : keys) {
        name += (name.empty() ? "" : " or ") + std::string(k);
        if (json_.contains(k) && !json_[k].is_null()) { name = k; return &json_[k]; }
    }
    return nullptr;
}

int ConfigJson::positive(std::initializer_list<const char*> keys) const {
    std::string name;
    const auto* v = first(keys, name);
    if (!v) fail(name + " is missing (expected a positive integer)");
    if (!v->is_number_integer() || v->get<int64_t>() <= 0 || v->get<int64_t>() > (1LL << 31) - 1)
        fail(name + " must be a positive integer (found " + v->dump() + ")");
    return v->get<int>();
}

int ConfigJson::positive_or(std::initializer_list<const char*> keys, int fallback) const {
    std::string name;
    return first(keys, name) ? positive(keys) : fallback;
}

double ConfigJson::number_or(std::initializer_list<const char*> keys, double fallback) const {
    std::string name;
    const auto* v = first(keys, name);
    if (!v) return fallback;
    if (!v->is_number()) fail(name + " must be a number (found " + v->dump() + ")");
    return v->get<double>();
}

double ConfigJson::positive_number_or(std::initializer_list<const char*> keys, double fallback) const {
    std::string name;
    const auto* v = first(keys, name);
    if (!v) return fallback;
    // A norm's epsilon of 0 or less, or a rotary base of 0, makes every activation NaN.
    if (!v->is_number() || !std::isfinite(v->get<double>()) || v->get<double>() <= 0)
        fail(name + " must be a number greater than 0 (found " + v->dump() + ")");
    return v->get<double>();
}

bool ConfigJson::flag_or(const char* key, bool fallback) const {
    if (!json_.contains(key) || json_[key].is_null()) return fallback;
    if (!json_[key].is_boolean()) fail(std::string(key) + " must be true or false (found " + json_[key].dump() + ")");
    return json_[key].get<bool>();
}

std::string ConfigJson::string_or(const char* key, const std::string& fallback) const {
    if (!json_.contains(key) || json_[key].is_null()) return fallback;
    if (!json_[key].is_string()) fail(std::string(key) + " must be a string (found " + json_[key].dump() + ")");
    return json_[key].get<std::string>();
}

}  // namespace laminar::models
