// The opt model plugin: Hugging Face OPT folders (facebook/opt-125m to opt-66b, opt-350m's
// post-LayerNorm blocks and projected embeddings) behind laminar's ModelBackend interface.
#include "model.hpp"

LAMINAR_TRANSFORMER_PLUGIN(laminar::opt::Model, "opt", "1.0.0", "opt")
