// The phi model plugin: Hugging Face Phi folders (microsoft/phi-1, phi-1_5, phi-2) behind
// laminar's ModelBackend interface.
#include "model.hpp"

LAMINAR_TRANSFORMER_PLUGIN(laminar::phi::Model, "phi", "1.0.0", "phi")
