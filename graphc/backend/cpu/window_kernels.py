"""Kernels of the windowed primitives on the CPU backend: im2col (convolution patches, see
graphc/passes/conv_to_dot.py) and col2im (its adjoint, for input gradients), reduce_window (max / min / sum pooling, LRN's channel sums,
AvgPoolGrad's spread), select_and_scatter_add (max pooling's gradient) and select_and_gather
(its transpose, for MaxPoolGradGrad). Semantics are the
references' in graphc/ir/primitives.py: padding holds the reduction's identity, a window's
selected element is its first maximum in row-major window order (never padding; NaN beats any
number), and a window of padding only selects nothing.

Each builder is `build(module_builder, instr)` (codegen.KERNELS).

* im2col runs one output row (a batch element's output position) per iteration: for each
  window offset it copies the C contiguous features of the input position it reads, or
  stores C zeros where that position is padding or falls between dilated elements.
* col2im runs one image per iteration (images never share output elements, so any thread
  count gives the same sums in the same order): it zeroes the image's output, then for each
  output position and window offset adds a run of contiguous patch-gradient elements into the
  output. When the last window dim is undilated, its offsets read consecutive positions, so
  one run covers the whole last window row times the features (clipped to the operand).
* reduce_window runs one output row (all dims but the last) per iteration. When the last axis
  is not windowed (pooling in NHWC: the channels), each window offset is one pass over the
  channel row, out[j] = op(out[j], x[j]), which vectorizes; otherwise each element reduces its
  window in a register.
* select_and_scatter_add accumulates into its output, so two windows that pick the same input
  element must be added by one thread in a fixed order. Along the leading dims whose windows
  cannot overlap (window <= stride: the batch, and non-overlapping pooling everywhere) windows
  never collide, so the kernel runs in parallel over those output positions and serially,
  in row-major order, over the rest: results never depend on the thread count. Pooling
  (disjoint windows of at most 16 offsets, channels not windowed) runs one source row per
  iteration, each channel choosing its maximum with selects.
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

def _clipped_run(k, q, size, width, c):
    """[lo, hi) of the run of `width` window offsets from position q (offset 0's, possibly
    outside [0, size)) that lands inside the operand, in elements of c features."""
    b = k.b
    wmax = ir.Constant(I64, width)

    def clamp(v):
        v = b.select(b.icmp_signed(">", v, k.zero), v, k.zero)
        return b.select(b.icmp_signed("<", v, wmax), v, wmax)
    first = clamp(b.sub(k.zero, q))
    last = clamp(b.sub(k.dim(size), q))
    last = b.select(b.icmp_signed("<", last, first), first, last)
    return b.mul(first, c), b.mul(last, c)


def im2col(mb, instr):
    x, out = instr.operands[0], instr.outputs[0]
    p = instr.params
    n = x.rank - 2
    window = tuple(p["window_dimensions"])
    rows = tuple(out.shape[:n + 1])
    dt = x.dtype
    # With an undilated last window dim over an undilated operand, its offsets read
    # consecutive positions: one run (clipped to the operand, zeros around) per outer offset.
    merged = 1 if p["lhs_dilation"][-1] == 1 and p["rhs_dilation"][-1] == 1 else 0
    looped = window[:n - merged]
    k = mb.kernel("im2col")
    x_ptr, out_ptr = k.buffer(), k.buffer()
    b = k.b
    c = k.dim(x.shape[-1])
    zero = const(dt, 0)
    run = b.mul(ir.Constant(I64, window[-1] if merged else 1), c)

    def fill(dst, lo, hi):
        k.loop(lo, hi, lambda j: k.store(out_ptr, dt, b.add(dst, j), zero))

    def row(r):
        o = k.index(rows, linear=r).multi

        def offset(w):
            inside = ir.Constant(I1, 1)
            pos = []
            for d in range(n):
                s, rd, ld = p["window_strides"][d], p["rhs_dilation"][d], p["lhs_dilation"][d]
                t = b.mul(o[1 + d], ir.Constant(I64, s))
                if d < len(w):
                    t = b.add(t, b.mul(w[d], ir.Constant(I64, rd)))
                t = b.sub(t, ir.Constant(I64, p["padding"][d][0]))
                pos.append(t)
                if d == len(w):
                    break  # the merged dim: clipped below
                q = b.sdiv(t, ir.Constant(I64, ld)) if ld > 1 else t
                ok = b.and_(b.icmp_signed(">=", t, k.zero),
                            b.icmp_signed("<", q, k.dim(x.shape[1 + d])))
                if ld > 1:
                    ok = b.and_(ok, b.icmp_signed("==", b.srem(t, ir.Constant(I64, ld)),
                                                  k.zero))
                inside = b.and_(inside, ok)
                pos[-1] = q
            outer = int(np.prod(looped))
            dst = b.mul(b.add(b.mul(r, ir.Constant(I64, outer)),
                              k.index(looped, multi=w).linear), run)
            with b.if_else(inside) as (copy, skip):
                with copy:
                    src = b.mul(k.index(x.shape[:-1], multi=[o[0]] + pos).linear, c)
                    lo, hi = (_clipped_run(k, pos[-1], x.shape[-2], window[-1], c) if merged
                              else (k.zero, c))
                    fill(dst, k.zero, lo)
                    k.loop(lo, hi, lambda j: k.store(out_ptr, dt, b.add(dst, j),
                                                     k.load(x_ptr, dt, b.add(src, j))))
                    fill(dst, hi, run)
                with skip:
                    fill(dst, k.zero, run)
        k.loops(looped, offset)

    k.loop(k.start, k.end, row)
    k.finish()
    mb.call(k, [mb.pointer(x), mb.pointer(out)], rows,
            int(np.prod(window)) * _work(x.shape[-1:], 1))


# ---------------------------------------------------------------- col2im

def col2im(mb, instr):
    g, out = instr.operands[0], instr.outputs[0]
    p = instr.params
    spatial = tuple(p["spatial"])
    n = len(spatial)
    positions = tuple(g.shape[1:n + 1])
    window = tuple(g.shape[n + 1:2 * n + 1])
    strides, low, dilation = p["window_strides"], p["padding_low"], p["rhs_dilation"]
    dt = g.dtype
    # With an undilated last window dim, one run spans that whole dim (see the docstring).
    merged = 1 if dilation[-1] == 1 else 0
    looped = window[:n - merged]
    k = mb.kernel("col2im")
    g_ptr, out_ptr = k.buffer(), k.buffer()
    b = k.b
    c = k.dim(g.shape[-1])
    zero = const(dt, 0)
    image_size = b.mul(k.size(spatial), c)

    def image(i):
        start = b.mul(i, image_size)
        k.loop(start, b.add(start, image_size), lambda j: k.store(out_ptr, dt, j, zero))

        def position(o):
            def offset(w):
                inside = ir.Constant(I1, 1)
                q = []
                for d in range(n):
                    t = b.mul(o[d], ir.Constant(I64, strides[d]))
                    if d < len(w):
                        t = b.add(t, b.mul(w[d], ir.Constant(I64, dilation[d])))
                    t = b.sub(t, ir.Constant(I64, low[d]))
                    if d < len(w):
                        inside = b.and_(inside, b.and_(b.icmp_signed(">=", t, k.zero),
                                                       b.icmp_signed("<", t, k.dim(spatial[d]))))
                    q.append(t)
                src = k.index(g.shape[:n + 1 + len(w)], multi=[i] + list(o) + list(w)).linear
                dst = b.mul(k.index(out.shape[:-1], multi=[i] + q).linear, c)
                if merged:
                    # q[-1] is window offset 0's position; offsets outside the operand drop.
                    span = b.mul(ir.Constant(I64, window[-1]), c)
                    src = b.mul(src, span)
                    lo_j, hi_j = _clipped_run(k, q[-1], spatial[-1], window[-1], c)
                else:
                    src = b.mul(src, c)
                    lo_j, hi_j = k.zero, c

                def add(j):
                    at = b.add(dst, j)
                    k.store(out_ptr, dt, at, b.fadd(k.load(out_ptr, dt, at),
                                                    k.load(g_ptr, dt, b.add(src, j)))
                            if is_float(dt) else
                            b.add(k.load(out_ptr, dt, at), k.load(g_ptr, dt, b.add(src, j))))
                with b.if_then(inside):
                    k.loop(lo_j, hi_j, add)
            k.loops(looped, offset)
        k.loops(positions, position)

    k.loop(k.start, k.end, image)
    k.finish()
    mb.call(k, [mb.pointer(g), mb.pointer(out)], tuple(g.shape[:1]),
            _work(g.shape[1:], 1))


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
            take = _beats(k, dt, v, cur, b.icmp_signed("<", b.load(best_at, typ=I64), k.zero))
            b.store(b.select(take, v, cur), best)
            b.store(b.select(take, at, b.load(best_at, typ=I64)), best_at)
    k.loops(window, offset)
    return best_at


def _beats(k, dt, v, cur, first):
    """Whether v replaces the window's best so far, cur (`first`: nothing selected yet)."""
    b = k.b
    if is_float(dt):
        nan_beats = b.and_(b.fcmp_unordered("uno", v, v), b.fcmp_ordered("ord", cur, cur))
        return b.or_(b.or_(first, b.fcmp_ordered(">", v, cur)), nan_beats)
    if dt == np.bool_:
        return b.or_(first, b.and_(v, b.not_(cur)))
    cmp = b.icmp_signed if dt.kind == "i" else b.icmp_unsigned
    return b.or_(first, cmp(">", v, cur))


def _scatter_channels(mb, instr, window, strides, padding, shape, src_shape):
    """select_and_scatter_add for pooling over disjoint windows that leave the last (channel)
    axis alone: one source row per iteration; its window offsets' positions are computed once
    and unrolled, and each channel picks its maximum with selects (no branches)."""
    x, source = instr.operands
    out = instr.outputs[0]
    dt = x.dtype
    k = mb.kernel("select_and_scatter_rows")
    x_ptr, s_ptr, out_ptr = k.buffer(), k.buffer(), k.buffer()
    b = k.b
    c = k.dim(shape[-1])
    rows = src_shape[:-1]

    def row(r):
        o = k.index(rows, linear=r).multi
        offsets = []
        for w in np.ndindex(*window[:-1]):
            pos, inside = _positions(k, o, [ir.Constant(I64, i) for i in w], strides, padding,
                                     shape[:-1])
            # Padding reads element 0 (never selected): every load stays in bounds.
            base = b.select(inside, b.mul(k.index(shape[:-1], multi=pos).linear, c), k.zero)
            offsets.append((base, inside))

        def channel(j):
            best, best_at = const(dt, identity("max", dt)), ir.Constant(I64, -1)
            for base, inside in offsets:
                at = b.add(base, j)
                v = k.load(x_ptr, dt, at)
                take = b.and_(inside, _beats(k, dt, v, best, b.icmp_signed("<", best_at,
                                                                          k.zero)))
                best, best_at = b.select(take, v, best), b.select(take, at, best_at)
            with b.if_then(b.icmp_signed(">=", best_at, k.zero)):
                g = k.load(s_ptr, dt, b.add(b.mul(r, c), j))
                k.store(out_ptr, dt, best_at,
                        combine(k, "sum", dt, k.load(out_ptr, dt, best_at), g, False))
        k.loop(k.zero, c, channel)

    k.loop(k.start, k.end, row)
    k.finish()
    mb.call(k, [mb.pointer(x), mb.pointer(source), mb.pointer(out)], rows,
            int(np.prod(window)) * _work(shape[-1:], 1))


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
    if free == len(shape) and len(shape) > 1 and window[-1] == strides[-1] == 1 and \
            padding[-1] == (0, 0) and np.prod(window) <= 16:
        _scatter_channels(mb, instr, window, strides, padding, shape, src_shape)
        return
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
