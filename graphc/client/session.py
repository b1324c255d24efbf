"""`tf.Session`: prunes the graph to the fetches, lowers the subgraph with the concrete feed
shapes into one core-IR function, caches its executable per pruned subgraph (fetches, targets,
feed signature, and the initialization state the graph asked about), and runs it against the
session's state buffers (variables and random counters), which the executable updates in place.

Feeds and fetches follow TF1's `Session.run`: any tensor may be fed (a Variable too: the fed
value replaces it for that run only), feed values are converted to the tensor's dtype as TF
does, a fetched tensor that was fed gives the fed array back, and fetches may be nested lists,
tuples, namedtuples and dicts of tensors, operations (giving None), Variables and names."""

import collections
import collections.abc
import contextlib
import os
import threading
import time

import numpy as np

from graphc import config as graphc_config
from graphc import errors
from graphc.backend import CompileError
from graphc.client.config_pb import ConfigProto
from graphc.graph.graph import Graph, Operation, Tensor, get_default_graph
from graphc.lower import lower


class _FetchStructure:
    """Flattens nested fetches (lists, tuples, namedtuples, dicts) to unique graph elements
    and rebuilds the same structure from their values."""

    def __init__(self, graph, fetches):
        self.graph = graph
        self.elements = []
        self._positions = {}
        self.template = self._flatten(fetches)

    def _flatten(self, fetch):
        if fetch is None:
            raise TypeError('Argument `fetch` = None has invalid type "NoneType". Cannot be None')
        if isinstance(fetch, (list, tuple)):
            return ("seq", type(fetch), [self._flatten(f) for f in fetch])
        if isinstance(fetch, collections.abc.Mapping):
            return ("map", fetch, [(k, self._flatten(v)) for k, v in fetch.items()])
        try:
            element = self.graph.as_graph_element(fetch, allow_tensor=True,
                                                  allow_operation=True)
        except TypeError as e:
            raise TypeError('Argument `fetch` = %s has invalid type "%s" must be a string or '
                            'Tensor. (%s)' % (fetch, type(fetch).__name__, e)) from None
        except (ValueError, KeyError) as e:
            raise ValueError("Argument `fetch` = %s cannot be interpreted as a Tensor. (%s)" % (
                fetch, e)) from None
        position = self._positions.get(element)
        if position is None:
            position = self._positions[element] = len(self.elements)
            self.elements.append(element)
        return position

    def build(self, values):
        return self._build(self.template, values)

    def _build(self, template, values):
        if isinstance(template, int):
            return values[template]
        kind, info, items = template
        if kind == "map":
            if isinstance(info, collections.defaultdict):
                out = collections.defaultdict(info.default_factory)
            else:
                out = type(info)()
            for key, item in items:
                out[key] = self._build(item, values)
            return out
        results = [self._build(item, values) for item in items]
        if issubclass(info, list):
            return results
        if info is tuple:
            return tuple(results)
        return info(*results)


def _feed_array(tensor, key, value):
    """Converts a feed value to the tensor's dtype as TF does (numbers with numpy's `astype`,
    Python ints checked for overflow) and checks its shape."""
    if isinstance(value, Tensor):
        raise TypeError("The value of a feed cannot be a tf.Tensor object. Acceptable feed "
                        "values include Python scalars, strings, lists, numpy ndarrays, or "
                        "TensorHandles. For reference, the tensor object was %s which was "
                        "passed to the argument `feed_dict` with key %s." % (value, key))
    np_dtype = tensor.dtype.base_dtype.as_numpy_dtype
    if isinstance(value, int) and _to_numpy_scalar(np_dtype, value) != value:
        raise TypeError("Type of feed value %s with type %s is not compatible with Tensor type "
                        "%s. Try explicitly setting the type of the feed tensor to a larger "
                        "type (e.g. int64)." % (value, type(value), np_dtype))
    if np_dtype is not object and np.issubdtype(np_dtype, np.number):
        array = np.asarray(value).astype(np_dtype, copy=False)
    else:
        array = np.asarray(value, dtype=np_dtype)
    if not tensor.shape.is_compatible_with(array.shape):
        raise ValueError("Cannot feed value of shape %s for Tensor %s, which has shape %s" % (
            array.shape, tensor.name, tensor.shape))
    if not tensor.graph.is_feedable(tensor):
        raise ValueError("Tensor %s may not be fed." % tensor.name)
    return array


def _to_numpy_scalar(np_dtype, value):
    if np_dtype is object:
        return str(value)
    return np_dtype(np.array(value).astype(np_dtype))


def _executable_input(array):
    """What the executable gets for a fed array: strings as bytes objects."""
    if array.dtype == object:
        encode = np.vectorize(lambda s: s.encode() if isinstance(s, str) else bytes(s),
                              otypes=[object])
        return encode(array) if array.size else array
    return np.asarray(array, order="C")


def _as_result(value):
    """numpy scalars for 0-d results (bytes for strings), arrays otherwise, as TF returns."""
    return value[()] if value.ndim == 0 else value


class _CompiledStep:
    """A cached signature: its IR function and executable. With a compiling backend the first
    runs use the interpreter and native code is built when the policy of
    `config.compile_after_runs` says so (by default: loaded at once from the disk cache, else
    compiled once the interpreter has spent about the compile's time on the signature), so
    one-off runs (initializers, a single evaluation) never pay for an LLVM compile; both
    executables share the IR's calling convention and state. A
    function the backend cannot compile (CompileError) stays on the interpreter: decided once,
    it is not retried on later runs (`compile_error` says why)."""

    def __init__(self, fn, backend, init_queries):
        self.fn = fn
        self.backend = backend
        self.init_queries = init_queries
        self.slots = fn.state
        self.runs = 0
        self.interpreted_seconds = 0.0  # spent in interpreted runs (the adaptive policy)
        self._in_disk_cache = None
        self.compile_error = None
        self._compiled = None
        self._interpreted = None
        self._lock = threading.Lock()  # concurrent runs of a signature compile it once

    @property
    def compiled(self):
        return self._compiled is not None

    @property
    def final(self):
        """Whether later runs keep the executable of the last `executable()` call."""
        return self._compiled is not None or self.compile_error is not None

    def _compile_now(self):
        """The compile policy (see `config.compile_after_runs`) for this run."""
        if self.backend == "interpreter":
            return True
        after = graphc_config.compile_after_runs()
        if after is not None:
            return self.runs > after
        if self.runs < 2:
            return False
        if self._in_disk_cache is None:  # looked up once: a hit is loaded at the next run
            self._in_disk_cache = graphc_config.executable_cached(self.fn, self.backend)
        return self._in_disk_cache or \
            self.interpreted_seconds >= graphc_config.estimated_compile_seconds(self.fn)

    def executable(self):
        """The executable for this run (compiling when the policy says so)."""
        self.runs += 1
        if self._compiled is None and self.compile_error is None and self._compile_now():
            with self._lock:
                if self._compiled is None and self.compile_error is None:
                    start = time.perf_counter()
                    try:
                        self._compiled = graphc_config.make_executable(self.fn, self.backend)
                    except CompileError as e:
                        self.compile_error = e
                    else:
                        if self.backend != "interpreter" and \
                                not getattr(self._compiled, "loaded_from_cache", False):
                            graphc_config.record_compile_seconds(
                                self.fn, time.perf_counter() - start)
        if self._compiled is not None:
            return self._compiled
        if self._interpreted is None:
            self._interpreted = graphc_config.make_executable(self.fn, "interpreter")
        return self._interpreted


class _PreparedRun:
    """One (fetches, feed keys) pair of `Session.run` resolved once: the flattened fetch
    structure, which fetches are ops, fed tensors or computed, and the order of the feeds in the
    executable's signature. Once its signature's executable is final it also keeps that
    executable bound to the session's state buffers (`bind`), so a repeated run only checks
    its feed arrays, calls the bound executable and rebuilds the fetch structure. The binding
    is dropped when the state buffers (`session._state_epoch`), the graph's structure or the
    feed dtypes and shapes change."""

    def __init__(self, session, structure, feed_tensors, feed_keys, raw=False, keep=()):
        self.session = session
        self.structure = structure
        self.feed_tensors = feed_tensors
        self.feed_keys = feed_keys
        self.raw = raw  # arrays for 0-d results too (graphc.jit), not numpy scalars
        self.keep = keep  # the objects whose ids key this run in the session's cache
        self.version = session._graph._structure_version  # when fetches were resolved
        # numpy feeds of the tensor's dtype pass unconverted; strings are always converted.
        self.dtypes = [None if dt == object else dt for dt in
                       (np.dtype(t.dtype.base_dtype.as_numpy_dtype) for t in feed_tensors)]
        last = {t: i for i, t in enumerate(feed_tensors)}  # a repeated feed: the last wins
        self.fed = sorted(last, key=lambda t: (t.op._id, t.value_index))
        self.order = [last[t] for t in self.fed]
        self.tensors, self.targets = [], []
        plan = []
        for element in structure.elements:
            if isinstance(element, Operation):
                self.targets.append(element)
                plan.append(None)
            elif element in last:
                plan.append(~last[element])
            else:
                plan.append(len(self.tensors))
                self.tensors.append(element)
        self.plan = plan
        template = structure.template
        self.single = template if isinstance(template, int) else None
        self.flat = None
        if self.single is None and template[1] in (list, tuple) and \
                all(isinstance(i, int) for i in template[2]):
            self.flat = template[2]
        # (bound executable, state epoch, graph structure version, feed shapes) of the last
        # final run, replaced as one tuple so concurrent runs never mix two bindings' parts
        self.bound = (None, None, None, [None] * len(feed_tensors))

    def run(self, values):
        """Runs with feed `values` (one per feed tensor, in order); returns the fetches."""
        session = self.session
        graph = session._graph
        call, epoch, version, shapes = self.bound
        arrays = list(values)
        exact = not graph._unfeedable
        for i, dt in enumerate(self.dtypes):
            v = arrays[i]
            if exact and type(v) is np.ndarray and v.dtype is dt and v.shape == shapes[i] \
                    and v.flags.c_contiguous:
                continue
            exact = False
            arrays[i] = _feed_array(self.feed_tensors[i], self.feed_keys[i], v)
        inputs = [arrays[i] for i in self.order]
        if call is None or epoch != session._state_epoch or \
                version != graph._structure_version:
            call = None
        elif not exact:
            inputs = [_executable_input(a) for a in inputs]
            if any(a.dtype != self.dtypes[i] or a.shape != shapes[i]
                   for a, i in zip(inputs, self.order)):
                call = None
        if call is not None:
            outs = call(inputs)
        else:
            outs = self._run_step(arrays, inputs) if self.tensors or self.targets else []
        return self._results(arrays, outs)

    def _run_step(self, arrays, inputs):
        """Finds (or lowers) the signature's step and runs it; binds it when it is final."""
        session = self.session
        inputs = [_executable_input(a) for a in inputs]
        version = session._graph._structure_version
        key = (tuple(self.tensors), tuple(self.targets), version,
               tuple((t, a.dtype.str, a.shape) for t, a in zip(self.fed, inputs)))
        step = session._cached_step(key)
        if step is None:
            queries = {}
            fn = lower(self.tensors, self.targets,
                       {t: (a.dtype, a.shape) for t, a in zip(self.fed, inputs)},
                       is_initialized=session._state.__contains__, init_queries=queries)
            step = _CompiledStep(fn, session._backend, queries)
            session._cache.setdefault(key, []).append(step)
            session.compile_count += 1
        state, fresh = session._state_vector(step.slots)
        exe = step.executable()
        if step.final and not fresh:
            call = exe.bind(state, None, session._num_threads())
            self.bound = (call, session._state_epoch, version, [a.shape for a in arrays])
            return call(inputs)
        start = time.perf_counter()
        values = exe.run(inputs, state, num_threads=session._num_threads())
        if not step.compiled:
            step.interpreted_seconds += time.perf_counter() - start
        if fresh:
            session._state.update(fresh)
            session._state_epoch += 1
        return values

    def _results(self, arrays, outs):
        values = []
        for p in self.plan:
            if p is None:
                values.append(None)
            elif p >= 0:
                v = outs[p]
                values.append(v if self.raw or v.ndim else v[()])
            else:
                values.append(arrays[~p])
        if self.single is not None:
            return values[self.single]
        if self.flat is not None:
            values = [values[i] for i in self.flat]
            return values if self.structure.template[1] is list else tuple(values)
        return self.structure.build(values)


def _run_key(fetches, feed_dict):
    """The key of a run in the session's cache of prepared runs: the identities of the fetch
    objects (the elements of a plain list or tuple, else the object) and of the feed keys. The
    prepared run keeps those objects alive, so their ids cannot be reused while it is cached."""
    kind = type(fetches)
    fetch_key = (kind, *map(id, fetches)) if kind is list or kind is tuple else id(fetches)
    return fetch_key, (tuple(map(id, feed_dict)) if feed_dict else ())


def _cacheable(fetches, structure):
    """Whether the structure of `fetches` is fixed by the identities `_run_key` uses: one graph
    element, or a list/tuple (or namedtuple) of graph elements."""
    template = structure.template
    if isinstance(template, int):
        return True
    return (template[0] == "seq" and all(isinstance(i, int) for i in template[2]) and
            (type(fetches) in (list, tuple) or isinstance(fetches, tuple)))


class _Device:
    """One entry of `Session.list_devices()`."""

    def __init__(self, name, device_type, memory_limit_bytes, incarnation):
        self.name = name
        self.device_type = device_type
        self.memory_limit_bytes = memory_limit_bytes
        self.incarnation = incarnation

    def __repr__(self):
        return "_DeviceAttributes(%s, %s, %d, %d)" % (self.name, self.device_type,
                                                      self.memory_limit_bytes, self.incarnation)


class BaseSession:
    """Session state: the graph, state buffers by slot name, the executable cache."""

    def __init__(self, target="", graph=None, config=None):
        if graph is None:
            graph = get_default_graph()
        elif not isinstance(graph, Graph):
            raise TypeError('Argument `graph` must be a tf.Graph, but got "%s"' %
                            type(graph).__name__)
        if config is not None and not isinstance(config, ConfigProto):
            raise TypeError('Argument `config` must be a tf.ConfigProto, but got "%s"' %
                            type(config).__name__)
        self._graph = graph
        self._config = config
        self._target = target.encode() if isinstance(target, str) else bytes(target)
        self._closed = False
        self._state = {}
        self._cache = {}
        self._prepared = {}
        self._state_epoch = 0  # bumped whenever a buffer is added to or replaced in _state
        self._backend = graphc_config.get_backend()
        self._default_session_context = None
        self._default_graph_context = None
        self.compile_count = 0

    graph = property(lambda self: self._graph)
    sess_str = property(lambda self: self._target)

    @property
    def graph_def(self):
        return self._graph.as_graph_def()

    def list_devices(self):
        return [_Device("/job:localhost/replica:0/task:0/device:CPU:0", "CPU", 268435456, 0)]

    def close(self):
        self._closed = True
        self._state.clear()
        self._state_epoch += 1
        self._cache.clear()
        self._prepared.clear()

    def as_default(self):
        """A context in which this session is the default (for `eval()` and `run()`)."""
        return _default_session(self)

    def __enter__(self):
        if self._default_graph_context is not None:
            raise RuntimeError("Session context managers are not re-entrant. Use "
                               "`Session.as_default()` if you want to enter a session multiple "
                               "times.")
        self._default_graph_context = self._graph.as_default()
        self._default_session_context = self.as_default()
        self._default_graph_context.__enter__()
        return self._default_session_context.__enter__()

    def __exit__(self, exc_type, exc, tb):
        self._default_session_context.__exit__(exc_type, exc, tb)
        self._default_graph_context.__exit__(exc_type, exc, tb)
        self._default_session_context = None
        self._default_graph_context = None
        self.close()

    # ---- running
    def _check_open(self):
        if self._closed:
            raise RuntimeError("Attempted to use a closed Session.")
        if self._graph.version == 0:
            raise RuntimeError("The Session graph is empty. Add operations to the graph before "
                               "calling run().")

    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        """Runs the ops needed for `fetches` with `feed_dict`; returns values in the structure
        of `fetches` (an op gives None)."""
        key = _run_key(fetches, feed_dict)
        prepared = self._prepared.get(key)
        if prepared is not None and not self._closed and \
                prepared.version == self._graph._structure_version:
            return prepared.run(feed_dict.values() if feed_dict else ())
        self._check_open()
        feeds, tensors = self._convert_feeds(feed_dict or {})
        structure = _FetchStructure(self._graph, fetches)
        keys = list(feed_dict or ())
        prepared = _PreparedRun(self, structure, tensors, keys, keep=(
            fetches, list(fetches) if type(fetches) in (list, tuple) else None, keys))
        if _cacheable(fetches, structure):
            if len(self._prepared) >= 256:  # many distinct one-off runs: start over
                self._prepared.clear()
            self._prepared[key] = prepared
        return prepared.run([feeds[t] for t in tensors])

    def _prepare(self, fetches, feed_tensors, raw=False):
        """A `_PreparedRun` of `fetches` fed `feed_tensors` (graph.jit and make_callable)."""
        return _PreparedRun(self, _FetchStructure(self._graph, fetches), list(feed_tensors),
                            list(feed_tensors), raw=raw)

    def _feed_tensor(self, key):
        try:
            return self._graph.as_graph_element(key, allow_tensor=True, allow_operation=False)
        except Exception as e:  # TF reports any failure to resolve the key this way
            raise TypeError("Cannot interpret feed_dict key as Tensor: %s" % (
                e.args[0] if e.args else e)) from None

    def _convert_feeds(self, feed_dict):
        """({tensor: converted value}, the tensor of each key in order)."""
        feeds, tensors = {}, []
        for key, value in feed_dict.items():
            tensor = self._feed_tensor(key)
            feeds[tensor] = _feed_array(tensor, key, value)
            tensors.append(tensor)
        return feeds, tensors

    def _cached_step(self, key):
        """The step compiled for `key` whose IsVariableInitialized answers still hold."""
        for step in self._cache.get(key, ()):
            if all((name in self._state) == known for name, known in step.init_queries.items()):
                return step
        return None

    def _state_vector(self, slots):
        state, fresh = [], {}
        for slot in slots:
            buf = self._state.get(slot.name)
            if buf is None:
                if slot.kind == "variable" and slot.read_before_write:
                    raise errors.FailedPreconditionError(
                        None, None, "Attempting to use uninitialized value %s" % slot.name)
                buf = self._new_slot(slot)
                fresh[slot.name] = buf
            state.append(buf)
        return state, fresh

    def _new_slot(self, slot):
        if slot.kind == "rng":
            op = self._graph.get_operation_by_name(slot.name)
            seed, seed2 = op.get_attr("seed"), op.get_attr("seed2")
            if seed == 0 and seed2 == 0:
                seed, seed2 = (int.from_bytes(os.urandom(7), "little") for _ in range(2))
            return np.array([seed, seed2, 0], dtype=slot.dtype)
        return np.zeros(slot.shape, dtype=slot.dtype)

    # ---- variable buffers read and written without running the graph (tf.train.Saver)
    def _variable_values(self, names):
        """{name: copy of its buffer} for the variables `names` (VariableV2 op names); an
        uninitialized one raises FailedPreconditionError, as reading it in a run does."""
        if self._closed:
            raise RuntimeError("Attempted to use a closed Session.")
        values = {}
        for name in names:
            buf = self._state.get(name)
            if buf is None:
                raise errors.FailedPreconditionError(
                    None, None, "Attempting to use uninitialized value %s" % name)
            values[name] = np.array(buf, copy=True)
        return values

    def _assign_variable_values(self, values):
        """Sets variables from {name: numpy array of the variable's dtype and shape}, in place
        where the buffer exists (executables may hold it), as an Assign would."""
        if self._closed:
            raise RuntimeError("Attempted to use a closed Session.")
        for name, value in values.items():
            buf = self._state.get(name)
            if buf is not None and buf.shape == value.shape and buf.dtype == value.dtype:
                np.copyto(buf, value)
            else:
                self._state[name] = np.array(value, copy=True)
                self._state_epoch += 1

    def _num_threads(self):
        n = getattr(self._config, "intra_op_parallelism_threads", 0) if self._config else 0
        return n or None

    def make_callable(self, fetches, feed_list=None, accept_options=False):
        """A function running `fetches` with its positional arguments fed to `feed_list`;
        fetch and feed resolution happen once, here."""
        if feed_list is not None and not isinstance(feed_list, (list, tuple)):
            raise TypeError("Argument `feed_list` must be a list or tuple. Received: "
                            "feed_list=%s" % (feed_list,))
        structure = _FetchStructure(self._graph, fetches)
        keys = list(feed_list or [])
        tensors = [self._feed_tensor(k) for k in keys]
        prepared = _PreparedRun(self, structure, tensors, keys)

        def call(*args, **kwargs):
            self._check_open()
            if len(args) == len(tensors):
                return prepared.run(args)
            n = min(len(args), len(tensors))  # the feeds given positionally, as zip pairs them
            return _PreparedRun(self, structure, tensors[:n], keys[:n]).run(args[:n])
        return call


class Session(BaseSession):
    """tf.Session(target='', graph=None, config=None)."""


class InteractiveSession(BaseSession):
    """A session that installs itself as the default session on construction (and its
    `graph`, when one is given, as the default graph) until it is closed."""

    def __init__(self, target="", graph=None, config=None):
        super().__init__(target, graph, config)
        self._explicit_graph_context = None
        if graph is not None:
            self._explicit_graph_context = graph.as_default()
            self._explicit_graph_context.__enter__()
        self._interactive_context = _default_session(self)
        self._interactive_context.__enter__()

    def close(self):
        super().close()
        if self._interactive_context is None:
            return
        if self._explicit_graph_context is not None:
            self._explicit_graph_context.__exit__(None, None, None)
            self._explicit_graph_context = None
        ctx, self._interactive_context = self._interactive_context, None
        ctx.__exit__(None, None, None)


_session_stack = []


@contextlib.contextmanager
def _default_session(session):
    _session_stack.append(session)
    try:
        yield session
    finally:
        for i in range(len(_session_stack) - 1, -1, -1):
            if _session_stack[i] is session:
                del _session_stack[i]
                break


def get_default_session():
    return _session_stack[-1] if _session_stack else None


def _clear_default_session():
    del _session_stack[:]


def _run_with_default_session(element, feed_dict, session):
    """`Tensor.eval()` / `Operation.run()`: runs in `session` or the default one."""
    is_op = isinstance(element, Operation)
    session = session or get_default_session()
    if session is None:
        if is_op:
            raise ValueError("Cannot execute operation using `run()`: No default session is "
                             "registered. Use `with sess.as_default():` or pass an explicit "
                             "session to `run(session=sess)`")
        raise ValueError("Cannot evaluate tensor using `eval()`: No default session is "
                         "registered. Use `with sess.as_default()` or pass an explicit session "
                         "to `eval(session=sess)`")
    if session.graph is not element.graph:
        if is_op:
            raise ValueError("Cannot use the given session to execute operation: the "
                             "operation's graph is different from the session's graph.")
        raise ValueError("Cannot use the given session to evaluate tensor: the tensor's graph "
                         "is different from the session's graph.")
    return session.run(element, feed_dict)
