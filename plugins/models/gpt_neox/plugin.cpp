// The gpt_neox model plugin: Hugging Face GPT-NeoX folders (the Pythia suite, GPT-NeoX-20B)
// behind laminar's ModelBackend interface.
#include "model.hpp"

LAMINAR_TRANSFORMER_PLUGIN(laminar::gpt_neox::Model, "gpt_neox", "1.0.0", "gpt_neox")
