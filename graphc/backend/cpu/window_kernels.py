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
* Pooling in NHWC leaves the last (channel) axis unwindowed; with at most UNROLL window
  offsets, the window kernels run one output row (all dims but the channels) per iteration,
  unroll its window offsets (their operand rows computed once per row) and work on vectors of
  channels, with selects instead of branches; other windows take scalar paths.
* reduce_window: per vector of channels, the window's values combined in registers and stored
  once. Scalar paths: with the channels unwindowed, out[j] = op(out[j], x[j]) over the row per
  window offset; otherwise each element reduces its window in a register.
* select_and_scatter_add: each window picks per lane its first maximum with a compare/select
  chain. When windows never overlap (window <= stride on every axis: the common 2x2/2 pool),
  each operand element gets at most one window's value, so each window stores its source value
  at the selected lanes and 0 at its other elements: no zero-fill, no accumulation, parallel
  over windows; elements in no window (VALID remainders, strides longer than windows) are
  zeroed by a kernel that only runs when the geometry has some. Overlapping windows run one
  image per iteration (zero it, then add each window's values in row-major window order), so
  results never depend on the thread count. Scalar path (channels windowed, bool, huge
  windows): a zero-fill, then the windows run in parallel along the leading dims whose windows
  cannot overlap and serially, in row-major order, over the rest.
* select_and_gather reads only: it runs in parallel over output rows (vectors of channels:
  the selection above, then a select chain over the values) or, on the scalar path, over
  every output element."""

import numpy as np
from llvmlite import ir

from graphc.backend.cpu.kernels import combine, identity
from graphc.backend.cpu.types import I1, I64, const, is_float, mem_type, reg_type


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


# ---------------------------------------------------------------- channel vectors

VECTOR_BYTES = 32  # one AVX2 register: these kernels are memory-bound, wider buys nothing
UNROLL = 64  # most window offsets a channel-vector kernel unrolls


def _lanes(dt):
    return max(1, VECTOR_BYTES // np.dtype(dt).itemsize)


def _vector_channels(dt, window, strides, padding, shape):
    """Whether the channel-vector kernels apply: windows that leave the last axis alone (NHWC
    pooling), a dtype stored as it is held in registers (not bool), at most UNROLL offsets."""
    return len(shape) > 1 and window[-1] == strides[-1] == 1 and padding[-1] == (0, 0) and \
        np.dtype(dt) != np.bool_ and int(np.prod(window)) <= UNROLL


def _splat(dt, value, n):
    s = const(dt, value)
    return s if n == 1 else ir.Constant(ir.VectorType(s.type, n), [s.constant] * n)


def _vload(k, ptr, dt, at, n):
    """n lanes of dt from ptr[at:] (a scalar when n == 1)."""
    t = reg_type(dt) if n == 1 else ir.VectorType(reg_type(dt), n)
    return k.b.load(k.b.gep(mem_type(dt), ptr, [at]), typ=t, align=np.dtype(dt).itemsize)


def _vstore(k, ptr, dt, at, value):
    k.b.store(value, k.b.gep(mem_type(dt), ptr, [at]), align=np.dtype(dt).itemsize)


def _channel_loop(k, dt, c, body):
    """body(j, n) over the lanes [j, j + n) of a row of c channels: whole vectors of n lanes,
    then the rest one element (n = 1) at a time."""
    b = k.b
    n = _lanes(dt)
    vectors = b.udiv(c, ir.Constant(I64, n))
    k.loop(k.zero, vectors, lambda v: body(b.mul(v, ir.Constant(I64, n)), n))
    k.loop(b.mul(vectors, ir.Constant(I64, n)), c, lambda j: body(j, 1))


def _window_rows(k, o, window, strides, padding, shape, c):
    """For each window offset of output row o (row-major, unrolled): (start of the operand's
    channel row it reads, whether that row is inside the operand). A padding offset reads
    row 0, so every load stays in bounds; callers ignore what it reads."""
    b = k.b
    rows = []
    for w in np.ndindex(*window[:-1]):
        pos, inside = _positions(k, o, [ir.Constant(I64, i) for i in w], strides, padding,
                                 shape[:-1])
        rows.append((b.select(inside, b.mul(k.index(shape[:-1], multi=pos).linear, c),
                              k.zero), inside))
    return rows


def _first_max(k, dt, x_ptr, rows, j, n):
    """Per lane j..j+n-1, which of `rows` (its number, an i32) holds the window's first
    maximum (NaN beats any number; padding is never chosen), -1 for a window of padding
    only: a chain of compares and selects, no branches."""
    b = k.b
    yes, no = _splat(np.bool_, 1, n), _splat(np.bool_, 0, n)
    sel, best = _splat(np.int32, -1, n), None
    none_yet = ir.Constant(I1, 1)  # no earlier offset inside the operand (row-invariant)
    for i, (base, inside) in enumerate(rows):
        v = _vload(k, x_ptr, dt, b.add(base, j), n)
        beats = yes if best is None else _beats(k, dt, v, best)
        take = b.select(inside, b.select(none_yet, yes, beats), no)
        best = v if best is None else b.select(take, v, best)
        sel = b.select(take, _splat(np.int32, i, n), sel)
        none_yet = b.and_(none_yet, b.not_(inside))
    return sel


def _is(k, sel, i, n):
    return k.b.icmp_signed("==", sel, _splat(np.int32, i, n))


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
    vector = _vector_channels(dt, window, strides, padding, shape)

    def vector_row(r):
        c = k.dim(shape[-1])
        offsets = _window_rows(k, k.index(rows, linear=r).multi, window, strides, padding,
                               shape, c)
        base = b.mul(r, c)

        def lanes(j, n):
            pad = _splat(dt, identity(kind, dt), n)
            acc = pad
            for at, inside in offsets:
                v = _vload(k, x_ptr, dt, b.add(at, j), n)
                acc = combine(k, kind, dt, acc, b.select(inside, v, pad), False)
            _vstore(k, out_ptr, dt, b.add(base, j), acc)
        _channel_loop(k, dt, c, lanes)

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

    k.loop(k.start, k.end, vector_row if vector else row)
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
            take = b.or_(b.icmp_signed("<", b.load(best_at, typ=I64), k.zero),
                         _beats(k, dt, v, cur))
            b.store(b.select(take, v, cur), best)
            b.store(b.select(take, at, b.load(best_at, typ=I64)), best_at)
    k.loops(window, offset)
    return best_at


def _beats(k, dt, v, cur):
    """Whether v (scalars or vectors) replaces the window's best so far, cur: a greater value,
    or a NaN over a number."""
    b = k.b
    if is_float(dt):
        nan_beats = b.and_(b.fcmp_unordered("uno", v, v), b.fcmp_ordered("ord", cur, cur))
        return b.or_(b.fcmp_ordered(">", v, cur), nan_beats)
    if dt == np.bool_:
        return b.and_(v, b.not_(cur))
    cmp = b.icmp_signed if dt.kind == "i" else b.icmp_unsigned
    return cmp(">", v, cur)


def _uncovered_axes(window, strides, padding, shape, src_shape):
    """The axes (of windows that never overlap) where some operand position lies in no
    window: counted for static sizes, assumed for symbolic ones unless windows are single
    elements at stride 1."""
    axes = []
    for d, (w, s, (lo, _), n, o) in enumerate(zip(window, strides, padding, shape,
                                                  src_shape)):
        if isinstance(n, int) and isinstance(o, int):
            covered = set()
            for i in range(o):
                covered.update(range(i * s - lo, i * s - lo + w))
            if not covered.issuperset(range(n)):
                axes.append(d)
        elif not w == s == 1:
            axes.append(d)
    return axes


def _zero_uncovered(mb, out, axes, window, strides, padding, src_shape):
    """Zeroes the channel rows of out that lie in no window along one of `axes` (windows at
    most a stride long: position t is in window (t + lo) // s iff (t + lo) % s < window and
    that window exists)."""
    dt, shape = out.dtype, tuple(out.shape)
    k = mb.kernel("select_and_scatter_uncovered")
    out_ptr = k.buffer()
    b = k.b
    c = k.dim(shape[-1])

    def row(r):
        p = k.index(shape[:-1], linear=r).multi
        covered = ir.Constant(I1, 1)
        for d in axes:
            t = b.add(p[d], ir.Constant(I64, padding[d][0]))
            s = ir.Constant(I64, strides[d])
            covered = b.and_(covered, b.and_(
                b.icmp_signed("<", b.srem(t, s), ir.Constant(I64, window[d])),
                b.icmp_signed("<", b.sdiv(t, s), k.dim(src_shape[d]))))
        with b.if_then(b.not_(covered)):
            base = b.mul(r, c)
            _channel_loop(k, dt, c, lambda j, n: _vstore(k, out_ptr, dt, b.add(base, j),
                                                         _splat(dt, 0, n)))
    k.loop(k.start, k.end, row)
    k.finish()
    mb.call(k, [mb.pointer(out)], shape[:-1], _work(shape[-1:], 1))


def _scatter_disjoint(mb, instr, window, strides, padding, shape, src_shape):
    """select_and_scatter_add for windows that never overlap and leave the channels alone:
    every operand element gets at most one window's value, so each window writes its source
    value where it selects and 0 at its other elements (no zero-fill pass, no accumulation);
    elements in no window are zeroed apart. One source row per iteration, vectors of
    channels."""
    x, source = instr.operands
    out = instr.outputs[0]
    dt = x.dtype
    axes = _uncovered_axes(window, strides, padding, shape, src_shape)
    if axes:
        _zero_uncovered(mb, out, axes, window, strides, padding, src_shape)
    k = mb.kernel("select_and_scatter_disjoint")
    x_ptr, s_ptr, out_ptr = k.buffer(), k.buffer(), k.buffer()
    b = k.b
    c = k.dim(shape[-1])
    rows = src_shape[:-1]

    def row(r):
        offsets = _window_rows(k, k.index(rows, linear=r).multi, window, strides, padding,
                               shape, c)
        src_row = b.mul(r, c)

        def lanes(j, n):
            sel = _first_max(k, dt, x_ptr, offsets, j, n)
            zero = _splat(dt, 0, n)
            g = _vload(k, s_ptr, dt, b.add(src_row, j), n)
            if is_float(dt):
                g = b.fadd(g, zero)  # -0.0 becomes 0.0, as in the reference's 0 + g
            for i, (at, inside) in enumerate(offsets):
                value = b.select(_is(k, sel, i, n), g, zero)
                with b.if_then(inside):
                    _vstore(k, out_ptr, dt, b.add(at, j), value)
        _channel_loop(k, dt, c, lanes)

    k.loop(k.start, k.end, row)
    k.finish()
    mb.call(k, [mb.pointer(x), mb.pointer(source), mb.pointer(out)], rows,
            int(np.prod(window)) * _work(shape[-1:], 1))


def _scatter_images(mb, instr, window, strides, padding, shape, src_shape):
    """select_and_scatter_add for overlapping windows that leave the channels (and the batch)
    alone: one image per iteration, which zeroes its output, then adds each window's value,
    in row-major window order, where it selects and 0 at its other elements (vectors of
    channels; any thread count adds in the same order)."""
    x, source = instr.operands
    out = instr.outputs[0]
    dt = x.dtype
    k = mb.kernel("select_and_scatter_images")
    x_ptr, s_ptr, out_ptr = k.buffer(), k.buffer(), k.buffer()
    b = k.b
    c = k.dim(shape[-1])
    positions = src_shape[1:-1]

    def image(i):
        size = b.mul(k.size(shape[1:-1]), c)
        start = b.mul(i, size)
        _channel_loop(k, dt, size, lambda j, n: _vstore(k, out_ptr, dt, b.add(start, j),
                                                        _splat(dt, 0, n)))

        def position(o):
            offsets = _window_rows(k, [i] + list(o), window, strides, padding, shape, c)
            src_row = b.mul(k.index(src_shape[:-1], multi=[i] + list(o)).linear, c)

            def lanes(j, n):
                sel = _first_max(k, dt, x_ptr, offsets, j, n)
                zero = _splat(dt, 0, n)
                g = _vload(k, s_ptr, dt, b.add(src_row, j), n)
                for m, (at, inside) in enumerate(offsets):
                    value = b.select(_is(k, sel, m, n), g, zero)
                    with b.if_then(inside):
                        where = b.add(at, j)
                        _vstore(k, out_ptr, dt, where, combine(
                            k, "sum", dt, _vload(k, out_ptr, dt, where, n), value, False))
            _channel_loop(k, dt, c, lanes)
        k.loops(positions, position)

    k.loop(k.start, k.end, image)
    k.finish()
    mb.call(k, [mb.pointer(x), mb.pointer(source), mb.pointer(out)], shape[:1],
            int(np.prod(window)) * _work(src_shape[1:], 1))


def select_and_scatter_add(mb, instr):
    x, source = instr.operands
    out = instr.outputs[0]
    window, strides, padding, shape = _params(instr, x)
    src_shape = tuple(source.shape) or (1,)
    dt = x.dtype
    # Leading dims where windows are disjoint run in parallel (see the module docstring).
    free = 0
    while free < len(shape) and window[free] <= strides[free]:
        free += 1
    if _vector_channels(dt, window, strides, padding, shape):
        if free == len(shape):
            _scatter_disjoint(mb, instr, window, strides, padding, shape, src_shape)
            return
        if window[0] == strides[0] == 1 and padding[0] == (0, 0) and len(shape) > 2:
            _scatter_images(mb, instr, window, strides, padding, shape, src_shape)
            return

    zero = mb.kernel("select_and_scatter_zero")
    z_ptr = zero.buffer()
    zero.loop(zero.start, zero.end, lambda i: zero.store(z_ptr, dt, i, const(dt, 0)))
    zero.finish()
    mb.call(zero, [mb.pointer(out)], tuple(shape), 1)

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

    if _vector_channels(dt, window, strides, padding, shape):
        rows = out_shape[:-1]

        def row(r):
            c = k.dim(shape[-1])
            offsets = _window_rows(k, k.index(rows, linear=r).multi, window, strides,
                                   padding, shape, c)

            def lanes(j, n):
                sel = _first_max(k, x.dtype, x_ptr, offsets, j, n)
                result = _splat(dt, 0, n)
                for i, (at, _) in enumerate(offsets):
                    result = b.select(_is(k, sel, i, n), _vload(k, v_ptr, dt, b.add(at, j), n),
                                      result)
                _vstore(k, out_ptr, dt, b.add(b.mul(r, c), j), result)
            _channel_loop(k, dt, c, lanes)
        k.loop(k.start, k.end, row)
        k.finish()
        mb.call(k, [mb.pointer(x), mb.pointer(values), mb.pointer(out)], rows,
                int(np.prod(window)) * _work(out_shape[-1:], 1))
        return

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
