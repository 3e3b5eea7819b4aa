// The llama model plugin: Hugging Face Llama, Mistral and Qwen2 folders (TinyLlama, Llama-2/3,
// Mistral-7B, Qwen2-0.5B, ...) behind laminar's ModelBackend interface.
#include "model.hpp"

namespace laminar::llama {

class LlamaBackend : public models::TransformerBackend {
public:
    LlamaBackend() : TransformerBackend([](const std::filesystem::path& dir) { return std::make_unique<Model>(dir); }) {}
};

constexpr const char* kSchema = R"({
  "type": "object", "additionalProperties": false, "properties": {},
  "description": "the llama backend takes no options: everything comes from the model folder"
})";

}  // namespace laminar::llama

LAMINAR_MODEL_PLUGIN(laminar::llama::LlamaBackend, "llama", "1.0.0", laminar::llama::kSchema, "llama mistral qwen2")
