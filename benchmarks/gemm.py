"""`python -m benchmarks.gemm`: GEMM through the whole CPU backend (one dot_general compiled
by graphc and called through its native entry) against numpy (OpenBLAS) at the same thread
count (set with threadpoolctl), 1 and 2 threads: sgemm at square sizes, the MNIST MLP's
forward and gradient products (batch 100) and the CNN's fully connected layer (batch 64) with
its gradients. Both sides return a freshly allocated C; medians over rounds (on one thread
interleaved between graphc and numpy).
`python -m benchmarks gemm_sweep` puts the same rows in the benchmark table."""

import argparse
import sys
import time

import numpy as np

from benchmarks.gemm_kernel import _machine
from benchmarks.harness import interleaved_medians

SQUARES = (64, 256, 512, 1024, 2048)
# (label, m, n, k, trans_a, trans_b)
SHAPES = [
    ("mlp x.W1", 100, 500, 784, False, False),
    ("mlp h.W2", 100, 10, 500, False, False),
    ("mlp dW2 = h^T.dy", 500, 10, 100, True, False),
    ("mlp dh = dy.W2^T", 100, 500, 10, False, True),
    ("mlp dW1 = x^T.dh", 784, 500, 100, True, False),
    ("cnn fc x.W", 64, 1024, 3136, False, False),
    ("cnn fc dW = x^T.dy", 3136, 1024, 64, True, False),
    ("cnn fc dx = dy.W^T", 64, 3136, 1024, False, True),
    ("cnn conv1 P.W", 50176, 32, 25, False, False),
    ("cnn conv1 dW = P^T.dy", 25, 32, 50176, True, False),
    ("cnn conv2 P.W", 12544, 64, 800, False, False),
    ("cnn conv2 dW = P^T.dy", 800, 64, 12544, True, False),
    ("cnn conv2 dP = dy.W^T", 12544, 800, 64, False, True),
]


def cases(squares=SQUARES):
    return [("sgemm %d" % s, s, s, s, False, False) for s in squares] + SHAPES


class Case:
    """One product compiled by graphc: operands as stored (transposed per the flags)."""

    def __init__(self, m, n, k, trans_a, trans_b, threads, dtype=np.float32):
        from graphc.backend.cpu.executable import CompiledExecutable
        from graphc.ir import Builder, Function
        rng = np.random.RandomState(0)
        self.m, self.n, self.k = m, n, k
        self.a = rng.rand(*((k, m) if trans_a else (m, k))).astype(dtype)
        self.b = rng.rand(*((n, k) if trans_b else (k, n))).astype(dtype)
        self.la = self.a.T if trans_a else self.a
        self.lb = self.b.T if trans_b else self.b
        fn = Function("gemm")
        b = Builder(fn)
        x, y = fn.add_feed("a", self.a.dtype, self.a.shape), fn.add_feed("b", self.b.dtype,
                                                                         self.b.shape)
        fn.add_fetch("c", b.emit1("dot_general", x, y, lhs_contract=(0 if trans_a else 1,),
                                  rhs_contract=(1 if trans_b else 0,), lhs_batch=(),
                                  rhs_batch=()))
        self.exe = CompiledExecutable(fn)  # owns the code the bound call runs
        self.call = self.exe.bind([], num_threads=threads)
        self.feeds = [self.a, self.b]

    def ours(self, reps):
        for _ in range(reps):
            self.call(self.feeds)

    def numpy(self, reps):
        for _ in range(reps):
            np.matmul(self.la, self.lb)

    def check(self):
        got = self.call(self.feeds)[0]
        want = self.la.astype(np.float64) @ self.lb
        tol = 4 * np.finfo(got.dtype).eps * self.k * (np.abs(self.la) @ np.abs(self.lb))
        if not (np.abs(got - want) <= tol + 1e-30).all():
            raise AssertionError("wrong GEMM result for %s" % ((self.m, self.n, self.k),))


def measure(threads, rounds=7, squares=SQUARES):
    """Yields (label, m, n, k, trans, numpy seconds, graphc seconds) per product."""
    from threadpoolctl import threadpool_limits
    with threadpool_limits(threads):
        runs = []
        for label, m, n, k, ta, tb in cases(squares):
            case = Case(m, n, k, ta, tb, threads)
            case.check()
            runs.append((label, m, n, k, "".join("T" if t else "N" for t in (ta, tb)), case))
        if threads == 1:  # no pool threads on either side: interleave against load drift
            pairs = [interleaved_medians([case.ours, case.numpy], rounds) for *_, case in runs]
        else:
            # graphc's products all before numpy's: OpenBLAS's threads spin after each call
            # and take the cores from graphc's pool in the runs that follow (measured: at
            # times half of graphc's speed, even 0.2 s after numpy's last call).
            ours = [interleaved_medians([case.ours], rounds)[0] for *_, case in runs]
            theirs = [interleaved_medians([case.numpy], rounds)[0] for *_, case in runs]
            pairs = list(zip(ours, theirs))
        for (label, m, n, k, trans, _), (t_ours, t_np) in zip(runs, pairs):
            yield label, m, n, k, trans, t_np, t_ours


def gemm_sweep(table, threads=(1, 2)):
    """The sweep as rows of the benchmarks table (`python -m benchmarks gemm_sweep`)."""
    for t in threads:
        for label, m, n, k, trans, t_np, t_ours in measure(t):
            name = "%s %s x%d" % (label, trans, t)
            flops = 2.0 * m * n * k
            table.add(name, "numpy", t_np, "%.1f GFLOP/s" % (flops / t_np / 1e9))
            table.add(name, "graphc-cpu", t_ours, "%.1f GFLOP/s" % (flops / t_ours / 1e9))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SQUARES))
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds per product")
    args = parser.parse_args(argv)
    print("graphc GEMM through the CPU backend vs numpy, float32; %s" % _machine())
    print()
    print("| product | m x n x k | threads | numpy GFLOP/s | graphc GFLOP/s | graphc / numpy |")
    print("|---|---|---:|---:|---:|---:|")
    for threads in args.threads:
        t0 = time.perf_counter()
        for label, m, n, k, trans, t_np, t_ours in measure(threads, args.rounds, args.sizes):
            flops = 2.0 * m * n * k
            print("| %s (%s) | %d x %d x %d | %d | %.1f | %.1f | %.2f |" % (
                label, trans, m, n, k, threads, flops / t_np / 1e9, flops / t_ours / 1e9,
                t_np / t_ours), flush=True)
        print("<!-- %d thread(s): %.0f s -->" % (threads, time.perf_counter() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
