"""CompiledExecutable: the calling convention, symbolic dims, state updated in place, the GIL
released, dumps (pass IR, LLVM IR, assembly), compile errors, and Session on the cpu backend."""

import glob
import os
import threading
import time

import numpy as np
import pytest

import graphc
from graphc import config
from graphc.backend import CompileError
from graphc.backend.cpu import codegen
from graphc.backend.cpu.executable import CompiledExecutable
from graphc.ir import Builder, Function, StateSlot, SymDim, interpret
from graphc.ir.primitives import PRIMITIVES
from tests.backend.helpers import assert_same, check, data, function

N = SymDim("N")


def _training_step():
    """y = tanh(x @ w + b); w -= 0.1 * x^T (y - t): reads w before writing it."""
    fn = Function("step")
    fn.dims = ["N"]
    x = fn.add_feed("x", np.float32, (N, 4))
    t = fn.add_feed("t", np.float32, (N, 3))
    w = fn.add_state(StateSlot("w", np.float32, (4, 3)))
    bias = fn.add_state(StateSlot("b", np.float32, (3,)))
    b = Builder(fn)
    y = b.emit1("dot_general", x, w, lhs_contract=(1,), rhs_contract=(0,), lhs_batch=(),
                rhs_batch=())
    y = b.emit1("tanh", b.emit1("add", y, b.broadcast_in_dim(bias, (N, 3), (1,))))
    err = b.emit1("sub", y, t)
    grad = b.emit1("dot_general", x, err, lhs_contract=(0,), rhs_contract=(0,), lhs_batch=(),
                   rhs_batch=())
    fn.add_fetch("y", y)
    fn.add_fetch("old_w", w)
    fn.state_out[0] = b.emit1("sub", w, b.emit1("mul", grad, b.full(0.1, np.float32, (4, 3))))
    fn.state_out[1] = b.emit1("sub", bias, b.reduce(err, (0,), "sum"))
    return fn


def test_symbolic_function_runs_for_any_batch_with_state_in_place():
    fn = _training_step()
    exe = config.make_executable(fn, "cpu")
    assert isinstance(exe, CompiledExecutable)
    w0, b0 = data(np.float32, (4, 3), 1, 0.5), data(np.float32, (3,), 2, 0.5)
    for n in (0, 1, 5, 33):
        feeds = [data(np.float32, (n, 4), n), data(np.float32, (n, 3), n + 1)]
        want, want_state = interpret(fn, feeds, [w0, b0], {"N": n})
        state = [w0.copy(), b0.copy()]
        ids = [id(s) for s in state]
        got = exe.run(feeds, state, dims={"N": n})
        assert_same(got, want)
        assert_same(state, want_state)
        assert [id(s) for s in state] == ids


def _square_700():
    """An executable squaring a 700 x 700 matrix (tens of milliseconds) and the matrix."""
    a = data(np.float32, (700, 700), 3)
    return CompiledExecutable(function(lambda b, x: b.emit1(
        "dot_general", x, x, lhs_contract=(1,), rhs_contract=(0,), lhs_batch=(), rhs_batch=()),
        [a])), a


def _python_runs_during(run):
    """How many times a Python thread got to run during five calls of run()."""
    run()
    ticks, done = [], threading.Event()

    def python_work():
        while not done.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0)
    t = threading.Thread(target=python_work)
    t.start()
    start = time.perf_counter()
    for _ in range(5):
        run()
    end = time.perf_counter()
    done.set()
    t.join()
    return sum(start < x < end for x in ticks)


def test_gil_is_released_while_native_code_runs():
    exe, a = _square_700()
    assert _python_runs_during(lambda: exe.run([a], [])) > 10


def test_dump_has_every_pass_llvm_ir_and_vector_fma(tmp_path):
    x = data(np.float32, (1000,), 4)
    # a 5-op elementwise chain with a multiply-add: one kernel, vector FMA in the assembly.
    exe = check(lambda b, x, y: b.emit1("exp", b.emit1("neg", b.emit1("abs", b.emit1(
        "add", b.emit1("mul", x, y), x)))), [x, x + 1], dump_dir=str(tmp_path))
    files = sorted(os.listdir(exe.dump_dir))
    for name in ("input.ir", "simplify.ir", "constant_folding.ir", "cse.ir", "dce.ir",
                 "fusion.ir", "buffers.ir", "buffers.txt", "llvm.ll", "opt.ll", "asm.s"):
        assert any(f.endswith("-" + name) for f in files), name
    fused = open(glob.glob(os.path.join(exe.dump_dir, "*-fusion.ir"))[0]).read()
    assert fused.count("= fusion(") == 1
    asm = open(glob.glob(os.path.join(exe.dump_dir, "*-asm.s"))[0]).read()
    assert "vfmadd" in asm and "ymm" in asm
    assert "expf" not in asm  # exp is inline polynomial code, not a libm call


def test_env_dump_and_disabled_passes(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHC_DUMP", str(tmp_path))
    monkeypatch.setenv("GRAPHC_DISABLE_PASSES", "fusion,cse")
    x = data(np.float32, (5, 3), 5)
    exe = check(lambda b, x: [b.emit1("tanh", b.emit1("add", x, x)),
                              b.emit1("tanh", b.emit1("add", x, x))], [x],
                disable=["buffers"])
    assert exe.dump_dir.startswith(str(tmp_path))
    names = os.listdir(exe.dump_dir)
    assert not any(n.endswith(("-fusion.ir", "-cse.ir", "-buffers.ir")) for n in names)
    assert not any(i.op == "fusion" for i in exe.optimized.body)


def test_unknown_pass_name_is_an_error():
    with pytest.raises(ValueError, match="unknown pass nope"):
        check(lambda b, x: b.emit1("neg", x), [np.ones(3, np.float32)], disable=["nope"])


def _rng_function():
    fn = Function()
    s = fn.add_state(StateSlot("rng", np.int64, (3,), kind="rng"))
    v, s2 = Builder(fn).emit("rng", [s], kind="uniform", shape=(4,), dtype=np.float32)
    fn.add_fetch("v", v)
    fn.state_out[0] = s2
    return fn


@pytest.fixture
def without_rng_kernel(monkeypatch):
    """The cpu backend as if it had no emitter for the rng primitive."""
    monkeypatch.setattr(codegen, "KERNELS",
                        {k: v for k, v in codegen.KERNELS.items() if k != "rng"})


def test_primitive_without_emitter_is_a_compile_error_naming_it(without_rng_kernel):
    with pytest.raises(CompileError, match="primitive 'rng'"):
        CompiledExecutable(_rng_function())


CORE = ["neg", "abs", "sign", "exp", "expm1", "log", "log1p", "sqrt", "rsqrt", "tanh",
        "logistic", "floor", "ceil", "round", "sin", "cos", "not", "is_finite", "is_nan", "add",
        "sub", "mul", "div", "rem", "pow", "max", "min", "and", "or", "xor", "atan2", "eq", "ne",
        "lt", "le", "gt", "ge", "select", "convert", "constant", "iota", "broadcast_in_dim",
        "reshape", "transpose", "slice", "reverse", "pad", "concatenate", "gather",
        "scatter_add", "reduce", "argmax", "argmin", "dot_general", "fusion"]


@pytest.mark.parametrize("name", CORE)
def test_core_primitive_has_a_cpu_emitter(name):
    assert name in PRIMITIVES and codegen.supported(name)


def test_results_do_not_alias_and_fetch_of_feed_and_state():
    fn = Function()
    x = fn.add_feed("x", np.float32, (3,))
    s = fn.add_state(StateSlot("s", np.float32, (3,)))
    b = Builder(fn)
    y = b.emit1("add", x, s)
    for name, v in (("x", x), ("s", s), ("y", y), ("y2", y), ("r", b.reshape(y, (1, 3)))):
        fn.add_fetch(name, v)
    fn.state_out[0] = y
    exe = CompiledExecutable(fn)
    xv, sv = np.arange(3, dtype=np.float32), np.ones(3, np.float32)
    state = [sv.copy()]
    got = exe.run([xv], state)
    assert_same(got, [xv, sv, xv + 1, xv + 1, (xv + 1).reshape(1, 3)])
    assert_same(state, [xv + 1])


@pytest.fixture
def cpu_backend():
    """Every Session run compiles (no interpreted first run), so the tests exercise LLVM."""
    saved, saved_after = config.get_backend(), config.compile_after_runs()
    config.set_backend("cpu")
    config.set_compile_after_runs(0)
    yield
    config.set_backend(saved)
    config.set_compile_after_runs(saved_after)


def test_session_runs_compiled(cpu_backend):
    from tests import test_smoke
    test_smoke.test_linear_model_forward_and_gradients()
    graphc.reset_default_graph()
    test_smoke.test_gradient_descent_trajectory()
    with graphc.Session() as sess:
        a = graphc.constant(np.arange(6, dtype=np.float32).reshape(2, 3))
        step = sess._cache  # the executables the session compiled
        assert sess.run(graphc.reduce_sum(a * a)) == 55
        assert all(s.executable().backend == "cpu" for steps in step.values() for s in steps)


@pytest.mark.parametrize("transposed", [False, True])
def test_new_state_written_in_place_only_when_safe(transposed):
    fn = Function()
    b = Builder(fn)
    x = fn.add_feed("x", np.float32, (3, 3))
    w = fn.add_state(StateSlot("w", np.float32, (3, 3)))
    fn.add_fetch("y", b.emit1("neg", x))
    fn.state_out[0] = b.emit1("add", x, b.transpose(w, (1, 0)) if transposed else w)
    exe = CompiledExecutable(fn)
    plan = exe.optimized.buffer_plan
    in_place = plan.locations[plan.root(exe.optimized.state_out[0]).id].kind == "state"
    assert in_place != transposed
    xv, wv = data(np.float32, (3, 3), 1), data(np.float32, (3, 3), 2)
    state = [wv.copy()]
    exe.run([xv], state)
    assert_same(state, interpret(fn, [xv], [wv])[1])


@pytest.mark.parametrize("trampoline", [True, False], ids=["trampoline", "ctypes"])
def test_bound_calls_reuse_state_and_release_the_gil(trampoline, monkeypatch):
    from graphc.backend.cpu import executable
    if not trampoline:  # as on a Python whose object layout the trampoline does not know
        monkeypatch.setattr(executable, "_trampoline", lambda: None)
    fn = _training_step()
    exe = CompiledExecutable(fn)
    w0, b0 = data(np.float32, (4, 3), 1, 0.5), data(np.float32, (3,), 2, 0.5)
    state = [w0.copy(), b0.copy()]
    call = exe.bind(state, {"N": 5})
    assert isinstance(call, executable.NativeCall)
    want_state = [w0, b0]
    for seed in range(3):
        feeds = [data(np.float32, (5, 4), seed), data(np.float32, (5, 3), seed + 7)]
        want, want_state = interpret(fn, feeds, want_state, {"N": 5})
        assert_same(call(feeds), want)
        assert_same(state, want_state)  # updated in place, run after run
    exe, a = _square_700()
    square = exe.bind([])
    assert _python_runs_during(lambda: square([a])) > 10


def test_bound_call_reports_run_time_errors_and_recovers():
    fn = Function()
    b = Builder(fn)
    table = fn.add_feed("table", np.float32, (3,))
    idx = fn.add_feed("idx", np.int32, (2,))
    fn.add_fetch("g", b.emit1("gather", table, idx, axis=0))
    exe = CompiledExecutable(fn)
    call = exe.bind([])
    t = np.array([1, 2, 3], np.float32)
    np.testing.assert_array_equal(call([t, np.array([2, 0], np.int32)])[0], [3, 1])
    for _ in range(2):
        with pytest.raises(graphc.errors.InvalidArgumentError):
            call([t, np.array([0, 7], np.int32)])
    np.testing.assert_array_equal(call([t, np.array([1, 1], np.int32)])[0], [2, 2])
