"""Kernels of the windowed primitives on the CPU backend: im2col (convolution patches, see
graphc/passes/conv_to_dot.py), reduce_window (max / min / sum pooling, LRN's channel sums,
AvgPoolGrad's spread), select_and_scatter_add (max pooling's gradient) and select_and_gather
(its transpose, for MaxPoolGradGrad). Semantics are the
references' in graphc/ir/primitives.py: padding holds the reduction's identity, a window's
selected element is its first maximum in row-major window order (never padding; NaN beats any
number), and a window of padding only selects nothing.

Each builder is `build(module_builder, instr)` (codegen.KERNELS).

* im2col runs one output row (a batch element's output position) per iteration: for each
  window offset it copies the C contiguous features of the input position it reads, or
  stores C zeros where that position is padding or falls between dilated elements.
* reduce_window runs one output row (all dims but the last) per iteration. When the last axis
  is not windowed (pooling in NHWC: the channels), each window offset is one pass over the
  channel row, out[j] = op(out[j], x[j]), which vectorizes; otherwise each element reduces its
  window in a register.
* select_and_scatter_add accumulates into its output, so two windows that pick the same input
  element must be added by one thread in a fixed order. Along the leading dims whose windows
  cannot overlap (window <= stride: the batch, and non-overlapping pooling everywhere) windows
  never collide, so the kernel runs in parallel over those output positions and serially,
  in row-major order, over the rest: results never depend on the thread count.
* select_and_gather reads only, so it runs in parallel over every output element."""

import numpy as np
from llvmlite import ir

from graphc.backend.cpu.kernels import combine, identity
from graphc.backend.cpu.types import I1, I64, const, is_float, reg_type


def _params(instr, x):
    """Window sizes, strides and paddings; a rank-0 operand as a one-element vector."""
    p = instr.params
    if x.rank == 0:
        return (1,), (1,), ((0, 0),), (1,)
    return (tuple(p["window_dimensions"]), tuple(p["window_strides"]), tuple(p["padding"]),
            tuple(x.shape))


def _work(shape, per_element):
    size = 1
    for d in shape:
        size *= d if isinstance(d, int) else 64
    return max(1, size * per_element)


def _positions(k, out_multi, offsets, strides, padding, shape):
    """The operand multi-index a window offset reads, and whether it is inside the operand."""
    b = k.b
    inside = ir.Constant(I1, 1)
    pos = []
    for o, w, s, (lo, _), d in zip(out_multi, offsets, strides, padding, shape):
        t = b.add(b.mul(o, ir.Constant(I64, s)), b.sub(w, ir.Constant(I64, lo)))
        inside = b.and_(inside, b.and_(b.icmp_signed(">=", t, k.zero),
                                       b.icmp_signed("<", t, k.dim(d))))
        pos.append(t)
    return pos, inside


# ---------------------------------------------------------------- im2col

def im2col(mb, instr):
    x, out = instr.operands[0], instr.outputs[0]
    p = instr.params
    n = x.rank - 2
    window = tuple(p["window_dimensions"])
    rows = tuple(out.shape[:n + 1])
    dt = x.dtype
    k = mb.kernel("im2col")
    x_ptr, out_ptr = k.buffer(), k.buffer()
    b = k.b
    c = k.dim(x.shape[-1])
    zero = const(dt, 0)

    def row(r):
        o = k.index(rows, linear=r).multi

        def offset(w):
            inside = ir.Constant(I1, 1)
            pos = []
            for d in range(n):
                s, rd, ld = p["window_strides"][d], p["rhs_dilation"][d], p["lhs_dilation"][d]
                t = b.sub(b.add(b.mul(o[1 + d], ir.Constant(I64, s)),
                                b.mul(w[d], ir.Constant(I64, rd))),
                          ir.Constant(I64, p["padding"][d][0]))
                q = b.sdiv(t, ir.Constant(I64, ld)) if ld > 1 else t
                ok = b.and_(b.icmp_signed(">=", t, k.zero),
                            b.icmp_signed("<", q, k.dim(x.shape[1 + d])))
                if ld > 1:
                    ok = b.and_(ok, b.icmp_signed("==", b.srem(t, ir.Constant(I64, ld)),
                                                  k.zero))
                inside = b.and_(inside, ok)
                pos.append(q)
            dst = b.mul(b.add(b.mul(r, ir.Constant(I64, int(np.prod(window)))),
                              k.index(window, multi=w).linear), c)
            with b.if_else(inside) as (copy, fill):
                with copy:
                    src = b.mul(k.index(x.shape[:-1], multi=[o[0]] + pos).linear, c)
                    k.loop(k.zero, c, lambda j: k.store(out_ptr, dt, b.add(dst, j),
                                                        k.load(x_ptr, dt, b.add(src, j))))
                with fill:
                    k.loop(k.zero, c, lambda j: k.store(out_ptr, dt, b.add(dst, j), zero))
        k.loops(window, offset)

    k.loop(k.start, k.end, row)
    k.finish()
    mb.call(k, [mb.pointer(x), mb.pointer(out)], rows,
            int(np.prod(window)) * _work(x.shape[-1:], 1))


# ---------------------------------------------------------------- reduce_window

def reduce_window(mb, instr):
    x, out = instr.operands[0], instr.outputs[0]
    kind = instr.params["kind"]
    window, strides, padding, shape = _params(instr, x)
    out_shape = tuple(out.shape) or (1,)
    dt = x.dtype
    k = mb.kernel("reduce_window")
    x_ptr, out_ptr = k.buffer(), k.buffer()
    b = k.b
    init = const(dt, identity(kind, dt))
    rows = out_shape[:-1]
    channels = window[-1] == 1 and strides[-1] == 1 and padding[-1] == (0, 0)

    def row(r):
        o = k.index(rows, linear=r).multi
        if channels:
            c = k.dim(shape[-1])
            base = b.mul(r, c)
            k.loop(k.zero, c, lambda j: k.store(out_ptr, dt, b.add(base, j), init))

            def offset(w):
                pos, inside = _positions(k, o, w, strides, padding, shape[:-1])
                with b.if_then(inside):
                    src = b.mul(k.index(shape[:-1], multi=pos).linear, c)

                    def element(j):
                        at = b.add(base, j)
                        v = combine(k, kind, dt, k.load(out_ptr, dt, at),
                                    k.load(x_ptr, dt, b.add(src, j)), False)
                        k.store(out_ptr, dt, at, v)
                    k.loop(k.zero, c, element)
            k.loops(window[:-1], offset)
            return
        acc = k.alloca(reg_type(dt))

        def element(j):
            b.store(init, acc)

            def offset(w):
                pos, inside = _positions(k, o + [j], w, strides, padding, shape)
                with b.if_then(inside):
                    v = k.load(x_ptr, dt, k.index(shape, multi=pos).linear)
                    b.store(combine(k, kind, dt, b.load(acc, typ=v.type), v, False), acc)
            k.loops(window, offset)
            k.store(out_ptr, dt, b.add(b.mul(r, k.dim(out_shape[-1])), j),
                    b.load(acc, typ=reg_type(dt)))
        k.loop(k.zero, k.dim(out_shape[-1]), element)

    k.loop(k.start, k.end, row)
    k.finish()
    per_row = int(np.prod(window)) * _work(out_shape[-1:], 1)
    mb.call(k, [mb.pointer(x), mb.pointer(out)], rows, per_row)


# ---------------------------------------------------------------- max selection

def _select(k, x_ptr, x, out_multi, window, strides, padding, shape):
    """Emits the search of one window: returns an i64 alloca holding the linear operand index
    of the window's first maximum (-1 for a window of padding only)."""
    b = k.b
    dt = x.dtype
    best = k.alloca(reg_type(dt))
    best_at = k.alloca(I64)
    b.store(const(dt, identity("max", dt)), best)
    b.store(ir.Constant(I64, -1), best_at)

    def offset(w):
        pos, inside = _positions(k, out_multi, w, strides, padding, shape)
        with b.if_then(inside):
            at = k.index(shape, multi=pos).linear
            v = k.load(x_ptr, dt, at)
            cur = b.load(best, typ=v.type)
            take = b.icmp_signed("<", b.load(best_at, typ=I64), k.zero)
            if is_float(dt):
                take = b.or_(take, b.fcmp_ordered(">", v, cur))
                nan_beats = b.and_(b.fcmp_unordered("uno", v, v), b.fcmp_ordered("ord", cur, cur))
                take = b.or_(take, nan_beats)
            elif dt == np.bool_:
                take = b.or_(take, b.and_(v, b.not_(cur)))
            else:
                cmp = b.icmp_signed if dt.kind == "i" else b.icmp_unsigned
                take = b.or_(take, cmp(">", v, cur))
            b.store(b.select(take, v, cur), best)
            b.store(b.select(take, at, b.load(best_at, typ=I64)), best_at)
    k.loops(window, offset)
    return best_at


def select_and_scatter_add(mb, instr):
    x, source = instr.operands
    out = instr.outputs[0]
    window, strides, padding, shape = _params(instr, x)
    src_shape = tuple(source.shape) or (1,)
    dt = x.dtype

    zero = mb.kernel("select_and_scatter_zero")
    z_ptr = zero.buffer()
    zero.loop(zero.start, zero.end, lambda i: zero.store(z_ptr, dt, i, const(dt, 0)))
    zero.finish()
    mb.call(zero, [mb.pointer(out)], tuple(shape), 1)

    # Leading dims where windows are disjoint run in parallel (see the module docstring).
    free = 0
    while free < len(shape) and window[free] <= strides[free]:
        free += 1
    outer, inner = src_shape[:free], src_shape[free:]
    k = mb.kernel("select_and_scatter_add")
    x_ptr, s_ptr, out_ptr = k.buffer(), k.buffer(), k.buffer()
    b = k.b

    def part(i):
        prefix = k.index(outer, linear=i).multi

        def window_at(rest):
            o = prefix + list(rest)
            best_at = _select(k, x_ptr, x, o, window, strides, padding, shape)
            at = b.load(best_at, typ=I64)
            with b.if_then(b.icmp_signed(">=", at, k.zero)):
                v = k.load(s_ptr, dt, k.index(src_shape, multi=o).linear)
                k.store(out_ptr, dt, at, combine(k, "sum", dt, k.load(out_ptr, dt, at), v,
                                                 False))
        k.loops(inner, window_at)

    k.loop(k.start, k.end, part)
    k.finish()
    per = int(np.prod(window)) * _work(inner, 1)
    mb.call(k, [mb.pointer(x), mb.pointer(source), mb.pointer(out)], outer, per)


def select_and_gather(mb, instr):
    x, values = instr.operands
    out = instr.outputs[0]
    window, strides, padding, shape = _params(instr, x)
    out_shape = tuple(out.shape) or (1,)
    dt = values.dtype
    k = mb.kernel("select_and_gather")
    x_ptr, v_ptr, out_ptr = k.buffer(), k.buffer(), k.buffer()
    b = k.b

    def element(i):
        o = k.index(out_shape, linear=i).multi
        at = b.load(_select(k, x_ptr, x, o, window, strides, padding, shape), typ=I64)
        result = k.alloca(reg_type(dt))
        b.store(const(dt, 0), result)
        with b.if_then(b.icmp_signed(">=", at, k.zero)):
            b.store(k.load(v_ptr, dt, at), result)
        k.store(out_ptr, dt, i, b.load(result, typ=reg_type(dt)))

    k.loop(k.start, k.end, element)
    k.finish()
    mb.call(k, [mb.pointer(x), mb.pointer(values), mb.pointer(out)], out_shape,
                  int(np.prod(window)))
