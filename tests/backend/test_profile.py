"""GRAPHC_PROFILE: per-kernel timing of a compiled executable (graphc.backend.cpu.profile)."""

import numpy as np
import pytest

from graphc.backend.cpu import profile
from graphc.backend.cpu.executable import CompiledExecutable
from tests.backend.helpers import function


def _exe():
    def build(b, x, w):
        y = b.emit1("dot_general", x, w, lhs_contract=(1,), rhs_contract=(0,), lhs_batch=(),
                    rhs_batch=())
        return b.emit1("tanh", y)
    return CompiledExecutable(function(build, [(np.dtype(np.float32), (64, 96)),
                                               (np.dtype(np.float32), (96, 80))]))


def test_profile_counts_every_launch_and_keeps_results(monkeypatch):
    monkeypatch.setenv("GRAPHC_PROFILE", "1")
    exe = _exe()
    assert not exe.loaded_from_cache  # profiled code never comes from the disk cache
    rng = np.random.RandomState(0)
    x, w = rng.rand(64, 96).astype(np.float32), rng.rand(96, 80).astype(np.float32)
    runs = 3
    for _ in range(runs):
        (y,) = exe.run([x, w], [])
    np.testing.assert_allclose(y, np.tanh(x.astype(np.float64) @ w), rtol=1e-5)
    rows = profile.report(exe)
    assert rows and all(calls == runs and seconds > 0 for _, seconds, calls in rows)
    assert any("gemm 64x80x96" in label for label, _, _ in rows)
    text = profile.format_report(rows, runs)
    assert "total" in text.splitlines()[-1]


def test_report_needs_a_profiled_executable(monkeypatch):
    monkeypatch.delenv("GRAPHC_PROFILE", raising=False)
    with pytest.raises(ValueError, match="GRAPHC_PROFILE"):
        profile.report(_exe())
