"""Timing and reporting: medians over repeats after warm-up, ratios against peers."""

import contextlib
import os
import platform
import statistics
import time


def median_time(fn, repeats=15, warmup=3, min_time=0.2):
    """Median seconds per call of `fn()`; repeats grow until `min_time` is spent."""
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < repeats or time.perf_counter() - start < min_time:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if len(times) >= 10 * repeats:
            break
    return statistics.median(times)


def interleaved_medians(fns, rounds, min_round=0.02, clock=time.perf_counter, settle=0.0):
    """Median seconds per call of each fn(reps) (which runs `reps` calls), rounds interleaved
    across the fns so that clock and load drift hit them alike; `settle` seconds of sleep
    before each timed run (then an untimed half run) let the previous fn's idle threads stop
    spinning."""
    reps = []
    for fn in fns:
        fn(1)
        t0 = clock()
        fn(1)
        reps.append(max(1, int(min_round / max(clock() - t0, 1e-7))))
    times = [[] for _ in fns]
    for _ in range(rounds):
        for fn, r, ts in zip(fns, reps, times):
            if settle:
                time.sleep(settle)
                fn(max(1, r // 2))  # untimed: the idle core's clock and caches come back
            t0 = clock()
            fn(r)
            ts.append((clock() - t0) / r)
    return [statistics.median(ts) for ts in times]


def interleaved_call_medians(fns, rounds=15, min_round=0.1, settle=0.2):
    """Median seconds per call of each fn() (no arguments), over rounds interleaved across
    the fns: on a shared machine the load drifts within seconds, and interleaving makes the
    drift hit every implementation alike, so the ratios between them hold. The pause before
    each run outlasts the spinning of idle pool threads (OpenBLAS spins ~2^28 cycles, ~0.1 s),
    which would otherwise take the cores from whatever runs next; an untimed half round after
    it brings the idle cores back up to speed."""
    def repeated(fn):
        def run(reps):
            for _ in range(reps):
                fn()
        return run
    for fn in fns:  # warm-up: compilation, caches, thread pools
        for _ in range(3):
            fn()
    return interleaved_medians([repeated(fn) for fn in fns], rounds, min_round, settle=settle)


class Table:
    """Rows of (workload, implementation, median seconds, extra) printed as markdown, with the
    ratio of each implementation to the workload's reference implementation."""

    def __init__(self, reference="numpy"):
        self.reference = reference
        self.rows = []

    def add(self, workload, impl, seconds, extra=""):
        self.rows.append((workload, impl, seconds, extra))
        print("  %-28s %-22s %10.3f ms  %s" % (workload, impl, seconds * 1e3, extra), flush=True)

    def markdown(self):
        ref = {w: s for w, i, s, _ in self.rows if i == self.reference}
        lines = ["| workload | implementation | median | vs %s | note |" % self.reference,
                 "|---|---|---:|---:|---|"]
        for w, i, s, extra in self.rows:
            ratio = "%.2fx" % (s / ref[w]) if w in ref else "-"
            lines.append("| %s | %s | %.3f ms | %s | %s |" % (w, i, s * 1e3, ratio, extra))
        return "\n".join(lines)


def machine_line():
    return "%s, %s, %d cores, Python %s" % (platform.machine(), platform.processor() or "cpu",
                                            os.cpu_count(), platform.python_version())


@contextlib.contextmanager
def graphc_backend(name):
    """graphc's executor set to `name` (compiling from a signature's second run) inside."""
    import graphc.config as config
    saved = config.get_backend(), config.compile_after_runs()
    config.set_backend(name)
    config.set_compile_after_runs(1)
    try:
        yield
    finally:
        config.set_backend(saved[0])
        config.set_compile_after_runs(saved[1])
