"""Algebraic simplification: rewrites that remove work without changing results.

x+0, x-0, x*1, x/1 (0 and 1 as constants or broadcasts of one), neg(neg x), not(not x);
reshape/convert/transpose/broadcast to the operand's own type; reshape of reshape; transpose of
transpose; a mask on max pooling's input applied after its gradient (relu's gradient through
the pool) moves to the pooled gradient (`_masked_pool_gradient`). The rewritten instruction is
left for DCE."""

import numpy as np

from graphc.ir.builder import Builder
from graphc.ir.core import Function, Instr, Value
from graphc.passes.util import result_ids, scalar_constant, users

name = "simplify"


def _is(v, number):
    c = scalar_constant(v)
    return c is not None and c.dtype != np.bool_ and c == number


def _replacement(instr):
    """The existing value `instr`'s output equals, or None."""
    op, args = instr.op, instr.operands
    out = instr.outputs[0]
    same = [a for a in args if (a.dtype, a.shape) == (out.dtype, out.shape)]
    if op == "add":
        if _is(args[1], 0) and args[0] in same:
            return args[0]
        if _is(args[0], 0) and args[1] in same:
            return args[1]
    elif op == "sub" and _is(args[1], 0):
        return args[0]
    elif op == "mul":
        if _is(args[1], 1):
            return args[0]
        if _is(args[0], 1):
            return args[1]
    elif op == "div" and _is(args[1], 1):
        return args[0]
    elif op in ("neg", "not"):
        inner = args[0].producer
        if inner is not None and inner.op == op:
            return inner.operands[0]
    elif op in ("reshape", "convert", "transpose", "broadcast_in_dim"):
        if (args[0].dtype, args[0].shape) == (out.dtype, out.shape) and (
                op != "transpose" or instr.params["perm"] == tuple(range(out.rank))):
            return args[0]
    return None


def _combine(instr):
    """A new instruction replacing a chain of two, or None."""
    inner = instr.operands[0].producer if instr.operands else None
    if inner is None or inner.op != instr.op:
        return None
    if instr.op == "reshape":
        return Instr("reshape", [inner.operands[0]], dict(instr.params), [])
    if instr.op == "transpose":
        first, second = inner.params["perm"], instr.params["perm"]
        return Instr("transpose", [inner.operands[0]],
                     {"perm": tuple(first[p] for p in second)}, [])
    return None


_COMPARES = ("eq", "ne", "lt", "le", "gt", "ge")


def _masked_pool_gradient(instr, uses, results):
    """select(cmp(x, c), select_and_scatter_add(x, g), 0) -> instructions computing
    select_and_scatter_add(x, select(cmp(reduce_window_max(x), c), g, 0)), or None. The
    scatter adds each window's g at its first maximum, where x is the window's max, and puts
    +0.0 everywhere else, so the mask reads the same at the pooled size and the result has the
    same bits; the max is max pooling's own output (CSE), so a full pass over the input goes."""
    if instr.op != "select":
        return None
    pred, scattered, zero = instr.operands
    sas, cmp = scattered.producer, pred.producer
    if sas is None or sas.op != "select_and_scatter_add" or cmp is None or \
            cmp.op not in _COMPARES or len(uses.get(scattered.id, ())) != 1 or \
            scattered.id in results:
        return None
    x, g = sas.operands
    z = scalar_constant(zero)
    if x.dtype == np.bool_ or z is None or z != 0 or np.signbit(z) or \
            x not in cmp.operands or zero.dtype != x.dtype:
        return None
    side = cmp.operands.index(x)
    c = scalar_constant(cmp.operands[1 - side])
    if c is None:
        return None
    scratch = Function("masked_pool_gradient")
    b = Builder(scratch)
    window = {k: sas.params[k] for k in ("window_dimensions", "window_strides", "padding")}
    top = b.emit1("reduce_window", x, kind="max", **window)
    bound = b.full(c, cmp.operands[1 - side].dtype, top.shape)
    mask = b.emit1(cmp.op, *((top, bound) if side == 0 else (bound, top)))
    masked = b.emit1("select", mask, g, b.full(z, g.dtype, g.shape))
    b.emit1("select_and_scatter_add", x, masked, **window)
    return scratch.body


def run(fn):
    changed = False
    subst = {}  # value id -> the value replacing it
    body = []
    uses, results = users(fn), result_ids(fn)
    for instr in fn.body:
        instr.operands = [subst.get(o.id, o) for o in instr.operands]
        body.append(instr)
        if instr.op == "constant" or len(instr.outputs) != 1:
            continue
        out = instr.outputs[0]
        new = _replacement(instr)
        if new is None:
            added = _masked_pool_gradient(instr, uses, results)
            if added:
                body.extend(added)
                new = added[-1].outputs[0]
        if new is None:
            combined = _combine(instr)
            if combined is not None:
                combined.outputs = [Value(out.dtype, out.shape, producer=combined,
                                          hint=out.hint)]
                body.append(combined)
                new = _replacement(combined) or combined.outputs[0]
        if new is not None:
            subst[out.id] = new
            changed = True
    fn.body = body
    fn.fetches = [subst.get(v.id, v) for v in fn.fetches]
    fn.state_out = [None if v is None else subst.get(v.id, v) for v in fn.state_out]
    return changed
