"""The package's version: the same as the `laminar` command line's (tests/results checks it)."""
__version__ = "0.2.0"
