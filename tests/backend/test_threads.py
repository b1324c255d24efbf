"""Parallel loops on the persistent thread pool: results are bit-identical for any thread
count (fixed chunks) and for concurrent callers, helper threads are created once and go idle,
ConfigProto's thread count reaches the executable."""

import numpy as np

import graphc
from graphc import config
from graphc.backend.cpu import runtime
from graphc.backend.cpu.executable import CompiledExecutable
from tests.backend.helpers import data, function


def _program(b, x, y):
    e = b.emit1("tanh", b.emit1("add", b.emit1("mul", x, y), x))
    return [e, b.reduce(b.emit1("exp", e), (1,), "sum"), b.reduce(e, (0,), "max"),
            b.emit1("dot_general", x, y, lhs_contract=(2,), rhs_contract=(2,), lhs_batch=(0,),
                    rhs_batch=(0,)),
            b.emit1("argmax", e, axis=2, index_dtype=np.int64)]


def test_one_and_two_threads_give_identical_bits():
    x, y = data(np.float32, (6, 300, 257), 1), data(np.float32, (6, 300, 257), 2)
    exe = CompiledExecutable(function(_program, [x, y]))
    one = exe.run([x, y], [], num_threads=1)
    for threads in (2, 3, 8):
        many = exe.run([x, y], [], num_threads=threads)
        for a, b in zip(one, many):
            assert a.tobytes() == b.tobytes()
    assert runtime.library().graphc_pool_threads() >= 2  # helpers exist and are reused
    before = runtime.library().graphc_pool_threads()
    exe.run([x, y], [], num_threads=2)
    assert runtime.library().graphc_pool_threads() == before


def test_session_thread_count_from_config_proto():
    saved = config.get_backend()
    config.set_backend("cpu")
    try:
        x = data(np.float32, (200, 300), 3)
        results = []
        for threads in (1, 2):
            graphc.reset_default_graph()
            a = graphc.placeholder(graphc.float32, [None, 300])
            y = graphc.reduce_sum(graphc.tanh(a * 0.5 + 1) * a, axis=1)
            proto = graphc.ConfigProto(intra_op_parallelism_threads=threads)
            with graphc.Session(config=proto) as sess:
                results.append(sess.run(y, {a: x}))
        assert results[0].tobytes() == results[1].tobytes()
        np.testing.assert_allclose(results[0], (np.tanh(x * 0.5 + 1) * x).sum(1), rtol=1e-4)
    finally:
        config.set_backend(saved)


def test_concurrent_callers_and_back_to_back_loops_give_identical_bits():
    # Loops follow each other within microseconds (helpers still spinning) while other
    # Python threads submit at the same time (they run their chunks themselves).
    import concurrent.futures
    x, y = data(np.float32, (6, 300, 257), 4), data(np.float32, (6, 300, 257), 5)
    exe = CompiledExecutable(function(_program, [x, y]))
    want = [v.tobytes() for v in exe.run([x, y], [], num_threads=1)]

    def runs(threads):
        return [[v.tobytes() for v in exe.run([x, y], [], num_threads=threads)]
                for _ in range(20)]
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        results = list(pool.map(runs, (2, 3, 2)))
    assert all(r == want for rs in results for r in rs)


def test_idle_helpers_stop_spinning():
    # Between loops the helpers spin briefly, then sleep: an idle process takes no CPU.
    import time
    x, y = data(np.float32, (6, 300, 257), 6), data(np.float32, (6, 300, 257), 7)
    exe = CompiledExecutable(function(_program, [x, y]))
    exe.run([x, y], [], num_threads=4)
    time.sleep(0.3)  # any pool's spinning ends (OpenBLAS's, from earlier tests, within 0.1 s)
    cpu, wall = time.process_time(), time.perf_counter()
    time.sleep(0.4)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    assert cpu < 0.25 * wall, "%.3f s of CPU time in %.3f s idle" % (cpu, wall)
