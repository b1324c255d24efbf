"""Split-K GEMMs (graphc/backend/cpu/dot.py): a small C over a long contraction is computed as
partial products over fixed K ranges (whole KC chunks) summed in a fixed order. Checked
compiled vs the interpreter over every transpose, K not a multiple of KC, fused epilogues
(which then run after the sum), float64, a symbolic K and the conv1 filter gradient; the bits
never depend on the thread count."""

import numpy as np
import pytest

import graphc
from graphc.backend.cpu import dot as dots
from graphc.backend.cpu.executable import CompiledExecutable
from graphc.ir import SymDim, interpret
from graphc.lower import lower
from graphc.passes.pipeline import run_pipeline
from tests.backend.helpers import assert_same, data, function
from tests.oracle import compare_with_tf

TOL = {np.float32: dict(rtol=1e-4, atol=1e-3), np.float64: {}}


def _dot(b, x, y, lc, rc):
    return b.emit1("dot_general", x, y, lhs_contract=lc, rhs_contract=rc, lhs_batch=(),
                   rhs_batch=())


def _gemms(exe):
    """The Layouts of the GEMMs (bare or fused) of a compiled or optimized function."""
    out = []
    for instr in getattr(exe, "optimized", exe).body:
        body = instr.params["body"].fn.body if instr.op == "fusion" else [instr]
        out += [dots.Layout(m) for m in body if m.op == "dot_general"]
    return out


def _check_threads(fn, feeds, dtype, dims=None):
    """Compiled vs interpreter, and identical bits for 1, 2 and 3 threads."""
    exe = CompiledExecutable(fn)
    want, _ = interpret(fn, feeds, [], dims)
    runs = [exe.run(feeds, [], dims=dims, num_threads=n) for n in (1, 2, 3)]
    assert_same(runs[0], want, **TOL[dtype])
    for other in runs[1:]:
        assert all(p.tobytes() == q.tobytes() for p, q in zip(runs[0], other))
    return exe


@pytest.mark.parametrize("trans_a,trans_b", [(True, False), (False, False), (False, True),
                                             (True, True)], ids=["tn", "nn", "nt", "tt"])
@pytest.mark.parametrize("m,n,k", [(25, 32, 50176), (7, 40, 30001)], ids=["conv1", "odd"])
def test_split_k_transposes(m, n, k, trans_a, trans_b):
    a = data(np.float32, (k, m) if trans_a else (m, k), 1, 1.0)
    b_ = data(np.float32, (n, k) if trans_b else (k, n), 2, 1.0)
    fn = function(lambda b, x, y: _dot(b, x, y, (0 if trans_a else 1,), (1 if trans_b else 0,)),
                  [a, b_])
    exe = _check_threads(fn, [a, b_], np.float32)
    layout, = _gemms(exe)
    assert layout.split_k()
    parts, units = layout.k_parts(dots._Py, k, layout.blk.kc)
    assert 2 <= parts <= dots.SPLIT_K_PARTS and units == -(-k // layout.blk.kc)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("epilogue", ["bias_relu", "alpha_residual", "tanh"])
def test_split_k_epilogues(epilogue, dtype):
    # The filter gradient's fused update (w - lr * g) and the usual activations: the GEMM maps
    # none of them (they run as the loop over C after the sum).
    x, y = data(dtype, (20000, 24), 3, 1.0), data(dtype, (20000, 33), 4, 1.0)
    bias, res = data(dtype, (33,), 5), data(dtype, (24, 33), 6)

    def build(b, x, y, bias, res):
        d = _dot(b, x, y, (0,), (0,))
        if epilogue == "bias_relu":
            z = b.emit1("add", d, b.broadcast_in_dim(bias, d.shape, (1,)))
            return b.emit1("max", z, b.full(0, dtype, d.shape))
        if epilogue == "alpha_residual":
            return b.emit1("sub", res, b.emit1("mul", d, b.full(0.01, dtype, d.shape)))
        return b.emit1("tanh", d)
    exe = _check_threads(function(build, [x, y, bias, res]), [x, y, bias, res], dtype)
    layout, = _gemms(exe)
    assert layout.split_k()


def test_symbolic_contraction():
    # A filter gradient's K is batch x positions: symbolic with the batch. The parts are
    # counted at run time (one part, or none for an empty batch).
    n = SymDim("N")
    fn = function(lambda b, x, y: _dot(b, x, y, (0,), (0,)),
                  [(np.float32, (n, 25)), (np.float32, (n, 32))], dims=["N"])
    exe = None
    for batch in (50001, 4000, 1, 0):
        feeds = [data(np.float32, (batch, 25), batch, 1.0),
                 data(np.float32, (batch, 32), batch + 1, 1.0)]
        exe = _check_threads(fn, feeds, np.float32, {"N": batch})
    layout, = _gemms(exe)
    assert layout.split_k() and layout.k_parts(dots._Py, 50001, layout.blk.kc)[0] > 1
    assert layout.k_parts(dots._Py, 4000, layout.blk.kc)[0] == 1


@pytest.mark.parametrize("m,n,k", [(800, 64, 12544), (25, 32, 1000), (256, 256, 4096)],
                         ids=["cut-c", "short-k", "large-c"])
def test_no_split_k_where_c_is_cut_or_k_is_short(m, n, k):
    fn = function(lambda b, x, y: _dot(b, x, y, (0,), (0,)),
                  [(np.float32, (k, m)), (np.float32, (k, n))])
    exe = CompiledExecutable(fn)
    layout, = _gemms(exe)
    assert not layout.split_k()


def test_conv1_filter_gradient():
    # The MNIST CNN's conv1 filter gradient (a 25 x 32 x (batch * 784) GEMM) at batch 16:
    # TensorFlow checks the interpreter, which checks the compiled code.
    def build(tf):
        x = tf.constant(data(np.float32, (16, 28, 28, 1), 7, 1.0))
        w = tf.constant(data(np.float32, (5, 5, 1, 32), 8, 0.2))
        dy = tf.constant(data(np.float32, (16, 28, 28, 32), 9, 1.0))
        return tf.gradients(tf.nn.conv2d(x, w, [1, 1, 1, 1], "SAME"), w, grad_ys=dy)
    compare_with_tf(build, rtol=1e-4, atol=1e-3)
    with graphc.Graph().as_default():
        fn = lower(build(graphc), [], {})
    assert [layout.split_k() for layout in _gemms(run_pipeline(fn))] == [True]


def test_implicit_filter_gradient():
    # A filter gradient whose patches the GEMM gathers from x (graphc.passes.fusion's implicit
    # im2col): the parts start at whole images (KC chunks of patch rows as well).
    x = data(np.float32, (16, 32, 32, 8), 10, 1.0)
    dy = data(np.float32, (16, 32, 32, 16), 11, 1.0)

    def build(b, x, dy):
        xt = b.transpose(x, (3, 1, 2, 0))
        dyt = b.transpose(dy, (1, 2, 0, 3))
        dw = b.emit1("conv_general", xt, dyt, window_strides=(1, 1), padding=((1, 1), (1, 1)),
                     lhs_dilation=(1, 1), rhs_dilation=(1, 1))
        return b.transpose(dw, (1, 2, 0, 3))
    exe = _check_threads(function(build, [x, dy]), [x, dy], np.float32)
    fused = [i.params["body"].fn for i in exe.optimized.body if i.op == "fusion" and
             i.params["body"].kind == "dot"]
    assert len(fused) == 1 and dots.fusion_parts(fused[0])[1] is not None  # gathered
    dot, _ = dots.fusion_parts(fused[0])
    layout = dots.Layout(dot, implicit=True)
    unit = 1024 * layout.blk.kc // np.gcd(1024, layout.blk.kc)  # whole images, whole chunks
    assert layout.split_k() and layout.k_parts(dots._Py, 16 * 1024, unit)[0] > 1
