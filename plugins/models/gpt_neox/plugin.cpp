// The gpt_neox model plugin: Hugging Face GPT-NeoX folders (the Pythia suite, GPT-NeoX-20B)
// behind laminar's ModelBackend interface.
#include "model.hpp"

namespace laminar::gpt_neox {

class GptNeoxBackend : public models::TransformerBackend {
public:
    GptNeoxBackend() : TransformerBackend([](const std::filesystem::path& dir) { return std::make_unique<Model>(dir); }) {}
};

constexpr const char* kSchema = R"({
  "type": "object", "additionalProperties": false, "properties": {},
  "description": "the gpt_neox backend takes no options: everything comes from the model folder"
})";

}  // namespace laminar::gpt_neox

LAMINAR_MODEL_PLUGIN(laminar::gpt_neox::GptNeoxBackend, "gpt_neox", "1.0.0", laminar::gpt_neox::kSchema, "gpt_neox")
