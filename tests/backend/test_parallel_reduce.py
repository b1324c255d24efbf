"""Large reductions with few outputs are split at a fixed point by the fusion pass so that they
run in parallel; reductions keeping the last axis (bias gradients) run in parallel over their
outer kept axes and column blocks, split along the rows where that is too little. The bits do
not depend on the thread count, and the results are the interpreter's."""

import numpy as np
import pytest

from graphc.backend.cpu.executable import CompiledExecutable
from graphc.ir import SymDim, interpret
from tests.backend.helpers import assert_same, data, function


def _reduce_ops(exe):
    """[(operand shape, axes)] of the reductions the optimized function computes."""
    out = []
    for instr in exe.optimized.body:
        body = instr.params["body"].fn.body if instr.op == "fusion" else [instr]
        out += [(m.operands[0].shape, m.params["axes"]) for m in body if m.op == "reduce"]
    return out


@pytest.mark.parametrize("shape,axes,kind", [((1 << 20,), (0,), "sum"),
                                             ((3, 1 << 18), (1,), "sum"),
                                             ((2, 512, 384), (1, 2), "max"),
                                             ((1 << 19,), (0,), "min")],
                         ids=["full-sum", "rows-sum", "two-axes-max", "full-min"])
def test_large_reduction_is_split_and_identical_for_any_thread_count(shape, axes, kind):
    x = data(np.float32, shape, seed=3)
    fn = function(lambda b, v: b.reduce(b.emit1("tanh", v), axes, kind), [x])
    exe = CompiledExecutable(fn)
    reductions = _reduce_ops(exe)
    assert len(reductions) == 2  # the parallel partial reduction and the combine
    parts = reductions[0][0][len(shape) - len(axes)]
    assert 2 <= parts <= 64
    results = [exe.run([x], [], num_threads=n)[0] for n in (1, 2, 3)]
    for r in results[1:]:
        assert r.tobytes() == results[0].tobytes()
    want, _ = interpret(fn, [x], [])
    assert_same(results[:1], want, rtol=1e-4 if kind == "sum" else None)


def test_small_or_many_output_reductions_are_not_split():
    x = data(np.float32, (512, 300), seed=4)
    exe = CompiledExecutable(function(
        lambda b, v: [b.reduce(v, (1,), "sum"), b.reduce(v, (0,), "sum")], [x]))
    assert all(len(s) == 2 for s, _ in _reduce_ops(exe))


# Reductions that keep the last axis (bias gradients) accumulate rows into a block of columns,
# in parallel over the outer kept axes and the column blocks; with little of that
# parallelism the fusion pass splits the rows. (shape, axes, kind, dtype, split parts or 1).
KEPT_LAST = [((6272, 32), (0,), "sum", np.float32, 49),  # conv1's bias gradient shape, odd P
             ((4, 28, 28, 33), (0, 1, 2), "sum", np.float32, 16),  # leading axes, odd columns
             ((5, 2048, 24), (1,), "max", np.float32, 8),  # a middle axis: [5, P, 256, 24]
             ((3, 4099, 40), (1,), "sum", np.float32, 1),  # prime rows: no split
             ((600, 1400), (0,), "sum", np.float32, 1),  # three column groups
             ((40, 3000), (0,), "sum", np.float32, 1),  # one group of 12 blocks, a short tail
             ((6, 50, 7, 50, 9), (1, 3), "sum", np.float32, 1),  # reduced axes apart
             ((2, 9, 3000, 5), (0, 2), "min", np.float64, 1),
             ((9000, 17), (0,), "sum", np.int32, 36),
             ((4096, 40), (0,), "any", np.bool_, 32)]


@pytest.mark.parametrize("shape,axes,kind,dtype,parts", KEPT_LAST,
                         ids=["-".join(map(str, c[0])) for c in KEPT_LAST])
def test_kept_last_axis_reductions(shape, axes, kind, dtype, parts):
    x = data(dtype, shape, seed=5)
    if dtype == np.bool_:
        x = data(np.float32, shape, seed=5) > 6.0  # rare: some columns stay all False
        fn = function(lambda b, v: b.reduce(v, axes, "max"), [x])
    elif dtype == np.int32:
        fn = function(lambda b, v: b.reduce(v, axes, kind), [x])
    else:  # with a fused producer, as the relu gradient's mask of a bias gradient
        fn = function(lambda b, v: b.reduce(b.emit1("select", b.emit1(
            "gt", v, b.full(0, dtype, v.shape)), v, b.emit1("neg", v)), axes, kind), [x])
    exe = CompiledExecutable(fn)
    reductions = _reduce_ops(exe)
    if parts == 1:
        assert len(reductions) == 1
    else:
        assert len(reductions) == 2 and reductions[0][0][min(axes)] == parts
    results = [exe.run([x], [], num_threads=n)[0] for n in (1, 2, 3)]
    for r in results[1:]:
        assert r.tobytes() == results[0].tobytes()
    want, _ = interpret(fn, [x], [])
    assert_same(results[:1], want, rtol=1e-5 if kind == "sum" else None)


@pytest.mark.parametrize("shape,axes,parts", [
    (("N", 28, 28, 32), (0, 1, 2), 56),  # conv1's bias gradient, symbolic batch: split
    ((3, "N", 40, 24), (1, 2), 5),  # a middle block: [3, N, 5, 8, 24] -> [3, 5, N, 8, 24]
    (("N", 30, 20), (0, 1), 1),  # too small to split
    ((50, "N"), (0,), 1)],  # symbolic columns: their blocks run in one iteration
    ids=["batch", "middle", "small", "columns"])
def test_symbolic_kept_last_axis_reductions(shape, axes, parts):
    n = SymDim("N")
    sym = tuple(n if d == "N" else d for d in shape)
    fn = function(lambda b, x: b.reduce(b.emit1("abs", x), axes, "sum"), [(np.float32, sym)],
                  dims=["N"])
    exe = CompiledExecutable(fn)
    reductions = _reduce_ops(exe)
    assert len(reductions) == (1 if parts == 1 else 2)
    if parts > 1:  # the partial reduction's operand has the parts right after the outer axes
        assert reductions[0][0][min(axes)] == parts
    for size in (0, 1, 300):  # 300 columns: two blocks of one iteration
        x = data(np.float32, tuple(size if d == "N" else d for d in shape), size)
        want, _ = interpret(fn, [x], [], {"N": size})
        one = exe.run([x], [], dims={"N": size}, num_threads=1)
        assert_same(one, want, rtol=1e-4)  # float32 sums of up to 235200 terms
        two = exe.run([x], [], dims={"N": size}, num_threads=2)
        assert one[0].tobytes() == two[0].tobytes()


def test_column_sums_are_as_accurate_as_sequential_float32_sums():
    # The bias gradient of conv1: 50176 positive terms per column. The error against float64
    # is at most a sequential float32 sum's (the split sums parts, then the partial sums).
    x = np.random.RandomState(6).rand(50176, 32).astype(np.float32)
    exe = CompiledExecutable(function(lambda b, v: b.reduce(v, (0,), "sum"), [x]))
    got = exe.run([x], [])[0].astype(np.float64)
    exact = x.astype(np.float64).sum(0)
    sequential = np.cumsum(x, axis=0, dtype=np.float32)[-1].astype(np.float64)
    assert np.abs(got - exact).max() <= np.abs(sequential - exact).max()
