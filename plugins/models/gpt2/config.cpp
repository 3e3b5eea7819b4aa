#include "config.hpp"

#include <fstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace laminar::gpt2 {

Config Config::load(const std::filesystem::path& dir) {
    const auto file = dir / "config.json";
    std::ifstream in(file);
    if (!in) throw std::runtime_error(file.string() + ": cannot open (is " + dir.string() + " a Hugging Face model folder?)");
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        throw std::runtime_error(file.string() + ": not valid JSON: " + e.what());
    }
    auto positive = [&](const char* key) {
        if (!j.contains(key) || !j[key].is_number_integer() || j[key].get<int>() <= 0)
            throw std::runtime_error(file.string() + ": " + key + " must be a positive integer");
        return j[key].get<int>();
    };
    Config c;
    c.n_layer = positive("n_layer");
    c.n_head = positive("n_head");
    c.n_embd = positive("n_embd");
    c.n_positions = positive("n_positions");
    c.vocab_size = positive("vocab_size");
    c.n_inner = j.contains("n_inner") && !j["n_inner"].is_null() ? positive("n_inner") : 4 * c.n_embd;
    c.layer_norm_epsilon = j.value("layer_norm_epsilon", 1e-5);
    c.activation_function = j.value("activation_function", "gelu_new");
    c.scale_attn_by_inverse_layer_idx = j.value("scale_attn_by_inverse_layer_idx", false);
    if (c.n_embd % c.n_head != 0)
        throw std::runtime_error(file.string() + ": n_embd (" + std::to_string(c.n_embd) +
                                 ") is not a multiple of n_head (" + std::to_string(c.n_head) + ")");
    if (j.contains("model_type") && j["model_type"] != "gpt2")
        throw std::runtime_error(file.string() + ": model_type is " + j["model_type"].dump() + ", not \"gpt2\"");
    return c;
}

}  // namespace laminar::gpt2
