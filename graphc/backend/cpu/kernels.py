"""Kernel functions of the CPU backend. Every kernel is one LLVM function

    i32 kernel(ptr args, i64 start, i64 end)

where args = [dims, rt, buffer pointers...] and [start, end) is the part of the kernel's
outer iteration space to run (the whole space when called once; fixed chunks of it on the
thread pool). It returns 0 or an error code (set in rt).

Loop kernels evaluate a fused body's root at every output index by composing the element
emitters (graphc/backend/cpu/emitters.py); reduction kernels evaluate the reduced operand the
same way inside the reduction loops. A multi-output fusion (graphc/passes/fusion.py) gives the
kernel further outputs (`Kernel.extra_outputs`): a loop kernel stores every output at each
index of their common shape; a reduction kernel runs several reductions over the same axes
side by side and stores element-wise outputs (of the reduced operand's shape) at each element
it visits, so an input shared by them is read once."""

import numpy as np
from llvmlite import ir

from graphc.backend import CompileError
from graphc.backend.cpu.emitters import ELEMENT, convert
from graphc.backend.cpu.types import (I32, I64, PTR, Builder, const, is_float, is_signed,
                                      intrinsic, mem_type, reg_type)
from graphc.ir.primitives import ELEMENTWISE, PRIMITIVES
from graphc.ir.shapes import SymDim, num_elements

ARGS_FIXED = 2  # dims, rt
# Columns an input-order reduction (last axis kept) accumulates at once, in a stack array;
# the columns are cut into parallel groups of at least GROUP_WORK elements of the operand (a
# symbolic size counting as SYMBOLIC_ROWS), so small reductions stay one chunk.
COLUMN_BLOCK = 256
GROUP_WORK = 1 << 18
SYMBOLIC_ROWS = 64


class Index:
    """An element position in a shape: the multi-index and the row-major linear index (i64
    LLVM values; both computed when made so they dominate every later use)."""

    def __init__(self, k, shape, multi=None, linear=None):
        self.shape = tuple(shape)
        b = k.b
        if multi is None:
            multi = []
            rest = linear
            for d in reversed(self.shape[1:]):
                n = k.dim(d)
                multi.append(b.urem(rest, n))
                rest = b.udiv(rest, n)
            multi = ([rest] if self.shape else []) + multi[::-1]
        if linear is None:
            linear = k.zero
            for i, d in zip(multi, self.shape):
                linear = b.add(b.mul(linear, k.dim(d)), i)
        self.multi = list(multi)
        self.linear = linear


class FunctionBuilder:
    """Builds one internal LLVM function: loops, branches, typed loads and stores."""

    def __init__(self, module, name, fnty):
        self.fn = ir.Function(module, fnty, name)
        self.fn.linkage = "internal"
        self.module = module
        self.b = Builder(self.fn.append_basic_block("entry"))
        self.zero = ir.Constant(I64, 0)
        self.one = ir.Constant(I64, 1)
        self.memo = {}

    # ---- memory
    def load(self, ptr, dtype, linear):
        b = self.b
        p = b.gep(mem_type(dtype), ptr, [linear])
        v = b.load(p, typ=mem_type(dtype), align=np.dtype(dtype).itemsize)
        return b.icmp_unsigned("!=", v, ir.Constant(v.type, 0)) if dtype == np.bool_ else v

    def store(self, ptr, dtype, linear, value):
        b = self.b
        if dtype == np.bool_:
            value = b.zext(value, mem_type(dtype))
        b.store(value, b.gep(mem_type(dtype), ptr, [linear]), align=np.dtype(dtype).itemsize)

    def alloca(self, typ, count=None):
        """An alloca in the entry block (so LLVM promotes it to registers)."""
        with self.b.goto_entry_block():
            self.b.position_at_start(self.fn.entry_basic_block)
            return self.b.alloca(typ, size=count)

    # ---- control flow
    def loop(self, lo, hi, body):
        """for (i = lo; i < hi; i++) body(i)."""
        b = self.b
        pre = b.block
        head = b.append_basic_block("loop")
        done = b.append_basic_block("loop.end")
        b.cbranch(b.icmp_signed("<", lo, hi), head, done)
        b.position_at_end(head)
        i = b.phi(I64)
        i.add_incoming(lo, pre)
        saved = dict(self.memo)  # values made in the body do not dominate what follows
        body(i)
        self.memo = saved
        nxt = b.add(i, self.one, flags=["nuw", "nsw"])
        i.add_incoming(nxt, b.block)
        b.cbranch(b.icmp_signed("<", nxt, hi), head, done)
        b.position_at_end(done)

    def loops(self, shape, body):
        """Nested loops over every multi-index of `shape` (row-major): body(multi)."""
        def level(prefix):
            if len(prefix) == len(shape):
                body(prefix)
                return
            self.loop(self.zero, self.dim(shape[len(prefix)]), lambda i: level(prefix + [i]))
        level([])

    def branch(self, cond, then, otherwise):
        """`then()` if cond else `otherwise()`, as blocks joined by a phi."""
        b = self.b
        yes = b.append_basic_block("then")
        no = b.append_basic_block("else")
        join = b.append_basic_block("join")
        b.cbranch(cond, yes, no)
        saved = dict(self.memo)
        b.position_at_end(yes)
        a = then()
        yes_end = b.block
        b.branch(join)
        self.memo = dict(saved)
        b.position_at_end(no)
        c = otherwise()
        no_end = b.block
        b.branch(join)
        self.memo = saved
        b.position_at_end(join)
        phi = b.phi(a.type)
        phi.add_incoming(a, yes_end)
        phi.add_incoming(c, no_end)
        return phi


class Kernel(FunctionBuilder):
    """Builds one kernel function; `gen(value, index)` is the element generator."""

    def __init__(self, module, name, dims=(), body=None):
        super().__init__(module, name, ir.FunctionType(I32, [PTR, I64, I64]))
        self.args, self.start, self.end = self.fn.args
        self.nargs = ARGS_FIXED
        self.rt = self.b.load(self._arg_ptr(1), typ=PTR)
        self.dims_ptr = self.b.load(self._arg_ptr(0), typ=PTR)
        self.syms = {name: self.b.load(self.b.gep(I64, self.dims_ptr, [ir.Constant(I64, i)]),
                                       typ=I64) for i, name in enumerate(dims)}
        self.body = body
        self.sources = {}  # value id -> ("buffer", ptr) | ("scalar", llvm constant)
        self.extra_outputs = []  # (body value, pointer) of a multi-output fusion's other outputs
        self._keep = []

    # ---- arguments and dims
    def _arg_ptr(self, i):
        return self.b.gep(PTR, self.args, [ir.Constant(I64, i)])

    def buffer(self):
        """The next buffer argument's pointer."""
        ptr = self.b.load(self._arg_ptr(self.nargs), typ=PTR)
        self.nargs += 1
        return ptr

    def bind(self, value, ptr=None, scalar=None):
        self.sources[value.id] = ("scalar", scalar) if scalar is not None else ("buffer", ptr)

    def dim(self, d):
        if isinstance(d, SymDim):
            if d.name not in self.syms:
                raise CompileError("symbolic dimension %s is not bound" % d.name)
            v = self.syms[d.name]
            return v if d.coeff == 1 else self.b.mul(v, ir.Constant(I64, d.coeff))
        return ir.Constant(I64, d)

    def size(self, shape):
        n = self.one
        for d in shape:
            n = self.b.mul(n, self.dim(d))
        return n

    # ---- element generation
    def index(self, shape, multi=None, linear=None):
        """The Index of a multi-index (one object per shape and multi-index values, so an
        element generated at it is generated once: see hoist_broadcasts) or of a linear
        index."""
        if multi is not None and linear is None:
            key = ("index", tuple(shape), tuple(map(id, multi)))
            idx = self.memo.get(key)
            if idx is None:
                idx = self.memo[key] = Index(self, shape, multi)
                self._keep.append(idx)
            return idx
        idx = Index(self, shape, multi, linear)
        self._keep.append(idx)
        return idx

    def gen(self, value, idx):
        key = (value.id, id(idx))
        if key in self.memo:
            return self.memo[key]
        src = self.sources.get(value.id)
        if src is not None:
            out = src[1] if src[0] == "scalar" else self.load(src[1], value.dtype, idx.linear)
        else:
            instr = value.producer
            if instr.op == "constant":
                out = const(value.dtype, instr.params["value"].reshape(-1)[0]) \
                    if instr.params["value"].size == 1 else None
                if out is None:
                    raise CompileError("constant %r inside a fused body is not bound" % value)
            elif instr.op not in ELEMENT:
                raise CompileError("the cpu backend cannot emit primitive %r" % instr.op)
            else:
                out = ELEMENT[instr.op](self, instr, idx)
        self.memo[key] = out
        return out

    def finish(self, code=0):
        self.b.ret(ir.Constant(I32, code))


# ---------------------------------------------------------------- loop kernels

def _linear_only(body):
    """Whether every member reads its operands at the output's linear index."""
    for instr in body.body:
        kind = PRIMITIVES[instr.op].kind
        if instr.op == "reshape" or (kind == ELEMENTWISE and instr.op != "iota"):
            continue
        if instr.op == "broadcast_in_dim" and num_elements(instr.operands[0].shape) == 1:
            continue
        if instr.op == "constant" or instr.op == "dot_general":
            continue
        return False
    return True


def _store_all(k, outputs, idx):
    """Stores every output's element at idx (all computed before any store, so an output
    written over an input's buffer never feeds another output of the same element)."""
    values = [k.gen(v, idx) for v, _ in outputs]
    for (v, ptr), x in zip(outputs, values):
        k.store(ptr, v.dtype, idx.linear, x)


def hoist_broadcasts(k, shape, outer, multi):
    """Generates, ahead of a loop over the other axes of `shape`, the operands of the body's
    broadcasts to `shape` that vary along the axes `outer` only (at those axes' indices
    `multi`): the loop's elements then find them made (a softmax's log of each row's sum is
    taken once per row, not once per element). Such an operand never reads a reduction of the
    body: what is computed from a reduction's result has the output's shape, made after the
    reduction's loop."""
    for instr in k.body.body:
        if instr.op != "broadcast_in_dim" or tuple(instr.outputs[0].shape) != tuple(shape):
            continue
        x, dims = instr.operands[0], instr.params["broadcast_dimensions"]
        if any(x.shape[i] != 1 and d not in outer for i, d in enumerate(dims)):
            continue
        at = [k.zero if x.shape[i] == 1 else multi[outer.index(d)] for i, d in enumerate(dims)]
        k.gen(x, k.index(x.shape, multi=at))


def loop_kernel(k, root, out_ptr):
    """Stores root's element (and each extra output's) at every index of its shape. Returns
    the outer extent (dims whose product is the [start, end) range the caller passes)."""
    shape = root.shape
    outputs = [(root, out_ptr)] + list(k.extra_outputs)
    b = k.b
    if _linear_only(k.body) or len(shape) <= 1:
        def element(i):
            idx = k.index(shape, linear=i) if len(shape) != 1 else k.index(shape, [i], i)
            _store_all(k, outputs, idx)
        k.loop(k.start, k.end, element)
        extent = tuple(shape)
    else:
        inner = k.dim(shape[-1])

        def row(r):
            outer = k.index(shape[:-1], linear=r)
            base = b.mul(r, inner)
            hoist_broadcasts(k, shape, list(range(len(shape) - 1)), outer.multi)

            def element(j):
                _store_all(k, outputs, k.index(shape, multi=outer.multi + [j],
                                                linear=b.add(base, j)))
            k.loop(k.zero, inner, element)
        k.loop(k.start, k.end, row)
        extent = tuple(shape[:-1])
    k.finish()
    return extent


# ---------------------------------------------------------------- reductions

def identity(kind, dtype):
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return {"sum": 0, "any": 0, "max": 0, "prod": 1, "all": 1, "min": 1}[kind]
    if kind in ("sum", "any"):
        return 0
    if kind in ("prod", "all"):
        return 1
    if dtype.kind == "f":
        return -np.inf if kind == "max" else np.inf
    info = np.iinfo(dtype)
    return info.min if kind == "max" else info.max


def combine(k, kind, dtype, acc, x, reassoc):
    b = k.b
    flags = ("reassoc", "contract") if reassoc else ("contract",)
    if dtype == np.bool_:
        return b.or_(acc, x) if kind in ("sum", "any", "max") else b.and_(acc, x)
    if is_float(dtype):
        if kind == "sum":
            return b.fadd(acc, x, flags=flags)
        if kind == "prod":
            return b.fmul(acc, x, flags=flags)
        name = "llvm.maximum" if kind == "max" else "llvm.minimum"
        return b.call(intrinsic(b.module, name, [acc.type], args=2), [acc, x])
    if kind == "sum":
        return b.add(acc, x)
    if kind == "prod":
        return b.mul(acc, x)
    if kind in ("any", "all"):
        raise CompileError("reduce %s over %s" % (kind, np.dtype(dtype).name))
    cmp = b.icmp_signed if is_signed(dtype) else b.icmp_unsigned
    return b.select(cmp(">" if kind == "max" else "<", x, acc), x, acc)


def _reduction(value):
    """(operand, axes, kind) of a reduce / argmax / argmin output."""
    instr = value.producer
    if instr.op == "reduce":
        return instr.operands[0], tuple(instr.params["axes"]), instr.params["kind"]
    return instr.operands[0], (instr.params["axis"],), instr.op


def reduce_kernel(k, root, out_ptr):
    """Reduction `root` (reduce / argmax / argmin) of its fused operand into out_ptr, with a
    multi-output fusion's further reductions (same axes and operand shape) and element-wise
    outputs (the operand's shape) in the same loops, and its epilogue outputs (element-wise
    functions of the finished reductions, the output's shape) after each output element."""
    x, axes, kind = _reduction(root)
    reductions = [(root, out_ptr)] + [(v, p) for v, p in k.extra_outputs
                                      if v.producer.op == "reduce"]
    elementwise = [(v, p) for v, p in k.extra_outputs
                   if v.producer.op != "reduce" and tuple(v.shape) == tuple(x.shape)]
    # Epilogue outputs: element-wise functions of finished reductions, of the output's shape.
    epilogue = [(v, p) for v, p in k.extra_outputs
                if v.producer.op != "reduce" and tuple(v.shape) != tuple(x.shape)]
    kept = [a for a in range(x.rank) if a not in axes]
    out_shape = root.shape
    b = k.b
    if kind in ("argmax", "argmin") or (x.rank - 1) in axes:
        # Output-stationary: each output element reduces its own elements, last axis innermost.
        accs = [k.alloca(reg_type(_reduction(v)[0].dtype)) for v, _ in reductions]
        best_at = k.alloca(I64)

        def element(o):
            out = k.index(out_shape, linear=o)
            for (v, _), acc in zip(reductions, accs):
                xr, _, kr = _reduction(v)
                b.store(const(xr.dtype, identity("max" if kr == "argmax" else "min" if kr ==
                                                 "argmin" else kr, xr.dtype)), acc)
            b.store(k.zero, best_at)
            hoist_broadcasts(k, x.shape, kept, out.multi)

            def inner(rmulti):
                multi = [None] * x.rank
                for a, i in zip(kept, out.multi):
                    multi[a] = i
                for a, i in zip(axes, rmulti):
                    multi[a] = i
                idx = k.index(x.shape, multi=multi)
                values = [k.gen(_reduction(v)[0], idx) for v, _ in reductions]
                _store_all(k, elementwise, idx)
                for (v, _), acc, xv in zip(reductions, accs, values):
                    xr, _, kr = _reduction(v)
                    cur = b.load(acc, typ=xv.type)
                    if kr in ("argmax", "argmin"):
                        b.store(_arg_update(k, kr, xr.dtype, cur, xv, rmulti[0], acc, best_at),
                                acc)
                    else:
                        b.store(combine(k, kr, xr.dtype, cur, xv, reassoc=True), acc)
            k.loops([x.shape[a] for a in axes], inner)
            for (v, ptr), acc in zip(reductions, accs):
                xr, _, kr = _reduction(v)
                if kr in ("argmax", "argmin"):
                    res = convert(b, b.load(best_at, typ=I64), np.int64, v.dtype)
                else:
                    res = b.load(acc, typ=reg_type(xr.dtype))
                k.store(ptr, v.dtype, o, res)
                k.bind(v, scalar=res)  # what the epilogue reads at this output element
            _store_all(k, epilogue, out)
            for v, _ in reductions:
                del k.sources[v.id]
        k.loop(k.start, k.end, element)
        k.finish()
        return tuple(out_shape)
    return _input_order(k, x, axes, reductions, elementwise, epilogue)


def _input_order(k, x, axes, reductions, elementwise, epilogue):
    """The reductions over axes that leave x's last axis kept. x's axes split into outer ones
    (kept, before the first reduced axis), middle ones (reduced and kept, up to the last
    reduced axis) and the suffix (kept: a contiguous run of C columns per row). One iteration
    of the kernel's range is an outer index and a group of columns (groups of at least
    GROUP_WORK elements of x, fixed by the shape); for each middle kept index and each block
    of at most COLUMN_BLOCK of its columns, it accumulates every row of the middle reduced
    axes into a stack array (out[.., j] op= x[.., j] vectorises over j and keeps the row-major
    order per output, whatever the thread count), then stores the block."""
    b = k.b
    first, last = min(axes, default=x.rank), max(axes, default=x.rank - 1)  # () reduces none
    mid = list(range(first, last + 1))
    mid_kept = [a for a in mid if a not in axes]
    mid_red = [a for a in mid if a in axes]
    outer_shape = tuple(x.shape[:first])
    cols = tuple(x.shape[last + 1:])
    ncols = k.size(cols)
    groups, width = 1, COLUMN_BLOCK  # symbolic columns: one group, in blocks
    if not any(isinstance(d, SymDim) for d in cols):
        total = int(np.prod(cols, dtype=np.int64))
        rows = int(np.prod([SYMBOLIC_ROWS if isinstance(d, SymDim) else d
                            for d in x.shape[first:last + 1]], dtype=np.int64))
        groups = max(1, min(-(-total // COLUMN_BLOCK), total * rows // GROUP_WORK))
        group = max(16, -(-(-(-total // groups)) // 16) * 16)  # a multiple of 16 columns
        width = min(width, group)
    accs = [k.alloca(reg_type(_reduction(v)[0].dtype), ir.Constant(I64, width))
            for v, _ in reductions]
    for acc in accs:
        acc.align = 64
    nb, wc = ir.Constant(I64, groups), ir.Constant(I64, width)
    gc = ir.Constant(I64, group if groups > 1 else 0)
    slot = lambda acc, j: b.gep(acc.allocated_type, acc, [j])  # noqa: E731

    def iteration(it):
        outer = k.index(outer_shape, linear=b.udiv(it, nb))
        lo = b.mul(b.urem(it, nb), gc)
        hi = ncols if groups == 1 else _min(b, ncols, b.add(lo, gc))
        nsub = b.udiv(b.add(b.sub(hi, lo), ir.Constant(I64, width - 1)), wc)

        def kept_row(kmulti):
            out_row = b.mul(k.index(outer_shape + tuple(x.shape[a] for a in mid_kept),
                                    multi=outer.multi + kmulti).linear, ncols)
            k.loop(k.zero, nsub, lambda s: block(kmulti, out_row, b.add(lo, b.mul(s, wc))))

        def block(kmulti, out_row, c0):
            n = _min(b, wc, b.sub(hi, c0))
            for (v, _), acc in zip(reductions, accs):
                xr, _, kr = _reduction(v)
                init = const(xr.dtype, identity(kr, xr.dtype))
                k.loop(k.zero, n, lambda j: b.store(init, slot(acc, j)))

            def row(rmulti):
                multi = [None] * x.rank
                for a, i in zip(range(first), outer.multi):
                    multi[a] = i
                for a, i in zip(mid_kept, kmulti):
                    multi[a] = i
                for a, i in zip(mid_red, rmulti):
                    multi[a] = i
                base = b.mul(k.index(x.shape[:last + 1], multi=multi[:last + 1]).linear,
                             ncols)

                def element(j):
                    c = b.add(c0, j)
                    idx = k.index(x.shape, multi=multi[:last + 1] + _split(k, cols, c),
                                  linear=b.add(base, c))
                    values = [k.gen(_reduction(v)[0], idx) for v, _ in reductions]
                    _store_all(k, elementwise, idx)
                    for (v, _), acc, xv in zip(reductions, accs, values):
                        xr, _, kr = _reduction(v)
                        p = slot(acc, j)
                        b.store(combine(k, kr, xr.dtype, b.load(p, typ=xv.type), xv, False), p)
                k.loop(k.zero, n, element)
            k.loops([x.shape[a] for a in mid_red], row)

            def store(j):
                c = b.add(c0, j)
                o = b.add(out_row, c)
                for (v, ptr), acc in zip(reductions, accs):
                    res = b.load(slot(acc, j), typ=acc.allocated_type)
                    k.store(ptr, v.dtype, o, res)
                    k.bind(v, scalar=res)
                if epilogue:
                    _store_all(k, epilogue, k.index(
                        outer_shape + tuple(x.shape[a] for a in mid_kept) + cols,
                        multi=outer.multi + kmulti + _split(k, cols, c), linear=o))
                for v, _ in reductions:
                    del k.sources[v.id]
            k.loop(k.zero, n, store)
        k.loops([x.shape[a] for a in mid_kept], kept_row)
    k.loop(k.start, k.end, iteration)
    k.finish()
    return outer_shape + ((groups,) if groups > 1 else ())


def _min(b, x, y):
    return b.select(b.icmp_signed("<", x, y), x, y)


def _split(k, dims, c):
    """The multi-index in `dims` of the row-major position c."""
    return [c] if len(dims) == 1 else k.index(dims, linear=c).multi


def _arg_update(k, kind, dtype, cur, v, i, acc, best_at):
    """numpy's argmax/argmin: the first extreme element, and the first NaN beats everything."""
    b = k.b
    if is_float(dtype):
        better = b.fcmp_ordered(">" if kind == "argmax" else "<", v, cur)
        better = b.or_(better, b.and_(b.fcmp_unordered("uno", v, v),
                                      b.fcmp_ordered("ord", cur, cur)))
    else:
        cmp = b.icmp_signed if is_signed(dtype) else b.icmp_unsigned
        better = cmp(">" if kind == "argmax" else "<", v, cur)
    b.store(b.select(better, i, b.load(best_at, typ=I64)), best_at)
    return b.select(better, v, cur)


# ---------------------------------------------------------------- index checks, scatter

def check_indices(k, indices_ptr, indices, bound):
    """Returns error 3 naming the first index (row-major) outside [0, bound)."""
    b = k.b
    fail = b.append_basic_block("bad_index")
    pos = k.alloca(I64, ir.Constant(I32, max(indices.rank, 1)))
    bad_value = k.alloca(I64)
    bad_at = k.alloca(I64)

    def element(i):
        v = convert(b, k.load(indices_ptr, indices.dtype, i), indices.dtype, np.int64)
        ok = b.and_(b.icmp_signed(">=", v, k.zero), b.icmp_signed("<", v, bound))
        cont = b.append_basic_block("index_ok")
        b.store(v, bad_value)
        b.store(i, bad_at)
        b.cbranch(ok, cont, fail)
        b.position_at_end(cont)
    k.loop(k.zero, k.size(indices.shape), element)
    after = b.block
    with b.goto_block(fail):
        idx = k.index(indices.shape, linear=b.load(bad_at, typ=I64))
        for d, v in enumerate(idx.multi):
            b.store(v, b.gep(I64, pos, [ir.Constant(I64, d)]))
        report = k.module.globals.get("graphc_index_error") or ir.Function(
            k.module, ir.FunctionType(I32, [PTR, PTR, I32, I64, I64]), "graphc_index_error")
        code = b.call(report, [k.rt, pos, ir.Constant(I32, indices.rank),
                               b.load(bad_value, typ=I64), bound])
        b.ret(code)
    b.position_at_end(after)


def scatter_add_kernel(k, instr, ptrs, out_ptr):
    operand, indices, updates = instr.operands
    axis = instr.params["axis"]
    b = k.b
    dt = operand.dtype
    src = ptrs[0]
    k.loop(k.zero, k.size(operand.shape),
           lambda i: k.store(out_ptr, dt, i, k.load(src, dt, i)))
    check_indices(k, ptrs[1], indices, k.dim(operand.shape[axis]))
    r = indices.rank

    def element(multi):
        u = k.index(updates.shape, multi=multi)
        w = k.index(indices.shape, multi=multi[axis:axis + r])
        i = convert(b, k.load(ptrs[1], indices.dtype, w.linear), indices.dtype, np.int64)
        o = k.index(operand.shape, multi=multi[:axis] + [i] + multi[axis + r:]).linear
        cur = k.load(out_ptr, dt, o)
        k.store(out_ptr, dt, o, combine(k, "sum", dt, cur, k.load(ptrs[2], dt, u.linear), False))
    k.loops(updates.shape, element)
    k.finish()


