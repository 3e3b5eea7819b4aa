"""The model families tools/make_model.py writes beyond gpt2, gpt_neox, the llama family and
bert: one module per family (FAMILY, TOKENIZER, config(args), weights(config, rng)), found here
by name. See tools/families/README.md for what a module provides."""
import importlib
import pkgutil

FAMILIES = {}
for _info in pkgutil.iter_modules(__path__):
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    if hasattr(_module, "FAMILY"):
        FAMILIES[_module.FAMILY] = _module
