// The bert model plugin: Hugging Face BERT folders (bert-base-uncased, ...; BertModel or
// BertForMaskedLM) behind laminar's ModelBackend interface.
#include "model.hpp"

LAMINAR_TRANSFORMER_PLUGIN(laminar::bert::Model, "bert", "1.0.0", "bert")
