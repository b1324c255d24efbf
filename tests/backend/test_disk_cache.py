"""The disk cache: a second process skips LLVM (object files by LLVM IR) and the passes and
code generation too (executables by core IR, with the shared kernels they link against);
damaged entries are rebuilt; different functions never share an entry."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from graphc.backend.cpu import disk_cache, llvm

IR = textwrap.dedent("""
    define double @twice(double %x) {
      %y = fmul double %x, 2.0
      ret double %y
    }
""")


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    return tmp_path


def _call_twice(compiled, value):
    import ctypes
    fn = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)(compiled.address("twice"))
    return fn(value)


def test_second_compile_loads_object_from_disk(cache_dir):
    before = dict(disk_cache.stats)
    first = llvm.compile_ir(IR)
    second = llvm.compile_ir(IR)
    assert disk_cache.stats["misses"] == before["misses"] + 1
    assert disk_cache.stats["hits"] == before["hits"] + 1
    assert _call_twice(first, 1.5) == _call_twice(second, 1.5) == 3.0


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_damaged_entry_is_ignored_and_rebuilt(cache_dir, damage):
    llvm.compile_ir(IR)
    [path] = [os.path.join(d, f) for d, _, files in os.walk(cache_dir / "objects") for f in files]
    data = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write({"truncate": data[: len(data) // 2], "garbage": b"x" * len(data),
                 "empty": b""}[damage])
    hits = disk_cache.stats["hits"]
    assert _call_twice(llvm.compile_ir(IR), 2.0) == 4.0
    assert disk_cache.stats["hits"] == hits
    assert open(path, "rb").read() == data  # rewritten whole


def test_a_second_process_skips_llvm(cache_dir):
    script = textwrap.dedent("""
        import numpy as np, graphc
        from graphc import config
        from graphc.backend.cpu import codegen, disk_cache
        built = []
        build_module = codegen.build_module
        codegen.build_module = lambda *a, **k: built.append(1) or build_module(*a, **k)
        config.set_backend("cpu"); config.set_compile_after_runs(0)
        x = graphc.placeholder(graphc.float32, [4])
        w = graphc.constant(np.arange(64 * 64, dtype=np.float32).reshape(64, 64) / 4096)
        y = graphc.matmul(graphc.tile(graphc.reshape(x, [1, 4]), [64, 16]), w)
        with graphc.Session() as s:
            print(s.run([graphc.tanh(x) * 2.0, y],
                        {x: np.arange(4, dtype=np.float32)})[0].tolist())
            print(s.run(graphc.reduce_sum(y), {x: np.ones(4, np.float32)}))
        print(disk_cache.stats["hits"], disk_cache.stats["misses"])
        print(disk_cache.entry_stats["hits"], disk_cache.entry_stats["misses"], len(built))
    """)
    env = dict(os.environ, GRAPHC_CACHE_DIR=str(cache_dir))
    runs = [subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                           text=True, check=True).stdout.split("\n") for _ in range(2)]
    assert runs[0][:2] == runs[1][:2]
    hits0, misses0 = map(int, runs[0][2].split())
    hits1, misses1 = map(int, runs[1][2].split())
    assert misses0 >= 1 and hits0 == 0
    assert misses1 == 0 and hits1 == misses0
    entry_hits0, entry_misses0, built0 = map(int, runs[0][3].split())
    entry_hits1, entry_misses1, built1 = map(int, runs[1][3].split())
    assert (entry_hits0, entry_misses0, built0) == (0, 2, 2)
    assert (entry_hits1, entry_misses1, built1) == (2, 0, 0)  # no passes, no codegen
    np.testing.assert_allclose(eval(runs[1][0]), np.tanh(np.arange(4)) * 2, rtol=1e-5)


def _function(values, name="f"):
    from tests.backend.helpers import function
    return function(lambda b, x: b.emit1("add", x, b.constant(values)), [values], name=name)


def test_function_key_identifies_the_function_not_its_printout():
    key = lambda fn, disabled=(): disk_cache.function_key(fn, disabled, "cpu", "+f")  # noqa
    a = np.arange(100, dtype=np.float32)
    b = a.copy()
    b[50] = -1  # the IR printer abbreviates both constants to <float32[100]>
    assert str(_function(a)) == str(_function(b))
    assert key(_function(a)) == key(_function(a.copy()))  # value ids differ
    assert key(_function(a)) != key(_function(b))
    assert key(_function(a)) != key(_function(a.astype(np.float64)))
    assert key(_function(a)) != key(_function(a), {"fusion"})
    assert key(_function(a)) != disk_cache.function_key(_function(a), (), "cpu", "-f")
    fn = _function(a)
    fn.body[0].params["odd"] = object()  # a parameter without a faithful fingerprint
    assert key(fn) is None


def test_executable_from_the_cache_and_damaged_entries(cache_dir):
    from graphc.backend.cpu.executable import CompiledExecutable
    a = np.arange(20, dtype=np.float32)
    first = CompiledExecutable(_function(a))
    second = CompiledExecutable(_function(a))
    assert first._optimized is not None and second._optimized is None  # loaded, not compiled
    assert first.temp_bytes({}) == second.temp_bytes({})
    np.testing.assert_array_equal(second.run([a], [])[0], 2 * a)
    assert len(second.optimized.body) == len(first.optimized.body)  # rebuilt on demand
    [path] = [os.path.join(d, f) for d, _, files in os.walk(cache_dir / "executables")
              for f in files]
    with open(path, "r+b") as f:
        f.truncate(10)
    third = CompiledExecutable(_function(a))
    assert third._optimized is not None
    np.testing.assert_array_equal(third.run([a], [])[0], 2 * a)
