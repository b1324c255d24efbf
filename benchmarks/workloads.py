"""The workloads of WORKLOADS.md, each runnable by graphc and by every installed peer."""

import numpy as np

import graphc
from benchmarks import peers
from benchmarks.harness import graphc_backend


def _session_step(tf, build, feed_values):
    """Builds `build(tf) -> (fetch, placeholders)` in a fresh graph and returns a step
    function running it with `feed_values` (one per placeholder)."""
    graph = tf.Graph()
    with graph.as_default():
        fetch, placeholders = build(tf)
        sess = tf.Session(graph=graph)
        sess.run(tf.global_variables_initializer())
    feed = dict(zip(placeholders, feed_values))
    return lambda: sess.run(fetch, feed)


def gemm(table, sizes=(64, 256, 512, 1024)):
    torch, jax = peers.load("torch"), peers.load("jax")
    tf = peers.load("tensorflow")
    for n in sizes:
        name = "sgemm %d" % n
        rng = np.random.RandomState(0)
        a = rng.rand(n, n).astype(np.float32)
        b = rng.rand(n, n).astype(np.float32)
        flops = 2.0 * n ** 3
        gf = lambda s: "%.1f GFLOP/s" % (flops / s / 1e9)  # noqa: E731
        from benchmarks.harness import median_time
        s = median_time(lambda: a @ b)
        table.add(name, "numpy", s, gf(s))
        for backend in peers.graphc_backends():
            with graphc_backend(backend):
                step = _session_step(graphc, lambda t: _matmul_graph(t, n), [a, b])
                s = median_time(step, repeats=5 if backend == "interpreter" else 15)
            table.add(name, "graphc-" + backend, s, gf(s))
        if tf is not None:
            s = median_time(_session_step(tf, lambda t: _matmul_graph(t, n), [a, b]))
            table.add(name, "tensorflow-session", s, gf(s))
        if jax is not None:
            import jax.numpy as jnp
            f = jax.jit(jnp.dot)
            ja, jb = jnp.asarray(a), jnp.asarray(b)
            s = median_time(lambda: f(ja, jb).block_until_ready())
            table.add(name, "jax-jit", s, gf(s))
        if torch is not None:
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            s = median_time(lambda: torch.mm(ta, tb))
            table.add(name, "torch", s, gf(s))


def _matmul_graph(tf, n):
    a = tf.placeholder(tf.float32, [n, n])
    b = tf.placeholder(tf.float32, [n, n])
    return tf.matmul(a, b), [a, b]


def _mlp_graph(tf, batch=100):
    """MNIST MLP 784-500-10 training step as the tutorials write it (relu hidden layer,
    softmax cross entropy, GD 0.1)."""
    x = tf.placeholder(tf.float32, [None, 784])
    y = tf.placeholder(tf.float32, [None, 10])
    w1 = tf.Variable(tf.truncated_normal([784, 500], stddev=0.1, seed=1))
    b1 = tf.Variable(tf.constant(0.1, shape=[500]))
    w2 = tf.Variable(tf.truncated_normal([500, 10], stddev=0.1, seed=2))
    b2 = tf.Variable(tf.constant(0.1, shape=[10]))
    h = tf.nn.relu(tf.matmul(x, w1) + b1)
    logits = tf.matmul(h, w2) + b2
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    return [train, loss], [x, y]


def mlp_step(table, batch=100):
    rng = np.random.RandomState(0)
    xs = rng.rand(batch, 784).astype(np.float32)
    ys = np.eye(10, dtype=np.float32)[rng.randint(0, 10, batch)]
    name = "MLP 784-500-10 step b%d" % batch
    w1 = rng.randn(784, 500).astype(np.float32) * 0.1
    w2 = rng.randn(500, 10).astype(np.float32) * 0.1
    b1, b2 = np.zeros(500, np.float32), np.zeros(10, np.float32)

    def numpy_step():
        h_pre = xs @ w1 + b1
        h = np.maximum(h_pre, 0)
        logits = h @ w2 + b2
        e = np.exp(logits - logits.max(1, keepdims=True))
        p = e / e.sum(1, keepdims=True)
        g = (p - ys) / batch
        gw2, gb2 = h.T @ g, g.sum(0)
        gh = (g @ w2.T) * (h_pre > 0)
        gw1, gb1 = xs.T @ gh, gh.sum(0)
        for w, gw in ((w1, gw1), (b1, gb1), (w2, gw2), (b2, gb2)):
            w -= 0.1 * gw
    steps = [("numpy", numpy_step)]
    for backend in peers.graphc_backends():
        steps.append(("graphc-" + backend, _graphc_step(backend, _mlp_graph, [xs, ys])))
    steps += _peer_steps(_mlp_graph, [xs, ys], _jax_mlp_step, _torch_mlp_step)
    _add_interleaved(table, name, steps)


def _graphc_step(backend, build, feeds):
    """A Session step of graph `build` on graphc's `backend`, already compiled."""
    with graphc_backend(backend):
        step = _session_step(graphc, build, feeds)
        for _ in range(2):
            step()
    return step


def _peer_steps(build, feeds, jax_step, torch_step):
    """(implementation, step function) for each installed peer's training step: TF1 runs graph
    `build`, JAX and PyTorch their own `jax_step(jax, *feeds)` / `torch_step(torch, *feeds)`."""
    steps = []
    tf = peers.load("tensorflow")
    if tf is not None:
        steps.append(("tensorflow-session", _session_step(tf, build, feeds)))
    jax = peers.load("jax")
    if jax is not None:
        steps.append(("jax-jit", jax_step(jax, *feeds)))
    torch = peers.load("torch")
    if torch is not None:
        steps.append(("torch", torch_step(torch, *feeds)))
    return steps


def _add_interleaved(table, name, steps, flops=None):
    """Rows for the (implementation, step) pairs, timed in interleaved rounds (with GFLOP/s
    when `flops` is given): the ratios between implementations are the targets, and the load
    on a shared machine drifts between implementations timed one after the other."""
    from benchmarks.harness import interleaved_call_medians
    for (impl, _), seconds in zip(steps, interleaved_call_medians([fn for _, fn in steps])):
        table.add(name, impl, seconds, "%.1f GFLOP/s" % (flops / seconds / 1e9) if flops else "")


def _jax_mlp_step(jax, xs, ys):
    import jax.numpy as jnp
    rng = np.random.RandomState(1)
    params = [jnp.asarray(rng.randn(784, 500).astype(np.float32) * 0.1),
              jnp.zeros(500, jnp.float32),
              jnp.asarray(rng.randn(500, 10).astype(np.float32) * 0.1),
              jnp.zeros(10, jnp.float32)]

    def loss(p, x, y):
        h = jnp.maximum(x @ p[0] + p[1], 0)
        logits = h @ p[2] + p[3]
        return jnp.mean(jnp.sum(y * (jax.nn.logsumexp(logits, axis=1, keepdims=True) - logits),
                                axis=1))

    return _jax_sgd_step(jax, loss, params, xs, ys, 0.1)


def _torch_mlp_step(torch, xs, ys):
    model = torch.nn.Sequential(torch.nn.Linear(784, 500), torch.nn.ReLU(),
                                torch.nn.Linear(500, 10))
    return _torch_sgd_step(torch, model, torch.from_numpy(xs), torch.from_numpy(ys).argmax(1),
                           0.1)


def _jax_sgd_step(jax, loss, params, xs, ys, lr):
    """A jitted SGD step of `loss(params, x, y)` on the fixed batch, blocking on the result."""
    import jax.numpy as jnp

    @jax.jit
    def step(p, x, y):
        g = jax.grad(loss)(p, x, y)
        return [a - lr * b for a, b in zip(p, g)]
    state = {"p": params}
    jx, jy = jnp.asarray(xs), jnp.asarray(ys)

    def run():
        state["p"] = step(state["p"], jx, jy)
        state["p"][0].block_until_ready()
    return run


def _torch_sgd_step(torch, model, tx, ty, lr):
    """An eager SGD step of `model` under softmax cross entropy on the fixed batch."""
    opt = torch.optim.SGD(model.parameters(), lr=lr)

    def run():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(tx), ty).backward()
        opt.step()
    return run


def elementwise_chain(table, n=1 << 20):
    from benchmarks.harness import median_time
    x = np.random.RandomState(0).rand(n).astype(np.float32)
    name = "tanh(2x+1)*sigmoid(x) 1M"
    table.add(name, "numpy", median_time(lambda: np.tanh(2 * x + 1) / (1 + np.exp(-x))))

    def build(tf):
        p = tf.placeholder(tf.float32, [n])
        return tf.tanh(2.0 * p + 1.0) * tf.sigmoid(p), [p]
    for backend in peers.graphc_backends():
        with graphc_backend(backend):
            table.add(name, "graphc-" + backend, median_time(_session_step(graphc, build, [x])))
    jax = peers.load("jax")
    if jax is not None:
        import jax.numpy as jnp
        f = jax.jit(lambda v: jnp.tanh(2 * v + 1) * jax.nn.sigmoid(v))
        jx = jnp.asarray(x)
        table.add(name, "jax-jit", median_time(lambda: f(jx).block_until_ready()))
    torch = peers.load("torch")
    if torch is not None:
        tx = torch.from_numpy(x)
        table.add(name, "torch", median_time(lambda: torch.tanh(2 * tx + 1) * torch.sigmoid(tx)))


WORKLOADS = {"gemm": gemm, "mlp": mlp_step, "elementwise": elementwise_chain}


# ---------------------------------------------------------------- issue 4: inference, the 16M
# chain, call overhead, compile time, time to first result

def _mlp_params(rng):
    return (rng.randn(784, 500).astype(np.float32) * 0.1, np.zeros(500, np.float32),
            rng.randn(500, 10).astype(np.float32) * 0.1, np.zeros(10, np.float32))


def inference(table, batches=(1, 100)):
    """MLP 784-500-10 forward pass (logits) at batch 1 and 100."""
    from benchmarks.harness import median_time
    rng = np.random.RandomState(0)
    w1, b1, w2, b2 = _mlp_params(rng)
    tf, jax, torch = peers.load("tensorflow"), peers.load("jax"), peers.load("torch")

    def build(t):
        x = t.placeholder(t.float32, [None, 784])
        h = t.nn.relu(t.matmul(x, t.Variable(w1)) + t.Variable(b1))
        return t.matmul(h, t.Variable(w2)) + t.Variable(b2), [x]
    for batch in batches:
        name = "MLP inference b%d" % batch
        xs = rng.rand(batch, 784).astype(np.float32)
        table.add(name, "numpy", median_time(
            lambda: np.maximum(xs @ w1 + b1, 0) @ w2 + b2))
        for backend in peers.graphc_backends():
            with graphc_backend(backend):
                table.add(name, "graphc-" + backend,
                          median_time(_session_step(graphc, build, [xs])))
        if tf is not None:
            table.add(name, "tensorflow-session", median_time(_session_step(tf, build, [xs])))
        if jax is not None:
            import jax.numpy as jnp
            f = jax.jit(lambda x, a, b, c, d: jnp.maximum(x @ a + b, 0) @ c + d)
            args = [jnp.asarray(v) for v in (xs, w1, b1, w2, b2)]
            table.add(name, "jax-jit", median_time(lambda: f(*args).block_until_ready()))
        if torch is not None:
            tx, tw1, tb1, tw2, tb2 = (torch.from_numpy(v) for v in (xs, w1, b1, w2, b2))

            def run():
                with torch.no_grad():
                    return torch.relu(tx @ tw1 + tb1) @ tw2 + tb2
            table.add(name, "torch", median_time(run))


def chain16m(table, n=1 << 24):
    """`tanh(a*0.5+1)*a + exp(-a*a)` on 16M float32 elements (one fused loop when compiled)."""
    from benchmarks.harness import median_time
    a = np.random.RandomState(0).randn(n).astype(np.float32)
    name = "chain tanh(a*.5+1)*a+exp(-a*a) 16M"
    table.add(name, "numpy", median_time(lambda: np.tanh(a * 0.5 + 1) * a + np.exp(-a * a),
                                         repeats=7))

    def build(tf):
        p = tf.placeholder(tf.float32, [n])
        return tf.tanh(p * 0.5 + 1.0) * p + tf.exp(-p * p), [p]
    for backend in peers.graphc_backends():
        with graphc_backend(backend):
            table.add(name, "graphc-" + backend,
                      median_time(_session_step(graphc, build, [a]), repeats=7))
    jax = peers.load("jax")
    if jax is not None:
        import jax.numpy as jnp
        f = jax.jit(lambda v: jnp.tanh(v * 0.5 + 1) * v + jnp.exp(-v * v))
        ja = jnp.asarray(a)
        table.add(name, "jax-jit", median_time(lambda: f(ja).block_until_ready(), repeats=7))
    torch = peers.load("torch")
    if torch is not None:
        ta = torch.from_numpy(a)
        table.add(name, "torch", median_time(
            lambda: torch.tanh(ta * 0.5 + 1) * ta + torch.exp(-ta * ta), repeats=7))


def call_overhead(table):
    """A cached tiny graph (x + 1 on a [2] float32): Session.run and a jit function."""
    from benchmarks.harness import median_time
    a = np.ones(2, np.float32)
    name = "call overhead x+1 [2]"
    us = lambda s: "%.1f us" % (s * 1e6)  # noqa: E731

    def timed(impl, fn):
        s = median_time(fn, repeats=2000, warmup=50, min_time=0.3)
        table.add(name, impl, s, us(s))

    timed("numpy", lambda: a + 1)

    def build(tf):
        p = tf.placeholder(tf.float32, [2])
        return p + 1.0, [p]
    for backend in peers.graphc_backends():
        with graphc_backend(backend):
            timed("graphc-%s Session.run" % backend, _session_step(graphc, build, [a]))
            jitted = graphc.jit(lambda x: x + 1.0)
            timed("graphc-%s jit" % backend, lambda: jitted(a))
    tf = peers.load("tensorflow")
    if tf is not None:
        timed("tensorflow-session", _session_step(tf, build, [a]))
    jax = peers.load("jax")
    if jax is not None:
        f = jax.jit(lambda x: x + 1)
        timed("jax-jit", lambda: f(a).block_until_ready())


_COMPILE_SCRIPT = """
import sys, time
import numpy as np
import graphc
from graphc import config
from benchmarks.workloads import _mlp_graph
config.set_backend("cpu")
config.set_compile_after_runs(1)
graph = graphc.Graph()
with graph.as_default():
    fetches, (x, y) = _mlp_graph(graphc)
    sess = graphc.Session(graph=graph)
    sess.run(graphc.global_variables_initializer())
rng = np.random.RandomState(0)
feed = {x: rng.rand(100, 784).astype(np.float32),
        y: np.eye(10, dtype=np.float32)[rng.randint(0, 10, 100)]}
sess.run(fetches, feed)  # the first run of the signature is interpreted
import graphc.backend.cpu.codegen, graphc.backend.cpu.executable  # noqa: E401 (imports: once
# per process, not per compile; first_result counts them)
start = time.perf_counter()
sess.run(fetches, feed)  # compiles (or loads from the disk cache), then runs once
print(time.perf_counter() - start)
"""

_FIRST_RESULT_SCRIPT = """
import time
start = time.perf_counter()
import numpy as np
import graphc
from benchmarks.workloads import _mlp_graph
imported = time.perf_counter()
graph = graphc.Graph()
with graph.as_default():
    (train, loss), (x, y) = _mlp_graph(graphc)
    with graphc.Session(graph=graph) as sess:
        sess.run(graphc.global_variables_initializer())
        rng = np.random.RandomState(0)
        sess.run(loss, {x: rng.rand(100, 784).astype(np.float32),
                        y: np.eye(10, dtype=np.float32)[rng.randint(0, 10, 100)]})
print(time.perf_counter() - imported, imported - start)
"""


def _subprocess_seconds(script, cache_dir, repeats=3, env=None):
    """Medians of the numbers each run of `script` prints (fresh processes)."""
    import os
    import statistics
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, GRAPHC_CACHE_DIR=cache_dir, **(env or {}))
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in [env.get("PYTHONPATH")] if p])
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", script], env=env, check=True,
                             capture_output=True, text=True, cwd=root).stdout.split()
        runs.append([float(v) for v in out])
    return [statistics.median(column) for column in zip(*runs)]


def compile_time(table):
    """Compile of the MLP training step in a fresh process: with an empty cache directory
    (cold: the C runtime, shared GEMM kernels and the step are built) and from the disk cache."""
    import shutil
    import tempfile
    name = "compile MLP step"
    colds = []
    for _ in range(3):
        cache = tempfile.mkdtemp(prefix="graphc-bench-")
        colds.append(_subprocess_seconds(_COMPILE_SCRIPT, cache, repeats=1)[0])
        if len(colds) == 3:
            [cached] = _subprocess_seconds(_COMPILE_SCRIPT, cache)
        shutil.rmtree(cache, ignore_errors=True)
    colds.sort()
    table.add(name, "graphc-cpu cold", colds[1], "empty cache dir; target <= 1 s")
    table.add(name, "graphc-cpu disk cache", cached, "fresh process; target <= 50 ms")
    jax = peers.load("jax")
    if jax is not None:
        rng = np.random.RandomState(0)
        xs = rng.rand(100, 784).astype(np.float32)
        ys = np.eye(10, dtype=np.float32)[rng.randint(0, 10, 100)]
        import time
        start = time.perf_counter()
        _jax_mlp_step(jax, xs, ys)()  # trace + XLA compile + one step
        table.add(name, "jax-jit first call", time.perf_counter() - start)


def first_result(table):
    """A one-off run in a fresh process: build the MLP graph, initialize, evaluate the loss
    once (after `import`; graphc's one-off runs are interpreted, no LLVM compile)."""
    import tempfile
    name = "first result (one-off MLP loss)"
    cache = tempfile.mkdtemp(prefix="graphc-bench-")
    seconds, imported = _subprocess_seconds(_FIRST_RESULT_SCRIPT, cache)
    table.add(name, "graphc (default backend)", seconds, "import %.2f s" % imported)
    tf = peers.load("tensorflow")
    if tf is not None:
        import time
        start = time.perf_counter()
        graph = tf.Graph()
        with graph.as_default():
            (train, loss), (x, y) = _mlp_graph(tf)
            with tf.Session(graph=graph) as sess:
                sess.run(tf.global_variables_initializer())
                rng = np.random.RandomState(0)
                sess.run(loss, {x: rng.rand(100, 784).astype(np.float32),
                                y: np.eye(10, dtype=np.float32)[rng.randint(0, 10, 100)]})
        table.add(name, "tensorflow-session (warm process)", time.perf_counter() - start)


WORKLOADS.update(inference=inference, chain16m=chain16m, overhead=call_overhead,
                 compile=compile_time, first_result=first_result)


# ---------------------------------------------------------------- issue 7: convolution layers
# and the MNIST CNN training step

_CONV_LAYERS = [("conv 28x28x1->5x5x32", (64, 28, 28, 1), (5, 5, 1, 32)),
                ("conv 14x14x32->5x5x64", (64, 14, 14, 32), (5, 5, 32, 64))]


def _conv_pass(t, kind, x_shape, w_shape):
    """A graph computing one pass of a SAME stride-1 conv layer: "forward" (input, filter),
    "input grad" (filter, output gradient) or "filter grad" (input, output gradient)."""
    strides = [1, 1, 1, 1]
    x = t.placeholder(t.float32, x_shape)
    w = t.placeholder(t.float32, w_shape)
    dy = t.placeholder(t.float32, x_shape[:3] + w_shape[3:])
    if kind == "forward":
        return t.nn.conv2d(x, w, strides, "SAME"), [x, w]
    attrs = {"T": t.float32, "strides": strides, "padding": "SAME", "data_format": "NHWC",
             "dilations": [1, 1, 1, 1]}
    if kind == "input grad":
        if t is graphc:
            from graphc.ops.nn_ops import conv2d_backprop_input
            return conv2d_backprop_input(t.constant(list(x_shape)), w, dy, attrs), [w, dy]
        return t.nn.conv2d_backprop_input(list(x_shape), w, dy, strides, "SAME"), [w, dy]
    if t is graphc:
        from graphc.ops.nn_ops import conv2d_backprop_filter
        return conv2d_backprop_filter(x, t.constant(list(w_shape)), dy, attrs), [x, dy]
    return t.nn.conv2d_backprop_filter(x, list(w_shape), dy, strides, "SAME"), [x, dy]


def conv_layers(table):
    """The MNIST CNN's conv layers at batch 64: forward and both gradients. numpy is im2col
    (a strided view) + one matmul for the forward pass only. Implementations are timed in
    interleaved rounds (see _add_interleaved)."""
    tf, jax, torch = peers.load("tensorflow"), peers.load("jax"), peers.load("torch")
    rng = np.random.RandomState(0)
    for label, x_shape, w_shape in _CONV_LAYERS:
        x = rng.rand(*x_shape).astype(np.float32)
        w = rng.randn(*w_shape).astype(np.float32) * 0.1
        dy = rng.randn(*(x_shape[:3] + w_shape[3:])).astype(np.float32)
        flops = 2.0 * np.prod(x_shape[:3]) * np.prod(w_shape)
        for kind in ("forward", "input grad", "filter grad"):
            feeds = {"forward": [x, w], "input grad": [w, dy], "filter grad": [x, dy]}[kind]
            build = lambda t: _conv_pass(t, kind, x_shape, w_shape)  # noqa: E731
            steps = [("numpy", lambda: _numpy_conv(x, w))] if kind == "forward" else []
            steps.append(("graphc-cpu", _graphc_step("cpu", build, feeds)))
            if tf is not None:
                steps.append(("tensorflow-session", _session_step(tf, build, feeds)))
            if jax is not None:
                steps.append(("jax-jit", _jax_conv_pass(jax, kind, x, w, dy)))
            if torch is not None:
                steps.append(("torch", _torch_conv_pass(torch, kind, x, w, dy)))
            _add_interleaved(table, "%s %s b64" % (label, kind), steps, flops)


def _numpy_conv(x, w):
    kh, kw = w.shape[:2]
    xp = np.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    view = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(1, 2))
    return np.tensordot(view, w, axes=([4, 5, 3], [0, 1, 2]))


def _jax_conv_pass(jax, kind, x, w, dy):
    import jax.numpy as jnp

    def conv(a, b):
        return jax.lax.conv_general_dilated(a, b, (1, 1), "SAME",
                                            dimension_numbers=("NHWC", "HWIO", "NHWC"))
    if kind == "forward":
        f, args = jax.jit(conv), (x, w)
    elif kind == "input grad":
        f = jax.jit(lambda b, g: jax.vjp(lambda a: conv(a, b), jnp.zeros(x.shape))[1](g)[0])
        args = (w, dy)
    else:
        f = jax.jit(lambda a, g: jax.vjp(lambda b: conv(a, b), jnp.zeros(w.shape))[1](g)[0])
        args = (x, dy)
    args = [jnp.asarray(v) for v in args]
    return lambda: f(*args).block_until_ready()


def _torch_conv_pass(torch, kind, x, w, dy):
    """PyTorch in its own layout (NCHW input, OIHW filter), converted once outside the timing."""
    tx = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    tw = torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1)))
    tdy = torch.from_numpy(np.ascontiguousarray(dy.transpose(0, 3, 1, 2)))
    pad = w.shape[0] // 2
    F = torch.nn.functional
    if kind == "forward":
        return lambda: F.conv2d(tx, tw, padding=pad)
    if kind == "input grad":
        return lambda: torch.nn.grad.conv2d_input(tx.shape, tw, tdy, padding=pad)
    return lambda: torch.nn.grad.conv2d_weight(tx, tw.shape, tdy, padding=pad)


def _cnn_graph(tf, batch=64):
    """MNIST CNN training step: conv 5x5 1->32 + relu, 2x2 max pool, conv 5x5 32->64 + relu,
    pool, FC 3136->1024 + relu, FC 1024->10, softmax cross entropy, SGD 0.01."""
    rng = np.random.RandomState(0)
    x = tf.placeholder(tf.float32, [batch, 28, 28, 1])
    labels = tf.placeholder(tf.int64, [batch])

    def var(*shape):
        return tf.Variable((rng.randn(*shape) * 0.1).astype(np.float32))

    def conv_pool(h, w, b):
        h = tf.nn.relu(tf.nn.conv2d(h, w, [1, 1, 1, 1], "SAME") + b)
        return tf.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "SAME")
    h = conv_pool(x, var(5, 5, 1, 32), var(32))
    h = conv_pool(h, var(5, 5, 32, 64), var(64))
    h = tf.nn.relu(tf.matmul(tf.reshape(h, [batch, 7 * 7 * 64]), var(7 * 7 * 64, 1024)) +
                   var(1024))
    logits = tf.matmul(h, var(1024, 10)) + var(10)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels,
                                                                        logits=logits))
    return [tf.train.GradientDescentOptimizer(0.01).minimize(loss), loss], [x, labels]


def cnn_step(table, batch=64):
    """The MNIST CNN training step at batch 64 (graphc and TF run the same graph)."""
    rng = np.random.RandomState(1)
    xs = rng.rand(batch, 28, 28, 1).astype(np.float32)
    ys = rng.randint(0, 10, batch).astype(np.int64)
    build = lambda t: _cnn_graph(t, batch)  # noqa: E731
    steps = [("graphc-cpu", _graphc_step("cpu", build, [xs, ys]))]
    steps += _peer_steps(build, [xs, ys], _jax_cnn_step, _torch_cnn_step)
    _add_interleaved(table, "MNIST CNN step b%d" % batch, steps)


def _jax_cnn_step(jax, xs, ys):
    import jax.numpy as jnp
    rng = np.random.RandomState(0)
    shapes = [(5, 5, 1, 32), (32,), (5, 5, 32, 64), (64,), (3136, 1024), (1024,),
              (1024, 10), (10,)]
    params = [jnp.asarray((rng.randn(*s) * 0.1).astype(np.float32)) for s in shapes]

    def conv_pool(h, w, b):
        h = jax.lax.conv_general_dilated(h, w, (1, 1), "SAME",
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
        h = jnp.maximum(h + b, 0)
        return jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1),
                                     "SAME")

    def loss(p, x, y):
        h = conv_pool(conv_pool(x, p[0], p[1]), p[2], p[3])
        h = jnp.maximum(h.reshape(x.shape[0], -1) @ p[4] + p[5], 0)
        logits = h @ p[6] + p[7]
        logp = jax.nn.log_softmax(logits)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    return _jax_sgd_step(jax, loss, params, xs, ys, 0.01)


def _torch_cnn_step(torch, xs, ys):
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(3136, 1024), nn.ReLU(),
                          nn.Linear(1024, 10))
    tx = torch.from_numpy(np.ascontiguousarray(xs.transpose(0, 3, 1, 2)))
    return _torch_sgd_step(torch, model, tx, torch.from_numpy(ys), 0.01)


WORKLOADS.update(conv_layers=conv_layers, cnn_step=cnn_step)
