"""LLVM IR for a whole optimized function: one kernel function per scheduled instruction
(fusion, dot_general, scatter_add), constants as module data, and the entry function with
graphc's calling convention

    i32 entry(ptr feeds, ptr fetches, ptr state, ptr temp, ptr dims, ptr rt)

that finds every buffer from the buffer plan, calls the kernels in order (stopping at the first
error code) and copies results not computed in place.

Opaque primitives get a kernel builder in KERNELS below; fusible ones an element emitter in
graphc/backend/cpu/emitters.py. Anything else is a CompileError naming the primitive."""

import itertools

import numpy as np
from llvmlite import ir

from graphc.backend import CompileError
from graphc.backend.cpu import dot as dots
from graphc.backend.cpu.emitters import ELEMENT
from graphc.backend.cpu import profile
from graphc.backend.cpu.kernels import (Kernel, check_indices, loop_kernel, reduce_kernel,
                                        scatter_add_kernel)
from graphc.backend.cpu.rng_kernel import rng as _rng
from graphc.backend.cpu import window_kernels
from graphc.backend.cpu.types import I8, I32, I64, PTR, Builder, const, intrinsic, reg_type
from graphc.ir.core import Function, Instr, Value
from graphc.ir.primitives import PRIMITIVES, REDUCTION, FusedComputation
from graphc.ir.shapes import SymDim

_module_ids = itertools.count()
GRAIN = 1 << 15  # elements of work per parallel chunk (fixed: results never depend on threads)
SYMBOLIC_GUESS = 64  # a symbolic dim's size when estimating work per iteration


def _work(shape, extent):
    """Estimated elements of work per iteration: |shape| / |extent| (both static guesses)."""
    size = lambda s: int(np.prod([SYMBOLIC_GUESS if isinstance(d, SymDim) else d  # noqa: E731
                                  for d in s]))
    return max(1, size(shape) // max(1, size(extent)))


def scratch(instr, vector_bytes=None):
    """Kernel scratch bytes an instruction needs (the pipeline's buffer-assignment hook) on a
    target with `vector_bytes`-wide vectors (default: the host's; see build_module)."""
    if instr.op == "dot_general" and _canonical_dot(instr):
        return dots.scratch_bytes(instr, vector_bytes=vector_bytes)
    if instr.op == "fusion" and instr.params["body"].kind == "dot":
        dot, patches = dots.fusion_parts(instr.params["body"].fn)
        return dots.scratch_bytes(dot, implicit=patches is not None, vector_bytes=vector_bytes)
    return 0


def in_place(instr, value, vector_bytes=None):
    """Whether instruction `instr` may compute its output into operand `value`'s buffer (the
    pipeline's buffer-assignment hook, beyond element-wise loops): a GEMM whose epilogue
    reads `value` only as its residual, one element right before storing it (on a target
    with `vector_bytes`-wide vectors, as `scratch`)."""
    if instr.op != "fusion" or instr.params["body"].kind != "dot":
        return False
    body = instr.params["body"].fn
    dot = body.body[0]
    if not _canonical_dot(dot):
        return False
    outer = dict(zip((f.id for f in body.feeds), instr.operands))
    return dots.in_place_residual(body, outer, dots.Layout(dot, vector_bytes=vector_bytes)) \
        is value


def _canonical_dot(instr):
    p = instr.params
    return all(x.rank == 3 for x in instr.operands) and len(p["lhs_batch"]) == 1 and \
        len(p["lhs_contract"]) == 1 and p["lhs_batch"] != p["lhs_contract"] and \
        p["rhs_batch"] != p["rhs_contract"]


def supported(op):
    """Whether the CPU backend can emit primitive `op`."""
    return op in ELEMENT or op in KERNELS or op in ("constant", "reshape", "fusion", "reduce",
                                                   "argmax", "argmin")


class ModuleBuilder:
    def __init__(self, fn, standalone=False, profiled=False, vector_bytes=None):
        self.fn = fn
        self.standalone = standalone  # library code (the GEMMs) in the module itself
        self.vector_bytes = vector_bytes  # the target's, for the GEMM blocking (None: host)
        self.plan = fn.buffer_plan
        self.module = ir.Module(name=fn.name)
        self.name = "graphc_entry_%d" % next(_module_ids)
        fnty = ir.FunctionType(I32, [PTR] * 6)
        self.entry = ir.Function(self.module, fnty, self.name)
        self.b = Builder(self.entry.append_basic_block("entry"))
        self.feeds, self.fetches, self.state, self.temp, self.dims_ptr, self.rt = self.entry.args
        self.syms = {name: self.b.load(self.b.gep(I64, self.dims_ptr, [ir.Constant(I64, i)]),
                                       typ=I64) for i, name in enumerate(fn.dims)}
        self.globals = {}
        self.kernels = itertools.count()
        self.profiler = profile.Profiler(self.module, self.name) if profiled else None
        self.what = ""  # the instruction being emitted, for the profile's labels

    # ---- values
    def dim(self, d):
        if isinstance(d, SymDim):
            return self.b.mul(self.syms[d.name], ir.Constant(I64, d.coeff))
        return ir.Constant(I64, d)

    def extent(self, dims):
        n = ir.Constant(I64, 1)
        for d in dims:
            n = self.b.mul(n, self.dim(d))
        return n

    def size(self, size):
        n = ir.Constant(I64, size.const)
        for name, c in size.coeffs.items():
            n = self.b.add(n, self.b.mul(self.syms[name], ir.Constant(I64, c)))
        return n

    def pointer(self, value):
        root = self.plan.root(value)
        loc = self.plan.locations[root.id]
        vector = {"feed": self.feeds, "fetch": self.fetches, "state": self.state}.get(loc.kind)
        if vector is not None:
            return self.b.load(self.b.gep(PTR, vector, [ir.Constant(I64, loc.index)]), typ=PTR)
        if loc.kind == "temp":
            return self.b.gep(I8, self.temp, [self.size(loc.offset)])
        if loc.kind == "const":
            return self.constant(root)
        raise CompileError("no buffer for %r" % value)

    def constant(self, value):
        if value.id not in self.globals:
            arr = value.constant_value
            if arr.dtype == object:
                raise CompileError("the cpu backend cannot emit string constants")
            reg_type(arr.dtype)  # rejects dtypes the backend cannot store
            data = np.ascontiguousarray(arr).tobytes() or b"\0"
            t = ir.ArrayType(I8, len(data))
            g = ir.GlobalVariable(self.module, t, "const%d" % len(self.globals))
            g.global_constant = True
            g.linkage = "private"
            g.align = 64
            g.initializer = ir.Constant(t, bytearray(data))
            self.globals[value.id] = g
        return self.globals[value.id]

    # ---- kernels
    def kernel(self, label, body=None):
        return Kernel(self.module, "k%d_%s" % (next(self.kernels), label), self.fn.dims, body)

    def call(self, k, buffers, extent, work=None, serial=False, chunk=None):
        """Runs kernel k over [0, product of extent) (or [0, extent) for an i64 value) with
        args [dims, rt, *buffers] through the runtime's parallel loop, in fixed chunks of
        about GRAIN elements of work (`work`: elements per iteration, by default the whole
        output over the extent) or of `chunk` (an i64 value); returns the error code of a
        failing kernel. `serial` kernels (sharing scratch space) run as one chunk."""
        b = self.b
        args = b.alloca(PTR, size=ir.Constant(I32, len(buffers) + 2))
        for i, p in enumerate([self.dims_ptr, self.rt] + list(buffers)):
            b.store(p, b.gep(PTR, args, [ir.Constant(I64, i)]))
        if chunk is None:
            chunk = ir.Constant(I64, 1 << 62 if serial else max(1, GRAIN // max(1, work or 1)))
        total = extent if isinstance(extent, ir.Value) else self.extent(extent)
        parallel = self.module.globals.get("graphc_parallel_for") or ir.Function(
            self.module, ir.FunctionType(I32, [PTR, PTR, PTR, I64, I64]), "graphc_parallel_for")
        t0 = self.profiler and self.profiler.start(b)
        code = b.call(parallel, [self.rt, k.fn, args, total, chunk])
        if self.profiler:
            self.profiler.stop(b, t0, "%s %s" % (k.fn.name, self.what))
        with b.if_then(b.icmp_signed("!=", code, ir.Constant(I32, 0)), likely=False):
            b.ret(code)

    def fused(self, instr, body, kind):
        """Kernels for one fusion: index checks, then the loop / reduction / GEMM+epilogue."""
        sub = body
        root = sub.fetches[0]
        outer = dict(zip((f.id for f in sub.feeds), instr.operands))
        for g in (m for m in sub.body if m.op == "gather"):
            x, indices = g.operands
            if indices.id not in outer:
                raise CompileError("gather indices must be a fusion input")
            k = self.kernel("check")
            ptr = k.buffer()
            check_indices(k, ptr, indices, k.dim(x.shape[g.params["axis"]]))
            k.finish()
            self.call(k, [self.pointer(outer[indices.id])], ())
        out = self.pointer(instr.outputs[0])
        members = sub.body
        if kind == "dot":
            dot, patches = dots.fusion_parts(sub)
            plan = dots.match_epilogue(sub, outer, dots.Layout(dot))
            operands = {f.id: self.pointer(outer[f.id]) for f in
                        (plan.bias, plan.residual, plan.alpha) if f is not None and
                        not isinstance(f, float)}
            lhs = dot.operands[0] if patches is None else patches.operands[0]
            dots.emit(self, dot, self.pointer(outer[lhs.id]),
                      self.pointer(outer[dot.operands[1].id]), out,
                      lambda: self.scratch(instr), plan, operands, patches)
            if plan.top is root and len(sub.fetches) == 1:
                return
            # The rest of the body runs over C in place, reading the GEMM's value there.
            members = [m for m in sub.body[sub.body.index(dot) + 1:]
                       if id(m) not in plan.mapped]
        k = self.kernel(root.producer.op, body=Function())
        k.body.body = members
        buffers = []
        for f in sub.feeds:
            o = outer[f.id]
            if o.is_constant and o.constant_value.size == 1:
                k.bind(f, scalar=const(o.dtype, o.constant_value.reshape(-1)[0]))
            else:
                k.bind(f, ptr=k.buffer())
                buffers.append(self.pointer(o))
        if kind == "dot":
            k.bind(plan.top, ptr=k.buffer())
            buffers.append(out)
        out_ptr = k.buffer()
        buffers.append(out)
        for value, extra in zip(sub.fetches[1:], instr.outputs[1:]):  # multi-output fusion
            k.extra_outputs.append((value, k.buffer()))
            buffers.append(self.pointer(extra))
        if kind == "reduce":
            extent = reduce_kernel(k, root, out_ptr)
            work = _work(root.producer.operands[0].shape, extent)
        else:
            extent = loop_kernel(k, root, out_ptr)
            work = _work(root.shape, extent)
        self.call(k, buffers, extent, work)

    def scratch(self, instr):
        offset = self.plan.scratch.get(id(instr))
        if offset is None:
            raise CompileError("no scratch space assigned to %s" % instr.op)
        return self.b.gep(I8, self.temp, [self.size(offset)])

    def instruction(self, instr):
        op = instr.op
        self.what = _describe(instr)
        if op in ("constant", "reshape"):
            return
        if op == "fusion":
            body = instr.params["body"]
            return self.fused(instr, body.fn, body.kind)
        if op in KERNELS:
            return KERNELS[op](self, instr)
        if op in ELEMENT or PRIMITIVES[op].kind == REDUCTION:
            # Unfused (the fusion pass was disabled): a one-instruction fusion.
            sub = Function("single_" + op)
            feeds = [sub.add_feed("in%d" % i, o.dtype, o.shape)
                     for i, o in enumerate(instr.operands)]
            copy = Instr(op, feeds, instr.params, [])
            copy.outputs = [Value(v.dtype, v.shape, producer=copy) for v in instr.outputs]
            sub.body.append(copy)
            sub.add_fetch("out", copy.outputs[0])
            kind = "reduce" if PRIMITIVES[op].kind == REDUCTION else "loop"
            return self.fused(instr, FusedComputation(kind, sub).fn, kind)
        raise CompileError("the cpu backend cannot emit primitive %r" % op)

    def build(self):
        for instr in self.fn.body:
            self.instruction(instr)
        b = self.b
        for kind, index, v in self.plan.copies:
            vector = self.fetches if kind == "fetch" else self.state
            dst = b.load(b.gep(PTR, vector, [ir.Constant(I64, index)]), typ=PTR)
            nbytes = b.mul(self.extent(v.shape), ir.Constant(I64, v.dtype.itemsize))
            memmove = intrinsic(self.module, "llvm.memmove", [PTR, PTR, I64], ret=ir.VoidType(),
                                args=[PTR, PTR, I64, ir.IntType(1)])
            b.call(memmove, [dst, self.pointer(v), nbytes, ir.Constant(ir.IntType(1), 0)])
        b.ret(ir.Constant(I32, 0))
        return str(self.module)


def _describe(instr):
    """A short label: the root primitive, the output shapes and, for a GEMM, m x n x k."""
    shapes = " ".join("x".join(map(str, v.shape)) or "scalar" for v in instr.outputs)
    body = instr.params.get("body") if instr.op == "fusion" else None
    op = "%s:%s" % (body.kind, body.fn.fetches[0].producer.op) if body else instr.op
    dot = dots.fusion_parts(body.fn)[0] if body and body.kind == "dot" else instr
    if dot.op == "dot_general" and _canonical_dot(dot):
        layout = dots.Layout(dot)
        shapes += " (gemm %sx%sx%s)" % (layout.M, layout.N, layout.K)
    return "%s [%s]" % (op, shapes)


def _dot(mb, instr):
    if not _canonical_dot(instr):
        raise CompileError("dot_general is not in the canonical layout the cpu backend takes "
                           "(is the dot_layout pass disabled?)")
    dots.emit(mb, instr, mb.pointer(instr.operands[0]), mb.pointer(instr.operands[1]),
              mb.pointer(instr.outputs[0]), lambda: mb.scratch(instr))


def _scatter_add(mb, instr):
    k = mb.kernel("scatter_add")
    ptrs = [k.buffer() for _ in instr.operands]
    out = k.buffer()
    scatter_add_kernel(k, instr, ptrs, out)
    mb.call(k, [mb.pointer(o) for o in instr.operands] + [mb.pointer(instr.outputs[0])], ())


# Kernel builders for primitives that are not element-wise: `build(module_builder, instr)`.
KERNELS = {"dot_general": _dot, "scatter_add": _scatter_add, "rng": _rng,
           "im2col": window_kernels.im2col, "col2im": window_kernels.col2im,
           "reduce_window": window_kernels.reduce_window,
           "select_and_scatter_add": window_kernels.select_and_scatter_add,
           "select_and_gather": window_kernels.select_and_gather}


def build_module(fn, standalone=False, profiled=False, vector_bytes=None):
    """(LLVM IR text, entry function name, profiler or None) for an optimized function with
    a buffer plan; `standalone` puts the GEMM library functions it calls in the module (for
    object code that must link on its own) instead of declaring them; `profiled` times every
    kernel launch (graphc.backend.cpu.profile). `vector_bytes`: the target's vector width
    (default: the host's), which picks the GEMM blocking; the pipeline's `scratch` and
    `in_place` hooks must have been given the same."""
    for instr in fn.body:
        if instr.op != "fusion" and not supported(instr.op):
            raise CompileError("the cpu backend cannot emit primitive %r" % instr.op)
    mb = ModuleBuilder(fn, standalone, profiled, vector_bytes)
    return mb.build(), mb.name, mb.profiler


