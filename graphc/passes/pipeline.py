"""The pass pipeline: cleanup passes to a fixed point, then convolutions to GEMMs, dot layout,
fusion and buffer assignment. Between passes it verifies the IR; with `GRAPHC_DUMP=dir` it
writes the IR after each pass into a fresh sub-directory of `dir` (the backend adds its LLVM IR
and assembly there); a pass is skipped when named in `disable` or in `GRAPHC_DISABLE_PASSES`
(comma separated). The pipeline works on a copy: the caller's function (the interpreter's
input) is left as it was."""

import itertools
import os

from graphc.ir.verify import verify
from graphc.passes import (buffers, constant_folding, conv_to_dot, cse, dce, dot_layout, fusion,
                           simplify)
from graphc.passes.util import clone_function

CLEANUP = (simplify, constant_folding, cse, dce)
PASSES = CLEANUP + (conv_to_dot, dot_layout, fusion, buffers)
PASS_NAMES = tuple(p.name for p in PASSES)
MAX_ROUNDS = 4

_dump_ids = itertools.count()


def disabled_passes(disable=()):
    """Pass names disabled by the argument and the environment; unknown names are errors."""
    names = set(disable or ())
    names |= {n.strip() for n in os.environ.get("GRAPHC_DISABLE_PASSES", "").split(",")
              if n.strip()}
    unknown = names - set(PASS_NAMES)
    if unknown:
        raise ValueError("unknown pass %s; passes are %s" % (
            ", ".join(sorted(unknown)), ", ".join(PASS_NAMES)))
    return names


class Dumper:
    """Writes numbered files into one directory per compiled function (or nothing)."""

    def __init__(self, root, fn_name):
        self.dir = None
        self.count = itertools.count()
        if root:
            self.dir = os.path.join(root, "%s-%d-%d" % (fn_name, os.getpid(), next(_dump_ids)))
            os.makedirs(self.dir, exist_ok=True)

    def write(self, label, text):
        if self.dir:
            path = os.path.join(self.dir, "%02d-%s" % (next(self.count), label))
            with open(path, "w") as f:
                f.write(text)


def run_pipeline(fn, disable=(), dump_dir=None, check=True, scratch=None, in_place=None):
    """Optimizes a copy of `fn`; returns it with `.buffer_plan` and `.dumper` set. `scratch`
    and `in_place` are the backend's hooks for buffer assignment (graphc.passes.buffers)."""
    skip = disabled_passes(disable)
    fn = clone_function(fn)
    dumper = Dumper(dump_dir if dump_dir is not None else os.environ.get("GRAPHC_DUMP"),
                    fn.name)
    dumper.write("input.ir", str(fn))

    def apply(p, **kwargs):
        if p.name in skip:
            return False
        changed = p.run(fn, **kwargs)
        if check:
            verify(fn)
        dumper.write(p.name + ".ir", str(fn))
        return changed

    for _ in range(MAX_ROUNDS):
        if not any([apply(p) for p in CLEANUP]):
            break
    apply(conv_to_dot)  # convolutions become GEMMs before dot_layout canonicalizes the dots
    if apply(dot_layout):
        apply(simplify)
        apply(dce)
    apply(fusion)
    if buffers.name in skip:
        fn.buffer_plan = buffers.plan(fn, scratch, reuse=False, in_place=in_place)
    else:
        apply(buffers, scratch=scratch, in_place=in_place)
        dumper.write("buffers.txt", str(fn.buffer_plan))
    fn.dumper = dumper
    return fn
