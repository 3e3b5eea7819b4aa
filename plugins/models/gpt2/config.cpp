#include "config.hpp"

#include "config_json.hpp"

namespace laminar::gpt2 {

Config Config::load(const std::filesystem::path& dir) {
    const auto j = models::ConfigJson::load(dir);
    Config c;
    c.model_type = j.model_type({"gpt2"});
    c.n_layer = j.positive({"n_layer"});
    c.n_head = c.n_kv_head = j.positive({"n_head"});
    c.d_model = j.positive({"n_embd"});
    c.max_positions = j.positive({"n_positions"});
    c.vocab_size = j.positive({"vocab_size"});
    c.d_mlp = j.positive_or({"n_inner"}, 0);
    if (c.d_mlp == 0) {  // null or absent: 4 * n_embd, which must itself be a width
        if (c.d_model > (1 << 29)) j.fail("n_embd " + std::to_string(c.d_model) + " is too large (4 * n_embd is the MLP width)");
        c.d_mlp = 4 * c.d_model;
    }
    c.layer_norm_epsilon = j.positive_number_or({"layer_norm_epsilon"}, 1e-5);
    c.activation_function = j.string_or("activation_function", "gelu_new");
    c.scale_attn_by_inverse_layer_idx = j.flag_or("scale_attn_by_inverse_layer_idx", false);
    models::check_activation(c.activation_function, j.file());
    c.d_head = j.head_size(c.d_model, "n_embd", c.n_head, "n_head");
    return c;
}

}  // namespace laminar::gpt2
