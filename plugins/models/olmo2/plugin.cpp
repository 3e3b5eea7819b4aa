// The olmo2 model plugin: Hugging Face OLMo 2 folders (OLMo-2-1124-7B/13B, OLMo-2-0425-1B, ...)
// behind laminar's ModelBackend interface.
#include "model.hpp"

LAMINAR_TRANSFORMER_PLUGIN(laminar::olmo2::Model, "olmo2", "1.0.0", "olmo2")
