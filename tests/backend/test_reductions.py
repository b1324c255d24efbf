"""reduce / argmax / argmin compiled vs the interpreter: every kind, axis sets that do and do
not include the last axis, empty inputs, NaN propagation."""

import numpy as np
import pytest

from tests.backend.helpers import check, data

AXES = [(0,), (1,), (2,), (0, 2), (1, 2), (0, 1, 2)]
SHAPES = [(3, 5, 7), (2, 0, 3), (1, 1, 1), (4, 3, 33)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
@pytest.mark.parametrize("kind", ["sum", "max", "min", "prod"])
def test_reduce(kind, dtype):
    feeds = [data(dtype, s, i, scale=1.0) for i, s in enumerate(SHAPES)]
    if kind == "prod" and np.dtype(dtype).kind in "iu":
        feeds = [np.clip(f, -3, 3) for f in feeds]
    check(lambda b, *xs: [b.reduce(x, a, kind) for x in xs for a in AXES], feeds,
          rtol=1e-4 if dtype == np.float32 else None, atol=1e-5 if dtype == np.float32 else None)


@pytest.mark.parametrize("kind", ["any", "all", "sum", "max", "min"])
def test_bool_reduce(kind):
    # (the reference has no identity for an empty bool max/min)
    feeds = [data(np.bool_, s, i) for i, s in enumerate(SHAPES)
             if kind not in ("max", "min") or 0 not in s]
    check(lambda b, *xs: [b.reduce(x, a, kind) for x in xs for a in AXES], feeds)


def test_nan_propagates_through_max_min_and_sum():
    x = np.array([[1, np.nan, 3], [np.inf, -np.inf, 2], [-1, -2, np.nan]], np.float32)
    check(lambda b, x: [b.reduce(x, (a,), k) for a in (0, 1) for k in ("max", "min", "sum")],
          [x])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32])
@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_arg_reductions(op, dtype):
    x = data(dtype, (4, 6, 5), 3)
    x[1, 2, :] = x[1, 2, 0]  # ties: the first index wins
    feeds = [x]
    if np.dtype(dtype).kind == "f":
        feeds.append(np.array([[1, np.nan, 5, np.nan], [np.inf, -np.inf, 0, 1]], dtype))
    check(lambda b, *xs: [b.emit1(op, x, axis=a, index_dtype=t) for x in xs
                          for a in range(x.rank) for t in (np.int32, np.int64)], feeds)


def test_reduction_with_fused_producers():
    x = data(np.float32, (8, 33), 4)
    y = data(np.float32, (33,), 5)

    def build(b, x, y):
        shifted = b.emit1("sub", x, b.broadcast_in_dim(y, (8, 33), (1,)))
        e = b.emit1("exp", shifted)
        return [b.reduce(e, (1,), "sum"), b.reduce(b.emit1("mul", e, e), (0,), "sum")]
    check(build, [x, y])


def test_broadcast_operands_made_once_per_row():
    """Operands of broadcasts that vary only along the kept (or outer) axes are made ahead of
    the loop over the others (kernels.hoist_broadcasts): the values stay right whichever axes
    a broadcast maps, in reductions over the last axis and in row-wise element loops."""
    x = data(np.float32, (6, 33), 1)
    r = np.abs(data(np.float32, (6,), 2)) + 0.5
    c = np.abs(data(np.float32, (33,), 3)) + 0.5
    m = data(np.float32, (33, 33), 4)
    x3 = data(np.float32, (4, 5, 7), 5)
    p = np.abs(data(np.float32, (4, 5), 6)) + 0.5
    q = data(np.float32, (6, 1), 7)

    def build(b, x, r, c, m, x3, p, q):
        def bc(v, shape, dims):
            return b.broadcast_in_dim(v, shape, dims)
        log_r, log_c = b.emit1("log", r), b.emit1("log", c)
        row = b.emit1("mul", x, bc(log_r, (6, 33), (0,)))       # varies along kept axis 0
        col = b.emit1("mul", x, bc(log_c, (6, 33), (1,)))       # along the reduced axis
        ones = b.emit1("add", x, bc(q, (6, 33), (0, 1)))        # a size-1 dim
        by_rows = b.emit1("mul", m, bc(c, (33, 33), (0,)))
        by_cols = b.emit1("mul", m, bc(c, (33, 33), (1,)))
        x3p = b.emit1("sub", x3, bc(b.emit1("log", p), (4, 5, 7), (0, 1)))
        x3r = b.emit1("mul", x3p, bc(b.emit1("exp", b.reduce(p, (0,), "sum")), (4, 5, 7), (1,)))
        return [b.reduce(row, (1,), "sum"), b.reduce(col, (1,), "sum"), row,
                b.reduce(ones, (1,), "max"), b.reduce(by_rows, (1,), "sum"),
                b.reduce(by_cols, (1,), "sum"), by_rows, b.reduce(x3p, (2,), "sum"),
                b.reduce(x3r, (2,), "min"), x3r]
    check(build, [x, r, c, m, x3, p, q], rtol=1e-4, atol=1e-4)


def test_row_operands_are_made_outside_the_inner_loop(monkeypatch):
    """A softmax's log of each row's sum is emitted at the row's loop level, not per element:
    the loop depth at which the log is generated, in a reduction over the last axis and in a
    row-wise element loop."""
    from graphc.backend.cpu import disk_cache, emitters, kernels
    monkeypatch.setattr(disk_cache, "function_key", lambda *args: None)  # always generate
    depth, seen = [0], []
    loop = kernels.FunctionBuilder.loop

    def counted(self, lo, hi, body):
        def inner(i):
            depth[0] += 1
            body(i)
            depth[0] -= 1
        loop(self, lo, hi, inner)
    log = emitters.ELEMENT["log"]

    def spy(k, instr, idx):
        seen.append(depth[0])
        return log(k, instr, idx)
    monkeypatch.setattr(kernels.FunctionBuilder, "loop", counted)
    monkeypatch.setitem(emitters.ELEMENT, "log", spy)
    x = data(np.float32, (6, 33), 1)
    s = np.abs(data(np.float32, (6,), 2)) + 0.5

    def shifted(b, x, s):
        return b.emit1("sub", x, b.broadcast_in_dim(b.emit1("log", s), (6, 33), (0,)))
    for build in (lambda b, x, s: b.reduce(b.emit1("mul", x, shifted(b, x, s)), (1,), "sum"),
                  shifted):
        seen.clear()
        check(build, [x, s])
        assert seen == [1], seen
