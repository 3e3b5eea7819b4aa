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

std::string ConfigJson::model_type(std::initializer_list<const char*> types) const {
    const std::string type = string_or("model_type", *types.begin());
    std::string names;
    for (const char* t : types) {
        if (type == t) return type;
        names += (names.empty() ? "\"" : " or \"") + std::string(t) + "\"";
    }
    fail("model_type is \"" + type + "\", not " + names);
}

int ConfigJson::head_size(int width, const char* width_key, int heads, const char* heads_key) const {
    if (width % heads != 0)
        fail(std::string(width_key) + " (" + std::to_string(width) + ") is not a multiple of " + heads_key + " (" +
             std::to_string(heads) + ")");
    return width / heads;
}

int ConfigJson::head_dim_or_split(int width, int heads) const {
    if (const int d_head = positive_or({"head_dim"}, 0); d_head > 0) return d_head;  // absent or null: split
    if (width % heads != 0)
        fail("hidden_size (" + std::to_string(width) + ") is not a multiple of num_attention_heads (" + std::to_string(heads) +
             "), and there is no head_dim");
    return width / heads;
}

void ConfigJson::check_kv_heads(int heads, int kv_heads) const {
    if (heads % kv_heads != 0)
        fail("num_attention_heads (" + std::to_string(heads) + ") is not a multiple of num_key_value_heads (" +
             std::to_string(kv_heads) + ")");
}

int ConfigJson::rotary_dims(double factor, const char* key, int d_head) const {
    if (!key) {
        if (d_head % 2 != 0) fail("the head size (" + std::to_string(d_head) + ") must be even for rotary embeddings");
        return d_head;
    }
    const int dims = factor > 0 && factor <= 1 ? static_cast<int>(d_head * factor) : 0;
    if (dims < 2 || dims % 2 != 0)
        fail(std::string(key) + " " + std::to_string(factor) + " of head size " + std::to_string(d_head) + " gives " +
             std::to_string(dims) + " rotary dimensions; expected a factor in (0, 1] giving an even number of at least 2");
    return dims;
}

std::pair<double, std::string> ConfigJson::rotary_factor(std::initializer_list<const char*> keys, double fallback) const {
    if (json_.contains("rope_parameters") && json_["rope_parameters"].is_object() &&
        json_["rope_parameters"].contains("partial_rotary_factor")) {
        const auto& v = json_["rope_parameters"]["partial_rotary_factor"];
        if (!v.is_number()) fail("rope_parameters.partial_rotary_factor must be a number (found " + v.dump() + ")");
        return {v.get<double>(), "rope_parameters.partial_rotary_factor"};
    }
    for (const char* key : keys)
        if (json_.contains(key) && !json_[key].is_null()) return {number_or({key}, fallback), key};
    return {fallback, *keys.begin()};
}

double ConfigJson::rope_theta(double fallback, const std::string& what) const {
    if (json_.contains("rope_scaling") && !json_["rope_scaling"].is_null())
        fail("rope_scaling " + json_["rope_scaling"].dump() + " is not supported (" + (what.empty() ? "" : what + "; ") +
             "only unscaled rotary embeddings)");
    double theta = positive_number_or({"rope_theta"}, fallback);
    if (json_.contains("rope_parameters") && !json_["rope_parameters"].is_null()) {
        const auto& rope = json_["rope_parameters"];
        if (!rope.is_object() || rope.value("rope_type", std::string("default")) != "default")
            fail("rope_parameters " + rope.dump() + " is not supported (only rope_type \"default\")");
        for (const auto& [key, value] : rope.items())  // a scaling's own keys: refused, never ignored
            if (key != "rope_type" && key != "rope_theta" && key != "partial_rotary_factor")
                fail("rope_parameters." + key + " is not supported (only rope_type, rope_theta and partial_rotary_factor: "
                     "unscaled rotary embeddings)");
        if (rope.contains("rope_theta")) {
            if (!rope["rope_theta"].is_number() || !(rope["rope_theta"].get<double>() > 0))
                fail("rope_parameters.rope_theta " + rope["rope_theta"].dump() + " is not a number > 0");
            theta = rope["rope_theta"].get<double>();
        }
    }
    return theta;
}

}  // namespace laminar::models
