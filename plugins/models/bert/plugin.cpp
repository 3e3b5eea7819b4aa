// The bert model plugin: Hugging Face BERT folders (bert-base-uncased, ...; BertModel or
// BertForMaskedLM) behind laminar's ModelBackend interface.
#include "model.hpp"

namespace laminar::bert {

class BertBackend : public models::TransformerBackend {
public:
    BertBackend() : TransformerBackend([](const std::filesystem::path& dir) { return std::make_unique<Model>(dir); }) {}
};

constexpr const char* kSchema = R"({
  "type": "object", "additionalProperties": false, "properties": {},
  "description": "the bert backend takes no options: everything comes from the model folder"
})";

}  // namespace laminar::bert

LAMINAR_MODEL_PLUGIN(laminar::bert::BertBackend, "bert", "1.0.0", laminar::bert::kSchema, "bert")
