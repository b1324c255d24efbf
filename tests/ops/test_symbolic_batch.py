"""Training graphs lowered with a symbolic batch `N`: Shape/Size of batch-sized tensors become
run-time values (`dim_size`), shape consumers get symbolic shapes, and the step gives the same
loss and updated variables as a lowering for the fixed batch, on the interpreter and compiled."""

import numpy as np
import pytest

import graphc as tf
from graphc.backend.cpu.executable import CompiledExecutable
from graphc.ir import interpret
from graphc.ir.shapes import SymDim
from graphc.lower import lower

N = SymDim("N")


def _mlp_step(loss_kind, optimizer):
    """An MLP training step on [?, 12] inputs; returns (loss, train op, x, y)."""
    x = tf.placeholder(tf.float32, [None, 12], name="x")
    sparse = loss_kind == "sparse"
    y = tf.placeholder(tf.int64 if sparse else tf.float32, [None] if sparse else [None, 4],
                       name="y")
    w1 = tf.Variable(tf.random_normal([12, 8], seed=1), name="w1")
    b1 = tf.Variable(tf.zeros([8]), name="b1")
    w2 = tf.Variable(tf.random_normal([8, 4], seed=2), name="w2")
    b2 = tf.Variable(tf.zeros([4]), name="b2")
    h = tf.nn.relu(tf.nn.bias_add(tf.matmul(x, w1), b1))
    logits = tf.matmul(h, w2) + b2
    if sparse:
        per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
    elif loss_kind == "softmax":
        per_example = tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits)
    else:  # squared error, reduced over both dimensions
        per_example = tf.square(tf.nn.softmax(logits) - y)
    loss = tf.reduce_mean(per_example)
    opt = tf.train.AdamOptimizer(0.01) if optimizer == "adam" else \
        tf.train.GradientDescentOptimizer(0.1)
    return loss, opt.minimize(loss), x, y


def _feeds(x, y, batch):
    """The feed types with batch `batch` (an int or N)."""
    ydims = (batch,) if y.dtype == tf.int64 else (batch, 4)
    return {x: (np.float32, (batch, 12)), y: (y.dtype.as_numpy_dtype, ydims)}


def _data(y, n, seed):
    r = np.random.RandomState(seed)
    xv = r.randn(n, 12).astype(np.float32)
    if y.dtype == tf.int64:
        return xv, r.randint(0, 4, size=n).astype(np.int64)
    return xv, np.eye(4, dtype=np.float32)[r.randint(0, 4, size=n)]


def _state(fn):
    """Initial values for the function's state slots (variables and optimizer slots)."""
    r = np.random.RandomState(7)
    out = []
    for slot in fn.state:
        if slot.name.endswith("power"):  # Adam's beta powers: in (0, 1)
            out.append(np.full(slot.shape, 0.9, slot.dtype))
        else:
            out.append((r.randn(*slot.shape) * 0.5).astype(slot.dtype))
    return out


def _check_same(got, want):
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("loss_kind,optimizer", [("softmax", "gd"), ("sparse", "gd"),
                                                 ("squared", "gd"), ("softmax", "adam")])
def test_training_step_with_symbolic_batch_matches_fixed_batch(loss_kind, optimizer):
    loss, train, x, y = _mlp_step(loss_kind, optimizer)
    symbolic = lower([loss], [train], _feeds(x, y, N))
    assert any(i.op == "dim_size" for i in symbolic.body)
    symbolic.dims = ["N"]
    state = _state(symbolic)
    exe = CompiledExecutable(symbolic)
    for n in (1, 3, 8):
        fixed = lower([loss], [train], _feeds(x, y, n))
        assert [s.name for s in fixed.state] == [s.name for s in symbolic.state]
        feeds = list(_data(y, n, seed=n))
        want, want_state = interpret(fixed, feeds, state)
        got, got_state = interpret(symbolic, feeds, state, {"N": n})
        _check_same(got + got_state, want + want_state)
        compiled_state = [s.copy() for s in state]  # updated in place
        got = exe.run(feeds, compiled_state, dims={"N": n})
        _check_same(list(got) + compiled_state, want + want_state)


def test_shape_and_size_of_a_batch_sized_tensor_are_run_time_values():
    x = tf.placeholder(tf.float32, [None, 3, 2])
    flat = tf.reshape(x, tf.stack([tf.shape(x)[0] * 2, -1]))  # shape arithmetic on N
    fetches = [tf.shape(x), tf.size(x, out_type=tf.int64), tf.shape(flat),
               tf.reshape(flat, tf.shape(x))]
    fn = lower(fetches, [], {x: (np.float32, (N, 3, 2))})
    fn.dims = ["N"]
    exe = CompiledExecutable(fn)
    for n in (1, 5):
        xv = np.arange(n * 6, dtype=np.float32).reshape(n, 3, 2)
        want = [np.array([n, 3, 2], np.int32), np.int64(n * 6), np.array([2 * n, 3], np.int32),
                xv]
        for got in (interpret(fn, [xv], [], {"N": n})[0], exe.run([xv], [], dims={"N": n})):
            for g, w in zip(got, want):
                np.testing.assert_array_equal(g, w)
                assert g.dtype == np.asarray(w).dtype


def test_shape_arithmetic_that_cannot_stay_symbolic_is_an_error_naming_the_node():
    x = tf.placeholder(tf.float32, [None, 3])
    y = tf.reshape(x, tf.maximum(tf.shape(x), 1, name="clamped"), name="r")
    with pytest.raises(ValueError, match=r"r \(Reshape\): input 1 \(clamped:0\)"):
        lower([y], [], {x: (np.float32, (N, 3))})


def test_compile_names_the_node_that_cannot_take_a_symbolic_batch(tmp_path, capsys):
    from graphc import cli
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        tf.reshape(x, tf.maximum(tf.shape(x), 1, name="clamped"), name="r")
    path = tf.train.write_graph(graph, str(tmp_path), "m.graph", as_text=False)
    status = cli.main(["compile", path, "-o", str(tmp_path / "libm.so"), "--feed", "x",
                       "--fetch", "r"])
    err = capsys.readouterr().err
    assert status == 1 and len(err.strip().splitlines()) == 1
    assert "cannot take a `?` batch: r (Reshape): input 1 (clamped:0)" in err
    assert "fixed batch" in err


def test_cnn_adam_step_with_symbolic_batch_matches_fixed_batch():
    """Conv2D/MaxPool gradients take the input's shape (ShapeN, Conv2DBackpropInput sizes)."""
    from tests.framework.helpers import build, cnn
    graph = build(tf, cnn, "adam")
    x, y, loss = (graph.get_tensor_by_name(n) for n in ("x:0", "y:0", "loss:0"))
    train = graph.get_operation_by_name("train")

    def feeds(batch):
        return {x: (np.float32, (batch, 8, 8, 1)), y: (np.int64, (batch,))}
    symbolic = lower([loss], [train], feeds(N))
    symbolic.dims = ["N"]
    state = _state(symbolic)
    exe = CompiledExecutable(symbolic)
    r = np.random.RandomState(3)
    for n in (1, 3):
        data = [r.randn(n, 8, 8, 1).astype(np.float32), r.randint(0, 3, n).astype(np.int64)]
        want, want_state = interpret(lower([loss], [train], feeds(n)), data, state)
        got, got_state = interpret(symbolic, data, state, {"N": n})
        _check_same(got + got_state, want + want_state)
        compiled_state = [s.copy() for s in state]
        got = exe.run(data, compiled_state, dims={"N": n})
        _check_same(list(got) + compiled_state, want + want_state)
