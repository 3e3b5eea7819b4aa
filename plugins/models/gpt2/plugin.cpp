// The gpt2 model plugin: Hugging Face GPT-2 folders (gpt2, gpt2-medium, gpt2-large,
// distilgpt2, ...) behind laminar's ModelBackend interface.
#include "model.hpp"

LAMINAR_TRANSFORMER_PLUGIN(laminar::gpt2::Model, "gpt2", "1.1.0", "gpt2")
