// The stablelm model plugin: Hugging Face StableLM folders (stablelm-3b-4e1t, stablelm-2-1_6b,
// stablelm-2-12b) behind laminar's ModelBackend interface.
#include "model.hpp"

LAMINAR_TRANSFORMER_PLUGIN(laminar::stablelm::Model, "stablelm", "1.0.0", "stablelm")
