"""Each pass on small functions: what it rewrites, and that the interpreter gives the same
results before and after (the pipeline also verifies the IR after every pass)."""

import os

import numpy as np
import pytest

from graphc.ir import Builder, Function, StateSlot, SymDim, interpret, verify
from graphc.ir.primitives import IRTypeError
from graphc.passes import (buffers, constant_folding, cse, dce, dot_layout, fusion, pipeline,
                           simplify)
from graphc.passes.util import clone_function

N = SymDim("N")


def _fn(feeds, build, dims=()):
    fn = Function("t")
    fn.dims = list(dims)
    b = Builder(fn)
    xs = [fn.add_feed("x%d" % i, dt, shape) for i, (dt, shape) in enumerate(feeds)]
    outs = build(b, *xs)
    for i, o in enumerate(outs if isinstance(outs, list) else [outs]):
        fn.add_fetch("y%d" % i, o)
    return fn


def _same_results(fn, p, feeds, dims=None):
    """Runs pass module p on a copy of fn; the copy verifies and computes the same."""
    new = clone_function(fn)
    changed = p.run(new)
    verify(new)
    want, _ = interpret(fn, feeds, [], dims)
    got, _ = interpret(new, feeds, [], dims)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6)
    return new, changed


def _ops(fn):
    return [i.op for i in fn.body]


X = np.random.RandomState(0).randn(4, 3).astype(np.float32)


def test_simplify_removes_identities_and_combines_chains():
    def build(b, x):
        y = b.emit1("mul", b.emit1("add", x, b.full(0, np.float32, (4, 3))),
                    b.full(1, np.float32, (4, 3)))
        y = b.emit1("neg", b.emit1("neg", y))
        t = b.transpose(b.transpose(y, (1, 0)), (1, 0))
        return b.reshape(b.reshape(t, (12,)), (2, 6))
    fn = _fn([(np.float32, (4, 3))], build)
    new, changed = _same_results(fn, simplify, [X])
    assert changed
    dce.run(new)
    assert _ops(new).count("reshape") == 1 and "neg" not in _ops(new) and \
        "add" not in _ops(new) and "mul" not in _ops(new)
    assert not simplify.run(new)


def test_constant_folding_folds_small_and_keeps_big_broadcasts_and_errors():
    fn = Function("t")
    b = Builder(fn)
    fn.body.append(None)
    fn.body.pop()
    c = b.constant(np.arange(6, dtype=np.float32))
    b.fn.body.append(None)
    b.fn.body.pop()
    two = b.constant(np.float32(2))
    # Build unfolded instructions by hand (the builder folds what it can).
    from graphc.ir.core import Instr, Value

    def raw(op, operands, **params):
        from graphc.ir.primitives import PRIMITIVES
        (dt, shape), = PRIMITIVES[op].infer(*operands, **params)
        i = Instr(op, operands, params, [])
        i.outputs = [Value(dt, shape, producer=i)]
        fn.body.append(i)
        return i.outputs[0]
    small = raw("mul", [c, raw("broadcast_in_dim", [two], shape=(6,), broadcast_dimensions=())])
    big = raw("broadcast_in_dim", [two], shape=(1000,), broadcast_dimensions=())
    bad = raw("gather", [c, b.constant(np.array([7], np.int32))], axis=0)
    fn.add_fetch("small", small)
    fn.add_fetch("big", big)
    fn.add_fetch("bad", bad)
    assert constant_folding.run(fn)
    dce.run(fn)
    assert fn.fetches[0].is_constant and not fn.fetches[1].is_constant
    np.testing.assert_array_equal(fn.fetches[0].constant_value, np.arange(6) * 2)
    assert fn.fetches[2].producer.op == "gather"


def test_cse_merges_equal_applications_and_dce_drops_the_rest():
    def build(b, x):
        return [b.emit1("exp", x), b.emit1("exp", x), b.emit1("log", x)]
    fn = _fn([(np.float32, (4, 3))], build)
    fn.fetches.pop()
    new, changed = _same_results(fn, cse, [X])
    assert changed and new.fetches[0] is new.fetches[1]
    assert dce.run(new) and _ops(new) == ["exp"]
    assert not dce.run(new)


def test_dot_layout_makes_rank3_operands_without_copies_when_possible():
    def build(b, x, y):
        return [b.emit1("dot_general", x, y, lhs_contract=(0,), rhs_contract=(1,),
                        lhs_batch=(), rhs_batch=()),
                b.emit1("dot_general", y, y, lhs_contract=(1, 0), rhs_contract=(1, 0),
                        lhs_batch=(), rhs_batch=())]
    fn = _fn([(np.float32, (4, 3)), (np.float32, (5, 4))], build)
    y = np.random.RandomState(1).randn(5, 4).astype(np.float32)
    new, changed = _same_results(fn, dot_layout, [X, y])
    assert changed
    dots = [i for i in new.body if i.op == "dot_general"]
    assert all(o.rank == 3 for d in dots for o in d.operands)
    # Only the reversed contracting order needs copies (one per operand; CSE merges them).
    assert _ops(new).count("transpose") == 2


def test_fusion_makes_one_kernel_of_a_chain_and_fuses_producers_into_reductions():
    def build(b, x):
        e = b.emit1("exp", b.emit1("neg", b.emit1("abs", b.emit1("mul", x, x))))
        s = b.reduce(b.emit1("tanh", e), (1,), "sum")
        return [s, b.emit1("add", e, e)]
    fn = _fn([(np.float32, (4, 3))], build)
    new, changed = _same_results(fn, fusion, [X])
    assert changed
    # e has users in two groups; the loop computing e, the loop computing e + e and the
    # reduction (all over [4, 3], the last axis reduced) become one multi-output kernel that
    # stores only what is used outside it.
    fusion_instr, = new.body
    assert fusion_instr.params["body"].kind == "reduce"
    assert [v.shape for v in fusion_instr.outputs] == [(4,), (4, 3)]


def test_fusion_duplicates_broadcasts_and_leaves_gather_indices_unfused():
    idx = np.array([1, 0, 3], np.int32)

    def build(b, x, i, s):
        one = b.broadcast_in_dim(s, (4, 3), ())
        g = b.emit1("gather", x, b.emit1("add", i, b.full(0, np.int32, (3,))), axis=0)
        return [b.emit1("add", x, one), b.emit1("mul", x, one), g]
    fn = _fn([(np.float32, (4, 3)), (np.int32, (3,)), (np.float32, ())], build)
    new, _ = _same_results(fn, fusion, [X, idx, np.float32(2)])
    fusions = [i for i in new.body if i.op == "fusion"]
    # add and mul (each with its own copy of the broadcast) read x over the same space: one
    # two-output kernel; then the index add and the gather.
    assert len(fusions) == 3 and sorted(len(f.outputs) for f in fusions) == [1, 1, 2]
    assert sum(m.op == "broadcast_in_dim" for f in fusions
               for m in f.params["body"].fn.body) >= 2


def test_buffers_reuse_dead_temps_and_write_results_in_place():
    fn = Function("t")
    fn.dims = ["N"]
    x = fn.add_feed("x", np.float32, (N, 16))
    w = fn.add_state(StateSlot("w", np.float32, (16,)))
    b = Builder(fn)
    a = b.emit1("exp", x)
    r = b.emit1("add", b.reduce(a, (1,), "sum"), b.reduce(a, (1,), "max"))
    # d is read by reductions over both axes (two spaces): stored (N x 16).
    d = b.emit1("tanh", b.emit1("add", x, b.broadcast_in_dim(r, (N, 16), (0,))))
    c = b.emit1("add", b.reduce(d, (1,), "sum"), b.reduce(d, (1,), "min"))
    e = b.reduce(d, (0,), "sum")
    d2 = b.emit1("tanh", b.emit1("mul", x, b.broadcast_in_dim(c, (N, 16), (0,))))
    e = b.emit1("add", e, b.reduce(d2, (0,), "sum"))  # d2 reuses d's dead slot
    out = b.emit1("add", c, b.reduce(d2, (1,), "max"))
    fn.add_fetch("c", out)
    fn.state_out[0] = b.emit1("add", w, e)
    fusion.run(fn)
    plan = buffers.plan(fn)
    loc = {v.id: plan.locations[v.id] for i in fn.body for v in i.outputs}
    temps = [v for v, l in loc.items() if l.kind == "temp"]
    assert plan.locations[out.id].kind == "fetch"
    assert plan.locations[fn.state_out[0].id].kind == "state"
    assert not plan.copies
    offsets = {repr(loc[v].offset) for v in temps}
    assert len(offsets) < len(temps)  # a dead N x 16 buffer is reused
    assert plan.temp_size.const % 64 == 0 and all(c % 64 == 0 for c in
                                                  plan.temp_size.coeffs.values())
    assert plan.temp_size.evaluate({"N": 10}) >= 10 * 16 * 4


def test_buffers_copy_state_that_is_read_after_the_new_value_exists():
    fn = Function("t")
    w = fn.add_state(StateSlot("w", np.float32, (3,)))
    b = Builder(fn)
    new = b.emit1("neg", w)
    fn.state_out[0] = new
    fn.add_fetch("old_plus_new", b.emit1("add", w, new))
    plan = buffers.plan(fn)
    assert [c[0] for c in plan.copies] == ["state"]


def test_pipeline_dumps_verifies_and_disables(tmp_path, monkeypatch):
    fn = _fn([(np.float32, (4, 3))], lambda b, x: b.emit1("exp", b.emit1("neg", x)))
    before = str(fn)
    out = pipeline.run_pipeline(fn, dump_dir=str(tmp_path))
    assert str(fn) == before  # the input function is not modified
    names = os.listdir(out.dumper.dir)
    assert any(n.endswith("-fusion.ir") for n in names)
    monkeypatch.setenv("GRAPHC_DISABLE_PASSES", "fusion")
    out = pipeline.run_pipeline(fn, disable=["cse"])
    assert "fusion" not in _ops(out)
    with pytest.raises(ValueError, match="unknown pass"):
        pipeline.run_pipeline(fn, disable=["fuse"])


def test_pipeline_catches_a_pass_that_breaks_the_ir(monkeypatch):
    def broken(fn):
        fn.body.reverse()
        return True
    monkeypatch.setattr(simplify, "run", broken)
    fn = _fn([(np.float32, (4, 3))], lambda b, x: b.emit1("exp", b.emit1("neg", x)))
    with pytest.raises(IRTypeError, match="before it is defined"):
        pipeline.run_pipeline(fn)
