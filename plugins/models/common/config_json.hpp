// A model folder's config.json, read with errors that name the file and the field.
#pragma once

#include <filesystem>
#include <initializer_list>
#include <string>
#include <utility>

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

    /// The checks every family's config reading shares, each failing with a message that names
    /// the family's own keys.
    /// model_type, or the first of `types` when absent; fails unless it is one of them (the
    /// model_types this backend reads).
    std::string model_type(std::initializer_list<const char*> types) const;
    /// The head size width / heads; fails naming both keys when heads does not divide width.
    int head_size(int width, const char* width_key, int heads, const char* heads_key) const;
    /// head_dim when the config sets it (Llama's later configs), else hidden_size / num_attention_heads.
    int head_dim_or_split(int width, int heads) const;
    /// Fails unless num_key_value_heads divides num_attention_heads (grouped-query attention).
    void check_kv_heads(int heads, int kv_heads) const;
    /// The rotated dimensions of each head for a partial rotary `factor` read from `key`
    /// (partial_rotary_factor, rotary_pct): int(d_head * factor), as Hugging Face; fails unless
    /// factor is in (0, 1] and the count is even and at least 2. `key` null: every dimension.
    int rotary_dims(double factor, const char* key, int d_head) const;
    /// The rotated share of each head: rope_parameters.partial_rotary_factor as transformers 5
    /// writes it, else the first of `keys` present, else `fallback`; with the key it came from.
    std::pair<double, std::string> rotary_factor(std::initializer_list<const char*> keys, double fallback) const;
    /// The rotary base: rope_parameters.rope_theta as newer configs write it ({"rope_type":
    /// "default", "rope_theta": ...}), else rope_theta, else `fallback`. Fails when rope_scaling
    /// is set, or rope_parameters names another rope_type or holds a key other than rope_type,
    /// rope_theta and partial_rotary_factor: rotary embeddings are read unscaled.
    /// `what`: the scalings the family's larger models use, for the message.
    double rope_theta(double fallback, const std::string& what = "") const;

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
