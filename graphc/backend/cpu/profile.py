"""Per-kernel timing of compiled executables (`GRAPHC_PROFILE=1`), to see where a step's time
goes: which kernels, at what achieved rate.

When profiling is on, the entry function reads a monotonic clock (libc's clock_gettime,
through the vDSO: about 20 ns) around every kernel launch and adds the elapsed nanoseconds
and a call count to a per-module counter table. `report(executable)` reads the table back.
Profiled executables bypass the disk cache (their code differs) and are meant for
benchmarking, never for the AoT library."""

import ctypes
import os

from llvmlite import ir

from graphc.backend.cpu.types import I32, I64, PTR

SLOTS = 2048  # kernel launches recorded per executable (later ones are not timed)
CLOCK_MONOTONIC = 1


def enabled():
    return os.environ.get("GRAPHC_PROFILE", "") not in ("", "0")


class Profiler:
    """Emits the timing code of one module: `start(b)` before a launch, `stop(b, t0, label)`
    after it."""

    def __init__(self, module, entry_name):
        self.module = module
        self.labels = []
        self.table_name = entry_name + "_profile"
        table = ir.ArrayType(I64, 2 * SLOTS)
        self.table = ir.GlobalVariable(module, table, self.table_name)
        self.table.initializer = ir.Constant(table, None)
        self.clock = ir.Function(module, ir.FunctionType(I32, [I32, PTR]), "clock_gettime")

    def _now(self, b):
        ts = b.alloca(I64, size=ir.Constant(I32, 2))  # struct timespec
        b.call(self.clock, [ir.Constant(I32, CLOCK_MONOTONIC), ts])
        sec = b.load(ts, typ=I64)
        nsec = b.load(b.gep(I64, ts, [ir.Constant(I64, 1)]), typ=I64)
        return b.add(b.mul(sec, ir.Constant(I64, 10 ** 9)), nsec)

    def start(self, b):
        return self._now(b) if len(self.labels) < SLOTS else None

    def stop(self, b, t0, label):
        if t0 is None:
            return
        slot = len(self.labels)
        self.labels.append(label)
        for index, amount in ((2 * slot, b.sub(self._now(b), t0)),
                              (2 * slot + 1, ir.Constant(I64, 1))):
            ptr = b.gep(self.table.value_type, self.table,
                        [ir.Constant(I64, 0), ir.Constant(I64, index)])
            b.atomic_rmw("add", ptr, amount, "monotonic")  # contexts may run concurrently


def report(executable):
    """[(label, seconds, calls)] for every timed kernel launch of a profiled executable, in
    launch order, accumulated over all its runs so far."""
    labels = getattr(executable, "profile_labels", None)
    if labels is None:
        raise ValueError("the executable was not compiled with GRAPHC_PROFILE=1")
    address = executable.compiled.engine.get_global_value_address(
        executable.profile_table)
    table = (ctypes.c_int64 * (2 * SLOTS)).from_address(address)
    return [(label, table[2 * i] * 1e-9, table[2 * i + 1]) for i, label in enumerate(labels)]


def format_report(rows, runs=1):
    """A text table of `report` rows, heaviest first, per run."""
    total = sum(t for _, t, _ in rows) or 1.0
    lines = ["%10s %6s  %s" % ("ms/run", "share", "kernel")]
    for label, t, _ in sorted(rows, key=lambda r: -r[1]):
        lines.append("%10.3f %5.1f%%  %s" % (t / runs * 1e3, 100 * t / total, label))
    lines.append("%10.3f %5s  total" % (total / runs * 1e3, ""))
    return "\n".join(lines)
