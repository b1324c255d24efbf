"""Every error path of the generated C API, exercised from C: NULL pointers, the batch not set
or invalid, bad thread counts, unknown variables and wrong byte counts, out-of-range indices,
and run-time errors raised inside the generated code (an out-of-range gather index). Each gives
a nonzero return and a message, never a crash."""

import subprocess

import numpy as np
import pytest

import graphc
from tests.aot.helpers import cc, compile_lib

_PROGRAM = r"""
#include <stdio.h>
#include <string.h>
#include "m.h"

#define CHECK(expr) do { int rc_ = (expr); \
    printf("%s -> %d: %s\n", #expr, rc_, rc_ ? m_error(c) : ""); } while (0)

int main(void) {
    m_ctx *c = m_create();
    float x[2 * 3] = {1, 2, 3, 4, 5, 6}, out[2];
    int32_t idx[2] = {0, 7};
    float w[3];
    const void *feeds[] = {x, idx};
    void *fetches[] = {out, out};
    const void *null_feed[] = {NULL, idx};
    void *null_fetch[] = {NULL};
    printf("null ctx run -> %d\n", m_run(NULL, feeds, fetches));
    printf("null ctx error -> %s\n", m_error(NULL));
    CHECK(m_run(c, feeds, fetches));              /* batch not set */
    CHECK(m_set_batch(c, 0));
    CHECK(m_set_batch(c, -3));
    CHECK(m_set_num_threads(c, 0));
    CHECK(m_set_batch(c, 1LL << 62));
    CHECK(m_run(c, feeds, fetches));              /* the scratch size would overflow */
    CHECK(m_set_batch(c, 2));
    CHECK(m_run(c, NULL, fetches));
    CHECK(m_run(c, feeds, NULL));
    CHECK(m_run(c, null_feed, fetches));
    CHECK(m_run(c, feeds, null_fetch));
    CHECK(m_run(c, feeds, fetches));              /* index 7 out of range */
    idx[1] = 1;
    CHECK(m_run(c, feeds, fetches));              /* fine again after an error */
    CHECK(m_get_variable(c, "nope", w, sizeof w));
    CHECK(m_get_variable(c, "w", w, 5));
    CHECK(m_get_variable(c, NULL, w, sizeof w));
    CHECK(m_get_variable(c, "w:0", NULL, sizeof w));
    CHECK(m_set_variable(c, "w", NULL, sizeof w));
    CHECK(m_set_variable(c, "w:1", w, sizeof w));
    CHECK(m_get_variable(c, "w:0", w, sizeof w));
    CHECK(m_fetch_dims(c, 5, NULL));
    CHECK(m_fetch_dims(c, 0, NULL));
    printf("get null ctx -> %d\n", m_get_variable(NULL, "w", w, sizeof w));
    printf("set_batch null ctx -> %d\n", m_set_batch(NULL, 1));
    printf("names %s %s\n", m_feed_name(2) ? "x" : "NULL", m_fetch_name(-1) ? "x" : "NULL");
    printf("shape %s dtype %d rank %d bytes %lld\n", m_feed_shape(9) ? "x" : "NULL",
           m_fetch_dtype(3), m_feed_rank(2), (long long)m_variable_bytes(1));
    printf("variable name %s\n", m_variable_name(1) ? "x" : "NULL");
    m_destroy(c);
    m_destroy(NULL);
    return 0;
}
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("errors")
    graph = graphc.Graph()
    with graph.as_default():
        x = graphc.placeholder(graphc.float32, [None, 3], name="x")
        idx = graphc.placeholder(graphc.int32, [None], name="idx")
        w = graphc.Variable(np.ones(3, np.float32), name="w")
        graphc.gather(graphc.reduce_sum(x * w, axis=1), idx, name="out")
    path = graphc.train.write_graph(graph, str(tmp), "m.graph", as_text=False)
    compile_lib(tmp, path, "--feed", "x", "--feed", "idx", "--fetch", "out", name="m")
    exe = cc(tmp, _PROGRAM, "errors", name="m")
    proc = subprocess.run([exe], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    results = {}  # the first result of each call
    for line in proc.stdout.splitlines():
        if " -> " in line:
            call, result = line.split(" -> ", 1)
            results.setdefault(call, result)
    return results, proc.stdout


@pytest.mark.parametrize("call, message", [
    ("m_run(c, feeds, fetches)", "the batch is not set: call m_set_batch first"),
    ("m_set_batch(c, 0)", "the batch must be >= 1, got 0"),
    ("m_set_batch(c, -3)", "the batch must be >= 1, got -3"),
    ("m_set_num_threads(c, 0)", "the thread count must be >= 1, got 0"),
    ("m_run(c, NULL, fetches)", "m_run: feeds is NULL"),
    ("m_run(c, feeds, NULL)", "m_run: fetches is NULL"),
    ("m_run(c, null_feed, fetches)", "m_run: feeds[0] is NULL"),
    ("m_run(c, feeds, null_fetch)", "m_run: fetches[0] is NULL"),
    ("m_get_variable(c, \"nope\", w, sizeof w)", "no variable named 'nope'"),
    ("m_get_variable(c, \"w\", w, 5)", "variable w has 12 bytes, got 5"),
    ("m_get_variable(c, NULL, w, sizeof w)", "the variable name is NULL"),
    ("m_get_variable(c, \"w:0\", NULL, sizeof w)", "the output buffer is NULL"),
    ("m_set_variable(c, \"w\", NULL, sizeof w)", "the input buffer is NULL"),
    ("m_set_variable(c, \"w:1\", w, sizeof w)", "no variable named 'w:1'"),
    ("m_fetch_dims(c, 5, NULL)", "fetch index 5 is not in [0, 1)"),
    ("m_fetch_dims(c, 0, NULL)", "dims is NULL"),
])
def test_error_returns_nonzero_with_a_message(report, call, message):
    results, _ = report
    rc, text = results[call].split(": ", 1)
    assert rc != "0" and message in text


def test_run_time_error_inside_the_generated_code(report):
    results, out = report
    lines = [line for line in out.splitlines() if line.startswith("m_run(c, feeds, fetches)")]
    # batch not set, then too large, then the gather index error, then success once the
    # index is fixed
    assert len(lines) == 4
    assert "batch is not set" in lines[0]
    assert "m_run: the batch 4611686018427387904 is too large" in lines[1]
    assert "indices[1] = 7 is not in [0, 2)" in lines[2] and "-> 0" not in lines[2]
    assert lines[3].startswith("m_run(c, feeds, fetches) -> 0")


def test_null_and_out_of_range_arguments_never_crash(report):
    results, out = report
    assert results["null ctx run"] != "0"
    assert results["get null ctx"] != "0" and results["set_batch null ctx"] != "0"
    assert "null ctx error -> the context is NULL" in out
    assert "names NULL NULL" in out
    assert "shape NULL dtype -1 rank -1 bytes -1" in out
    assert "variable name NULL" in out
    assert results["m_get_variable(c, \"w:0\", w, sizeof w)"].startswith("0")
