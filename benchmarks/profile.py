"""`python -m benchmarks.profile [cnn_step|mlp] [--runs N] [--threads T]`: where a compiled
training step's time goes, kernel by kernel (graphc.backend.cpu.profile), with GFLOP/s for the
GEMMs.

It compiles the workload's graph with GRAPHC_PROFILE=1 (no disk cache), runs it N times after
a warm-up and prints each kernel launch's time per run, heaviest first."""

import argparse
import os
import re
import time

import numpy as np


def _graphs():
    from benchmarks import workloads
    rng = np.random.RandomState(1)
    cnn = (lambda t: workloads._cnn_graph(t, 64),
           [rng.rand(64, 28, 28, 1).astype(np.float32), rng.randint(0, 10, 64)])
    mlp = (workloads._mlp_graph, [rng.rand(100, 784).astype(np.float32),
                                  np.eye(10, dtype=np.float32)[rng.randint(0, 10, 100)]])
    return {"cnn_step": cnn, "mlp": mlp}


def _with_rates(text):
    """Appends GFLOP/s to lines whose label carries `gemm MxNxK`."""
    def rate(line):
        m = re.search(r"^\s*([\d.]+).*_gemm .*gemm (\d+)x(\d+)x(\d+)", line)
        if not m:
            return line
        ms, dims = float(m.group(1)), [int(g) for g in m.group(2, 3, 4)]
        return "%s  %.0f GFLOP/s" % (line, 2.0 * np.prod(dims) / (ms * 1e-3) / 1e9)
    return "\n".join(rate(line) for line in text.splitlines())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", nargs="?", default="cnn_step", choices=sorted(_graphs()))
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=0,
                        help="intra-op threads (default: one per core)")
    args = parser.parse_args(argv)
    os.environ["GRAPHC_PROFILE"] = "1"
    import graphc
    from graphc.backend.cpu import profile
    graphc.config.set_backend("cpu")
    graphc.config.set_compile_after_runs(0)
    build, values = _graphs()[args.workload]
    graph = graphc.Graph()
    with graph.as_default():
        fetch, placeholders = build(graphc)
        config = graphc.ConfigProto(intra_op_parallelism_threads=args.threads)
        sess = graphc.Session(graph=graph, config=config)
        sess.run(graphc.global_variables_initializer())
    feed = dict(zip(placeholders, values))
    for _ in range(3):
        sess.run(fetch, feed)
    steps = [s for group in sess._cache.values() for s in group if s.compiled]
    exe = max((s.executable() for s in steps), key=lambda e: len(e.profile_labels or ()))
    before = {label: t for label, t, _ in profile.report(exe)}
    start = time.perf_counter()
    for _ in range(args.runs):
        sess.run(fetch, feed)
    wall = (time.perf_counter() - start) / args.runs
    rows = [(label, t - before.get(label, 0.0), n) for label, t, n in profile.report(exe)]
    print("%s: %.3f ms per Session.run (wall)" % (args.workload, wall * 1e3))
    print(_with_rates(profile.format_report(rows, args.runs)))


if __name__ == "__main__":
    main()
