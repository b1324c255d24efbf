"""dot_general compiled vs the interpreter: every operand layout (transposes), batch dims,
several contracting/free dims, sizes around the GEMM blocking (partial register tiles and
cache blocks), integer dtypes, fused epilogues (alpha, bias, residual, relu/sigmoid/tanh, and
bodies only partly expressible as a GEMM epilogue), symbolic sizes, a property-based sweep of
shapes x transposes x batch x epilogues x dtypes, and bit-identical results for 1 and 2
threads on multi-tile GEMMs."""

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphc.backend.cpu import codegen, llvm
from graphc.backend.cpu import dot as dots
from graphc.backend.cpu import gemm_kernel as gk
from graphc.backend.cpu.executable import CompiledExecutable
from graphc.ir import SymDim, interpret
from tests.backend.helpers import assert_same, check, data, function

TOL = {np.float32: dict(rtol=1e-4, atol=1e-4), np.float64: {}, np.int32: {}, np.int64: {}}


def _dot(b, x, y, lc, rc, lb=(), rb=()):
    return b.emit1("dot_general", x, y, lhs_contract=lc, rhs_contract=rc, lhs_batch=lb,
                   rhs_batch=rb)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (7, 13, 5), (6, 16, 17), (37, 300, 41),
                                   (3, 0, 4), (0, 5, 2)])
def test_matmul_all_transposes(m, k, n, dtype):
    a, b_ = data(dtype, (m, k), 1, 1.0), data(dtype, (k, n), 2, 1.0)
    feeds = [a, b_, a.T.copy(), b_.T.copy()]

    def build(b, a, bb, at, bt):
        return [_dot(b, a, bb, (1,), (0,)), _dot(b, at, bb, (0,), (0,)),
                _dot(b, a, bt, (1,), (1,)), _dot(b, at, bt, (0,), (1,))]
    check(build, feeds, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_and_multiple_contracting_dims(dtype):
    x = data(dtype, (3, 4, 5, 6), 3, 1.0)
    y = data(dtype, (5, 3, 7, 4), 4, 1.0)
    v = data(dtype, (5,), 5, 1.0)

    def build(b, x, y, v):
        return [_dot(b, x, y, (1,), (3,), (0, 2), (1, 0)),  # batch (3, 5) in two orders
                _dot(b, x, y, (2, 1), (0, 3), (0,), (1,)),  # contract two dims, reversed
                _dot(b, x, v, (2,), (0,)),  # matrix-vector (no rhs free dim)
                _dot(b, v, v, (0,), (0,)),  # inner product
                _dot(b, v, v, (), ())]  # outer product (no contracting dim)
    check(build, [x, y, v], **TOL[dtype])


@pytest.mark.parametrize("shape", [(200, 96, 1100), (97, 513, 33)])
def test_larger_than_one_cache_block(shape):
    m, k, n = shape
    check(lambda b, x, y: _dot(b, x, y, (1,), (0,)),
          [data(np.float32, (m, k), 6, 1.0), data(np.float32, (k, n), 7, 1.0)], rtol=1e-4,
          atol=1e-3)


def test_bias_and_activation_epilogues():
    x, w, bias = data(np.float32, (9, 20), 8), data(np.float32, (20, 11), 9), \
        data(np.float32, (11,), 10)

    def build(b, x, w, bias):
        y = _dot(b, x, w, (1,), (0,))
        z = b.emit1("add", y, b.broadcast_in_dim(bias, y.shape, (1,)))
        relu = b.emit1("max", z, b.full(0, np.float32, z.shape))
        return [relu, b.emit1("gt", _dot(b, w, x, (0,), (1,)), b.full(0, np.float32, (11, 9)))]
    exe = check(build, [x, w, bias], rtol=1e-4, atol=1e-4)
    kinds = [i.params["body"].kind for i in exe.optimized.body if i.op == "fusion"]
    assert kinds.count("dot") == 1  # relu(x @ w + b) fuses; a bool epilogue cannot share


def test_symbolic_batch_compiles_once():
    N = SymDim("N")
    w = data(np.float32, (5, 3), 11)

    def build(b, x, w):
        return b.emit1("tanh", _dot(b, x, w, (1,), (0,)))
    exe = None
    for n in (0, 1, 7, 64):
        x = data(np.float32, (n, 5), n)
        if exe is None:
            exe = CompiledExecutable(function(build, [(np.float32, (N, 5)), w], dims=["N"]))
        got = exe.run([x, w], [], dims={"N": n})[0]
        np.testing.assert_allclose(got, np.tanh(x @ w), rtol=1e-5, atol=1e-6)


def test_all_layout_permutations_of_rank3():
    x = data(np.float64, (2, 3, 4), 12)
    y = data(np.float64, (2, 4, 5), 13)
    feeds, builds = [], []
    for px, py in itertools.product(itertools.permutations(range(3)), repeat=2):
        xs = np.ascontiguousarray(np.transpose(x, px))
        ys = np.ascontiguousarray(np.transpose(y, py))
        feeds += [xs, ys]
        inv_x, inv_y = np.argsort(px), np.argsort(py)
        builds.append(((int(inv_x[2]),), (int(inv_y[1]),), (int(inv_x[0]),), (int(inv_y[0]),)))
    check(lambda b, *xs: [_dot(b, xs[2 * i], xs[2 * i + 1], *p) for i, p in enumerate(builds)],
          feeds)


# ---- property-based sweep

# 1, primes and sizes that are not multiples of the vector width (8 / 4), the register tile
# (6 x 16 / 6 x 8) or the cache blocks (MC 144 / 72, KC 256).
DIMS = [1, 2, 3, 5, 7, 13, 17, 31, 37, 97, 150, 257, 300]
EPILOGUES = ["none", "bias", "bias_relu", "alpha_bias_res_tanh", "sigmoid", "res_bias",
             "alpha_var", "relu_then_exp", "bias_relu_mask_ge"]


def _stored(x, trans, batch_axis):
    """x [batch, rows, cols] stored transposed (cols before rows) when `trans`, with the
    batch axis at position `batch_axis`; returns (array, its batch, rows and cols axes)."""
    logical = [1, 2] if not trans else [2, 1]  # memory order of the matrix axes
    order = list(logical)
    order.insert(batch_axis, 0)
    y = np.ascontiguousarray(np.transpose(x, order))
    return y, order.index(0), order.index(1), order.index(2)


def _epilogue(b, y, kind, bias, res, alpha, dt):
    """A body on dot value y [batch, m, n] of the given kind (see EPILOGUES)."""
    def add(x, z):
        return b.emit1("add", x, z)

    def full(v):
        return b.full(v, dt, y.shape)
    bias_b = b.broadcast_in_dim(bias, y.shape, (2,))
    if kind == "none":
        return y
    if kind == "bias":
        return add(y, bias_b)
    if kind == "bias_relu":
        return b.emit1("max", add(y, bias_b), full(0))
    if kind == "alpha_bias_res_tanh":
        return b.emit1("tanh", add(add(b.emit1("mul", y, full(0.5)), bias_b), res))
    if kind == "sigmoid":
        return b.emit1("logistic", y)
    if kind == "res_bias":  # the residual before the bias: the bias runs as a loop
        return add(add(res, y), bias_b)
    if kind == "alpha_var":  # a run-time scalar scale
        return b.emit1("mul", b.broadcast_in_dim(alpha, y.shape, ()), y)
    if kind.startswith("mask_") or kind == "bias_relu_mask_ge":
        # a relu's gradient: y where the relu's input r passes a compare with 0, else 0
        x = b.emit1("max", add(y, bias_b), full(0)) if kind.startswith("bias_relu") else y
        compare, zero_first, on_false = {
            "bias_relu_mask_ge": ("ge", False, 0), "mask_gt": ("gt", False, 0),
            "mask_lt_swapped": ("lt", True, 0), "mask_le_swapped": ("le", True, 0),
            "mask_other_false": ("gt", False, 1), "mask_eq": ("eq", False, 0)}[kind]
        pred = b.emit1(compare, *((full(0), res) if zero_first else (res, full(0))))
        return b.emit1("select", pred, x, full(on_false))
    return b.emit1("exp", b.emit1("max", y, full(0)))  # relu_then_exp


_SWEEP = settings(max_examples=30, deadline=None, derandomize=True,
                  suppress_health_check=[HealthCheck.too_slow])


def _sweep_case(m, n, k, batch, trans_a, trans_b, batch_a, epilogue, dtype):
    dt = np.dtype(dtype)
    a = data(dt, (batch, m, k), 1, 1.0)
    w = data(dt, (batch, k, n), 2, 1.0)
    sa, ba, _, ca = _stored(a, trans_a, batch_a)
    sw, bw, rw, _ = _stored(w, trans_b, 0)
    feeds = [sa, sw, data(dt, (n,), 3, 1.0), data(dt, (batch, m, n), 4, 1.0),
             np.array(1.5, dt)]

    def build(b, x, y, bias, res, alpha):
        d = _dot(b, x, y, (ca,), (rw,), (ba,), (bw,))
        return _epilogue(b, d, epilogue, bias, res, alpha, dt)
    # Summation order differs from numpy's: allow k roundings of the largest |a||b| sum
    # (absolute for the dot, relative after exp, which scales errors by its value).
    mag = np.abs(a.astype(np.float64)) @ np.abs(w.astype(np.float64))
    err = 2 * max(k, 1) * np.finfo(dt).eps * max(float(mag.max(initial=0)), 1.0)
    check(build, feeds, rtol=max(err, 2e-5 if dt == np.float32 else 1e-12), atol=err)


# Each (dtype, transposes, epilogue) is a GEMM variant compiled once per process (about a
# second without the disk cache): transposes and epilogues are swept separately.
@_SWEEP
@given(m=st.sampled_from(DIMS), n=st.sampled_from(DIMS), k=st.sampled_from(DIMS + [0]),
       batch=st.sampled_from([1, 3]), trans_a=st.booleans(), trans_b=st.booleans(),
       batch_a=st.sampled_from([0, 1, 2]), dtype=st.sampled_from([np.float32, np.float64]))
def test_sweep_transposes_vs_interpreter(m, n, k, batch, trans_a, trans_b, batch_a, dtype):
    _sweep_case(m, n, k, batch, trans_a, trans_b, batch_a, "none", dtype)


@_SWEEP
@given(m=st.sampled_from(DIMS), n=st.sampled_from(DIMS), k=st.sampled_from(DIMS + [0]),
       batch=st.sampled_from([1, 3]), epilogue=st.sampled_from(EPILOGUES),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_sweep_epilogues_vs_interpreter(m, n, k, batch, epilogue, dtype):
    _sweep_case(m, n, k, batch, False, False, 0, epilogue, dtype)


def _fused_plan(exe):
    fusion = [i for i in exe.optimized.body if i.op == "fusion" and
              i.params["body"].kind == "dot"]
    assert len(fusion) == 1
    body = fusion[0].params["body"].fn
    outer = dict(zip((f.id for f in body.feeds), fusion[0].operands))
    return dots.match_epilogue(body, outer, dots.Layout(body.body[0])), body


@pytest.mark.parametrize("kind,want,whole", [
    ("bias_relu", dict(bias=True, activation="relu"), True),
    ("alpha_bias_res_tanh", dict(alpha=True, bias=True, residual=True, activation="tanh"),
     True),
    ("sigmoid", dict(activation="sigmoid"), True),
    ("alpha_var", dict(alpha=True), True),
    ("res_bias", dict(residual=True), False),
    ("relu_then_exp", dict(activation="relu"), False),
    ("bias_relu_mask_ge", dict(bias=True, activation="relu", mask="ge"), True),
    ("mask_gt", dict(mask="gt"), True),
    ("mask_lt_swapped", dict(mask="gt"), True),
    ("mask_le_swapped", dict(mask="ge"), True),
    ("mask_other_false", dict(), False),
    ("mask_eq", dict(), False)])
def test_epilogue_mapping(kind, want, whole):
    dt = np.dtype(np.float32)
    res = data(dt, (2, 20, 40), 4, 1.0)
    # The masks' edge cases: r = +-0 (kept by >= only) and NaN (dropped by both).
    res[:, ::3, ::2] = 0.0
    res[:, 1::4, ::5] = -0.0
    if "mask" in kind:
        res[:, 2::5, 1::3] = np.nan
    feeds = [data(dt, (2, 20, 30), 1, 1.0), data(dt, (2, 30, 40), 2, 1.0),
             data(dt, (40,), 3, 1.0), res, np.array(-2.0, dt)]

    def build(b, x, y, bias, res, alpha):
        d = _dot(b, x, y, (2,), (1,), (0,), (0,))
        return _epilogue(b, d, kind, bias, res, alpha, dt)
    exe = check(build, feeds, rtol=1e-4, atol=1e-4)
    plan, body = _fused_plan(exe)
    ep = plan.epilogue
    got = dict(alpha=ep.alpha, bias=ep.bias, residual=ep.residual, activation=ep.activation,
               mask=ep.mask)
    assert got == dict(dict(alpha=False, bias=False, residual=False, activation=None,
                            mask=None), **want)
    assert (plan.top is body.fetches[0]) == whole


def _threads_program(b, x, y, bias, res):
    d = _dot(b, x, y, (2,), (1,), (0,), (0,))
    d = b.emit1("mul", d, b.full(0.5, x.dtype, d.shape))
    z = b.emit1("add", b.emit1("add", d, b.broadcast_in_dim(bias, d.shape, (2,))), res)
    return [b.emit1("tanh", z), _dot(b, y, x, (1,), (2,), (0,), (0,))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_and_two_threads_give_identical_bits(dtype):
    # 3 x (230 x 700 x 300): several rectangles per batch element, several chunks.
    x, y = data(dtype, (3, 230, 300), 1, 1.0), data(dtype, (3, 300, 700), 2, 1.0)
    bias, res = data(dtype, (700,), 3), data(dtype, (3, 230, 700), 4)
    layout = dots.Layout(function(_threads_program, [x, y, bias, res]).body[0])
    # Several rectangles per GEMM, at most one per thread of the call.
    parts = [layout.plan(dots._Py, 3, 230, 700, 300, t)[0] for t in (None, 0, 1, 2, 3)]
    assert parts == [dots.MAX_PARTS, 1, 1, 2, 3]
    exe = check(_threads_program, [x, y, bias, res], rtol=1e-4, atol=1e-4)
    one = exe.run([x, y, bias, res], [], num_threads=1)
    for threads in (2, 3, 5):
        many = exe.run([x, y, bias, res], [], num_threads=threads)
        for p, q in zip(one, many):
            assert p.tobytes() == q.tobytes()


@pytest.mark.parametrize("m,n,k,cut_n", [(200, 200, 200, False), (100, 500, 784, True),
                                          (784, 500, 100, False), (100, 100, 1000, False)])
def test_the_split_cuts_the_side_that_makes_more_rectangles(m, n, k, cut_n):
    """The longer side is cut unless the other makes more rectangles (200 x 200: 13 column
    tiles are too few for two rectangles, 34 row tiles are not); two threads give the bits
    of one."""
    x, y = data(np.float32, (1, m, k), 1, 1.0), data(np.float32, (1, k, n), 2, 1.0)

    def build(b, x, y):
        return _dot(b, x, y, (2,), (1,), (0,), (0,))
    layout = dots.Layout(function(build, [x, y]).body[0])
    parts, along_n = layout.plan(dots._Py, 1, m, n, k, 2)[:2]
    assert (parts, along_n) == (2, cut_n)
    exe = check(build, [x, y], rtol=1e-4, atol=1e-4)
    one, two = (exe.run([x, y], [], num_threads=t)[0] for t in (1, 2))
    assert one.tobytes() == two.tobytes()


def test_symbolic_sizes_and_threads():
    N = SymDim("N")
    w, bias = data(np.float32, (300, 129), 5, 1.0), data(np.float32, (129,), 6, 1.0)

    def build(b, x, w, bias):
        d = _dot(b, x, w, (1,), (0,))
        return [b.emit1("max", b.emit1("add", d, b.broadcast_in_dim(bias, d.shape, (1,))),
                        b.full(0, np.float32, d.shape)), _dot(b, x, x, (0,), (0,))]
    fn = function(build, [(np.float32, (N, 300)), w, bias], dims=["N"])
    exe = CompiledExecutable(fn)
    for n in (0, 1, 5, 37, 700):
        x = data(np.float32, (n, 300), n, 1.0)
        want, _ = interpret(fn, [x, w, bias], [], {"N": n})
        one = exe.run([x, w, bias], [], dims={"N": n}, num_threads=1)
        assert_same(one, want, rtol=1e-4, atol=1e-3)
        two = exe.run([x, w, bias], [], dims={"N": n}, num_threads=2)
        assert all(p.tobytes() == q.tobytes() for p, q in zip(one, two))


def test_standalone_module_defines_its_gemm():
    fn = function(lambda b, x, y: _dot(b, x, y, (1,), (0,)),
                  [(np.float32, (8, 9)), (np.float32, (9, 10))])
    exe = CompiledExecutable(fn)
    # The host's blocking (AVX2 here) is part of the name.
    name = "graphc_gemm_float32_nn_x_linear_" + gk.blocking(np.float32, llvm.vector_bytes()).tag
    text, _, _ = codegen.build_module(exe.optimized, standalone=True)
    assert "define void @\"%s\"(" % name in text
    shared, _, _ = codegen.build_module(exe.optimized)
    assert "declare void @\"%s\"(" % name in shared and "define void @\"%s\"(" % name \
        not in shared


_LIBRARY_SCRIPT = """
import sys
import numpy as np
from graphc.backend.cpu import gemm_kernel as gk
from graphc.backend.cpu.executable import CompiledExecutable
from tests.backend.helpers import data, function
calls = []
for name in ("emit_kernels", "emit_sgemm"):
    def counted(*args, _f=getattr(gk, name), _n=name, **kw):
        calls.append(_n)
        return _f(*args, **kw)
    setattr(gk, name, counted)
m, k, n = (int(v) for v in sys.argv[1:])
x, w, bias = data(np.float32, (m, k), 1), data(np.float32, (k, n), 2), data(np.float32, (n,), 3)

def build(b, x, w, bias):
    y = b.emit1("dot_general", x, w, lhs_contract=(1,), rhs_contract=(0,), lhs_batch=(),
                rhs_batch=())
    return [b.emit1("add", y, b.broadcast_in_dim(bias, y.shape, (1,))),
            b.emit1("dot_general", x, x, lhs_contract=(0,), rhs_contract=(0,), lhs_batch=(),
                    rhs_batch=())]
got = CompiledExecutable(function(build, [x, w, bias])).run([x, w, bias], [])
np.testing.assert_allclose(got[0], x @ w + bias, rtol=1e-4, atol=1e-4)
np.testing.assert_allclose(got[1], x.T @ x, rtol=1e-4, atol=1e-4)
print(calls.count("emit_kernels"), calls.count("emit_sgemm"))
"""


def test_variants_share_one_kernel_library_cached_without_ir(tmp_path):
    """Two variants (NN with a bias, TN without) build the dtype's micro-kernels once; a
    second process (other shapes: a new executable) loads both libraries from the disk cache
    without generating their IR."""
    import os
    import pathlib
    import subprocess
    import sys
    root = str(pathlib.Path(__file__).resolve().parents[2])
    env = dict(os.environ, GRAPHC_CACHE_DIR=str(tmp_path),
               PYTHONPATH=os.pathsep.join([root] + [p for p in [os.environ.get("PYTHONPATH")]
                                                    if p]))
    counts = [subprocess.run([sys.executable, "-c", _LIBRARY_SCRIPT] + shape, env=env,
                             cwd=root, capture_output=True, text=True, check=True).stdout.split()
              for shape in (["40", "30", "50"], ["45", "33", "51"])]
    assert counts == [["1", "2"], ["0", "0"]]
