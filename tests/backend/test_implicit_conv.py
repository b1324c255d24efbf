"""Implicit-GEMM convolution on the compiled CPU backend: the fusion pass moves an im2col whose
patches only feed GEMMs into those GEMMs' fusions, and gemm_kernel's implicit variants gather
the patches from the convolution's input while packing (graphc/passes/fusion.py,
_implicit_patches). Checked compiled vs the interpreter's conv_general over a derandomized
sweep of 1-D, 2-D and 3-D geometries (odd channel counts, padding including negative, strides,
window dilation) for the forward convolution and nn_ops' filter-gradient form, with the
implicit path asserted taken; symbolic batch; float64 finite-difference gradients; 1, 2 and 3
threads giving identical bits; and the patch matrix never being stored (temp arena size)."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphc
from graphc.backend.cpu import runtime
from graphc.backend.cpu.executable import CompiledExecutable
from graphc.ir import interpret
from graphc.ir.shapes import SymDim
from graphc.passes import fusion
from graphc.passes.pipeline import run_pipeline
from tests.backend.helpers import assert_same, check, data, function
from tests.backend.test_conv import _ops, compiled_check_gradients, conv_geometries

SWEEP = settings(max_examples=20, deadline=None, derandomize=True,
                 suppress_health_check=list(HealthCheck))


@pytest.fixture
def gather_all(monkeypatch):
    """Every im2col gathered, however short its runs (the fast path's own rule keeps short
    runs stored: test_short_runs_keep_the_stored_patches). Executables compiled so live in a
    disk cache of their own: the cache's keys do not hold the setting."""
    monkeypatch.setattr(fusion, "MIN_GATHER_RUN", 1)
    monkeypatch.setenv("GRAPHC_CACHE_DIR", os.path.join(runtime.cache_dir(), "gather-all"))


def _conv(b, x, w, strides, padding, lhs_dilation, rhs_dilation):
    return b.emit1("conv_general", x, w, window_strides=strides, padding=padding,
                   lhs_dilation=lhs_dilation, rhs_dilation=rhs_dilation)


def _filter_gradient(b, x, dy, strides, padding, dilation):
    """dw [K.., C, O] as nn_ops builds it: a conv of x and dy with batch and features swapped
    (strides and window dilation trade places)."""
    n = x.rank - 2
    xt = b.transpose(x, (n + 1,) + tuple(range(1, n + 1)) + (0,))
    dyt = b.transpose(dy, tuple(range(1, n + 1)) + (0, n + 1))
    dw = _conv(b, xt, dyt, dilation, padding, (1,) * n, strides)
    return b.transpose(dw, tuple(range(1, n + 1)) + (0, n + 1))


def assert_implicit(exe, count):
    """Every im2col of the compiled function is gathered by a GEMM (none is stored)."""
    ops = _ops(exe.optimized)
    assert "im2col" not in ops and ops.count("dot.im2col") == count, ops


def _out_size(d, k, s, lo, hi, rd):
    return (d + lo + hi - (k - 1) * rd - 1) // s + 1


@st.composite
def geometries(draw):
    """A 1-, 2- or 3-D convolution with a non-empty output: (x shape, w shape, strides,
    padding, window dilation)."""
    rank = draw(st.sampled_from([1, 2, 2, 3]))
    sizes = st.sampled_from([1, 2, 3, 5, 7, 11])
    n, c, o = draw(st.integers(1, 3)), draw(sizes), draw(st.sampled_from([1, 3, 16, 17]))
    spatial, window, strides, padding, rd = [], [], [], [], []
    for _ in range(rank):
        k, d = draw(st.sampled_from([1, 2, 3, 5])), draw(sizes)
        s, dil = draw(st.integers(1, 3)), draw(st.sampled_from([1, 1, 2]))
        lo, hi = draw(st.integers(-1, 3)), draw(st.integers(-1, 3))
        hi = max(hi, (k - 1) * dil + 1 - d - lo)  # the window fits at least once
        spatial.append(d)
        window.append(k)
        strides.append(s)
        padding.append((lo, hi))
        rd.append(dil)
    return ((n,) + tuple(spatial) + (c,), tuple(window) + (c, o), tuple(strides),
            tuple(padding), tuple(rd))


@pytest.mark.usefixtures("gather_all")
@SWEEP
@given(geometries(), st.integers(0, 99))
def test_forward_and_filter_gradient_sweep(geometry, seed):
    x_shape, w_shape, strides, padding, rd = geometry
    rank = len(strides)
    out = tuple(_out_size(*a) for a in zip(x_shape[1:-1], w_shape[:rank], strides,
                                           (lo for lo, _ in padding), (hi for _, hi in padding),
                                           rd))
    x, w = data(np.float32, x_shape, seed, 1.0), data(np.float32, w_shape, seed + 1, 1.0)
    dy = data(np.float32, x_shape[:1] + out + w_shape[-1:], seed + 2, 1.0)

    def build(b, x, w, dy):
        return [_conv(b, x, w, strides, padding, (1,) * rank, rd),
                _filter_gradient(b, x, dy, strides, padding, rd)]
    exe = check(build, [x, w, dy], rtol=1e-4, atol=1e-5)
    pointwise = all(k == 1 for k in w_shape[:rank]) and all(s == 1 for s in strides) and \
        all(p == (0, 0) for p in padding)
    # A 1x1 convolution reads x itself; otherwise both GEMMs gather the patches.
    assert_implicit(exe, 1 if pointwise else 2)


@pytest.mark.usefixtures("gather_all")
@SWEEP
@given(conv_geometries(), st.integers(0, 99))
def test_conv_sweep_of_test_conv(geometry, seed):
    # test_conv.py's conv_general sweep with the gather on: implicit unless input-dilated.
    x_shape, w_shape, strides, padding, ld, rd = geometry
    x, w = data(np.float32, x_shape, seed, 1.0), data(np.float32, w_shape, seed + 1, 1.0)
    exe = check(lambda b, x, w: _conv(b, x, w, strides, padding, ld, rd), [x, w], rtol=1e-4,
                atol=1e-5)
    ops = _ops(exe.optimized)
    if "im2col" in ops or "dot.im2col" in ops:
        assert ("dot.im2col" in ops) == all(d == 1 for d in ld), ops


@pytest.mark.usefixtures("gather_all")
@pytest.mark.parametrize("x_shape,window,strides,padding,dilation", [
    ((2, 28, 28, 1), (5, 5), (1, 1), ((2, 2), (2, 2)), (1, 1)),  # conv1: runs of 5 elements
    ((3, 14, 14, 32), (5, 5), (1, 1), ((2, 2), (2, 2)), (1, 1)),  # conv2 at a small batch
    ((2, 13, 11, 7), (3, 3), (2, 3), ((1, 0), (3, -1)), (2, 3)),  # per-offset runs, odd C
    ((2, 9, 9, 9), (3, 5), (1, 1), ((5, 5), (6, 6)), (1, 1)),  # rows of padding only
    ((2, 40, 9), (7,), (3,), ((2, 4),), (2,)),  # 1-D
    ((1, 5, 6, 7, 3), (2, 3, 2), (1, 2, 1), ((1, 1), (0, 1), (1, 0)), (2, 1, 2)),  # 3-D
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_geometries(x_shape, window, strides, padding, dilation, dtype):
    rank = len(window)
    out = tuple(_out_size(d, k, s, lo, hi, r) for d, k, s, (lo, hi), r in
                zip(x_shape[1:-1], window, strides, padding, dilation))
    x = data(dtype, x_shape, 1, 1.0)
    w = data(dtype, window + (x_shape[-1], 17), 2, 1.0)
    dy = data(dtype, x_shape[:1] + out + (17,), 3, 1.0)

    def build(b, x, w, dy):
        y = _conv(b, x, w, strides, padding, (1,) * rank, dilation)
        # bias + relu: the forward GEMM's epilogue while it gathers
        bias = b.broadcast_in_dim(b.reduce(w, tuple(range(rank + 1)), "sum"), y.shape,
                                  (rank + 1,))
        y = b.emit1("max", b.emit1("add", y, bias), b.full(0.0, dtype, y.shape))
        return [y, _filter_gradient(b, x, dy, strides, padding, dilation)]
    # float32 sums of up to 800 products in another order than numpy's: atol covers it.
    exe = check(build, [x, w, dy], rtol=1e-4 if dtype == np.float32 else 1e-12, atol=1e-3
                if dtype == np.float32 else 1e-12)
    assert_implicit(exe, 2)


def test_short_runs_keep_the_stored_patches():
    # conv1 of the MNIST CNN: one channel, runs of 5 elements: the patches stay stored.
    x, w = data(np.float32, (2, 28, 28, 1), 1, 1.0), data(np.float32, (5, 5, 1, 32), 2, 1.0)
    exe = check(lambda b, x, w: _conv(b, x, w, (1, 1), ((2, 2), (2, 2)), (1, 1), (1, 1)),
                [x, w], rtol=1e-4, atol=1e-5)
    assert "im2col" in _ops(exe.optimized)


def test_input_dilation_keeps_the_stored_patches():
    # lhs dilation (a strided one: no input-gradient form) is not gathered: im2col stays.
    x, w = data(np.float32, (2, 6, 5, 3), 1, 1.0), data(np.float32, (3, 3, 3, 4), 2, 1.0)
    exe = check(lambda b, x, w: _conv(b, x, w, (2, 1), ((1, 1), (2, 2)), (2, 1), (1, 1)),
                [x, w], rtol=1e-4, atol=1e-5)
    assert "im2col" in _ops(exe.optimized)


@pytest.mark.usefixtures("gather_all")
def test_symbolic_batch():
    n = SymDim("N")

    def build(b, x, w, dy):
        return [_conv(b, x, w, (2, 1), ((1, 1), (1, 1)), (1, 1), (1, 2)),
                _filter_gradient(b, x, dy, (2, 1), ((1, 1), (1, 1)), (1, 2))]
    fn = function(build, [(np.float32, (n, 7, 6, 5)), (np.float32, (3, 3, 5, 4)),
                          (np.float32, (n, 4, 2, 4))], dims=["N"])
    exe = CompiledExecutable(fn)
    assert_implicit(exe, 2)
    for batch in (1, 3, 0):
        feeds = [data(np.float32, (batch, 7, 6, 5), 1), data(np.float32, (3, 3, 5, 4), 2),
                 data(np.float32, (batch, 4, 2, 4), 3)]
        want, _ = interpret(fn, feeds, [], {"N": batch})
        assert_same(exe.run(feeds, [], dims={"N": batch}), want, rtol=1e-4, atol=1e-4)


def test_thread_count_does_not_change_the_bits():
    # Large enough that both GEMMs split their output among threads.
    x, w = data(np.float32, (8, 16, 16, 32), 1), data(np.float32, (3, 3, 32, 64), 2)
    dy = data(np.float32, (8, 16, 16, 64), 3)

    def build(b, x, w, dy):
        return [_conv(b, x, w, (1, 1), ((1, 1), (1, 1)), (1, 1), (1, 1)),
                _filter_gradient(b, x, dy, (1, 1), ((1, 1), (1, 1)), (1, 1))]
    exe = check(build, [x, w, dy], rtol=1e-4, atol=1e-3)
    assert_implicit(exe, 2)
    one = exe.run([x, w, dy], [], num_threads=1)
    for threads in (2, 3):
        for a, b in zip(one, exe.run([x, w, dy], [], num_threads=threads)):
            assert a.tobytes() == b.tobytes()


def test_patches_are_never_stored():
    # conv2 of the MNIST CNN, forward and filter gradient: the temp arena holds far less than
    # the 10 MB patch matrix (the GEMMs gather it block by block into their scratch).
    x, w = data(np.float32, (16, 14, 14, 32), 1), data(np.float32, (5, 5, 32, 64), 2)
    dy = data(np.float32, (16, 14, 14, 64), 3)

    def build(b, x, w, dy):
        return [_conv(b, x, w, (1, 1), ((2, 2), (2, 2)), (1, 1), (1, 1)),
                _filter_gradient(b, x, dy, (1, 1), ((2, 2), (2, 2)), (1, 1))]
    fn = function(build, [x, w, dy])
    exe = CompiledExecutable(fn)
    patch_bytes = 16 * 14 * 14 * 5 * 5 * 32 * 4
    assert exe.temp_bytes({}) < patch_bytes // 2
    stored = run_pipeline(fn, disable=("fusion",)).buffer_plan.temp_size
    assert stored.const >= patch_bytes  # the test can fail: without fusion P is stored
    want, _ = interpret(fn, [x, w, dy], [], {})
    assert_same(exe.run([x, w, dy], []), want, rtol=1e-4, atol=1e-3)


@pytest.mark.usefixtures("gather_all")
@pytest.mark.parametrize("strides,padding,dilations", [(2, "SAME", 1), (1, "VALID", 2)])
def test_gradients_finite_differences(strides, padding, dilations):
    # float64 through the implicit GEMMs: conv2d's forward, and its filter gradient.
    r = np.random.RandomState(7)
    compiled_check_gradients(lambda x, w: graphc.nn.conv2d(x, w, strides, padding,
                                                           dilations=dilations),
                             r.randn(2, 6, 7, 3), r.randn(3, 2, 3, 4))
