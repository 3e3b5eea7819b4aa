// The phi3 model plugin: Hugging Face Phi-3 folders (Phi-3-mini-4k-instruct, Phi-3-medium-4k, ...)
// behind laminar's ModelBackend interface.
#include "model.hpp"

LAMINAR_TRANSFORMER_PLUGIN(laminar::phi3::Model, "phi3", "1.0.0", "phi3")
