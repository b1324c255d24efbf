"""`@graphc.jit`: traces a Python function of arrays into a graph (one placeholder per array
argument; Python control flow and loops run at trace time, so loops unroll) and compiles it once
per argument signature (dtypes, shapes and the values of static arguments), like jax.jit."""

import functools
import inspect

import numpy as np

from graphc import dtypes
from graphc.client.session import Session
from graphc.graph.graph import Graph, Tensor
from graphc.ops.constant_op import placeholder
from graphc.variables import GraphKeys


class JitError(ValueError):
    """A function that cannot be traced (e.g. it creates a Variable)."""


def _flatten(tree):
    """Leaves of nested lists/tuples/dicts and a function rebuilding the structure."""
    if isinstance(tree, dict):
        keys = sorted(tree)
        parts = [_flatten(tree[k]) for k in keys]
        leaves = [leaf for p in parts for leaf in p[0]]

        def rebuild(values):
            out, i = {}, 0
            for k, (sub, f) in zip(keys, parts):
                out[k] = f(values[i:i + len(sub)])
                i += len(sub)
            return out
        return leaves, rebuild
    if isinstance(tree, (list, tuple)):
        parts = [_flatten(t) for t in tree]
        leaves = [leaf for p in parts for leaf in p[0]]

        def rebuild(values):
            out, i = [], 0
            for sub, f in parts:
                out.append(f(values[i:i + len(sub)]))
                i += len(sub)
            return type(tree)(out) if not hasattr(tree, "_fields") else type(tree)(*out)
        return leaves, rebuild
    return [tree], lambda values: values[0]


class _Trace:
    """One traced signature: its graph, placeholders, outputs and the session running it."""

    def __init__(self, fun, bound, static_names):
        self.graph = Graph()
        self.feeds = []
        with self.graph.as_default():
            call_args = {}
            for name, value in bound.arguments.items():
                if name in static_names:
                    call_args[name] = value
                    continue
                leaves, rebuild = _flatten(value)
                phs = []
                for i, leaf in enumerate(leaves):
                    ph = placeholder(_dtype_of(leaf), np.shape(leaf),
                                     name=name if len(leaves) == 1 else "%s_%d" % (name, i))
                    phs.append(ph)
                    self.feeds.append(ph)
                call_args[name] = rebuild(phs)
            bound_call = inspect.BoundArguments(bound.signature, call_args)
            out = fun(*bound_call.args, **bound_call.kwargs)
            if self.graph.get_collection(GraphKeys.GLOBAL_VARIABLES) or any(
                    op.type in ("VariableV2", "Variable") for op in self.graph.get_operations()):
                raise JitError("graphc.jit: %s creates a Variable; functions under jit must be "
                               "pure (pass parameters as arguments)" % fun.__name__)
            leaves, self.rebuild = _flatten(out)
            self.outputs = []
            for leaf in leaves:
                if not isinstance(leaf, Tensor):
                    from graphc.graph.graph import convert_to_tensor
                    leaf = convert_to_tensor(leaf)
                self.outputs.append(leaf)
        self.session = Session(graph=self.graph)
        # fetches and feeds resolved once; results as arrays (0-d ones too)
        self.prepared = self.session._prepare(self.outputs, self.feeds, raw=True)

    def run(self, bound, static_names):
        values = []
        for name, value in bound.arguments.items():
            if name not in static_names:
                values.extend(_flatten(value)[0])
        return self.call(values)

    def call(self, values):
        """Runs on the flat argument leaves `values` (one per placeholder)."""
        return self.rebuild([np.asarray(r) for r in self.prepared.run(values)])


class JitFunction:
    """The callable `graphc.jit` returns; `cache_info()` and `lower()` inspect it."""

    def __init__(self, fun, static_argnums=(), static_argnames=()):
        functools.update_wrapper(self, fun)
        self._fun = fun
        self._signature = inspect.signature(fun)
        params = list(self._signature.parameters)
        static_argnums = (static_argnums,) if isinstance(static_argnums, int) else static_argnums
        static_argnames = (static_argnames,) if isinstance(static_argnames, str) \
            else static_argnames
        self._static = set(static_argnames) | {params[i] for i in static_argnums}
        self._traces = {}
        # Calls with only positional arrays for every parameter skip binding and the signature
        # key: their traces are found by the arrays' (type, dtype, shape).
        kinds = {p.kind for p in self._signature.parameters.values()}
        self._positional = len(params) if not self._static and kinds <= {
            inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD} else -1
        self._by_arrays = {}
        self.hits = 0
        self.misses = 0

    def _bind(self, args, kwargs):
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return bound

    def _key(self, bound):
        key = []
        for name, value in bound.arguments.items():
            if name in self._static:
                try:
                    hash(value)
                except TypeError:
                    raise TypeError("static argument %r must be hashable, got %r" % (
                        name, type(value).__name__)) from None
                key.append((name, "static", value))
            else:
                leaves, _ = _flatten(value)
                key.append((name, tuple((_dtype_of(v).name, np.shape(v)) for v in leaves),
                            _structure(value)))
        return tuple(key)

    def _trace(self, bound):
        key = self._key(bound)
        trace = self._traces.get(key)
        if trace is None:
            self.misses += 1
            trace = _Trace(self._fun, bound, self._static)
            self._traces[key] = trace
        else:
            self.hits += 1
        return trace

    def __call__(self, *args, **kwargs):
        key = None
        if not kwargs and len(args) == self._positional:
            key = tuple([(type(a), a.dtype, a.shape) for a in args
                         if type(a) is np.ndarray or isinstance(a, np.generic)])
            if len(key) == len(args):
                trace = self._by_arrays.get(key)
                if trace is not None:
                    self.hits += 1
                    return trace.call(args)
            else:
                key = None
        bound = self._bind(args, kwargs)
        trace = self._trace(bound)
        if key is not None:
            self._by_arrays[key] = trace
        return trace.run(bound, self._static)

    def lower(self, *args, **kwargs):
        """The core-IR text of the function specialized to these arguments."""
        from graphc.lower import lower
        bound = self._bind(args, kwargs)
        trace = self._trace(bound)
        feeds = {}
        for ph in trace.feeds:
            feeds[ph] = (ph.dtype.np, tuple(ph.shape.as_list()))
        return str(lower(trace.outputs, [], feeds, name=self.__name__))

    def cache_info(self):
        """Traces by signature, cache hits and misses, and executables compiled."""
        return {"signatures": len(self._traces), "hits": self.hits, "misses": self.misses,
                "compiled": sum(t.session.compile_count for t in self._traces.values())}


def _dtype_of(value):
    """Arrays keep their dtype; Python scalars take TF's (int -> int32, float -> float32)."""
    if isinstance(value, (np.ndarray, np.generic)):
        return dtypes.as_dtype(value.dtype)
    from graphc.ops.constant_op import _infer_dtype
    return _infer_dtype(value)


def _structure(value):
    if isinstance(value, dict):
        return ("dict", tuple((k, _structure(value[k])) for k in sorted(value)))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_structure(v) for v in value))
    return None


def jit(fun=None, *, static_argnums=(), static_argnames=()):
    """Decorator (with or without arguments) compiling `fun` per argument signature."""
    if fun is None:
        return functools.partial(jit, static_argnums=static_argnums,
                                 static_argnames=static_argnames)
    return JitFunction(fun, static_argnums, static_argnames)
