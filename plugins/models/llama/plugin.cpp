// The llama model plugin: Hugging Face Llama, Mistral and Qwen2 folders (TinyLlama, Llama-2/3,
// Mistral-7B, Qwen2-0.5B, ...) behind laminar's ModelBackend interface.
#include "model.hpp"

LAMINAR_TRANSFORMER_PLUGIN(laminar::llama::Model, "llama", "1.0.0", "llama mistral qwen2")
