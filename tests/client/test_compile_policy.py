"""With a compiling backend a signature's first run is interpreted; later runs compile after
a count of runs, or (the default, adaptive) once the interpreter's time pays for the compile, or
at once when the executable is in the disk cache."""

import numpy as np
import pytest

import graphc
from graphc import config


def _steps(sess):
    return [step for steps in sess._cache.values() for step in steps]


def test_first_run_interpreted_then_compiled_with_same_results():
    old, old_after = config.get_backend(), config.compile_after_runs()
    config.set_backend("cpu")
    config.set_compile_after_runs(1)
    try:
        x = graphc.placeholder(graphc.float32, [None, 3])
        w = graphc.Variable(np.arange(6, dtype=np.float32).reshape(3, 2))
        y = graphc.matmul(x, w) * 2.0
        step = w.assign_add(graphc.ones([3, 2]))
        with graphc.Session() as sess:
            sess.run(graphc.global_variables_initializer())
            assert not any(s.compiled for s in _steps(sess))  # the initializer stayed interpreted
            feed = {x: np.ones((2, 3), np.float32)}
            first = sess.run([y, step], feed)
            second = sess.run([y, step], feed)
            compiled = [s for s in _steps(sess) if s.compiled]
            assert len(compiled) == 1 and compiled[0].runs == 2
            third = sess.run([y, step], feed)
        expected_w = np.arange(6, dtype=np.float32).reshape(3, 2)
        for result in (first, second, third):
            expected_w = expected_w + 1
            np.testing.assert_allclose(result[1], expected_w, rtol=1e-6)
    finally:
        config.set_backend(old)
        config.set_compile_after_runs(old_after)


def test_compile_after_zero_compiles_at_once():
    old_backend, old_after = config.get_backend(), config.compile_after_runs()
    config.set_backend("cpu")
    config.set_compile_after_runs(0)
    try:
        a = graphc.constant([1.0, 2.0])
        with graphc.Session() as sess:
            np.testing.assert_array_equal(sess.run(a * 2), [2, 4])
            assert all(s.compiled for s in _steps(sess))
    finally:
        config.set_backend(old_backend)
        config.set_compile_after_runs(old_after)


@pytest.fixture
def adaptive(tmp_path, monkeypatch):
    """The cpu backend with the adaptive policy and an empty disk cache."""
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    old_backend, old_after = config.get_backend(), config.compile_after_runs()
    config.set_backend("cpu")
    config.set_compile_after_runs(None)
    yield
    config.set_backend(old_backend)
    config.set_compile_after_runs(old_after)


def _graph():
    x = graphc.placeholder(graphc.float32, [3], name="x")
    return x, graphc.tanh(x) * 3.0 + 1.0


def test_adaptive_policy_compiles_once_interpreting_costs_a_compile(adaptive, monkeypatch):
    estimate = {"seconds": 1e9}
    monkeypatch.setattr(config, "estimated_compile_seconds", lambda fn: estimate["seconds"])
    x, y = _graph()
    feed = {x: np.array([0.5, -1, 2], np.float32)}
    with graphc.Session() as sess:
        results = [sess.run(y, feed) for _ in range(5)]
        [step] = _steps(sess)
        assert not step.compiled and step.runs == 5 and step.interpreted_seconds > 0
        estimate["seconds"] = step.interpreted_seconds  # the interpreter has paid for it
        results.append(sess.run(y, feed))
        assert step.compiled and not step.executable().loaded_from_cache
    for r in results:
        np.testing.assert_allclose(r, np.tanh(feed[x]) * 3 + 1, rtol=1e-6)


def test_adaptive_policy_loads_from_the_disk_cache_at_the_second_run(adaptive, monkeypatch):
    monkeypatch.setattr(config, "estimated_compile_seconds", lambda fn: 1e9)
    feed = np.array([0.5, -1, 2], np.float32)
    with graphc.Graph().as_default():
        x, y = _graph()
        config.set_compile_after_runs(0)
        with graphc.Session() as sess:  # compiles and stores the executable
            sess.run(y, {x: feed})
        config.set_compile_after_runs(None)
    with graphc.Graph().as_default():  # the same program again
        x, y = _graph()
        with graphc.Session() as sess:
            first = sess.run(y, {x: feed})
            [step] = _steps(sess)
            assert not step.compiled
            second = sess.run(y, {x: feed})
            assert step.compiled and step.executable().loaded_from_cache
    np.testing.assert_allclose(first, second, rtol=1e-6)  # interpreted, then compiled


def test_policy_setting():
    old = config.compile_after_runs()
    try:
        config.set_compile_after_runs(None)
        assert config.compile_after_runs() is None
        config.set_compile_after_runs(3)
        assert config.compile_after_runs() == 3
        with pytest.raises(ValueError, match=">= 0"):
            config.set_compile_after_runs(-1)
    finally:
        config.set_compile_after_runs(old)
