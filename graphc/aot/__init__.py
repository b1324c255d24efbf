"""Ahead-of-time compilation: `graphc compile` builds a self-contained C library (shared or
static) and its header from a model file (graphc/aot/build.py), with entry points lowered
from the command line's feeds and fetches (entries.py) and a generated C API (cgen.py)."""

from graphc.aot.build import compile_library
from graphc.aot.entries import AotError, EntrySpec, split_entries

__all__ = ["AotError", "EntrySpec", "compile_library", "split_entries"]
