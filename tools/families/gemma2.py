"""Gemma 2 (google/gemma-2-2b, gemma-2-9b) as Gemma2ForCausalLM's save_pretrained writes it:
Gemma's layout plus pre_feedforward_layernorm and post_feedforward_layernorm in every block, and
the soft-capping, query_pre_attn_scalar and sliding-window fields of its config. The tokenizer
is Mistral-7B's (../shared/tokenizers/mistral), standing in for Gemma's."""
from . import gemma

FAMILY = "gemma2"


def config(args):
    c = gemma.config(args)
    c.update({"architectures": ["Gemma2ForCausalLM"], "model_type": "gemma2", "hidden_act": "gelu_pytorch_tanh",
              "query_pre_attn_scalar": 16, "attn_logit_softcapping": 50.0, "final_logit_softcapping": 30.0,
              "sliding_window": 4096, "cache_implementation": "hybrid"})
    return c


def weights(config, normal):
    return gemma.weights(config, normal, post_norms=True)


def tokenizer(out, shared):
    gemma.tokenizer(out, shared)
