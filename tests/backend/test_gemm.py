"""The generated GEMM kernels (graphc/backend/cpu/gemm_kernel.py) against numpy in float64:
a property-based sweep of shapes (1, primes, sizes that are not multiples of the vector width,
the register tile or the cache blocks) over every transpose combination, both dtypes and every
epilogue; bit-identical results when C is computed in separate rectangles; scratch and C bounds."""

import concurrent.futures
import importlib.util
import pathlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_PATH = pathlib.Path(__file__).resolve().parents[2] / "graphc/backend/cpu/gemm_kernel.py"


def _load():
    # By file path: the backend package's __init__ is not ours to depend on.
    spec = importlib.util.spec_from_file_location("graphc_gemm_kernel_under_test", _PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


gk = _load()

DTYPES = [np.float32, np.float64]
TRANS = [(False, False), (True, False), (False, True), (True, True)]
# 1, primes and sizes around the vector width (8/4), the tiles (6 x 16 / 6 x 8), MC, KC.
DIMS = [1, 2, 3, 5, 7, 8, 9, 13, 16, 17, 31, 37, 64, 97, 131, 145, 256, 257, 300]
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

_kernels = {}


def kernel(dtype, trans_a=False, trans_b=False, epilogue=None):
    """A compiled kernel, shared by the tests (compiling costs about a second)."""
    key = (np.dtype(dtype), trans_a, trans_b, epilogue)
    if key not in _kernels:
        _kernels[key] = gk.JitGemm(dtype, trans_a, trans_b, epilogue)
    return _kernels[key]


def operands(dtype, m, n, k, trans_a, trans_b, seed=0):
    """A, B as stored (transposed when the flag says so), as C-contiguous arrays."""
    r = np.random.RandomState(seed)
    a = r.randn(*((k, m) if trans_a else (m, k))).astype(dtype)
    b = r.randn(*((n, k) if trans_b else (k, n))).astype(dtype)
    return a, b


def logical(x, trans):
    return (x.T if trans else x).astype(np.float64)


def assert_close(got, want, bound, dtype):
    """|got - want| within the float rounding bound of a k-term dot product: about
    k * eps * sum |a||b| per element (bound), plus a few ulps of the result."""
    eps = np.finfo(dtype).eps
    tol = 2 * eps * bound + 8 * eps * np.abs(want) + np.finfo(dtype).tiny
    err = np.abs(got.astype(np.float64) - want)
    bad = ~(err <= tol)
    assert not bad.any(), "max error %g where allowed %g (%d elements off)" % (
        err[bad].max(), tol[bad].min(), bad.sum())


def reference(a, b, trans_a, trans_b):
    """(A.B in float64, k * |A|.|B|: the scale of its rounding error)."""
    la, lb = logical(a, trans_a), logical(b, trans_b)
    return la @ lb, max(la.shape[1], 1) * (np.abs(la) @ np.abs(lb))


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("trans", TRANS, ids=["nn", "tn", "nt", "tt"])
@SETTINGS
@given(m=st.sampled_from(DIMS), n=st.sampled_from(DIMS), k=st.sampled_from(DIMS))
def test_gemm_shapes(dtype, trans, m, n, k):
    a, b = operands(dtype, m, n, k, *trans)
    want, bound = reference(a, b, *trans)
    got = kernel(dtype, *trans)(a, b)
    assert got.dtype == np.dtype(dtype) and got.shape == (m, n)
    assert_close(got, want, bound, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("trans", TRANS, ids=["nn", "tn", "nt", "tt"])
@pytest.mark.parametrize("m,n,k", [
    (1, 1, 1), (1, 300, 257), (257, 1, 300), (1, 1, 600),  # GEMV both ways, dot products
    (13, 4100, 3),  # more columns than one packed B block (NC)
    (300, 17, 600),  # several KC chunks and MC blocks
    (12, 40, 520), (11, 33, 7),  # the unpacked path's row blocks and edges
    (3, 1030, 1030),  # few rows but a B too big for the unpacked kernels
    (5, 6, 0), (0, 4, 3),  # empty contraction: zeros; empty output: nothing to do
])
def test_gemm_paths(dtype, trans, m, n, k):
    a, b = operands(dtype, m, n, k, *trans, seed=m + n + k)
    want, bound = reference(a, b, *trans)
    c = np.full((m, n), np.nan, dtype)
    assert_close(kernel(dtype, *trans)(a, b, c), want, bound, dtype)


def np_act(name, x):
    if name == "relu":
        return np.maximum(x, 0)
    if name == "sigmoid":
        with np.errstate(over="ignore"):  # exp(-x) = inf gives the right 0
            return 1 / (1 + np.exp(-x))
    if name == "tanh":
        return np.tanh(x)
    return x


FULL = {act: gk.Epilogue(alpha=True, bias=True, residual=True, activation=act)
        for act in (None, "relu", "sigmoid", "tanh")}
EPILOGUES = list(FULL.values()) + [
    gk.Epilogue(bias=True, activation="relu"),
    gk.Epilogue(alpha=True, bias=True, activation="relu", mask="ge"),
    gk.Epilogue(mask="gt")]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("epilogue", EPILOGUES,
                         ids=lambda e: "%s%s%s-%s%s" % ("a" * e.alpha, "b" * e.bias,
                                                        "r" * e.residual, e.activation,
                                                        "-mask_" + e.mask if e.mask else ""))
@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(m=st.sampled_from(DIMS), n=st.sampled_from(DIMS), k=st.sampled_from(DIMS + [0]),
       trans=st.sampled_from(TRANS))
def test_gemm_epilogue(dtype, epilogue, m, n, k, trans):
    # The epilogue code does not depend on the transposes: one kernel per epilogue, read
    # with the operands transposed back in numpy where the draw asks for it.
    a, b = operands(dtype, m, n, k, *trans, seed=3)
    a = np.ascontiguousarray(a.T) if trans[0] else a
    b = np.ascontiguousarray(b.T) if trans[1] else b
    r = np.random.RandomState(4)
    bias = r.randn(n).astype(dtype)
    res = r.randn(m, n + 3).astype(dtype)[:, :n]  # its own leading dimension, not C's
    if epilogue.mask:  # r = +-0 passes >= only, NaN neither compare
        res[::3, ::2], res[1::4, ::3], res[2::5, 1::3] = 0.0, -0.0, np.nan
    alpha = 0.75
    acc, bound = reference(a, b, False, False)
    scaled = (alpha if epilogue.alpha else 1.0) * acc
    terms = [t for t, on in ((bias, epilogue.bias), (res, epilogue.residual)) if on]
    pre = scaled + sum(terms)
    want = np_act(epilogue.activation, pre)
    if epilogue.mask:
        with np.errstate(invalid="ignore"):
            keep = res >= 0 if epilogue.mask == "ge" else res > 0
        want = np.where(keep, want, 0.0)
    got = kernel(dtype, epilogue=epilogue)(a, b, bias=bias, residual=res, alpha=alpha)
    if epilogue.mask:  # dropped elements are +0.0 exactly
        assert not np.signbit(got[~keep]).any() and not got[~keep].any()
    # Each addition rounds at the scale of its terms; every activation here has |f'| <= 1,
    # so errors before it pass through unamplified.
    assert_close(got, want, bound + np.abs(scaled) + sum(np.abs(t) for t in terms), dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("act", ["relu", "sigmoid", "tanh"])
def test_activation_values(dtype, act):
    """The in-register element functions over their whole range (k = 1: C = act(x . 1)),
    including tiny, huge and subnormal-producing arguments, to a few ulps."""
    big = 60 if dtype == np.float32 else 400
    x = np.concatenate([np.linspace(-big, big, 997), np.geomspace(1e-30, 1e3, 200),
                        -np.geomspace(1e-30, 1e3, 200), [0.0, -0.0, 0.2999, 0.3, 0.3001, 0.35,
                                                        -0.3, 88.0, -88.0, 103.0, -103.0,
                                                        745.0, -745.0, np.inf, -np.inf]])
    x = x.astype(dtype)[:, None]
    one, zero = np.ones((1, 1), dtype), np.zeros((1, len(x)), dtype)
    # alpha = 1, bias = residual = 0 pass x . 1 through exactly.
    got = kernel(dtype, epilogue=FULL[act])(x, one, bias=zero[0, :1], residual=zero.T)[:, 0]
    want = np_act(act, x[:, 0].astype(np.float64))
    ulp = np.spacing(np.abs(want).astype(dtype)).astype(np.float64)
    tiny = np.finfo(dtype).smallest_subnormal
    with np.errstate(invalid="ignore"):  # inf - inf
        ok = (got == want) | (np.abs(got - want) <= 4 * ulp + tiny)
    assert ok.all(), list(zip(x[~ok, 0], got[~ok], want[~ok]))
    nan = kernel(dtype, epilogue=FULL[act])(np.full((2, 1), np.nan, dtype), np.ones((1, 3), dtype),
                                            bias=zero[0, :3], residual=np.zeros((2, 3), dtype))
    assert np.isnan(nan).all()


def test_callable_activation():
    """An activation supplied as an IR-emitting callable (as the backend's own element
    functions would be) is applied in registers."""
    square = gk.Epilogue(bias=True, activation=lambda b, x: b.fmul(x, x))
    a, b = operands(np.float32, 37, 45, 19, False, False, seed=5)
    bias = np.arange(45, dtype=np.float32)
    want = (a.astype(np.float64) @ b + bias) ** 2
    got = kernel(np.float32, epilogue=square)(a, b, bias=bias)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-3)


def rectangles(m, n, rng):
    """Random rectangles (row and column cuts at arbitrary positions) tiling m x n."""
    rows = sorted(set([0, m] + list(rng.randint(0, m + 1, size=3))))
    cols = sorted(set([0, n] + list(rng.randint(0, n + 1, size=3))))
    return [(r0, r1, c0, c1) for r0, r1 in zip(rows, rows[1:])
            for c0, c1 in zip(cols, cols[1:])]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("trans", TRANS, ids=["nn", "tn", "nt", "tt"])
@pytest.mark.parametrize("m,n,k", [(300, 257, 531), (151, 290, 97), (9, 300, 300),
                                   (257, 1, 300), (1, 130, 70), (40, 40, 40), (40, 1000, 100)])
def test_split_is_bit_identical(dtype, trans, m, n, k):
    """Any split of C into rectangles (a thread pool's work items) gives the same bits as
    one call, whatever path the shape takes and whatever order the loops take for the
    rectangle (300 x 257 x 531: B panels packed just in time for rectangles of up to MC
    rows; 151 x 290 x 97: C swept by rows; 40 x 1000 x 100: B panels just in time for the
    whole, C swept by rows for rectangles of a small enough B block)."""
    # The epilogue on the no-transpose kernels (the tile write-back is shared by all).
    ker = kernel(dtype, *trans, epilogue=FULL["tanh"] if trans == (False, False) else None)
    a, b = operands(dtype, m, n, k, *trans, seed=7)
    bias = np.linspace(-1, 1, n).astype(dtype)
    res = np.linspace(-2, 2, m * n).astype(dtype).reshape(m, n)
    whole = ker(a, b, bias=bias, residual=res, alpha=0.5)
    rng = np.random.RandomState(m * n)
    splits = [gk.split(m, n, parts, dtype) for parts in (2, 3, 7)] + [rectangles(m, n, rng)]
    for rects in splits:
        c = np.full((m, n), np.nan, dtype)
        for q, rect in enumerate(rects):
            ker(a, b, c, bias=bias, residual=res, alpha=0.5, rect=rect, slot=q % 2)
        assert np.array_equal(c, whole), rects
    # Concurrently, as a thread pool would (ctypes releases the GIL), a scratch per worker.
    c = np.full((m, n), np.nan, dtype)
    rects = gk.split(m, n, 4, dtype)
    with concurrent.futures.ThreadPoolExecutor(len(rects)) as pool:
        list(pool.map(lambda q: ker(a, b, c, bias=bias, residual=res, alpha=0.5,
                                    rect=rects[q], slot=10 + q), range(len(rects))))
    assert np.array_equal(c, whole)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("epilogue", [FULL["relu"], FULL["sigmoid"], EPILOGUES[-2]],
                         ids=["relu", "sigmoid", "mask"])
def test_edge_tiles_match_full_tiles(dtype, epilogue):
    """Every height of the packed path's last row panel (the short tiles) and a last column
    panel of at most one vector (the narrow tile) give the bits of a full tile computing the
    same elements: a rectangle starting MR rows (NR columns) before C's end covers them with
    full tiles only. Each value is also checked against float64."""
    blk = gk.blocking(dtype)
    n, k = 2 * blk.nr + blk.w // 2 + 1, blk.kc + 37  # a narrow last panel; two KC chunks
    for m in range(4 * blk.mr, 5 * blk.mr + 1):  # every remainder of m by MR
        a, b = operands(dtype, m, n, k, False, False, seed=m)
        r = np.random.RandomState(m)
        bias, res = r.randn(n).astype(dtype), r.randn(m, n).astype(dtype)
        ker = kernel(dtype, epilogue=epilogue)
        whole = ker(a, b, bias=bias, residual=res, alpha=0.5)
        for rect in [(m - blk.mr, m, 0, n), (0, m, n - blk.nr, n)]:
            c = np.full((m, n), np.nan, dtype)
            ker(a, b, c, bias=bias, residual=res, alpha=0.5, rect=rect)
            r0, r1, c0, c1 = rect
            assert np.array_equal(c[r0:r1, c0:c1], whole[r0:r1, c0:c1]), (m, rect)
        acc, bound = reference(a, b, False, False)
        pre = 0.5 * acc + bias + (res if epilogue.residual else 0)
        want = np_act(epilogue.activation, pre)
        if epilogue.mask:
            want = np.where(res >= 0, want, 0.0)
        assert_close(whole, want, bound + np.abs(pre) + np.abs(res), dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("trans_a", [False, True], ids=["n", "t"])
@pytest.mark.parametrize("n,k", [(37, 300), (16, 9), (40, 40), (77, 513), (1030, 1030)])
def test_unpacked_paths_match_packed_bits(dtype, trans_a, n, k):
    """The small-problem kernels (one row, few rows, little work, with B read in place) do
    the packed kernel's arithmetic in the same order: the first rows of a product big enough
    to be packed have the same bits as the product of those rows alone."""
    big = 300
    a, b = operands(dtype, big, n, k, trans_a, False, seed=11)
    ker = kernel(dtype, trans_a)
    whole = ker(a, b)
    for m in (1, 2, 5, 12, 40):
        rows = a[:, :m] if trans_a else a[:m]
        assert np.array_equal(ker(rows, b), whole[:m]), m
@pytest.mark.parametrize("trans", TRANS, ids=["nn", "tn", "nt", "tt"])
def test_bounds_of_scratch_and_c(trans):
    """The kernel writes only C's rectangle and the scratch_bytes() it asked for, from a
    scratch pointer of any alignment, with padded leading dimensions."""
    m, n, k = 150, 70, 300
    ker = kernel(np.float32, *trans)
    a, b = operands(np.float32, m, n, k, *trans, seed=13)
    pad = lambda x: np.pad(x, ((0, 0), (0, 5)))[:, :x.shape[1]]  # noqa: E731 (ld > cols)
    a, b = pad(a), pad(b)
    need = gk.scratch_bytes(m, n, k, np.float32)
    raw = np.full(need + 64, 0xAB, np.uint8)
    scratch = raw[3:3 + need]
    c_full = np.full((m, n + 3), -7.0, np.float32)
    c = c_full[:, :n]
    r0, r1, c0, c1 = 17, 140, 5, 66
    size = 4
    ker.fn(m, n, k, a.ctypes.data, a.strides[0] // size, b.ctypes.data, b.strides[0] // size,
           c.ctypes.data, c.strides[0] // size, scratch.ctypes.data, r0, r1, c0, c1, None,
           None, 0, 1.0)
    assert (raw[:3] == 0xAB).all() and (raw[3 + need:] == 0xAB).all()
    want, bound = reference(a, b, *trans)
    inside = np.zeros(c_full.shape, bool)
    inside[r0:r1, c0:c1] = True
    assert (c_full[~inside] == -7.0).all()
    assert_close(c[r0:r1, c0:c1], want[r0:r1, c0:c1], bound[r0:r1, c0:c1], np.float32)


def test_split_covers_output():
    for m, n, parts in [(1, 1, 4), (300, 20, 3), (7, 1000, 2), (100, 100, 64)]:
        rects = gk.split(m, n, parts)
        cover = np.zeros((m, n), int)
        for r0, r1, c0, c1 in rects:
            cover[r0:r1, c0:c1] += 1
        assert (cover == 1).all() and len(rects) <= parts


def test_bad_arguments():
    from llvmlite import ir
    with pytest.raises(TypeError, match="float16"):
        gk.emit_sgemm(ir.Module(), "g", np.float16)
    with pytest.raises(ValueError, match="gelu"):
        gk.Epilogue(activation="gelu")
    with pytest.raises(ValueError, match="unknown GEMM epilogue mask"):
        gk.Epilogue(mask="ne")
    for bad in (dict(residual=True), dict(activation="tanh")):
        with pytest.raises(ValueError, match="mask excludes"):
            gk.Epilogue(mask="ge", **bad)
    with pytest.raises(ValueError, match="do not match"):
        kernel(np.float32)(np.ones((3, 4), np.float32), np.ones((5, 2), np.float32))
