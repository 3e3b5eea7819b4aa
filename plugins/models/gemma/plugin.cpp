// The gemma model plugin: Hugging Face Gemma and Gemma 2 folders (gemma-2b/7b, gemma-2-2b/9b/27b)
// behind laminar's ModelBackend interface.
#include "model.hpp"

LAMINAR_TRANSFORMER_PLUGIN(laminar::gemma::Model, "gemma", "1.0.0", "gemma gemma2")
