"""Graphs built and frozen by TensorFlow (tf.compat.v1 and its graph_util), compiled by `graphc
compile` and run from C, against TensorFlow's own outputs; checkpoints and --freeze of graphc
graphs against graphc's Session."""

import numpy as np
import pytest

import graphc
from tests.aot.helpers import Driver, compile_lib
from tests.framework.helpers import build, cnn, feeds, mlp


def _tf_frozen(tf1, builder, outputs):
    graph = tf1.Graph()
    with graph.as_default():
        builder(tf1)
        with tf1.Session(graph=graph) as sess:
            sess.run(tf1.global_variables_initializer())
            frozen = tf1.graph_util.convert_variables_to_constants(
                sess, graph.as_graph_def(), outputs)
    return frozen


def _mlp_784(tf):
    x = tf.placeholder(tf.float32, [None, 784], name="x")
    w1 = tf.Variable(tf.truncated_normal([784, 100], stddev=0.05, seed=1), name="w1")
    b1 = tf.Variable(tf.constant(0.1, shape=[100]), name="b1")
    h = tf.nn.relu(tf.matmul(x, w1) + b1)
    w2 = tf.Variable(tf.truncated_normal([100, 10], stddev=0.05, seed=2), name="w2")
    b2 = tf.Variable(tf.zeros([10]), name="b2")
    tf.nn.softmax(tf.matmul(h, w2) + b2, name="probs")


def _run_tf(tf1, graph_def, fetch, feed):
    graph = tf1.Graph()
    with graph.as_default():
        tf1.import_graph_def(graph_def, name="")
        with tf1.Session(graph=graph) as sess:
            return sess.run(fetch, feed)


@pytest.mark.parametrize("batch", [1, 7])
def test_tf_frozen_mlp(tf1, tmp_path, batch):
    frozen = _tf_frozen(tf1, _mlp_784, ["probs"])
    path = tmp_path / "mlp.pb"
    path.write_bytes(frozen.SerializeToString())
    compile_lib(tmp_path, path, "--feed", "x=?,784", "--fetch", "probs")
    x = np.random.RandomState(batch).rand(batch, 784).astype(np.float32)
    outs, variables = Driver(tmp_path).run(["main"], {"main": [x]}, batch=batch)
    want = _run_tf(tf1, frozen, "probs:0", {"x:0": x})
    assert variables == []
    np.testing.assert_allclose(outs[0][0], want, rtol=1e-5, atol=1e-6)


def test_tf_frozen_cnn(tf1, tmp_path):
    """Conv2D, BiasAdd, MaxPool through the CPU backend's kernels."""
    frozen = _tf_frozen(tf1, cnn, ["logits"])
    path = tmp_path / "cnn.pb"
    path.write_bytes(frozen.SerializeToString())
    compile_lib(tmp_path, path, "--feed", "x", "--fetch", "logits")
    x = feeds(cnn, batch=5)["x:0"]
    outs, _ = Driver(tmp_path).run(["main"], {"main": [x]}, batch=5)
    want = _run_tf(tf1, frozen, "logits:0", {"x:0": x})
    np.testing.assert_allclose(outs[0][0], want, rtol=1e-5, atol=1e-5)


def test_checkpoint_initializes_and_freeze_bakes_it_in(tmp_path):
    """A graphc Saver checkpoint after training: --checkpoint starts the context from it
    (variables read back from C), --freeze gives the same outputs with no variables."""
    graph = build(graphc, mlp, "adam")
    data = feeds(mlp, batch=6, seed=1)
    with graph.as_default():
        saver = graphc.train.Saver()
    with graphc.Session(graph=graph) as sess:
        sess.run("init")
        for _ in range(3):
            sess.run("train", data)
        prefix = saver.save(sess, str(tmp_path / "ckpt" / "model"))
        want = sess.run("probs:0", {"x:0": data["x:0"]})
        values = sess.run(["w1:0", "b1:0", "w2:0", "b2:0"])
    meta = prefix + ".meta"
    live = tmp_path / "live"
    live.mkdir()
    compile_lib(live, meta, "--feed", "x", "--fetch", "probs", "--checkpoint", prefix)
    outs, variables = Driver(live).run(["main"], {"main": [data["x:0"]]}, batch=6)
    np.testing.assert_allclose(outs[0][0], want, rtol=1e-5, atol=1e-6)
    for got, ref in zip(variables, values):
        np.testing.assert_array_equal(got.view(np.float32).reshape(ref.shape), ref)
    frozen = tmp_path / "frozen"
    frozen.mkdir()
    compile_lib(frozen, meta, "--feed", "x", "--fetch", "probs", "--checkpoint", prefix,
                "--freeze")
    outs, variables = Driver(frozen).run(["main"], {"main": [data["x:0"]]}, batch=6)
    assert variables == []
    np.testing.assert_allclose(outs[0][0], want, rtol=1e-5, atol=1e-6)
