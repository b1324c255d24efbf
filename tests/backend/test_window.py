"""reduce_window, select_and_scatter_add and select_and_gather compiled vs the interpreter: a
derandomized property sweep over window geometry (windows on any axis, the channel axis
included; strides; padding; overlapping and disjoint windows), dtypes, ties (the first maximum
wins) and NaN; the TF pooling ops built on them (MaxPool, AvgPool, their gradients,
MaxPoolGradGrad); finite-difference gradients on the compiled backend; thread-count
independence of the accumulating max-pool gradient. A second sweep targets the channel-vector
kernels (windows that leave the last axis alone; for select_and_scatter_add, windows that
never overlap, or per image when they do): channel counts around the vector width, ties,
NaN, -0.0, padding, positions in no window (VALID remainders, strides longer than windows),
1 vs 2 threads. A mask on max pooling's input after its gradient (relu's) moves to the pooled
size in simplify: checked for the same bits and for the full-size select gone."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphc
from graphc.backend.cpu import window_kernels
from graphc.backend.cpu.executable import CompiledExecutable
from graphc.ir import interpret
from graphc.ir.primitives import _window_dim
from graphc.ir.shapes import SymDim
from tests.backend.helpers import check, data, function
from tests.backend.test_conv import compiled_check_gradients, run_both_backends

SWEEP = settings(max_examples=20, deadline=None, derandomize=True,
                 suppress_health_check=list(HealthCheck))


@st.composite
def geometries(draw):
    """(shape, window, strides, padding) over ranks 1-4; each dim is windowed or not."""
    rank = draw(st.integers(1, 4))
    shape, window, strides, padding = [], [], [], []
    for _ in range(rank):
        d = draw(st.integers(1, 7))
        k = draw(st.integers(1, 4))
        lo, hi = draw(st.integers(0, 2)), draw(st.integers(0, 2))
        if k > 1 and draw(st.booleans()):
            lo, hi = min(lo, k - 1), min(hi, k - 1)
        if (d + lo + hi) < k:
            hi = k - d - lo
        shape.append(d)
        window.append(k)
        strides.append(draw(st.integers(1, 3)))
        padding.append((lo, hi))
    return tuple(shape), tuple(window), tuple(strides), tuple(padding)


def _out_shape(shape, window, strides, padding):
    return tuple(_window_dim(d, k, s, lo, hi) for d, k, s, (lo, hi) in
                 zip(shape, window, strides, padding))


def _values(dtype, shape, seed):
    """Data with ties (ints in a small range) and, for floats, a NaN and infinities."""
    x = data(dtype, shape, seed, scale=2.0)
    if np.dtype(dtype).kind in "iu":
        return (x % 3).astype(dtype)
    flat = x.reshape(-1)
    if flat.size > 3:
        flat[seed % flat.size] = np.nan
        flat[(seed + 1) % flat.size] = -np.inf
        flat[(seed + 2) % flat.size] = flat[(seed + 3) % flat.size]  # a tie
    return x


@SWEEP
@given(geometries(), st.sampled_from([np.float32, np.float64, np.int32]), st.integers(0, 99))
def test_window_primitives_sweep(geometry, dtype, seed):
    shape, window, strides, padding = geometry
    params = dict(window_dimensions=window, window_strides=strides, padding=padding)
    x = _values(dtype, shape, seed)
    src = data(dtype, _out_shape(*geometry), seed + 1, scale=2.0)
    vals = data(dtype, shape, seed + 2, scale=2.0)

    def build(b, x, src, vals):
        outs = [b.emit1("reduce_window", x, kind=k, **params) for k in ("max", "min", "sum")]
        return outs + [b.emit1("select_and_scatter_add", x, src, **params),
                       b.emit1("select_and_gather", x, vals, **params)]
    check(build, [x, src, vals], rtol=1e-5 if dtype == np.float32 else None,
          atol=1e-5 if dtype == np.float32 else None)


def test_channel_windows_and_symbolic_batch():
    # LRN's window over the channels, and pooling over a symbolic batch dim N.
    x = data(np.float32, (3, 4, 5, 9), 1)
    check(lambda b, x: b.emit1("reduce_window", x, kind="sum", window_dimensions=(1, 1, 1, 5),
                               window_strides=(1, 1, 1, 1), padding=((0, 0),) * 3 + ((2, 2),)),
          [x], rtol=1e-5, atol=1e-5)
    n = SymDim("N")
    pool = dict(window_dimensions=(1, 3, 3, 1), window_strides=(1, 2, 2, 1),
                padding=((0, 0), (1, 1), (1, 1), (0, 0)))

    def build(b, x, g):
        return [b.emit1("reduce_window", x, kind="max", **pool),
                b.emit1("select_and_scatter_add", x, g, **pool)]
    fn = function(build, [(np.float32, (n, 4, 5, 9)), (np.float32, (n, 2, 3, 9))], dims=["N"])
    exe = CompiledExecutable(fn)
    for batch in (1, 3):
        xs, gs = data(np.float32, (batch, 4, 5, 9), batch), data(np.float32, (batch, 2, 3, 9))
        want, _ = interpret(fn, [xs, gs], [], {"N": batch})
        for got, w in zip(exe.run([xs, gs], [], dims={"N": batch}), want):
            np.testing.assert_allclose(got, w, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_pooling_gradient_channel_rows(dtype):
    # select_and_scatter_add's pooling kernel (disjoint windows, channels not windowed): NaN,
    # ties, padding-only windows.
    x = _values(dtype, (2, 5, 7, 3), 7)
    params = dict(window_dimensions=(1, 2, 2, 1), window_strides=(1, 2, 3, 1),
                  padding=((0, 0), (0, 1), (2, 1), (0, 0)))
    g = data(dtype, _out_shape(x.shape, **{"window": (1, 2, 2, 1), "strides": (1, 2, 3, 1),
                                           "padding": params["padding"]}), 8)
    check(lambda b, x, g: b.emit1("select_and_scatter_add", x, g, **params), [x, g])


def test_overlapping_max_pool_gradient_independent_of_threads():
    # 3x3 windows at stride 2 overlap: the scatter accumulates serially per image.
    x = np.round(data(np.float32, (3, 33, 31, 16), 4), 1)  # many ties
    g = data(np.float32, (3, 16, 15, 16), 5)
    params = dict(window_dimensions=(1, 3, 3, 1), window_strides=(1, 2, 2, 1),
                  padding=((0, 0), (0, 0), (0, 0), (0, 0)))
    exe = check(lambda b, x, g: b.emit1("select_and_scatter_add", x, g, **params), [x, g])
    one = exe.run([x, g], [], num_threads=1)[0]
    for threads in (2, 5):
        assert exe.run([x, g], [], num_threads=threads)[0].tobytes() == one.tobytes()


# ---------------------------------------------------------------- channel-vector kernels

@st.composite
def channel_pools(draw):
    """(shape, window, strides, padding) of windows that leave the last axis alone: the
    kernels' vector paths. Half of them never overlap (stride >= window; remainders and gaps
    included); the others may, except along the batch axis."""
    rank = draw(st.integers(2, 4))
    disjoint = draw(st.booleans())
    shape, window, strides, padding = [], [], [], []
    for axis in range(rank - 1):
        k = draw(st.integers(1, 3)) if axis or disjoint else 1
        s = draw(st.integers(k if disjoint or not axis else 1, k + 2))
        lo, hi = draw(st.integers(0, k - 1)), draw(st.integers(0, k - 1))
        shape.append(draw(st.integers(max(1, k - lo - hi), 8)))
        window.append(k)
        strides.append(s)
        padding.append((lo, hi))
    # Channels: below, at and past one vector of every dtype (4 or 8 lanes).
    shape.append(draw(st.sampled_from([1, 3, 4, 5, 8, 9, 13, 16, 19])))
    return (tuple(shape), tuple(window) + (1,), tuple(strides) + (1,),
            tuple(padding) + ((0, 0),))


def _tied(dtype, shape, seed):
    """Values drawn from a few, so windows tie often; floats add NaN, -inf and -0.0."""
    r = np.random.RandomState(seed)
    pool = [-1, 0, 2] if np.dtype(dtype).kind in "iu" else \
        [np.nan, -np.inf, -1.0, -0.0, 0.0, 2.0, 2.0, 3.0]
    return np.array(pool, dtype=dtype)[r.randint(0, len(pool), size=shape)]


def _same_bits(got, want):
    """Equal values, NaN where NaN, and zeros of the same sign."""
    np.testing.assert_array_equal(got, want)
    if got.dtype.kind == "f":
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


@settings(SWEEP, max_examples=30)
@given(channel_pools(), st.sampled_from([np.float32, np.float64, np.int32]),
       st.integers(0, 99))
def test_channel_vector_kernels_sweep(geometry, dtype, seed):
    shape, window, strides, padding = geometry
    # The geometry takes the channel-vector paths (the sweep exists for them).
    assert window_kernels._vector_channels(np.dtype(dtype), window, strides, padding, shape)
    params = dict(window_dimensions=window, window_strides=strides, padding=padding)
    x = _tied(dtype, shape, seed)
    src = _tied(dtype, _out_shape(*geometry), seed + 1)
    vals = data(dtype, shape, seed + 2, scale=2.0)

    def build(b, x, src, vals):
        outs = [b.emit1("reduce_window", x, kind=k, **params) for k in ("max", "min", "sum")]
        return outs + [b.emit1("select_and_scatter_add", x, src, **params),
                       b.emit1("select_and_gather", x, vals, **params)]
    feeds = [x, src, vals]
    fn = function(build, feeds)
    exe = CompiledExecutable(fn)
    want, _ = interpret(fn, feeds, [])
    one = exe.run(feeds, [], num_threads=1)
    for got, w in zip(one, want):
        if np.dtype(dtype).kind == "f":
            np.testing.assert_allclose(got, w, rtol=1e-6, equal_nan=True)
        else:
            np.testing.assert_array_equal(got, w)
    # The scatter and gather move values (sums of a few small integers, exact in any order):
    # bit for bit the reference's, -0.0 included.
    _same_bits(one[3], want[3])
    _same_bits(one[4], want[4])
    for got, first in zip(exe.run(feeds, [], num_threads=2), one):
        assert got.tobytes() == first.tobytes()


@pytest.mark.parametrize("geometry", [
    # 2x2/2 VALID over odd sizes: the last row and column are in no window.
    ((2, 7, 5, 9), (1, 2, 2, 1), (1, 2, 2, 1), ((0, 0), (0, 0), (0, 0), (0, 0))),
    # windows shorter than their strides leave gaps; padding on one side.
    ((3, 9, 8, 6), (1, 2, 1, 1), (1, 3, 2, 1), ((0, 0), (1, 0), (0, 0), (0, 0))),
])
def test_scatter_zeroes_positions_in_no_window(geometry):
    shape, window, strides, padding = geometry
    out = _out_shape(*geometry)
    assert window_kernels._uncovered_axes(window, strides, padding, shape, out)
    params = dict(window_dimensions=window, window_strides=strides, padding=padding)
    x, g = _tied(np.float32, shape, 3), data(np.float32, out, 4) + 10  # no zero gradients
    exe = CompiledExecutable(function(
        lambda b, x, g: b.emit1("select_and_scatter_add", x, g, **params), [x, g]))
    # Fetch buffers are fresh memory: fill the arena with garbage the kernel must overwrite.
    got = np.full(shape, np.nan, np.float32)
    assert exe.entry([x, g], [got], [], np.full(1 << 16, 0xff, np.uint8), None, None) == 0
    want, _ = interpret(exe.fn, [x, g], [])
    _same_bits(got, want[0])
    assert (got == 0).sum() >= x.size - g.size  # every element of no window is 0


def test_disjoint_pool_gradient_symbolic_batch():
    n = SymDim("N")
    pool = dict(window_dimensions=(1, 2, 2, 1), window_strides=(1, 2, 2, 1),
                padding=((0, 0), (0, 1), (0, 1), (0, 0)))

    def build(b, x, g):
        return [b.emit1("select_and_scatter_add", x, g, **pool),
                b.emit1("reduce_window", x, kind="max", **pool)]
    fn = function(build, [(np.float32, (n, 5, 5, 11)), (np.float32, (n, 3, 3, 11))],
                  dims=["N"])
    exe = CompiledExecutable(fn)
    for batch in (1, 4):
        xs, gs = _tied(np.float32, (batch, 5, 5, 11), batch), data(np.float32, (batch, 3, 3, 11))
        want, _ = interpret(fn, [xs, gs], [], {"N": batch})
        got = exe.run([xs, gs], [], dims={"N": batch})
        _same_bits(got[0], want[0])
        # max(-0.0, 0.0) may be either zero: values only.
        np.testing.assert_array_equal(got[1], want[1])


def _full_size_selects(fn, shape):
    """select instructions of `shape` in fn's body and its fusion bodies."""
    found = []
    for instr in fn.body:
        inner = instr.params["body"].fn.body if instr.op == "fusion" else [instr]
        found += [m for m in inner if m.op == "select" and m.outputs[0].shape == shape]
    return found


@pytest.mark.parametrize("pool", [
    ((1, 2, 2, 1), (1, 2, 2, 1), ((0, 0), (0, 0), (0, 1), (0, 0))),  # disjoint, a remainder
    ((1, 3, 3, 1), (1, 2, 2, 1), ((0, 0), (1, 1), (1, 1), (0, 0))),  # overlapping
])
@pytest.mark.parametrize("cmp", ["gt", "le"])
def test_mask_after_pool_gradient_moves_to_pooled_size(pool, cmp):
    # relu's gradient through max pooling: select(x > 0, select_and_scatter_add(x, g), 0)
    # becomes a mask on g at the pooled size (simplify), with the same bits.
    window, strides, padding = pool
    params = dict(window_dimensions=window, window_strides=strides, padding=padding)
    shape = (2, 6, 5, 11)
    x = _tied(np.float32, shape, 5)
    g = _tied(np.float32, _out_shape(shape, window, strides, padding), 6)

    def build(b, x, g, both=False):
        zero = b.full(0.0, np.float32, shape)
        mask = b.emit1(cmp, x, zero) if cmp == "gt" else b.emit1(cmp, zero, x)
        grad = b.emit1("select_and_scatter_add", x, g, **params)
        masked = b.emit1("select", mask, grad, zero)
        return [masked, grad] if both else masked
    fn = function(build, [x, g])
    exe = CompiledExecutable(fn)
    assert not _full_size_selects(exe.optimized, shape)
    want, _ = interpret(fn, [x, g], [])
    _same_bits(exe.run([x, g], [])[0], want[0])

    # The gradient is also fetched: it must be computed in full, the rewrite does not apply.
    both = function(lambda b, x, g: build(b, x, g, both=True), [x, g])
    exe = CompiledExecutable(both)
    assert _full_size_selects(exe.optimized, shape)
    want, _ = interpret(both, [x, g], [])
    for got, w in zip(exe.run([x, g], []), want):
        _same_bits(got, w)


# ---------------------------------------------------------------- TF pooling ops

@SWEEP
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3),
       st.sampled_from(["SAME", "VALID"]), st.integers(0, 99))
def test_pooling_ops_sweep(kh, kw, sh, sw, padding, seed):
    x = np.round(data(np.float32, (2, 7, 6, 3), seed), 1)  # ties in max windows

    def build(tf):
        xp = tf.placeholder(tf.float32, x.shape)
        mx = tf.nn.max_pool(xp, [1, kh, kw, 1], [1, sh, sw, 1], padding)
        av = tf.nn.avg_pool(xp, [1, kh, kw, 1], [1, sh, sw, 1], padding)
        # relu before the pool: its gradient mask moves to the pooled size (simplify).
        mr = tf.nn.max_pool(tf.nn.relu(xp - 1.0), [1, kh, kw, 1], [1, sh, sw, 1], padding)
        loss = tf.reduce_sum(mx * mx) + tf.reduce_sum(av * tf.tanh(av)) + \
            tf.reduce_sum(mr)
        [g] = tf.gradients(loss, [xp])
        [gg] = tf.gradients(tf.reduce_sum(g * g), [xp])  # MaxPoolGradGrad, AvgPoolGrad's grad
        return [mx, av, g, gg], {xp: x}
    run_both_backends(build)


@pytest.mark.parametrize("pool", ["max_pool", "avg_pool"])
def test_pool_gradients_finite_differences_compiled(pool):
    x = np.random.RandomState(3).permutation(2 * 5 * 6 * 2).reshape(2, 5, 6, 2) / 10.0
    fn = getattr(graphc.nn, pool)
    compiled_check_gradients(lambda t: fn(t, [1, 3, 2, 1], [1, 2, 2, 1], "SAME"), x)
    compiled_check_gradients(lambda t: fn(t, [1, 2, 2, 1], [1, 1, 2, 1], "VALID"), x)
