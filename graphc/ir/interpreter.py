"""The numpy interpreter of the core IR: the project's oracle and its fallback executor. It runs
each instruction's reference implementation in program order."""

import numpy as np

from graphc.ir.primitives import PRIMITIVES
from graphc.ir.shapes import bind


def interpret(fn, feeds, state, dims=None):
    """Evaluates `fn`. Returns (fetch values, new state values or None per slot); pure."""
    env = {}
    dims = dims or {}
    for v, a in zip(fn.params, list(feeds) + list(state)):
        env[v.id] = a
    for instr in fn.body:
        prim = PRIMITIVES[instr.op]
        params = {k: bind(p, dims) for k, p in instr.params.items()} if dims else instr.params
        outs = prim.reference(*[env[o.id] for o in instr.operands], **params)
        outs = outs if prim.num_outputs > 1 or len(instr.outputs) > 1 else [outs]
        for v, a in zip(instr.outputs, outs):
            env[v.id] = np.asarray(a, dtype=v.dtype)
    fetches = [env[v.id] for v in fn.fetches]
    new_state = [None if v is None else env[v.id] for v in fn.state_out]
    return fetches, new_state
