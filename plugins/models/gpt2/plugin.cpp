// The gpt2 model plugin: Hugging Face GPT-2 folders (gpt2, gpt2-medium, gpt2-large,
// distilgpt2, ...) behind laminar's ModelBackend interface.
#include "model.hpp"

namespace laminar::gpt2 {

class Gpt2Backend : public models::TransformerBackend {
public:
    Gpt2Backend() : TransformerBackend([](const std::filesystem::path& dir) { return std::make_unique<Model>(dir); }) {}
};

constexpr const char* kSchema = R"({
  "type": "object", "additionalProperties": false, "properties": {},
  "description": "the gpt2 backend takes no options: everything comes from the model folder"
})";

}  // namespace laminar::gpt2

LAMINAR_MODEL_PLUGIN(laminar::gpt2::Gpt2Backend, "gpt2", "1.1.0", laminar::gpt2::kSchema, "gpt2")
