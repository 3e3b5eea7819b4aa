// The roberta model plugin: Hugging Face RoBERTa folders (roberta-base, roberta-large;
// RobertaModel or RobertaForMaskedLM) behind laminar's ModelBackend interface.
#include "model.hpp"

LAMINAR_TRANSFORMER_PLUGIN(laminar::roberta::Model, "roberta", "1.0.0", "roberta")
