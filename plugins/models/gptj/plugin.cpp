// The gptj model plugin: Hugging Face GPT-J folders (EleutherAI/gpt-j-6B and models of its
// layout) behind laminar's ModelBackend interface.
#include "model.hpp"

LAMINAR_TRANSFORMER_PLUGIN(laminar::gptj::Model, "gptj", "1.0.0", "gptj")
