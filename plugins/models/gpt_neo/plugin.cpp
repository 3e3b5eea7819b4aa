// The gpt_neo model plugin: Hugging Face GPT-Neo folders (gpt-neo-125M to 2.7B, the
// TinyStories models) behind laminar's ModelBackend interface.
#include "model.hpp"

LAMINAR_TRANSFORMER_PLUGIN(laminar::gpt_neo::Model, "gpt_neo", "1.0.0", "gpt_neo")
