"""Large reductions with few outputs are split at a fixed point by the fusion pass so that they
run in parallel; the bits do not depend on the thread count, and the results are the
interpreter's."""

import numpy as np
import pytest

from graphc.backend.cpu.executable import CompiledExecutable
from graphc.ir import interpret
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
