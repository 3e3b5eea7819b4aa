// The distilbert model plugin: Hugging Face DistilBERT folders (distilbert-base-uncased, ...;
// DistilBertModel or DistilBertForMaskedLM) behind laminar's ModelBackend interface.
#include "model.hpp"

LAMINAR_TRANSFORMER_PLUGIN(laminar::distilbert::Model, "distilbert", "1.0.0", "distilbert")
