"""Fusion as the users see it: sessions compiled with GRAPHC_DUMP set write the IR after every
pass; these tests read the dumped `*-fusion.ir` to count the kernels (every top-level
instruction but constants and reshapes, which are data and views) and check the compiled
results against the interpreter."""

import glob
import os
import re

import numpy as np
import pytest

import graphc
from tests.oracle import assert_compiled_close, compiled_backend

TOP_LEVEL = re.compile(r"^  (%\d+: [^=]+(?:, %\d+: [^=]+)*) = (\w+)\(")
NOT_KERNELS = ("constant", "reshape")


def _dumped(dump_dir, suffix):
    """The text of the single function dump whose file name ends in `suffix`."""
    paths = glob.glob(os.path.join(str(dump_dir), "*", "*-" + suffix))
    assert len(paths) == 1, paths
    with open(paths[0]) as f:
        return f.read()


def _top_level(text):
    """[(op, number of outputs)] of the function's own instructions (not fused bodies)."""
    out = []
    for line in text.splitlines():
        m = TOP_LEVEL.match(line)
        if m:
            out.append((m.group(2), m.group(1).count("%")))
    return out


def _kernels(text):
    return [(op, n) for op, n in _top_level(text) if op not in NOT_KERNELS]


def _run_both(build, feed_values, dump_dir, monkeypatch):
    """Runs build() once interpreted and once compiled with GRAPHC_DUMP=dump_dir; compares."""
    graph = graphc.Graph()
    with graph.as_default():
        fetches, phs = build()
    feed = dict(zip(phs, feed_values))
    with graphc.Session(graph=graph) as sess:
        want = sess.run(fetches, feed)
    monkeypatch.setenv("GRAPHC_DUMP", str(dump_dir))
    with compiled_backend(), graphc.Session(graph=graph) as sess:
        got = sess.run(fetches, feed)
    assert_compiled_close(got, want)
    return _dumped(dump_dir, "input.ir"), _dumped(dump_dir, "fusion.ir")


def test_five_op_elementwise_chain_is_one_kernel(tmp_path, monkeypatch):
    def build():
        x = graphc.placeholder(graphc.float32, [64, 33])
        y = graphc.placeholder(graphc.float32, [33])
        return graphc.exp(-graphc.tanh(x * 0.5 + y) * x), [x, y]
    r = np.random.RandomState(0)
    before, after = _run_both(build, [r.randn(64, 33), r.randn(33)], tmp_path, monkeypatch)
    assert len(_kernels(before)) >= 5  # mul, add (of a broadcast), tanh, neg, mul, exp
    assert _kernels(after) == [("fusion", 1)]


def test_siblings_reading_one_input_are_one_two_output_kernel(tmp_path, monkeypatch):
    def build():
        x = graphc.placeholder(graphc.float32, [100, 7])
        return [x * 2.0, x + 1.0], [x]
    before, after = _run_both(build, [np.random.RandomState(1).randn(100, 7)], tmp_path,
                              monkeypatch)
    assert len(_kernels(before)) == 2
    assert _kernels(after) == [("fusion", 2)]


@pytest.mark.parametrize("batch", [64, 1000])
def test_softmax_cross_entropy_and_gradient_take_a_handful_of_kernels(batch, tmp_path,
                                                                      monkeypatch):
    def build():
        logits = graphc.placeholder(graphc.float32, [batch, 10])
        labels = graphc.placeholder(graphc.float32, [batch, 10])
        loss = graphc.reduce_mean(graphc.nn.softmax_cross_entropy_with_logits_v2(
            labels=labels, logits=logits))
        grad, = graphc.gradients(loss, [logits])
        return [loss, grad], [logits, labels]
    r = np.random.RandomState(2)
    labels = np.eye(10, dtype=np.float32)[r.randint(0, 10, batch)]
    before, after = _run_both(build, [r.randn(batch, 10) * 3, labels], tmp_path, monkeypatch)
    ops = _kernels(before)
    kernels = _kernels(after)
    assert len(ops) >= 15
    assert len(kernels) <= 5, kernels
    # The row reductions and the gradient share loops: some kernels have several outputs.
    assert sum(n for _, n in kernels) > len(kernels)


def test_mean_and_normalization_run_as_epilogues_of_their_reductions(tmp_path, monkeypatch):
    def build():
        x = graphc.placeholder(graphc.float32, [300, 17])
        mean = graphc.reduce_mean(x, axis=1)
        peak = graphc.reduce_max(x, axis=1)
        # mean and the scaled spread are element-wise in the finished reductions
        return [mean, graphc.exp(peak - mean) * 2.0, graphc.reduce_mean(x)], [x]
    before, after = _run_both(build, [np.random.RandomState(5).randn(300, 17)], tmp_path,
                              monkeypatch)
    kernels = _kernels(after)
    # the row reductions (sum, max) with both epilogues; the full mean with its division
    assert kernels == [("fusion", 4), ("fusion", 2)], kernels
