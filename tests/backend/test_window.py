"""reduce_window, select_and_scatter_add and select_and_gather compiled vs the interpreter: a
derandomized property sweep over window geometry (windows on any axis, the channel axis
included; strides; padding; overlapping and disjoint windows), dtypes, ties (the first maximum
wins) and NaN; the TF pooling ops built on them (MaxPool, AvgPool, their gradients,
MaxPoolGradGrad); finite-difference gradients on the compiled backend; thread-count
independence of the accumulating max-pool gradient."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphc
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
        loss = tf.reduce_sum(mx * mx) + tf.reduce_sum(av * tf.tanh(av))
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
