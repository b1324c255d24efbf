"""CompiledExecutable: an IR function through the pass pipeline and the LLVM CPU backend into
one native entry function, called through ctypes (which releases the GIL while it runs).

`bind(state, dims)` gives the fast way to call it repeatedly: everything but the feeds and the
fetches is prepared once, and a small native trampoline reads the feeds' and fetches' data
pointers straight from the Python list of numpy arrays, so a call costs about one ctypes call
and one `np.empty` per fetch."""

import ctypes
import os
import threading

import numpy as np

from graphc import errors
from graphc.backend.cpu import disk_cache, llvm, profile, runtime
from graphc.ir.shapes import SymDim, evaluate_shape
from graphc.passes.buffers import Size
from graphc.passes.pipeline import disabled_passes, run_pipeline
from graphc.runtime.executable import Executable

ENTRY = ctypes.CFUNCTYPE(ctypes.c_int32, *[ctypes.c_void_p] * 6)
ALIGN = 64


class CompiledExecutable(Executable):
    """Native code for `fn` (the caller's function is not modified)."""

    backend = "cpu"

    def __init__(self, fn, disable=(), dump_dir=None):
        super().__init__(fn)
        self._disable = disable
        self._optimized = None
        self.dump_dir = None
        runtime.library()
        dumping = dump_dir or os.environ.get("GRAPHC_DUMP")
        self.profile_labels = None  # kernel labels when profiled (graphc.backend.cpu.profile)
        key = None if dumping or profile.enabled() else disk_cache.function_key(
            fn, disabled_passes(disable), *llvm.host_cpu())
        self.loaded_from_cache = bool(key) and self._load(key)
        if not self.loaded_from_cache:
            self._compile(dump_dir)
            if key:
                disk_cache.store_entry(key, {
                    "object": self.compiled.digest, "entry": self._entry_name,
                    "temp": [self._temp.const, self._temp.coeffs],
                    "libraries": llvm.libraries_used(self._text)})
            del self._text
        self._entry = ENTRY(self.compiled.address(self._entry_name))
        self._feed_types = [(v.dtype, v.shape) for v in fn.feeds]
        self._state_types = [(s.dtype, s.shape) for s in fn.state]

    @staticmethod
    def is_cached(fn, disable=()):
        """Whether the executable of `fn` is in the disk cache (and would not be compiled)."""
        if os.environ.get("GRAPHC_DUMP") or profile.enabled():
            return False
        key = disk_cache.function_key(fn, disabled_passes(disable), *llvm.host_cpu())
        return key is not None and disk_cache.has_entry(key)

    def _load(self, key):
        """Loads the executable from the disk cache (no passes, no code generation)."""
        meta = disk_cache.load_entry(key)
        if meta is None or not llvm.load_libraries(meta["libraries"]):
            return False
        compiled = llvm.load_object(meta["object"])
        if compiled is None:
            return False
        self.compiled = compiled
        self._entry_name = meta["entry"]
        self._temp = Size(*meta["temp"])
        return True

    def _compile(self, dump_dir):
        from graphc.backend.cpu import codegen  # not needed to load from the disk cache
        self._optimized = run_pipeline(self.fn, disable=self._disable, dump_dir=dump_dir,
                                       scratch=codegen.scratch,
                                       in_place=codegen.in_place)
        dumper = self._optimized.dumper
        self._text, self._entry_name, profiler = codegen.build_module(
            self._optimized, profiled=profile.enabled())
        if profiler:
            self.profile_labels, self.profile_table = profiler.labels, profiler.table_name
        dumper.write("llvm.ll", self._text)
        self.compiled = llvm.compile_ir(self._text,
                                        dump=dumper.write if dumper.dir else None)
        self.dump_dir = dumper.dir
        self._temp = self._optimized.buffer_plan.temp_size

    @property
    def optimized(self):
        """The function after the pass pipeline, with its buffer plan (rerun on demand for an
        executable loaded from the disk cache)."""
        if self._optimized is None:
            from graphc.backend.cpu import codegen
            self._optimized = run_pipeline(self.fn, disable=self._disable,
                                           scratch=codegen.scratch,
                                           in_place=codegen.in_place)
        return self._optimized

    def temp_bytes(self, dims):
        return self._temp.evaluate(dims) + ALIGN  # slack to align the arena's start

    def _dims(self, feeds, dims):
        dims = dict(dims or {})
        for a, (_, shape) in zip(feeds, self._feed_types):
            for d, n in zip(shape, np.shape(a)):
                if isinstance(d, SymDim) and d.name not in dims:
                    dims[d.name] = n // d.coeff
        missing = [n for n in self.fn.dims if n not in dims]
        if missing:
            raise ValueError("symbolic dimension %s is not bound" % ", ".join(missing))
        return dims

    def _check(self, arrays, types, what, names, dims, writable=False):
        out = []
        for a, (dt, shape), name in zip(arrays, types, names):
            shape = evaluate_shape(shape, dims)
            if not isinstance(a, np.ndarray) or a.dtype != dt or a.shape != shape or \
                    not a.flags.c_contiguous:
                if writable:
                    raise ValueError("%s %s must be a C-contiguous %s%s array" % (
                        what, name, dt, list(shape)))
                a = np.ascontiguousarray(a, dtype=dt)
                if a.shape != shape:
                    raise ValueError("%s %s has shape %s, expected %s" % (what, name, a.shape,
                                                                         shape))
            out.append(a)
        return out

    def entry(self, feeds, fetches, state, temp, dims, rt):
        dims = self._dims(feeds, dims)
        feeds = self._check(feeds, self._feed_types, "feed", self.fn.feed_names, dims)
        state = self._check(state, self._state_types, "state", [s.name for s in self.fn.state],
                            dims, writable=True)
        fetches = self._check(fetches, self.fetch_types, "fetch", self.fn.fetch_names, dims,
                              writable=True)

        def vector(arrays):
            return (ctypes.c_void_p * max(len(arrays), 1))(*[a.ctypes.data for a in arrays])
        dim_values = (ctypes.c_int64 * max(len(self.fn.dims), 1))(
            *[dims[n] for n in self.fn.dims])
        need = self.temp_bytes(dims)
        if temp is None or temp.nbytes < need:
            temp = np.empty(need, np.uint8)
        base = temp.ctypes.data
        base += -base % ALIGN
        threads = (rt.num_threads if rt is not None else None) or runtime.default_threads()
        rts = runtime.RtStruct(int(threads), 0, None, b"")
        code = self._entry(vector(feeds), vector(fetches), vector(state), base, dim_values,
                           ctypes.addressof(rts))
        if code and rt is not None:
            rt.error = rts.error.decode(errors="replace")
        return code

    def bind(self, state, dims=None, num_threads=None):
        """A `NativeCall` running this executable on `state` (checked here, once) with `dims`."""
        dims = self._dims([], dims)
        state = self._check(state, self._state_types, "state", [s.name for s in self.fn.state],
                            dims, writable=True)
        return NativeCall(self, state, dims, num_threads)


class NativeCall:
    """A compiled executable bound to one state vector and symbolic dimension values. A call
    `(feeds) -> fetches` trusts its feeds (a list of C-contiguous arrays of the executable's
    dtypes and shapes, which the caller has checked) and only allocates the fetch arrays: the
    state pointer vector, the dims, and per concurrent caller the temp arena, the runtime struct
    and the pointer scratch are built once."""

    def __init__(self, exe, state, dims, num_threads):
        self.state = state  # keeps the buffers whose addresses the pointer vector holds
        self.executable = exe  # keeps the code alive (its engine owns it)
        self._entry = exe.compiled.address(exe._entry_name)
        self._state_ptrs = _pointers(state)
        self._dims = (ctypes.c_int64 * max(len(exe.fn.dims), 1))(*[dims[n] for n in exe.fn.dims])
        self._fetches = [(evaluate_shape(shape, dims), np.dtype(dt))
                         for dt, shape in exe.fetch_types]
        self._pointer_slots = len(exe.fn.feeds) + len(self._fetches)
        self._temp_bytes = exe.temp_bytes(dims)
        self._threads = int(num_threads or runtime.default_threads())
        self._free = []
        self._trampoline = _trampoline()
        self._direct = ENTRY(self._entry) if self._trampoline is None else None

    def _context(self):
        """Per-caller scratch: the feed/fetch pointer vectors, the temp arena, the rt struct."""
        scratch = (ctypes.c_void_p * max(self._pointer_slots, 1))()
        temp = np.empty(self._temp_bytes, np.uint8)
        base = temp.ctypes.data
        rts = runtime.RtStruct(self._threads, 0, None, b"")
        return (scratch, temp, base + (-base % ALIGN), rts, ctypes.addressof(rts),
                ctypes.addressof(scratch))

    def __call__(self, feeds):
        try:
            ctx = self._free.pop()
        except IndexError:
            ctx = self._context()
        fetches = [np.empty(shape, dt) for shape, dt in self._fetches]
        if self._trampoline is not None:
            code = self._trampoline(self._entry, feeds if type(feeds) is list else list(feeds),
                                    fetches, ctypes.addressof(self._state_ptrs), ctx[2],
                                    ctypes.addressof(self._dims), ctx[4], ctx[5])
        else:
            arrays = list(feeds)
            n = len(arrays)
            for i, a in enumerate(arrays + fetches):
                ctx[0][i] = a.ctypes.data
            code = self._direct(ctx[5], ctx[5] + n * ctypes.sizeof(ctypes.c_void_p),
                                ctypes.addressof(self._state_ptrs), ctx[2],
                                ctypes.addressof(self._dims), ctx[4])
        if code:  # the context's error slot is dirty: drop it
            raise errors.error_for_code(code, ctx[3].error.decode(errors="replace"))
        self._free.append(ctx)
        return fetches


def _pointers(arrays):
    return (ctypes.c_void_p * max(len(arrays), 1))(*[a.ctypes.data for a in arrays])


# The trampoline: `int32 call(entry, list feeds, list fetches, state, temp, dims, rt, scratch)`
# copies each array's data pointer into `scratch` (feeds, then fetches) and calls `entry`. It
# reads CPython's list layout (ob_size, ob_item) and numpy's array layout (`data` right after the
# object header); both are checked against the values Python reports before it is used, and
# without it NativeCall fills the scratch through `ndarray.ctypes` (about 1 us per array).
_TRAMPOLINE_IR = """
define i32 @graphc_call(ptr %entry, ptr %feeds, ptr %fetches, ptr %state, ptr %temp,
                        ptr %dims, ptr %rt, ptr %scratch) {
start:
  %nf = call i64 @copy(ptr %feeds, ptr %scratch)
  %outs = getelementptr ptr, ptr %scratch, i64 %nf
  %no = call i64 @copy(ptr %fetches, ptr %outs)
  %r = call i32 %entry(ptr %scratch, ptr %outs, ptr %state, ptr %temp, ptr %dims, ptr %rt)
  ret i32 %r
}

define internal i64 @copy(ptr %list, ptr %out) alwaysinline {
start:
  %np = getelementptr i8, ptr %list, i64 SIZE_OFFSET
  %n = load i64, ptr %np
  %ip = getelementptr i8, ptr %list, i64 ITEMS_OFFSET
  %items = load ptr, ptr %ip
  br label %loop
loop:
  %i = phi i64 [0, %start], [%next, %body]
  %more = icmp slt i64 %i, %n
  br i1 %more, label %body, label %done
body:
  %op = getelementptr ptr, ptr %items, i64 %i
  %obj = load ptr, ptr %op
  %dp = getelementptr i8, ptr %obj, i64 DATA_OFFSET
  %data = load ptr, ptr %dp
  %slot = getelementptr ptr, ptr %out, i64 %i
  store ptr %data, ptr %slot
  %next = add i64 %i, 1
  br label %loop
done:
  ret i64 %n
}
"""
_TRAMPOLINE = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.py_object,
                               ctypes.py_object, *[ctypes.c_void_p] * 5)
_trampoline_lock = threading.Lock()
_trampoline_state = {}


def _layout():
    """(list size offset, list items offset, array data offset), or None when this Python's or
    numpy's object layout is not the one the trampoline reads."""
    word = ctypes.sizeof(ctypes.c_void_p)
    header = object.__basicsize__
    size_offset, items_offset, data_offset = header, header + word, header
    probe = np.arange(3.0)
    items = [probe, probe[1:]]
    try:
        if ctypes.c_ssize_t.from_address(id(items) + size_offset).value != len(items):
            return None
        vector = ctypes.c_void_p.from_address(id(items) + items_offset).value
        if [ctypes.c_void_p.from_address(vector + i * word).value for i in range(2)] != \
                [id(x) for x in items]:
            return None
        if any(ctypes.c_void_p.from_address(id(x) + data_offset).value != x.ctypes.data
               for x in items):
            return None
    except (ValueError, OverflowError):
        return None
    return size_offset, items_offset, data_offset


def _trampoline():
    """The compiled trampoline (built once per process), or None where the layout differs."""
    with _trampoline_lock:
        if "fn" not in _trampoline_state:
            layout = _layout()
            fn = None
            if layout is not None:
                text = _TRAMPOLINE_IR
                for name, value in zip(("SIZE_OFFSET", "ITEMS_OFFSET", "DATA_OFFSET"), layout):
                    text = text.replace(name, str(value))
                compiled = llvm.compile_ir(text)
                _trampoline_state["compiled"] = compiled  # owns the code
                fn = _TRAMPOLINE(compiled.address("graphc_call"))
            _trampoline_state["fn"] = fn
        return _trampoline_state["fn"]
