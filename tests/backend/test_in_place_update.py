"""A GEMM whose epilogue subtracts it from a variable (gradient descent: W - lr * x^T dy)
writes straight into the variable's buffer when that is safe (the contraction is one KC
chunk and W is read only as the epilogue's residual), and stays correct where it is not."""

import numpy as np
import pytest

from graphc.backend.cpu import gemm_kernel as gk, llvm
from graphc.backend.cpu.executable import CompiledExecutable
from graphc.ir import Builder, Function, StateSlot, interpret
from tests.backend.helpers import assert_same, data

KC = gk.blocking(np.float32, llvm.vector_bytes()).kc  # one contraction chunk


def _update(m, n, k, lr=0.1, trans_a=True, self_product=False):
    """W [m, n] -= lr * op(A) B with A [k, m] (trans_a) or [m, k], B [k, n]; with
    `self_product` the product is W W (m == n == k), so W is also a GEMM operand."""
    fn = Function("update")
    w = fn.add_state(StateSlot("w", np.float32, (m, n)))
    b = Builder(fn)
    if self_product:
        prod = b.emit1("dot_general", w, w, lhs_contract=(1,), rhs_contract=(0,),
                       lhs_batch=(), rhs_batch=())
    else:
        a = fn.add_feed("a", np.float32, (k, m) if trans_a else (m, k))
        x = fn.add_feed("b", np.float32, (k, n))
        prod = b.emit1("dot_general", a, x, lhs_contract=(0 if trans_a else 1,),
                       rhs_contract=(0,), lhs_batch=(), rhs_batch=())
    fn.state_out[0] = b.emit1("sub", w, b.emit1("mul", prod, b.full(lr, np.float32, (m, n))))
    return fn


def _in_place(exe):
    fn = exe.optimized
    plan = fn.buffer_plan
    return plan.locations[plan.root(fn.state_out[0]).id].kind == "state"


@pytest.mark.parametrize("m, n, k, trans_a, expect", [
    (784, 500, 100, True, True),    # the MLP's dW1 update (packed)
    (64, 48, 30, True, True),       # few rows: the direct kernels
    (1, 40, 20, False, True),       # one row: vecmat
    (40, 1, 20, False, True),       # one column: the dot kernel
    (33, 70, KC, False, True),      # exactly one KC chunk
    (33, 70, KC + 5, False, False),  # two chunks: C holds partial sums, W must survive
])
def test_gradient_descent_update_of_a_gemm(m, n, k, trans_a, expect):
    fn = _update(m, n, k, trans_a=trans_a)
    exe = CompiledExecutable(fn)
    assert _in_place(exe) == expect
    feeds = [data(np.float32, (k, m) if trans_a else (m, k), 1),
             data(np.float32, (k, n), 2)]
    w0 = data(np.float32, (m, n), 3)
    state = [w0.copy()]
    want, want_state = interpret(fn, feeds, [w0.copy()])
    for _ in range(2):  # the second step starts from the updated W
        before = state[0].copy()
        assert exe.run(feeds, state) == want == []
        # W - lr * acc rounds once (fused) or twice: a few ulps of the update's size.
        step = np.abs(want_state[0] - before).max()
        assert_same(state, want_state, rtol=1e-5, atol=4e-7 * step)
        want, want_state = interpret(fn, feeds, [want_state[0]])


def test_a_variable_that_is_also_a_gemm_operand_is_not_overwritten_early():
    fn = _update(24, 24, 24, lr=0.01, self_product=True)
    exe = CompiledExecutable(fn)
    assert not _in_place(exe)
    w0 = data(np.float32, (24, 24), 4)
    state = [w0.copy()]
    want, want_state = interpret(fn, [], [w0.copy()])
    assert exe.run([], state) == want == []
    assert_same(state, want_state, rtol=1e-5, atol=1e-5)
