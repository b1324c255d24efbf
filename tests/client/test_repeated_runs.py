"""Repeated `Session.run` / `make_callable` / `graphc.jit` calls (the prepared-run fast path):
whatever changes between calls (feed values, dtypes and shapes, the contents of a fetch list,
variable buffers, feedability, the graph) gives the same results and errors as a first run, on
the interpreter and on compiled code; a signature the cpu backend cannot compile runs on the
interpreter."""

import threading

import numpy as np
import pytest

import graphc
from graphc import config, errors


@pytest.fixture(params=["interpreter", "cpu"])
def backend(request):
    """Each test on the interpreter and on native code compiled at the first run."""
    saved, saved_after = config.get_backend(), config.compile_after_runs()
    config.set_backend(request.param)
    config.set_compile_after_runs(0)
    yield request.param
    config.set_backend(saved)
    config.set_compile_after_runs(saved_after)


def _steps(sess):
    return [step for steps in sess._cache.values() for step in steps]


def test_feeds_change_value_dtype_shape_and_layout(backend):
    x = graphc.placeholder(graphc.float32, [None, 2])
    y = x * 2.0 + 1.0
    total = graphc.reduce_sum(y)
    with graphc.Session() as sess:
        base = np.arange(6, dtype=np.float32).reshape(3, 2)
        for value in (base, base + 1, base[:2], [[1, 2]], base.astype(np.float64),
                      np.asfortranarray(base), base[::2], base[:, ::-1].copy(), base):
            want = np.asarray(value, np.float32) * 2 + 1
            got_y, got_total = sess.run([y, total], {x: value})
            np.testing.assert_allclose(got_y, want, rtol=1e-6)
            assert isinstance(got_total, np.float32)  # a 0-d fetch is a numpy scalar
            np.testing.assert_allclose(got_total, want.sum(), rtol=1e-6)
        with pytest.raises(ValueError, match="Cannot feed value of shape"):
            sess.run([y, total], {x: np.ones((2, 3), np.float32)})
    n = graphc.placeholder(graphc.int32, [])
    with graphc.Session() as sess:
        for value in (3, 2 ** 40, 4):
            if value > 2 ** 31:
                with pytest.raises(TypeError, match="not compatible with Tensor type"):
                    sess.run(n + 1, {n: value})
            else:
                assert sess.run(n + 1, {n: value}) == value + 1


def test_mutated_fetch_list_and_fetch_of_a_feed(backend):
    a = graphc.placeholder(graphc.float32, [2])
    b = a + 1.0
    c = a * 3.0
    fetches = [b, c]
    with graphc.Session() as sess:
        feed = {a: np.array([1, 2], np.float32)}
        first = sess.run(fetches, feed)
        fetches[1] = a  # same list object, new contents
        second = sess.run(fetches, feed)
        fetches.append(b.op)
        third = sess.run(fetches, feed)
        as_tuple = sess.run((c, b), feed)
    np.testing.assert_array_equal(first[1], [3, 6])
    np.testing.assert_array_equal(second[1], [1, 2])
    assert second[1] is feed[a]  # a fetched feed is the fed array, as in TF
    assert third[2] is None and len(third) == 3
    assert isinstance(as_tuple, tuple) and as_tuple[0][1] == 6


def test_variables_reassigned_and_reinitialized_between_runs(backend):
    v = graphc.Variable(np.ones(3, np.float32))
    step = v.assign_add(graphc.constant([1.0, 2.0, 3.0]))
    with graphc.Session() as sess:
        sess.run(v.initializer)
        for _ in range(3):
            last = sess.run(step)
        np.testing.assert_array_equal(last, [4, 7, 10])
        sess.run(v.initializer)  # written in place: later runs see it
        np.testing.assert_array_equal(sess.run(step), [2, 3, 4])
        sess._assign_variable_values({v.op.name: np.full(3, 5, np.float32)})
        np.testing.assert_array_equal(sess.run(step), [6, 7, 8])
        np.testing.assert_array_equal(sess.run(v), [6, 7, 8])


def test_uninitialized_error_repeats_and_initialization_is_seen(backend):
    v = graphc.Variable(np.ones(2, np.float32), name="w")
    y = v * 2.0
    with graphc.Session() as sess:
        for _ in range(2):
            with pytest.raises(errors.FailedPreconditionError, match="w"):
                sess.run(y)
        sess.run(v.initializer)
        np.testing.assert_array_equal(sess.run(y), [2, 2])
        np.testing.assert_array_equal(sess.run(y), [2, 2])


def test_prevent_feeding_after_runs_and_graph_changes(backend):
    x = graphc.placeholder(graphc.float32, [2])
    y = x + 1.0
    with graphc.Session() as sess:
        feed = {x: np.zeros(2, np.float32)}
        sess.run(y, feed)
        sess.run(y, feed)
        counter = graphc.Variable(0.0)
        sess.run(counter.initializer)
        y.op._add_control_input(counter.assign_add(1.0).op)  # now runs with y
        np.testing.assert_array_equal(sess.run(y, feed), [1, 1])
        np.testing.assert_array_equal(sess.run(y, feed), [1, 1])
        assert sess.run(counter) == 2
        sess.graph.prevent_feeding(x)
        with pytest.raises(ValueError, match="may not be fed"):
            sess.run(y, feed)


def test_run_errors_from_compiled_code_repeat(backend):
    params = graphc.constant([1.0, 2.0, 3.0])
    i = graphc.placeholder(graphc.int32, [1])
    g = graphc.gather(params, i)
    with graphc.Session() as sess:
        np.testing.assert_array_equal(sess.run(g, {i: np.array([2], np.int32)}), [3])
        for _ in range(2):
            with pytest.raises(errors.InvalidArgumentError, match="5"):
                sess.run(g, {i: np.array([5], np.int32)})
        np.testing.assert_array_equal(sess.run(g, {i: np.array([0], np.int32)}), [1])


def test_make_callable_repeats_and_threads_share_a_session(backend):
    x = graphc.placeholder(graphc.float32, [64])
    y = graphc.tanh(x) * x
    with graphc.Session() as sess:
        f = sess.make_callable([y], [x])
        results, failures = {}, []

        def work(k):
            try:
                for j in range(50):
                    value = np.full(64, (k + j) / 100.0, np.float32)
                    np.testing.assert_allclose(f(value)[0], np.tanh(value) * value,
                                               rtol=1e-5, atol=1e-6)
                results[k] = True
            except Exception as e:  # reported below, in the test's thread
                failures.append(e)
        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not failures and len(results) == 4


def test_uncompilable_signature_stays_on_the_interpreter(monkeypatch):
    saved, saved_after = config.get_backend(), config.compile_after_runs()
    config.set_backend("cpu")
    config.set_compile_after_runs(0)
    tries = []
    make = config.make_executable

    def counting(fn, backend=None):
        tries.append(backend)
        return make(fn, backend)
    monkeypatch.setattr(config, "make_executable", counting)
    try:
        a = graphc.placeholder(graphc.float32, [2])
        # the cpu backend cannot emit string constants
        with_string = [graphc.constant(["x", "yz"]), a * 2.0]
        plus_one = a + 1.0
        with graphc.Session() as sess:
            feed = {a: np.array([1, 2], np.float32)}
            for _ in range(3):
                words, doubled = sess.run(with_string, feed)
                assert list(words) == [b"x", b"yz"]
                np.testing.assert_array_equal(doubled, [2, 4])
            for _ in range(2):
                np.testing.assert_array_equal(sess.run(plus_one, feed), [2, 3])
            steps = _steps(sess)
    finally:
        config.set_backend(saved)
        config.set_compile_after_runs(saved_after)
    [failed] = [s for s in steps if s.compile_error is not None]
    assert not failed.compiled and failed.final
    assert "string" in str(failed.compile_error)
    assert len([s for s in steps if s.compiled]) == 1
    assert tries.count("cpu") == 2  # each signature tried once, never per run


def test_jit_repeated_calls(backend):
    @graphc.jit
    def f(x, y):
        return x * y + 1.0, graphc.reduce_sum(x)

    a = np.arange(3, dtype=np.float32)
    for _ in range(3):
        out, total = f(a, a)
        np.testing.assert_array_equal(out, a * a + 1)
        assert isinstance(total, np.ndarray) and total.shape == () and total == 3
    out, _ = f(a.astype(np.float64), np.float64(2))  # a new signature
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, 2 * a + 1)
    np.testing.assert_array_equal(f(a, y=a)[0], a * a + 1)  # keyword: the general path
    np.testing.assert_array_equal(f([0.0, 1.0, 2.0], a)[0], a * a + 1)
    info = f.cache_info()
    assert info["signatures"] == 3 and info["misses"] == 3 and info["hits"] == 3
