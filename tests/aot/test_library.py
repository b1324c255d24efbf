"""AoT libraries called from C programs built with the system compiler: inference with a fixed
and a `?` batch, training entries sharing variables with inference, several feeds and fetches
of different dtypes, random ops, thread-count independence, the static library, what the
shared library links and exports. TensorFlow (or graphc's Session where noted) is the
oracle."""

import os
import subprocess

import numpy as np
import pytest

import graphc
from tests.aot.helpers import Driver, cc, compile_lib
from tests.framework.helpers import build, mlp


@pytest.fixture(scope="module")
def mlp_lib(tf1, tmp_path_factory):
    """TF's MLP training graph compiled with an `infer` (`?` batch) and a `train` (batch 6)
    entry; the TF graph for the oracle."""
    tmp = tmp_path_factory.mktemp("mlp")
    graph = build(tf1, mlp, "gd")
    path = tmp / "mlp.graph"
    path.write_bytes(graph.as_graph_def().SerializeToString())
    compile_lib(tmp, path, "--entry", "infer", "--feed", "x", "--fetch", "probs",
                "--fetch", "logits:0", "--entry", "train", "--feed", "x=6,4", "--feed", "y=6,3",
                "--fetch", "loss", "--train-op", "train", "--static", str(tmp / "libmodel.a"))
    return tmp, graph


def _batch(n, seed):
    rng = np.random.RandomState(seed)
    return (rng.randn(n, 4).astype(np.float32),
            np.eye(3, dtype=np.float32)[rng.randint(0, 3, n)])


def _tf_reference(tf1, graph, train_batches, infer_x):
    with tf1.Session(graph=graph) as sess:
        sess.run("init")
        losses = [sess.run(["loss:0", "train"], {"x:0": x, "y:0": y})[0]
                  for x, y in train_batches]
        probs, logits = sess.run(["probs:0", "logits:0"], {"x:0": infer_x})
        variables = sess.run(["w1:0", "b1:0", "w2:0", "b2:0"])
    return losses, probs, logits, variables


@pytest.mark.parametrize("batch", [1, 5])
def test_infer_dynamic_batch_matches_tf(tf1, mlp_lib, batch):
    tmp, graph = mlp_lib
    x, _ = _batch(batch, batch)
    outs, _ = Driver(tmp, entries=("infer",)).run(["infer"], {"infer": [x]}, batch=batch)
    _, probs, logits, _ = _tf_reference(tf1, graph, [], x)
    np.testing.assert_allclose(outs[0][0], probs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outs[0][1], logits, rtol=1e-5, atol=1e-6)
    assert outs[0][0].shape == (batch, 3)


def test_train_then_infer_shares_variables_and_matches_tf(tf1, mlp_lib):
    """Five training steps (the loss before each update, as Session.run([loss, train]) gives),
    then inference reads the trained variables; 1 and 2 threads give identical bits."""
    tmp, graph = mlp_lib
    steps = [_batch(6, 10 + s) for s in range(5)]
    infer_x = _batch(3, 99)[0]
    driver = Driver(tmp, entries=("infer", "train"))
    script = ["train"] * 5 + ["infer"]
    step_feeds = {s: {"train": list(b)} for s, b in enumerate(steps)}
    results = [driver.run(script, {"infer": [infer_x]}, threads=t, batch=3,
                          step_feeds=step_feeds) for t in (1, 2)]
    losses, probs, logits, variables = _tf_reference(tf1, graph, steps, infer_x)
    outs, raw_vars = results[0]
    np.testing.assert_allclose([o[0] for o in outs[:5]], losses, rtol=1e-4)
    np.testing.assert_allclose(outs[5][0], probs, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(outs[5][1], logits, rtol=1e-4, atol=1e-6)
    names = ["w1", "b1", "w2", "b2"]
    for name, want in zip(names, variables):
        got = raw_vars[names.index(name)].view(np.float32).reshape(want.shape)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    outs2, vars2 = results[1]
    for a, b in zip(sum(outs, []), sum(outs2, [])):
        assert a.tobytes() == b.tobytes()
    assert [v.tobytes() for v in raw_vars] == [v.tobytes() for v in vars2]


def test_static_library_gives_the_same_results(mlp_lib):
    tmp, _ = mlp_lib
    x = _batch(4, 3)[0]
    shared = Driver(tmp, entries=("infer",)).run(["infer"], {"infer": [x]}, batch=4)[0]
    static = Driver(tmp, entries=("infer",), static=True).run(
        ["infer"], {"infer": [x]}, batch=4, workdir="static")[0]
    assert [a.tobytes() for a in shared[0]] == [a.tobytes() for a in static[0]]


def test_library_links_only_the_c_runtime_and_exports_only_its_api(mlp_lib):
    tmp, _ = mlp_lib
    lib = os.path.join(str(tmp), "libmodel.so")
    ldd = subprocess.run(["ldd", lib], capture_output=True, text=True, check=True).stdout
    allowed = ("linux-vdso", "libc.so", "libm.so", "libpthread.so", "libgcc_s.so", "ld-linux")
    for line in ldd.strip().splitlines():
        assert any(a in line for a in allowed), line
    nm = subprocess.run(["nm", "-D", "--defined-only", lib], capture_output=True, text=True,
                        check=True).stdout
    exported = [line.split()[-1] for line in nm.strip().splitlines()]
    assert exported and all(s.startswith("model_") for s in exported), exported
    assert {"model_create", "model_infer_run", "model_train_run", "model_set_batch",
            "model_get_variable", "model_train_fetch_dims"} <= set(exported)
    # Neither the runtime nor the entries' kernels leak into the dynamic symbol table.
    assert not any("graphc" in s or s.endswith("_graph") for s in exported)


def _dtypes_graph(tf):
    x = tf.placeholder(tf.float64, [None, 3], name="x")
    k = tf.placeholder(tf.int32, [None], name="k")
    mask = tf.placeholder(tf.bool, [None], name="mask")
    scale = tf.placeholder(tf.float32, [], name="scale")
    tf.reduce_sum(x * 2.0, axis=1, name="rowsum")
    tf.add(k, 1, name="k1")
    tf.logical_not(mask, name="notmask")
    tf.cast(k, tf.int64, name="k64")
    tf.multiply(tf.cast(x, tf.float32), scale, name="scaled")
    tf.reduce_max(x, name="xmax")
    tf.constant(np.arange(4, dtype=np.uint8).reshape(2, 2), name="table")


_DT_FETCHES = ["rowsum", "k1", "notmask", "k64", "scaled", "xmax", "table"]


@pytest.mark.parametrize("shape", ["?", "fixed"])
def test_several_feeds_and_fetches_of_different_dtypes(tf1, tmp_path, shape):
    graph = build(tf1, _dtypes_graph)
    path = tmp_path / "dt.pbtxt"
    path.write_text(str(graph.as_graph_def()))
    n = 5
    b = "?" if shape == "?" else str(n)
    args = ["--feed", "x=%s,3" % b, "--feed", "k=%s" % b, "--feed", "mask:0=%s" % b,
            "--feed", "scale"]
    for f in _DT_FETCHES:
        args += ["--fetch", f]
    compile_lib(tmp_path, path, *args)
    rng = np.random.RandomState(0)
    feeds = [rng.randn(n, 3), rng.randint(-5, 5, n).astype(np.int32), rng.rand(n) > 0.5,
             np.float32(1.5)]
    outs, _ = Driver(tmp_path).run(["main"], {"main": feeds}, batch=n if shape == "?" else 0)
    with tf1.Session(graph=graph) as sess:
        want = sess.run([f + ":0" for f in _DT_FETCHES],
                        dict(zip(["x:0", "k:0", "mask:0", "scale:0"], feeds)))
    for name, got, ref in zip(_DT_FETCHES, outs[0], want):
        ref = np.asarray(ref)
        assert got.dtype == ref.dtype and got.shape == ref.shape, name
        np.testing.assert_allclose(got, ref, rtol=1e-6, err_msg=name)


def test_random_ops_continue_their_stream_like_a_session(tmp_path):
    """A seeded random op draws new numbers each run, as in a Session; the counters live in
    the context."""
    graph = graphc.Graph()
    with graph.as_default():
        graphc.random_uniform([4], seed=3, name="r")
        v = graphc.Variable(graphc.random_normal([2], seed=4), name="v")
        graphc.identity(v + 0.0, name="vv")
    path = graphc.train.write_graph(graph, str(tmp_path), "r.graph", as_text=False)
    compile_lib(tmp_path, path, "--fetch", "r", "--fetch", "vv")
    outs, _ = Driver(tmp_path).run(["main"] * 3, {"main": []})
    with graphc.Session(graph=graph) as sess:
        sess.run(v.initializer)
        want = [sess.run(["r:0", "vv:0"]) for _ in range(3)]
    for got, ref in zip(outs, want):
        np.testing.assert_allclose(got[0], ref[0], rtol=1e-6)
        np.testing.assert_allclose(got[1], ref[1], rtol=1e-6)
    assert not np.array_equal(outs[0][0], outs[1][0])


def test_training_with_a_symbolic_batch_matches_tf(tf1, tmp_path):
    """TF's own training graph (its gradients take Shape/Size of batch-sized tensors) compiled
    with a `?` batch trains at batch 8, then 5 after NAME_set_batch, as Session.run does."""
    graph = build(tf1, mlp, "gd")
    path = tmp_path / "mlp.graph"
    path.write_bytes(graph.as_graph_def().SerializeToString())
    compile_lib(tmp_path, path, "--feed", "x", "--feed", "y", "--fetch", "loss",
                "--train-op", "train")
    steps = [_batch(8, 20), _batch(8, 21), _batch(5, 22), _batch(5, 23)]
    script = ["batch=8", "main", "main", "batch=5", "main", "main"]
    runs = [i for i, s in enumerate(script) if s == "main"]
    step_feeds = {r: {"main": list(b)} for r, b in zip(runs, steps)}
    outs, raw_vars = Driver(tmp_path).run(script, {}, step_feeds=step_feeds)
    losses, _, _, variables = _tf_reference(tf1, graph, steps, steps[0][0])
    np.testing.assert_allclose([outs[r][0] for r in runs], losses, rtol=1e-5)
    for raw, want in zip(raw_vars, variables):
        np.testing.assert_allclose(raw.view(np.float32).reshape(want.shape), want, rtol=1e-5,
                                   atol=1e-6)


_CONCURRENT = r"""
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include "model.h"

#define N 64
static float x[N * 4];

typedef struct { model_ctx *ctx; float probs[N * 3]; int rc; } job;

static void *work(void *p) {
    job *j = p;
    const void *feeds[] = {x};
    void *fetches[] = {j->probs, NULL};
    float logits[N * 3];
    fetches[1] = logits;
    for (int i = 0; i < 200 && !j->rc; i++) j->rc = model_infer_run(j->ctx, feeds, fetches);
    return NULL;
}

int main(void) {
    for (int i = 0; i < N * 4; i++) x[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    job jobs[3];
    pthread_t threads[3];
    for (int t = 0; t < 3; t++) {
        memset(&jobs[t], 0, sizeof jobs[t]);
        jobs[t].ctx = model_create();
        model_set_batch(jobs[t].ctx, N);
        model_set_num_threads(jobs[t].ctx, 2);
    }
    work(&jobs[0]);  /* the serial reference */
    for (int t = 1; t < 3; t++) pthread_create(&threads[t], NULL, work, &jobs[t]);
    for (int t = 1; t < 3; t++) pthread_join(threads[t], NULL);
    for (int t = 0; t < 3; t++) {
        if (jobs[t].rc) { printf("error %s\n", model_error(jobs[t].ctx)); return 1; }
        if (memcmp(jobs[t].probs, jobs[0].probs, sizeof jobs[0].probs)) return 2;
        model_destroy(jobs[t].ctx);
    }
    printf("ok\n");
    return 0;
}
"""


def test_contexts_run_concurrently_from_several_threads(mlp_lib):
    """Two contexts running at once on threads of their own (sharing the library's pool) give
    the bits a context gives alone."""
    tmp, _ = mlp_lib
    exe = cc(tmp, _CONCURRENT, "concurrent", extra=["-pthread"])
    proc = subprocess.run([exe], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout == "ok\n", proc.stdout + proc.stderr


_INTROSPECT = r"""
#include <stdio.h>
#include "model.h"

#define SHOW(P, label)                                                                     \
    for (int i = 0; i < P##num_feeds(); i++) {                                             \
        printf("%s feed %s %d", label, P##feed_name(i), P##feed_dtype(i));                 \
        for (int k = 0; k < P##feed_rank(i); k++)                                          \
            printf(" %lld", (long long)P##feed_shape(i)[k]);                               \
        printf("\n");                                                                      \
    }                                                                                      \
    for (int i = 0; i < P##num_fetches(); i++) {                                           \
        int64_t dims[8];                                                                   \
        printf("%s fetch %s %d", label, P##fetch_name(i), P##fetch_dtype(i));              \
        for (int k = 0; k < P##fetch_rank(i); k++)                                         \
            printf(" %lld", (long long)P##fetch_shape(i)[k]);                              \
        if (P##fetch_dims(c, i, dims) == 0) {                                              \
            printf(" |");                                                                  \
            for (int k = 0; k < P##fetch_rank(i); k++) printf(" %lld", (long long)dims[k]); \
        }                                                                                  \
        printf("\n");                                                                      \
    }

int main(void) {
    model_ctx *c = model_create();
    model_set_batch(c, 7);
    SHOW(model_infer_, "infer")
    SHOW(model_train_, "train")
    for (int i = 0; i < model_num_variables(); i++)
        printf("variable %s %lld\n", model_variable_name(i), (long long)model_variable_bytes(i));
    model_destroy(c);
    return 0;
}
"""


def test_introspection_describes_entries_and_variables(mlp_lib):
    tmp, _ = mlp_lib
    exe = cc(tmp, _INTROSPECT, "introspect")
    out = subprocess.run([exe], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [
        "infer feed x:0 1 -1 4",
        "infer fetch probs:0 1 -1 3 | 7 3",
        "infer fetch logits:0 1 -1 3 | 7 3",
        "train feed x:0 1 6 4",
        "train feed y:0 1 6 3",
        "train fetch loss:0 1 |",
        "variable w1 80", "variable b1 20", "variable w2 60", "variable b2 12"]
