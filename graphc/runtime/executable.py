"""Executables and their calling convention.

Every executable exposes one entry with the shape of the native one:

    entry(feeds, fetches, state, temp, dims, rt) -> int

`feeds` are the input buffers, `fetches` caller-allocated output buffers, `state` the state
vector (each variable read or written, and random counters), updated in place; `temp` the
scratch arena of `temp_bytes(dims)` bytes; `dims` the values of the symbolic dimensions; `rt`
the runtime (threads, error slot). It returns 0, or an error code from graphc.errors whose
message is in `rt.error`. The interpreter is one implementation; compiled backends are others.
"""

import numpy as np

from graphc import errors
from graphc.ir.shapes import evaluate_shape


class Runtime:
    """Per-call runtime: the error slot (the thread pool lives in compiled backends)."""

    def __init__(self, num_threads=None):
        self.num_threads = num_threads
        self.error = ""


class Executable:
    """Base class: knows the IR function's signature, allocates fetches, maps error codes."""

    def __init__(self, fn):
        self.fn = fn
        self.fetch_types = [(v.dtype, v.shape) for v in fn.fetches]
        self.state = list(fn.state)

    def temp_bytes(self, dims):
        return 0

    def entry(self, feeds, fetches, state, temp, dims, rt):
        raise NotImplementedError

    def run(self, feeds, state, dims=None, num_threads=None):
        """Allocates fetch buffers and temp, calls the entry, raises on a nonzero code."""
        dims = dims or {}
        fetches = [np.empty(evaluate_shape(shape, dims), dtype=dt) for dt, shape in
                   self.fetch_types]
        temp = np.empty(self.temp_bytes(dims), dtype=np.uint8)
        rt = Runtime(num_threads)
        code = self.entry(feeds, fetches, state, temp, dims, rt)
        if code:
            raise errors.error_for_code(code, rt.error)
        return fetches

    def bind(self, state, dims=None, num_threads=None):
        """A callable `(feeds) -> fetches` running on `state` with `dims`: repeated calls of a
        compiled executable skip the per-call checks and set-up (see NativeCall)."""
        return lambda feeds: self.run(feeds, state, dims, num_threads)


class InterpretedExecutable(Executable):
    """Runs the IR with the numpy interpreter behind the same entry."""

    backend = "interpreter"

    def entry(self, feeds, fetches, state, temp, dims, rt):
        from graphc.ir.interpreter import interpret
        try:
            values, new_state = interpret(self.fn, feeds, state, dims)
        except errors.OpError as e:
            rt.error = e.message
            return e.error_code
        for buf, v in zip(fetches, values):
            buf[...] = v
        for buf, v in zip(state, new_state):
            if v is not None:
                buf[...] = v
        return 0
