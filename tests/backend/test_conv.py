"""Convolutions on the compiled CPU backend (graphc/passes/conv_to_dot.py: im2col + GEMM) vs the
interpreter's conv_general: a derandomized property sweep over geometry (1x1, odd and prime
sizes, SAME / VALID / explicit and negative padding, strides, window and input dilation), the TF
ops (Conv2D and both gradients, conv2d_transpose), the input-gradient form (GEMM + col2im)
over its own sweep, the forms the pass must produce (no patches for 1x1, no transposes for the
filter gradient, col2im for input gradients, bias/relu as the GEMM's epilogue),
finite-difference gradients on the compiled backend, and three MNIST CNN training steps."""

import contextlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphc
from graphc import config
from graphc.backend.cpu.executable import CompiledExecutable
from graphc.ir import interpret
from graphc.ir.primitives import PRIMITIVES
from graphc.ir.shapes import SymDim
from graphc.lower import lower
from graphc.passes.pipeline import run_pipeline
from tests.backend.helpers import assert_same, check, data, function
from tests.oracle import assert_compiled_close, compiled_backend, numeric_gradient, run_graph

SWEEP = settings(max_examples=20, deadline=None, derandomize=True,
                 suppress_health_check=list(HealthCheck))


@contextlib.contextmanager
def interpreter_backend():
    saved = config.get_backend()
    config.set_backend("interpreter")
    try:
        yield
    finally:
        config.set_backend(saved)


def run_both_backends(build, rtol=1e-4, atol=1e-4, steps=1):
    """Runs graph-building `build(graphc)` on the interpreter and compiled; compares every
    fetch. GEMMs sum in another order than numpy: the tolerance covers cancellation."""
    with interpreter_backend():
        want = run_graph(graphc, build, steps)
    with compiled_backend():
        got = run_graph(graphc, build, steps)
    assert_compiled_close(got, want, rtol, atol)
    return want


def compiled_check_gradients(fn, *inputs, rtol=1e-5, atol=1e-7):
    """check_gradients on the compiled backend: the compiled symbolic gradients of
    sum(fn(*xs) * weight) against float64 central differences of the compiled loss."""
    inputs = [np.asarray(x, dtype=np.float64) for x in inputs]
    graph = graphc.Graph()
    with graph.as_default(), compiled_backend():
        phs = [graphc.placeholder(graphc.float64, x.shape) for x in inputs]
        y = fn(*phs)
        weight = np.random.RandomState(0).uniform(0.5, 1.5, size=y.shape.as_list())
        loss = graphc.reduce_sum(y * weight)
        grads = graphc.gradients(loss, phs)
        with graphc.Session(graph=graph) as sess:
            feed = dict(zip(phs, inputs))
            symbolic = sess.run(grads, feed)
            for i, (x, sym) in enumerate(zip(inputs, symbolic)):
                num = numeric_gradient(lambda v, i=i: sess.run(loss, {**feed, phs[i]: v}), x)
                np.testing.assert_allclose(sym, num, rtol=rtol, atol=atol,
                                           err_msg="gradient of input %d" % i)


def _conv(b, x, w, strides, padding, lhs_dilation, rhs_dilation):
    return b.emit1("conv_general", x, w, window_strides=strides, padding=padding,
                   lhs_dilation=lhs_dilation, rhs_dilation=rhs_dilation)


# ---------------------------------------------------------------- the primitive

@st.composite
def conv_geometries(draw):
    """A 2-D conv_general geometry with a non-empty output."""
    sizes = st.sampled_from([1, 2, 3, 5, 7, 11])
    n, c, o = draw(st.integers(1, 3)), draw(sizes), draw(sizes)
    spatial, window, strides, padding, ld, rd = [], [], [], [], [], []
    for _ in range(2):
        k = draw(st.sampled_from([1, 2, 3, 5]))
        d, s = draw(sizes), draw(st.integers(1, 3))
        ldil, rdil = draw(st.sampled_from([1, 1, 2, 3])), draw(st.sampled_from([1, 1, 2]))
        lo, hi = draw(st.integers(-1, 3)), draw(st.integers(-1, 3))
        dilated = (d - 1) * ldil + 1
        eff = (k - 1) * rdil + 1
        hi = max(hi, eff - dilated - lo)  # the window fits at least once
        spatial.append(d)
        window.append(k)
        strides.append(s)
        padding.append((lo, hi))
        ld.append(ldil)
        rd.append(rdil)
    return ((n,) + tuple(spatial) + (c,), tuple(window) + (c, o), tuple(strides),
            tuple(padding), tuple(ld), tuple(rd))


@SWEEP
@given(conv_geometries(), st.integers(0, 99))
def test_conv_general_sweep(geometry, seed):
    x_shape, w_shape, strides, padding, ld, rd = geometry
    x, w = data(np.float32, x_shape, seed, 1.0), data(np.float32, w_shape, seed + 1, 1.0)
    check(lambda b, x, w: _conv(b, x, w, strides, padding, ld, rd), [x, w], rtol=1e-4,
          atol=1e-5)


@st.composite
def input_gradient_geometries(draw):
    """A unit-stride 2-D conv_general geometry as an input gradient has it: lhs (dy) dilated by
    the forward strides, any padding (negative too), window dilation, odd sizes."""
    sizes = st.sampled_from([1, 2, 3, 5, 7])
    n, c, o = draw(st.integers(1, 3)), draw(sizes), draw(sizes)
    spatial, window, padding, ld, rd = [], [], [], [], []
    for _ in range(2):
        k, d = draw(st.sampled_from([1, 2, 3, 5])), draw(sizes)
        ldil, rdil = draw(st.sampled_from([1, 2, 3])), draw(st.sampled_from([1, 1, 2]))
        lo, hi = draw(st.integers(-2, 5)), draw(st.integers(-2, 5))
        hi = max(hi, (k - 1) * rdil + 1 - ((d - 1) * ldil + 1) - lo)  # the window fits
        spatial.append(d)
        window.append(k)
        padding.append((lo, hi))
        ld.append(ldil)
        rd.append(rdil)
    return ((n,) + tuple(spatial) + (c,), tuple(window) + (c, o), tuple(padding), tuple(ld),
            tuple(rd), draw(st.booleans()))


@SWEEP
@given(input_gradient_geometries(), st.integers(0, 99))
def test_input_gradient_sweep(geometry, seed):
    # The col2im path: rhs as nn_ops' flipped filter (w reversed, features swapped), or (with
    # lhs dilation) any rhs, which the pass flips back.
    dy_shape, w_shape, padding, ld, rd, flipped = geometry
    if flipped:  # w [K.., C, O] whose flip reads dy's O features
        w_shape = w_shape[:2] + w_shape[:1:-1]
    dy, w = data(np.float32, dy_shape, seed, 1.0), data(np.float32, w_shape, seed + 1, 1.0)

    def build(b, dy, w):
        rhs = b.transpose(b.emit1("reverse", w, axes=(0, 1)), (0, 1, 3, 2)) if flipped else w
        return _conv(b, dy, rhs, (1, 1), padding, ld, rd)
    if flipped or max(ld) > 1:
        assert "col2im" in _ops(_optimized(build, [dy, w]))
    check(build, [dy, w], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("spatial,window,strides,low,dilation", [
    ((7, 9), (3, 2), (2, 1), (1, 0), (1, 2)),
    ((5, 5), (5, 5), (1, 1), (2, 2), (1, 1)),
    ((2, 3), (5, 5), (3, 1), (4, -1), (1, 1)),  # offsets landing outside, negative padding
    ((6, 4), (2, 3), (3, 2), (3, 0), (2, 1))])
def test_col2im_is_the_adjoint_of_im2col(spatial, window, strides, low, dilation):
    # <im2col(x), g> = <x, col2im(g)> on the interpreter's references, then the compiled
    # col2im against its reference (float and integer sums).
    hi = tuple(max(0, (k - 1) * d + 1 - n - lo) for k, d, n, lo in zip(window, dilation,
                                                                       spatial, low))
    x = data(np.float64, (2,) + spatial + (3,), 1, 1.0)
    patches = PRIMITIVES["im2col"].reference(x, window, strides, tuple(zip(low, hi)), (1, 1),
                                             dilation)
    g = data(np.float64, patches.shape, 2, 1.0)
    col2im = lambda b, g: b.emit1("col2im", g, spatial=spatial, window_strides=strides,  # noqa
                                  padding_low=low, rhs_dilation=dilation)
    back = PRIMITIVES["col2im"].reference(g, spatial, strides, low, dilation)
    np.testing.assert_allclose(np.sum(patches * g), np.sum(x * back), rtol=1e-12)
    check(col2im, [g])
    check(col2im, [data(np.int32, patches.shape, 3)])


@pytest.mark.parametrize("dtype", [np.float64, np.int32])
def test_conv_general_dtypes_and_empty(dtype):
    x, w = data(dtype, (2, 6, 5, 3), 1, 1.0), data(dtype, (3, 2, 3, 4), 2, 1.0)

    def build(b, x, w, e):
        return [_conv(b, x, w, (2, 1), ((1, 1), (0, 1)), (1, 1), (1, 2)),
                _conv(b, x, b.transpose(w, (1, 0, 2, 3)), (1, 1), ((1, 2), (0, 1)), (2, 1),
                      (1, 2)),  # col2im
                _conv(b, e, w, (1, 1), ((1, 1), (0, 1)), (1, 1), (1, 1))]
    check(build, [x, w, np.zeros((0, 6, 5, 3), dtype)])


def test_symbolic_batch():
    # The forward conv and nn_ops' filter- and input-gradient forms over a batch dim N bound
    # at run time.
    n = SymDim("N")

    def build(b, x, w, dy):
        y = _conv(b, x, w, (2, 1), ((1, 1), (1, 1)), (1, 1), (1, 1))
        dw = _conv(b, b.transpose(x, (3, 1, 2, 0)), b.transpose(dy, (1, 2, 0, 3)), (1, 1),
                   ((1, 1), (1, 1)), (1, 1), (2, 1))
        flipped = b.transpose(b.emit1("reverse", w, axes=(0, 1)), (0, 1, 3, 2))
        dx = _conv(b, dy, flipped, (1, 1), ((1, 2), (1, 1)), (2, 1), (1, 1))
        return [y, b.transpose(dw, (1, 2, 0, 3)), dx]
    fn = function(build, [(np.float32, (n, 7, 6, 3)), (np.float32, (3, 3, 3, 4)),
                          (np.float32, (n, 4, 6, 4))], dims=["N"])
    exe = CompiledExecutable(fn)
    for batch in (1, 3):
        feeds = [data(np.float32, (batch, 7, 6, 3), 1), data(np.float32, (3, 3, 3, 4), 2),
                 data(np.float32, (batch, 4, 6, 4), 3)]
        want, _ = interpret(fn, feeds, [], {"N": batch})
        assert_same(exe.run(feeds, [], dims={"N": batch}), want, rtol=1e-4, atol=1e-4)


def _optimized(build, feeds):
    return run_pipeline(function(build, feeds))


def _ops(fn):
    """Op names of the optimized function, fusion bodies included."""
    out = []
    for instr in fn.body:
        out.append(instr.op)
        if instr.op == "fusion":
            out += ["%s.%s" % (instr.params["body"].kind, m.op)
                    for m in instr.params["body"].fn.body]
    return out


def test_pointwise_conv_is_a_plain_gemm():
    x, w = data(np.float32, (2, 5, 7, 6), 1), data(np.float32, (1, 1, 6, 4), 2)
    build = lambda b, x, w: _conv(b, x, w, (1, 1), ((0, 0), (0, 0)), (1, 1), (1, 1))  # noqa
    ops = _ops(_optimized(build, [x, w]))
    assert "dot_general" in ops and not any("im2col" in op or "transpose" in op for op in ops)
    check(build, [x, w])


def test_filter_gradient_reads_input_and_output_gradient_untransposed():
    def build(tf):
        xp = tf.placeholder(tf.float32, [3, 9, 8, 5])
        y = tf.nn.conv2d(xp, tf.constant(data(np.float32, (3, 3, 5, 6), 2)), [1, 2, 1, 1],
                         "SAME")
        dy = tf.placeholder(tf.float32, y.shape)
        dw = graphc.ops.nn_ops.conv2d_backprop_filter(xp, tf.constant([3, 3, 5, 6]), dy, {
            "T": tf.float32, "strides": [1, 2, 1, 1], "padding": "SAME",
            "data_format": "NHWC", "dilations": [1, 1, 1, 1]})
        return [y, dw], {xp: data(np.float32, (3, 9, 8, 5), 3),
                         dy: data(np.float32, (3, 5, 8, 6), 4)}
    run_both_backends(build)
    with graphc.Graph().as_default():
        fetches, feed = build(graphc)
        fn = lower(fetches, [], {t: (v.dtype, v.shape) for t, v in feed.items()})
    ops = _ops(run_pipeline(fn))
    # One im2col, gathered by both the forward conv's and the filter gradient's GEMM (never
    # stored: see test_implicit_conv.py); nothing transposed.
    assert ops.count("dot.im2col") == 2 and "im2col" not in ops, ops
    assert not any("transpose" in op for op in ops), ops


def test_bias_and_relu_fuse_into_the_gemm():
    def build(b, x, w, bias):
        y = _conv(b, x, w, (1, 1), ((2, 2), (2, 2)), (1, 1), (1, 1))
        y = b.emit1("add", y, b.broadcast_in_dim(bias, y.shape, (3,)))
        return b.emit1("max", y, b.full(0.0, np.float32, y.shape))
    feeds = [data(np.float32, (2, 9, 9, 3), 1), data(np.float32, (5, 5, 3, 8), 2),
             data(np.float32, (8,), 3)]
    ops = _ops(_optimized(build, feeds))
    assert "dot.dot_general" in ops and "dot.max" in ops, ops
    check(build, feeds, rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------- TF ops

@SWEEP
@given(st.sampled_from([1, 2, 3, 5]), st.sampled_from([1, 2, 3]), st.sampled_from([1, 2]),
       st.sampled_from([1, 2]), st.sampled_from(["SAME", "VALID"]), st.integers(0, 99))
def test_conv_ops_sweep(k, stride, dilation, channels, padding, seed):
    if dilation > 1:
        stride = 1  # TF has no strided dilated convolutions
        k = min(k, 3)  # the dilated window fits VALID's 5 columns
    x = data(np.float32, (2, 7, 5, 2 * channels + 1), seed, 1.0)
    w = data(np.float32, (k, 3 if k > 1 else 1, x.shape[3], 4), seed + 1, 1.0)
    wt = data(np.float32, (k, k, 3, x.shape[3]), seed + 2, 1.0)  # conv2d_transpose's filter

    def build(tf):
        xp = tf.placeholder(tf.float32, x.shape)
        wv = tf.Variable(w)
        y = tf.nn.conv2d(xp, wv, [1, stride, stride, 1], padding,
                         dilations=[1, dilation, dilation, 1])
        gx, gw = tf.gradients(tf.reduce_sum(y * tf.tanh(y)), [xp, wv])
        t = tf.nn.conv2d_transpose(xp, tf.constant(wt), [2, 7 * stride, 5 * stride, 3],
                                   [1, stride, stride, 1], "SAME")
        gt = tf.gradients(tf.reduce_sum(t * t), [xp])
        return [y, gx, gw, t] + gt, {xp: x}
    run_both_backends(build)


@pytest.mark.parametrize("padding,strides,dilations", [("SAME", 2, 1), ("VALID", 1, 2)])
def test_conv_gradients_finite_differences_compiled(padding, strides, dilations):
    r = np.random.RandomState(5)
    compiled_check_gradients(lambda x, w: graphc.nn.conv2d(x, w, strides, padding,
                                                           dilations=dilations),
                             r.randn(2, 5, 6, 2), r.randn(3, 2, 2, 3))


def test_conv2d_transpose_gradients_finite_differences_compiled():
    r = np.random.RandomState(6)
    compiled_check_gradients(lambda x, w: graphc.nn.conv2d_transpose(
        x, w, [1, 7, 6, 2], [1, 2, 2, 1], "SAME"), r.randn(1, 4, 3, 3), r.randn(3, 2, 2, 3))


# ---------------------------------------------------------------- MNIST CNN

def mnist_cnn_step(tf, batch, seed=0, lr=0.01):
    """The MNIST CNN training step (conv 5x5 1->32, pool, conv 5x5 32->64, pool, FC to 10
    logits, softmax cross entropy, SGD): returns (fetches, feed_dict) for run_graph."""
    r = np.random.RandomState(seed)
    x = tf.placeholder(tf.float32, [batch, 28, 28, 1])
    labels = tf.placeholder(tf.int64, [batch])

    def var(*shape):
        return tf.Variable((r.randn(*shape) * 0.1).astype(np.float32))

    def conv_pool(h, w, b):
        h = tf.nn.relu(tf.nn.conv2d(h, w, [1, 1, 1, 1], "SAME") + b)
        return tf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "SAME")
    h = conv_pool(x, var(5, 5, 1, 32), var(32))
    h = conv_pool(h, var(5, 5, 32, 64), var(64))
    logits = tf.matmul(tf.reshape(h, [batch, 7 * 7 * 64]), var(7 * 7 * 64, 10)) + var(10)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels,
                                                                        logits=logits))
    train = tf.train.GradientDescentOptimizer(lr).minimize(loss)
    feed = {x: r.rand(batch, 28, 28, 1).astype(np.float32),
            labels: r.randint(0, 10, batch).astype(np.int64)}
    return [loss, train, tf.trainable_variables()[0]], feed


def test_mnist_cnn_step_computes_only_the_second_input_gradient():
    # Training needs gradients w.r.t. variables only: conv1's input gradient (w.r.t. the
    # images) must be pruned; conv2's is one GEMM + col2im, with no patches of dy.
    with graphc.Graph().as_default():
        (loss, train, _), feed = mnist_cnn_step(graphc, 4)
        fn = lower([loss], [train], {t: (v.dtype, v.shape) for t, v in feed.items()})
    ops = _ops(run_pipeline(fn))
    assert ops.count("col2im") == 1, ops
    # conv1's patches stored once for its forward and filter-gradient GEMMs (runs of one
    # channel are too short to gather), conv2's gathered by both of its GEMMs
    # (test_implicit_conv.py).
    assert ops.count("im2col") == 1 and ops.count("dot.im2col") == 2, ops


def test_mnist_cnn_three_steps():
    want = run_both_backends(lambda tf: mnist_cnn_step(tf, 4), rtol=1e-4, atol=1e-5, steps=3)
    assert want[0][0] != want[2][0]  # it trains
