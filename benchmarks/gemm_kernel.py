"""`python -m benchmarks.gemm_kernel`: GFLOP/s of graphc's generated GEMM kernels
(graphc/backend/cpu/gemm_kernel.py) next to numpy (OpenBLAS) at the same thread count, on square
sizes and on the MNIST MLP's forward and gradient products; medians over interleaved rounds.
Also measures the core's FMA peak (a register-only FMA loop) to put both against.

The kernels are timed through a native loop (`gemm_repeat`), as the backend calls them; numpy
through `np.matmul(a, b, out=c)` from Python (about a microsecond more per call). With two
threads the output is split into `split(m, n, 2)` rectangles, one Python thread each (ctypes
releases the GIL), against numpy with two OpenBLAS threads. `--cpu-time` times single-threaded
runs by thread CPU time instead of wall time, which is steadier on a shared machine."""

import argparse
import ctypes
import importlib.util
import os
import pathlib
import statistics
import sys
import threading
import time

import numpy as np

from benchmarks.harness import interleaved_medians

_PATH = pathlib.Path(__file__).resolve().parents[1] / "graphc/backend/cpu/gemm_kernel.py"

# (label, m, n, k, trans_a, trans_b): the MLP 784-500-10 at batch 100, forward and backward.
MLP = [
    ("mlp x.W1", 100, 500, 784, False, False),
    ("mlp h.W2", 100, 10, 500, False, False),
    ("mlp dW2 = h^T.dy", 500, 10, 100, True, False),
    ("mlp dh = dy.W2^T", 100, 500, 10, False, True),
    ("mlp dW1 = x^T.dh", 784, 500, 100, True, False),
    ("mlp x.W1 batch 1", 1, 500, 784, False, False),
]


def load_gemm_kernel():
    spec = importlib.util.spec_from_file_location("graphc_gemm_kernel", _PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def fma_peak(dtype, clock=time.perf_counter):
    """GFLOP/s of 12 independent vector FMA chains in registers (the core's FMA throughput
    at its current clock) and the vector width in lanes."""
    import llvmlite.binding as llvm
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    t, lanes = ("float", 8) if np.dtype(dtype) == np.float32 else ("double", 4)
    v = "<%d x %s>" % (lanes, t)
    name = "llvm.fma.v%d%s" % (lanes, "f32" if t == "float" else "f64")
    # Distinct start values: identical chains would be merged into one by the optimizer.
    phis = "\n".join("  %%x%d = phi %s [<%s>, %%entry], [%%y%d, %%loop]"
                     % (i, v, ", ".join(["%s %d.0" % (t, i + 1)] * lanes), i)
                     for i in range(12))
    body = "\n".join("  %%y%d = call %s @%s(%s %%x%d, %s %%s, %s %%s)"
                     % (i, v, name, v, i, v, v) for i in range(12))
    # Every chain feeds the result (else all but one are dead code).
    total = "  %%z0 = fadd %s %%y0, %%y0\n" % v + "\n".join(
        "  %%z%d = fadd %s %%z%d, %%y%d" % (i, v, i - 1, i) for i in range(1, 12))
    src = """
declare %(v)s @%(name)s(%(v)s, %(v)s, %(v)s)
define %(t)s @peak(i64 %%n, %(t)s %%a) {
entry:
  %%s0 = insertelement %(v)s undef, %(t)s %%a, i32 0
  %%s = shufflevector %(v)s %%s0, %(v)s undef, <%(l)d x i32> zeroinitializer
  br label %%loop
loop:
  %%i = phi i64 [0, %%entry], [%%i1, %%loop]
%(phis)s
%(body)s
  %%i1 = add i64 %%i, 1
  %%c = icmp slt i64 %%i1, %%n
  br i1 %%c, label %%loop, label %%exit
exit:
%(total)s
  %%r = extractelement %(v)s %%z11, i32 0
  ret %(t)s %%r
}""" % dict(v=v, t=t, name=name, l=lanes, phis=phis, body=body, total=total)
    tm = llvm.Target.from_default_triple().create_target_machine(
        cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(), opt=2,
        jit=True)
    module = llvm.parse_assembly(src)
    engine = llvm.create_mcjit_compiler(module, tm)
    engine.finalize_object()
    ct = ctypes.c_float if t == "float" else ctypes.c_double
    fn = ctypes.CFUNCTYPE(ct, ctypes.c_int64, ct)(engine.get_function_address("peak"))
    iters = 20_000_000
    rates = []
    for _ in range(5):
        t0 = clock()
        fn(iters, 0.5)
        rates.append(iters * 12 * lanes * 2 / (clock() - t0) / 1e9)
    return statistics.median(rates), lanes


class Case:
    """One product: operands as stored, the kernel and its argument tuple per rectangle."""

    def __init__(self, gk, kernels, dtype, m, n, k, trans_a, trans_b, parts):
        rng = np.random.RandomState(0)
        self.m, self.n, self.k = m, n, k
        self.a = rng.rand(*((k, m) if trans_a else (m, k))).astype(dtype)
        self.b = rng.rand(*((n, k) if trans_b else (k, n))).astype(dtype)
        self.c = np.empty((m, n), dtype)
        self.la = self.a.T if trans_a else self.a
        self.lb = self.b.T if trans_b else self.b
        key = (trans_a, trans_b)
        if key not in kernels:
            kernels[key] = gk.JitGemm(dtype, trans_a, trans_b, repeat=True)
        self.kernel = kernels[key]
        self.rects = gk.split(m, n, parts, dtype)
        self.scratch = [np.empty(gk.scratch_bytes(m, n, k, dtype), np.uint8)
                        for _ in self.rects]
        self.args = [(m, n, k, self.a.ctypes.data, self.a.shape[1], self.b.ctypes.data,
                      self.b.shape[1], self.c.ctypes.data, n, s.ctypes.data) + rect +
                     (None, None, 0, 1.0) for rect, s in zip(self.rects, self.scratch)]

    def ours(self, reps):
        if len(self.args) == 1:
            self.kernel.fn_repeat(reps, *self.args[0])
            return
        threads = [threading.Thread(target=self.kernel.fn_repeat, args=(reps,) + args)
                   for args in self.args]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def numpy(self, reps):
        for _ in range(reps):
            np.matmul(self.la, self.lb, out=self.c)

    def check(self):
        self.ours(1)
        want = self.la.astype(np.float64) @ self.lb
        tol = 4 * np.finfo(self.c.dtype).eps * self.k * (np.abs(self.la) @ np.abs(self.lb))
        if not (np.abs(self.c - want) <= tol + 1e-30).all():
            raise AssertionError("wrong GEMM result for %s" % ((self.m, self.n, self.k),))


def run(dtype, threads, sizes, rounds, cpu_time, out=sys.stdout):
    from threadpoolctl import threadpool_limits

    gk = load_gemm_kernel()
    dt = np.dtype(dtype)
    clock = time.thread_time if cpu_time and threads == 1 else time.perf_counter
    peak, lanes = fma_peak(dt, clock)
    kernels = {}
    cases = [("%d^3" % s, s, s, s, False, False) for s in sizes] + MLP
    print("graphc GEMM kernels, %s, %d thread(s), %s; %s" % (
        dt.name, threads, "thread CPU time" if clock is time.thread_time else "wall time",
        _machine()), file=out)
    print("FMA peak of one core here (12 chains of %d-lane FMAs): %.1f GFLOP/s" % (
        lanes, peak), file=out)
    print("", file=out)
    print("| product | m x n x k | numpy GFLOP/s | graphc GFLOP/s | graphc / numpy "
          "| graphc / %s FMA peak |" % ("one-core" if threads == 1 else "%d-core" % threads),
          file=out)
    print("|---|---|---:|---:|---:|---:|", file=out)
    with threadpool_limits(threads):
        for label, m, n, k, ta, tb in cases:
            case = Case(gk, kernels, dt, m, n, k, ta, tb, threads)
            case.check()
            t_ours, t_np = interleaved_medians([case.ours, case.numpy], rounds, clock=clock)
            flops = 2.0 * m * n * k
            g_ours, g_np = flops / t_ours / 1e9, flops / t_np / 1e9
            trans = "".join("T" if t else "N" for t in (ta, tb))
            print("| %s (%s) | %d x %d x %d | %.1f | %.1f | %.2f | %.0f%% |" % (
                label, trans, m, n, k, g_np, g_ours, g_ours / g_np,
                100 * g_ours / (peak * threads)), file=out, flush=True)


def _machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f
                         if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return "%s, %d cores" % (model or "cpu", os.cpu_count())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--threads", type=int, nargs="+", default=[1],
                        help="thread counts to run (default: 1)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256, 512, 1024, 2048])
    parser.add_argument("--rounds", type=int, default=9, help="timed rounds per product")
    parser.add_argument("--cpu-time", action="store_true",
                        help="single-threaded runs timed by thread CPU time")
    args = parser.parse_args(argv)
    for threads in args.threads:
        run(args.dtype, threads, args.sizes, args.rounds, args.cpu_time)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
