"""Oracles for tests: the same graph-building code run under TensorFlow (tf.compat.v1) and
graphc, and float64 finite differences for gradients. Every graphc check also runs on the
compiled CPU backend and compares it with the interpreter (the interpreter is what TF and the
finite differences check; the compiled code must agree with it).

A `build(tf)` function receives the framework module (`graphc` or TF's compat.v1), builds its
graph in the current default graph and returns `fetches` or `(fetches, feed_dict)`."""

import contextlib

import numpy as np
import pytest

import graphc
from graphc import config

_TF = []


def tf_v1():
    """tf.compat.v1 after disable_v2_behavior(); skips the test when TF is not installed."""
    if not _TF:
        tf = pytest.importorskip("tensorflow")
        v1 = tf.compat.v1
        v1.disable_v2_behavior()
        v1.logging.set_verbosity(v1.logging.ERROR)
        _TF.append(v1)
    return _TF[0]


def run_graph(tf, build, steps=1, init=True):
    """Builds with `tf` in a fresh graph, initializes variables and runs the fetches `steps`
    times; returns the list of results (one per step)."""
    graph = tf.Graph()
    with graph.as_default():
        built = build(tf)
        fetches, feed = built if isinstance(built, tuple) and len(built) == 2 and \
            isinstance(built[1], dict) else (built, {})
        with tf.Session(graph=graph) as sess:
            if init:
                sess.run(tf.global_variables_initializer())
            return [sess.run(fetches, feed) for _ in range(steps)]


def assert_same_structure_close(got, want, rtol, atol, path="result"):
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), path
        for k in want:
            assert_same_structure_close(got[k], want[k], rtol, atol, "%s[%r]" % (path, k))
    elif isinstance(want, (list, tuple)):
        assert isinstance(got, (list, tuple)) and len(got) == len(want), \
            "%s: %r vs %r" % (path, got, want)
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same_structure_close(g, w, rtol, atol, "%s[%d]" % (path, i))
    elif want is None:
        assert got is None, "%s: expected None, got %r" % (path, got)
    else:
        w = np.asarray(want)
        g = np.asarray(got)
        assert g.shape == w.shape, "%s: shape %s vs TF %s" % (path, g.shape, w.shape)
        assert g.dtype == w.dtype, "%s: dtype %s vs TF %s" % (path, g.dtype, w.dtype)
        if w.dtype.kind in "fc":
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=path)
        else:
            np.testing.assert_array_equal(g, w, err_msg=path)


COMPILED_STEPS = 10  # steps of a trajectory run compiled (DESIGN.md: short trajectories)

# Compiled-vs-interpreter tolerances by dtype (the interpreter is the reference).
_COMPILED_TOL = {np.dtype(np.float16): (1e-3, 1e-3), np.dtype(np.float32): (1e-5, 1e-6),
                 np.dtype(np.float64): (1e-12, 1e-12)}


@contextlib.contextmanager
def compiled_backend():
    """Sessions created inside run on the CPU backend and compile on their first run."""
    backend, after = config.get_backend(), config.compile_after_runs()
    config.set_backend("cpu")
    config.set_compile_after_runs(0)
    try:
        yield
    finally:
        config.set_backend(backend)
        config.set_compile_after_runs(after)


@contextlib.contextmanager
def _interpreter_backend():
    backend = config.get_backend()
    config.set_backend("interpreter")
    try:
        yield
    finally:
        config.set_backend(backend)


def assert_compiled_close(got, want, rtol=0.0, atol=0.0, path="compiled"):
    """Compiled results `got` against the interpreter's `want`: same structure, dtypes, shapes;
    floats within the larger of the given and the dtype's tolerance (NaNs where the
    interpreter has them), everything else exact."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), path
        for k in want:
            assert_compiled_close(got[k], want[k], rtol, atol, "%s[%r]" % (path, k))
    elif isinstance(want, (list, tuple)):
        assert isinstance(got, (list, tuple)) and len(got) == len(want), path
        for i, (g, w) in enumerate(zip(got, want)):
            assert_compiled_close(g, w, rtol, atol, "%s[%d]" % (path, i))
    elif want is None:
        assert got is None, "%s: expected None, got %r" % (path, got)
    else:
        w, g = np.asarray(want), np.asarray(got)
        assert g.shape == w.shape, "%s: shape %s vs interpreter %s" % (path, g.shape, w.shape)
        assert g.dtype == w.dtype, "%s: dtype %s vs interpreter %s" % (path, g.dtype, w.dtype)
        if w.dtype.kind in "fc":
            r, a = _COMPILED_TOL.get(w.dtype, (1e-5, 1e-6))
            np.testing.assert_allclose(g, w, rtol=max(r, rtol), atol=max(a, atol),
                                       equal_nan=True, err_msg=path + " (compiled)")
        else:
            np.testing.assert_array_equal(g, w, err_msg=path + " (compiled)")


def run_compiled(run, want, rtol=0.0, atol=0.0):
    """Runs `run()` under compiled_backend() and compares with the interpreter's `want`."""
    with compiled_backend():
        got = run()
    assert_compiled_close(got, want, rtol, atol)
    return got


def compare_with_tf(build, rtol=1e-5, atol=1e-6, steps=1, init=True):
    """Runs `build` under TensorFlow and graphc (interpreter, then compiled and checked against
    the interpreter) and asserts equal results; returns graphc's interpreted results."""
    tf = tf_v1()
    want = run_graph(tf, build, steps, init)
    with _interpreter_backend():  # TF checks the interpreter; the interpreter checks the rest
        got = run_graph(graphc, build, steps, init)
    assert_same_structure_close(got, want, rtol, atol)
    # The test's tolerance also bounds compiled vs interpreter: GEMM-based ops (convolutions)
    # sum in another order than numpy, which shows where large terms cancel.
    # Long trajectories diverge chaotically under any change of rounding (FMA, summation
    # order), so the compiled run is checked over the first COMPILED_STEPS steps only.
    compiled_steps = min(steps, COMPILED_STEPS)
    run_compiled(lambda: run_graph(graphc, build, compiled_steps, init), got[:compiled_steps],
                 rtol, atol)
    return got


def numeric_gradient(f, x, eps=1e-6):
    """Central differences of scalar f at float64 array x."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        hi = f(x)
        x[i] = old - eps
        lo = f(x)
        x[i] = old
        grad[i] = (hi - lo) / (2 * eps)
    return grad


def check_gradients(fn, *inputs, rtol=1e-6, atol=1e-8, seed=0):
    """Checks graphc's symbolic gradients of `fn(*placeholders)` against float64 finite
    differences, and the compiled CPU backend's gradients against the interpreter's. The output
    is contracted with a fixed random weight so every element of the output matters."""
    inputs = [np.asarray(x, dtype=np.float64) for x in inputs]
    graph = graphc.Graph()
    # Finite differences on the interpreter: a session that compiles after some runs would
    # mix the two backends' roundings in one difference quotient.
    with graph.as_default(), _interpreter_backend():
        phs = [graphc.placeholder(graphc.float64, x.shape) for x in inputs]
        y = fn(*phs)
        weight = np.random.RandomState(seed).uniform(0.5, 1.5, size=y.shape.as_list())
        loss = graphc.reduce_sum(y * weight)
        grads = graphc.gradients(loss, phs)
        with graphc.Session(graph=graph) as sess:
            feed = dict(zip(phs, inputs))
            symbolic = sess.run([g for g in grads if g is not None], feed)
            for i, (x, g) in enumerate(zip(inputs, grads)):
                if g is None:
                    continue
                sym = symbolic.pop(0)

                def f(v, i=i):
                    return sess.run(loss, {**feed, phs[i]: v})
                num = numeric_gradient(f, x)
                np.testing.assert_allclose(sym, num, rtol=rtol, atol=atol,
                                           err_msg="gradient of input %d" % i)
            fetches = [loss] + [g for g in grads if g is not None]
            want = sess.run(fetches, feed)

        def compiled():
            with graphc.Session(graph=graph) as csess:
                return csess.run(fetches, feed)
        run_compiled(compiled, want)
    return grads
