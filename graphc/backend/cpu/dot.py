"""dot_general and "dot" fusions on the CPU backend, in the canonical layout of
graphc.passes.dot_layout (rank-3 operands with one batch, one free and one contracting axis
each, in any order; output [batch, M, N] row-major).

float32 / float64 dots whose operands have unit stride along one of their two matrix axes
(every transpose combination: the other axis is the leading dimension) run the packed GEMM
of gemm_kernel.py. Its functions are large, so each variant (dtype, transposes, epilogue) is
compiled once per process into a library of its own, calling the micro-kernels all variants
of the dtype share (another library; both through the disk cache, keyed by name and graphc's
source), and the module declares it; `standalone=True` emits them into the module instead
(self-contained object code). Any other dot (integers, a batch axis innermost) runs a simple
loop kernel.

Epilogues. Starting at the dot, the longest chain of the fusion body that gemm_kernel's
`Epilogue` expresses is applied to each tile in registers: x = alpha * acc (a multiply by a
scalar), + bias[j] (a vector broadcast along the rows), + residual (an operand of C's shape),
then relu (max with 0), sigmoid (logistic) or tanh, then a mask (select(r >= 0 or r > 0, x,
0) with r an operand of C's shape, in place of a residual: the gradient of a relu), each step
optional and in that order, and each intermediate value read by nothing else. The rest of the
body runs afterwards as an element-wise loop over C in place.

Threads. C (and the batch) is cut into rectangles: `parts` rectangles per batch element
along the longer side of C at micro-tile multiples, each of at least MIN_WORK multiply-adds,
and no more than the call's threads (read from the runtime's `graphc_rt` by the kernel and
its caller alike: every rectangle repacks an operand, which a thread running several of them
would redo for nothing). The batch x parts tiles run on the thread pool in at most SLOTS
chunks; chunk s packs into slot s of the instruction's scratch space, sized for C whole.
gemm_kernel computes every element of C the same way whatever rectangle contains it, so the
bits never depend on the rectangles, nor on the thread count.

Split-K. A C too small to cut (one batch element, one rectangle) over a long contraction
(the filter gradient of a first conv layer: 25 x 32 x 50176) is cut along K instead: S parts,
fixed by the shape (each at least SPLIT_K_MIN_WORK multiply-adds, at most SPLIT_K_PARTS),
cover whole KC chunks of K in order (whole images of the patches as well for an implicit
lhs); part s runs the plain GEMM of its K range into its own partial C in the scratch space,
then a second kernel sums the partials in order s = 0, 1, ... into C. The fusion's epilogue
then runs as the element-wise loop over C (match_epilogue maps none). The split, and so the
bits, depend on the shape alone."""

from dataclasses import dataclass

import numpy as np
from llvmlite import ir

from graphc.backend import CompileError
from graphc.backend.cpu import gemm_kernel as gk
from graphc.backend.cpu.types import I8, I64, PTR, is_float, reg_type
from graphc.ir.shapes import SymDim

# Each rectangle repacks the operand it shares with the others (A when C is cut along N, B
# along M), so rectangles stay large: MIN_TILES_N x NR columns or MIN_TILES_M x MR rows, at
# most MAX_PARTS per batch element (and one per thread of the call), and at least MIN_WORK
# multiply-adds (a few microseconds on one core: the pool's helpers spin between loops, so
# a launch costs about one). Measured on two threads: n = 1024 runs 1.9x faster; the small
# products of the MNIST MLP's step (100 x 500 x 10, 500 x 10 x 100, 100 x 10 x 500) 1.4-1.8x.
# When the longer side is too short for that, the other may not be: 200 x 200 x 200 and
# 128 x 200 x 300 run 1.5-1.7x faster cut along M than whole.
MIN_WORK = 1 << 17
MAX_PARTS = 4
MIN_TILES_N, MIN_TILES_M = 8, 8
SLOTS = 8  # parallel chunks (and packing scratch slots) per GEMM at most
BIG = 1 << 40  # stands for a symbolic size in scratch bounds (gemm_kernel caps it)
# Split-K: at most SPLIT_K_PARTS parts (scratch slots) of at least SPLIT_K_MIN_WORK
# multiply-adds (more than a rectangle: each part adds a partial C to write and sum), for C
# of at most SPLIT_K_MAX_MN elements (which bounds the partials' scratch).
SPLIT_K_PARTS = 8
SPLIT_K_MIN_WORK = 1 << 22
SPLIT_K_MAX_MN = 1 << 16


def _static(d):
    return not isinstance(d, SymDim)


class Layout:
    """Sizes, axes and the GEMM variant of one canonical dot_general; `implicit` when its lhs
    is gathered from an im2col's operand (see fusion_parts)."""

    def __init__(self, instr, implicit=False, vector_bytes=None):
        self.implicit = bool(implicit)
        lhs, rhs = instr.operands
        p = instr.params
        self.lhs, self.rhs, self.out = lhs, rhs, instr.outputs[0]
        self.dtype = lhs.dtype
        self.bl, self.cl = p["lhs_batch"][0], p["lhs_contract"][0]
        self.fl = 3 - self.bl - self.cl
        self.br, self.cr = p["rhs_batch"][0], p["rhs_contract"][0]
        self.fr = 3 - self.br - self.cr
        self.B, self.M, self.K = lhs.shape[self.bl], lhs.shape[self.fl], lhs.shape[self.cl]
        self.N = rhs.shape[self.fr]

        def unit(x, axis):  # every later axis has static size 1
            return all(_static(d) and d == 1 for d in x.shape[axis + 1:])
        self.trans_a = self.trans_b = None
        if self.dtype in gk.DTYPES:
            if unit(lhs, self.cl):
                self.trans_a, self.lda_axis = False, self.fl
            elif unit(lhs, self.fl):
                self.trans_a, self.lda_axis = True, self.cl
            if unit(rhs, self.fr):
                self.trans_b, self.ldb_axis = False, self.cr
            elif unit(rhs, self.cr):
                self.trans_b, self.ldb_axis = True, self.fr
        if self.implicit and self.trans_a is not None:
            # A gathered lhs [rows, cols, 1] is P (columns contracted) or P^T, whatever unit
            # dims would allow.
            self.trans_a = self.cl == 0
        self.fast = self.trans_a is not None and self.trans_b is not None
        # The GEMM blocking of the target's vector width (default: the host's, as JIT code
        # runs there); scratch sizes, the work split and the kernels all follow it.
        self.blk = (gk.blocking(self.dtype, vector_bytes or _host_vector_bytes())
                    if self.dtype in gk.DTYPES else None)

    # ---- the work split (one formula for Python ints and LLVM values)
    def plan(self, o, B, M, N, K, threads=None):
        """(parts, along_n, size, unit, tiles, total, chunk): `parts` rectangles per batch
        element cut along N (along_n) or M, whose `size` is `tiles` micro-tiles of `unit`;
        total = B * parts tiles run in chunks of `chunk`, at most SLOTS chunks. The longer
        side is cut unless the other one makes more rectangles (200 x 200 x 200: too few
        columns for two, enough rows). Without `threads` (the call's thread count) the most
        rectangles any thread count gets."""
        blk = self.blk
        most = o.min(o.max(o.div(o.mul(o.mul(M, N), K), o.c(MIN_WORK)), o.c(1)),
                     o.c(MAX_PARTS))
        if threads is not None:
            most = o.min(most, o.max(threads, o.c(1)))

        def cut(size, unit, min_tiles):  # (rectangles, tiles) cutting `size`
            tiles = o.div(o.add(size, o.c(unit - 1)), o.c(unit))
            return o.min(most, o.max(o.div(tiles, o.c(min_tiles)), o.c(1))), tiles
        (by_n, tiles_n), (by_m, tiles_m) = cut(N, blk.nr, MIN_TILES_N), cut(M, blk.mr,
                                                                          MIN_TILES_M)
        along_n = o.sel(o.ge(N, M), o.ge(by_n, by_m), o.ge(by_n, o.add(by_m, o.c(1))))
        parts, tiles = o.sel(along_n, by_n, by_m), o.sel(along_n, tiles_n, tiles_m)
        size = o.sel(along_n, N, M)
        unit = o.sel(along_n, o.c(blk.nr), o.c(blk.mr))
        total = o.mul(B, parts)
        chunk = o.max(o.div(o.add(total, o.c(SLOTS - 1)), o.c(SLOTS)), o.c(1))
        return parts, along_n, size, unit, tiles, total, chunk

    def slot_bytes(self):
        """Scratch bytes of one chunk: the packed blocks for the widest rectangle, C whole
        (one thread)."""
        M, N, K = (d if _static(d) else BIG for d in (self.M, self.N, self.K))
        return -(-gk.scratch_bytes(max(M, 1), max(N, 1), K, self.dtype, self.implicit,
                                   self.blk) // 64) * 64

    def split_k(self):
        """Whether the contraction is cut into parts (see the module docstring): one static
        batch element, a static C of at most SPLIT_K_MAX_MN elements that the rectangle
        split leaves whole, and a K long enough for two parts (or symbolic: the parts are
        then counted at run time, maybe one)."""
        if not self.fast or not all(_static(d) for d in (self.B, self.M, self.N)) or \
                self.B != 1 or self.M * self.N > SPLIT_K_MAX_MN:
            return False
        if self.implicit and not self.trans_a:
            return False  # K runs over the patches' columns, not whole images
        K = self.K if _static(self.K) else BIG
        if self.plan(_Py, 1, self.M, self.N, K)[0] != 1:
            return False
        return not _static(self.K) or self.k_parts(_Py, self.K, self.blk.kc)[0] > 1

    def k_parts(self, o, K, unit):
        """(parts, units): K in `units` runs of `unit` (the last one shorter), cut into
        `parts` parts of whole runs, each of at least SPLIT_K_MIN_WORK multiply-adds."""
        units = o.div(o.add(K, o.c(unit - 1)), o.c(unit))
        work = o.div(o.mul(o.c(self.M * self.N), K), o.c(SPLIT_K_MIN_WORK))
        return o.min(o.min(o.max(work, o.c(1)), o.c(SPLIT_K_PARTS)), units), units

    def partial_bytes(self):
        """Scratch bytes of one split-K partial C."""
        return -(-self.M * self.N * self.dtype.itemsize // 64) * 64

    def scratch_bytes(self):
        if not self.fast:
            return 0
        if self.split_k():
            return SPLIT_K_PARTS * (self.slot_bytes() + self.partial_bytes())
        slots = SLOTS
        if all(_static(d) for d in (self.B, self.M, self.N, self.K)):
            # A call runs ceil(total / ceil(total / SLOTS)) <= min(total, SLOTS) chunks, and
            # its total (fewer rectangles with fewer threads) is at most the plan's for any
            # thread count.
            total = self.plan(_Py, self.B, self.M, self.N, self.K)[5]
            slots = max(1, min(total, SLOTS))
        return slots * self.slot_bytes()


class _Py:
    """The plan's arithmetic on Python ints."""
    c = staticmethod(lambda v: v)
    add = staticmethod(lambda x, y: x + y)
    sub = staticmethod(lambda x, y: x - y)
    mul = staticmethod(lambda x, y: x * y)
    div = staticmethod(lambda x, y: x // y)
    min = staticmethod(min)
    max = staticmethod(max)
    ge = staticmethod(lambda x, y: x >= y)
    sel = staticmethod(lambda c, x, y: x if c else y)


class _IR:
    """The plan's arithmetic on i64 LLVM values (all non-negative)."""

    def __init__(self, b):
        self.b = b

    def c(self, v):
        return ir.Constant(I64, v)

    def add(self, x, y):
        return self.b.add(x, y)

    def sub(self, x, y):
        return self.b.sub(x, y)

    def mul(self, x, y):
        return self.b.mul(x, y)

    def div(self, x, y):
        return self.b.sdiv(x, y)

    def min(self, x, y):
        return self.b.select(self.b.icmp_signed("<", x, y), x, y)

    def max(self, x, y):
        return self.b.select(self.b.icmp_signed(">", x, y), x, y)

    def ge(self, x, y):
        return self.b.icmp_signed(">=", x, y)

    def sel(self, c, x, y):
        return self.b.select(c, x, y)


def _host_vector_bytes():
    from graphc.backend.cpu import llvm
    return llvm.vector_bytes()


def scratch_bytes(instr, implicit=False, vector_bytes=None):
    """Scratch bytes a canonical dot_general needs (0 on the simple path) on a target with
    `vector_bytes`-wide vectors (default: the host's)."""
    return Layout(instr, implicit, vector_bytes).scratch_bytes()


def fusion_parts(body):
    """(dot, patches) of a "dot" fusion body: its dot_general and, when the body starts with
    the im2col (and reshapes) producing the dot's lhs (graphc.passes.fusion), that im2col,
    whose patches the GEMM then gathers from the im2col's operand as it packs A (gemm_kernel's
    implicit variants); else None."""
    dot = next(m for m in body.body if m.op == "dot_general")
    first = body.body[0]
    return dot, (first if first.op == "im2col" else None)


# ---------------------------------------------------------------- epilogue matching

@dataclass
class EpiloguePlan:
    """The part of a dot fusion's body the GEMM applies: `epilogue`, its operands (fusion
    feeds; alpha a Python float or a rank-0-like feed), and `top`, the body value the GEMM
    leaves in C (the dot's output when nothing is mapped); `mapped` holds the ids of the body
    instructions it covers."""
    epilogue: gk.Epilogue
    top: object
    mapped: set
    alpha: object = None
    bias: object = None
    residual: object = None


def _through_reshapes(v):
    while v.producer is not None and v.producer.op == "reshape":
        v = v.producer.operands[0]
    return v


def _splat(v, outer):
    """The value of a body value that is one scalar everywhere: a Python float for a
    constant, a feed for a run-time scalar, None otherwise."""
    v = _through_reshapes(v)
    if v.producer is not None and v.producer.op == "broadcast_in_dim":
        v = _through_reshapes(v.producer.operands[0])
    if v.producer is not None and v.producer.op == "constant":
        c = v.producer.params["value"]
    elif v.id in outer and outer[v.id].is_constant:
        c = outer[v.id].constant_value
    elif v.id in outer and v.producer is None and int(np.prod(
            [d if _static(d) else 2 for d in v.shape])) == 1:
        return v
    else:
        return None
    flat = np.asarray(c).reshape(-1)
    if flat.size == 0 or not np.all(flat == flat[0]):
        return None
    return float(flat[0])


def _is_zero(splat):
    return isinstance(splat, float) and splat == 0.0


def _same_dims(xs, ys):
    return len(xs) == len(ys) and all(x == y for x, y in zip(xs, ys))


def _bias(v, outer, n):
    """The feed of a vector broadcast along the rows of C (value v[.., j]), or None."""
    if v.producer is None or v.producer.op != "broadcast_in_dim":
        return None
    x = v.producer.operands[0]
    feed = _through_reshapes(x)
    dims, shape = v.producer.params["broadcast_dimensions"], v.shape
    r = x.rank
    if feed.id not in outer or r == 0 or tuple(dims) != tuple(range(len(shape) - r, len(shape))):
        return None
    if not _same_dims(x.shape, shape[len(shape) - r:]):
        return None
    # The broadcast vector must be exactly one row of C.
    if len(x.shape) == 1 and x.shape[0] == n:
        return feed
    if all(_static(d) for d in x.shape) and _static(n) and int(np.prod(x.shape)) == n:
        return feed
    return None


def _residual(v, outer, out_elements):
    feed = _through_reshapes(v)
    if feed.id in outer and feed.producer is None and _num(feed.shape) == out_elements:
        return feed
    return None


def _num(shape):
    """Element count as a comparable key (a product of static sizes and symbols)."""
    static = int(np.prod([d for d in shape if _static(d)]))
    syms = sorted((d.name, d.coeff) for d in shape if not _static(d))
    return static * int(np.prod([c for _, c in syms])), tuple(n for n, _ in syms)


_ACTIVATIONS = {"logistic": "sigmoid", "tanh": "tanh"}


def match_epilogue(body, outer, layout):
    """The EpiloguePlan of a "dot" fusion body (its first instruction is the dot); `outer`
    maps the body's feeds (by id) to the fusion's operands."""
    dot = fusion_parts(body)[0]
    top = dot.outputs[0]
    plan = EpiloguePlan(gk.Epilogue(), top, set())
    if not layout.fast or layout.split_k():
        return plan  # split-K: the epilogue runs over C after the partials are summed
    uses = {}
    for m in body.body:
        for o in m.operands:
            uses.setdefault(o.id, []).append(m)
    for f in body.fetches:  # a fetched value must stay in memory: it ends the chain
        uses.setdefault(f.id, []).append(None)
    out_elements = _num(layout.out.shape)
    fields = {}
    # 1 alpha, 2 bias, 3 residual, 4 activation, 5 mask: each only after the earlier ones
    stage = 0
    cur = top
    path = set()
    while len(uses.get(cur.id, [])) == 1 and stage < 5:
        user = uses[cur.id][0]
        if user is None:
            break
        out = user.outputs[0]
        if user.op == "reshape":
            path.add(id(user))
            cur = out
            continue
        other = [o for o in user.operands if o is not cur]
        if len(user.operands) == 2 and len(other) != 1:
            break  # x op x
        step = None
        if user.op == "select":
            mask = _mask(user, cur, outer, out_elements)
            if mask is not None and "residual" not in fields and \
                    fields.get("activation") in (None, "relu"):
                step = 5, dict(mask=mask[0], residual=mask[1])
        elif user.op == "mul" and stage < 1:
            alpha = _splat(other[0], outer)
            if alpha is not None:
                step = 1, dict(alpha=alpha)
        elif user.op == "add" and stage < 3:
            bias = _bias(other[0], outer, layout.N) if stage < 2 else None
            residual = _residual(other[0], outer, out_elements)
            if bias is not None:
                step = 2, dict(bias=bias)
            elif residual is not None:
                step = 3, dict(residual=residual)
        elif user.op == "sub" and stage < 3 and user.operands[1] is cur:
            # residual - alpha * acc (a variable's gradient-descent update): negate alpha.
            residual = _residual(other[0], outer, out_elements)
            alpha = fields.get("alpha", 1.0)
            if residual is not None and isinstance(alpha, float):
                step = 3, dict(residual=residual, alpha=-alpha)
        elif user.op == "max" and stage < 4 and _is_zero(_splat(other[0], outer)):
            step = 4, dict(activation="relu")
        elif user.op in _ACTIVATIONS and stage < 4:
            step = 4, dict(activation=_ACTIVATIONS[user.op])
        if step is None:
            break
        stage = step[0]
        fields.update(step[1])
        path.add(id(user))
        cur = out
        plan.top = cur
        plan.mapped = set(path)
    if plan.top is top:
        return plan
    plan.alpha = fields.get("alpha")
    plan.bias = fields.get("bias")
    plan.residual = fields.get("residual")
    plan.epilogue = gk.Epilogue(alpha="alpha" in fields, bias="bias" in fields,
                                residual="residual" in fields and "mask" not in fields,
                                activation=fields.get("activation"), mask=fields.get("mask"))
    return plan


# compare op -> (mask kind, which operand is r) for r >= 0 / r > 0 written either way round
_MASK_COMPARES = {"ge": ("ge", 0), "le": ("ge", 1), "gt": ("gt", 0), "lt": ("gt", 1)}


def _mask(select, cur, outer, out_elements):
    """(kind, r) when `select` is select(r >= 0 or r > 0, cur, 0) with r a feed of C's size
    (in either operand order of the compare), else None."""
    pred, on_true, on_false = select.operands
    if on_true is not cur or not _is_zero(_splat(on_false, outer)) or pred.producer is None:
        return None
    compare = pred.producer
    kind = _MASK_COMPARES.get(compare.op)
    if kind is None:
        return None
    r, zero = compare.operands[kind[1]], compare.operands[1 - kind[1]]
    r = _residual(r, outer, out_elements)
    if r is None or not _is_zero(_splat(zero, outer)) or r.dtype != cur.dtype:
        return None
    return kind[0], r


def in_place_residual(body, outer, layout):
    """The residual operand `r` (outer value) a dot fusion may write its output over, or None:
    r may be overwritten (
    e.g. a variable's gradient-descent update W - lr * x^T dy computed straight into W's
    buffer) when the GEMM and its epilogue are the whole body, r is read only as the residual,
    and the contraction is one KC chunk, so each element of r is read once, right before the
    same element of C is stored (with more chunks C holds partial sums first)."""
    plan = match_epilogue(body, outer, layout)
    if plan.residual is None or plan.epilogue.mask or plan.top is not body.fetches[0] or \
            len(body.fetches) != 1:
        return None
    r = outer[plan.residual.id]
    if any(outer[f.id] is r for f in body.feeds if f is not plan.residual):
        return None
    if not (_static(layout.K) and layout.K <= layout.blk.kc):
        return None
    return r


# ---------------------------------------------------------------- the GEMM library

def variant_name(layout, ep):
    tag = "".join(c for c, on in (("a", ep.alpha), ("b", ep.bias), ("r", ep.residual)) if on)
    tag += "m" + ep.mask if ep.mask else ""
    return "graphc_gemm_%s_%s%s_%s_%s%s" % (layout.dtype.name, "t" if layout.trans_a else "n",
                                            "t" if layout.trans_b else "n", tag or "x",
                                            ep.activation or "linear",
                                            "_im2col" if layout.implicit else "") + \
        "_" + layout.blk.tag


def _load_variant(name, layout, ep):
    """Compiles the GEMM variant (once per process, objects from the disk cache) as two
    libraries: the micro-kernels, shared by every variant of the dtype and blocking, and the
    variant's own packing and blocking code; makes its symbol visible to later JIT-compiled
    modules."""
    from graphc.backend.cpu import llvm
    dtype, blk = layout.dtype, layout.blk
    kset = gk.kernel_set(dtype, ep, blk)
    kernel_names = gk.kernel_names(dtype, ep, blk)

    def kernels():
        module = ir.Module(name=kset)
        gk.emit_kernels(module, dtype, ep, blk)
        return str(module)

    def variant():
        module = ir.Module(name=name)
        gk.emit_sgemm(module, name, dtype, layout.trans_a, layout.trans_b, ep,
                      extern_kernels=True, implicit=layout.implicit, blk=blk)
        return str(module)
    lib = llvm.compile_library(kset, kernels, kernel_names)
    llvm.compile_library(name, variant, [name], [(k, lib.digest) for k in kernel_names])


def gemm_function(module, layout, ep, standalone=False):
    """The module's declaration (or, standalone, definition) of the GEMM variant."""
    name = variant_name(layout, ep)
    fn = module.globals.get(name)
    if fn is not None:
        return fn
    if standalone:
        return gk.emit_sgemm(module, name, layout.dtype, layout.trans_a, layout.trans_b, ep,
                             implicit=layout.implicit, blk=layout.blk)
    _load_variant(name, layout, ep)
    t = reg_type(layout.dtype)
    args = [I64, I64, I64, PTR, I64, PTR, I64, PTR, I64, PTR, I64, I64, I64, I64, PTR, PTR,
            I64, t]
    return ir.Function(module, ir.FunctionType(ir.VoidType(), args), name)


# ---------------------------------------------------------------- kernels

def _strides(k, x):
    out = [None] * 3
    s = k.one
    for a in (2, 1, 0):
        out[a] = s
        s = k.b.mul(s, k.dim(x.shape[a]))
    return out


def _descriptor(k, patches, x_ptr):
    """The im2col descriptor (gemm_kernel.IM2COL_FIELDS) of `patches` (an im2col instruction)
    reading x at x_ptr, in an alloca of kernel k."""
    x, p = patches.operands[0], patches.params
    n = x.rank - 2
    pad = 3 - n

    def dims(values, fill):
        return [ir.Constant(I64, fill)] * pad + [
            v if isinstance(v, ir.Value) else k.dim(v) for v in values]
    window = tuple(p["window_dimensions"])
    merged = p["rhs_dilation"][-1] == 1  # the last window dim's offsets are one run
    c = k.dim(x.shape[-1])
    seg = k.b.mul(c, ir.Constant(I64, window[-1])) if merged else c
    fields = dict(zip(gk.IM2COL_FIELDS, [k.b.ptrtoint(x_ptr, I64)] + dims(x.shape[1:-1], 1) +
                      [c] + dims(patches.outputs[0].shape[1:n + 1], 1) +
                      dims(window[:-1] + ((1,) if merged else window[-1:]), 1) +
                      dims(p["window_strides"], 1) + dims(p["rhs_dilation"], 1) +
                      dims([lo for lo, _ in p["padding"]], 0) + [seg]))
    desc = k.alloca(I64, ir.Constant(I64, len(gk.IM2COL_FIELDS)))
    for i, name in enumerate(gk.IM2COL_FIELDS):
        k.b.store(fields[name], k.b.gep(I64, desc, [ir.Constant(I64, i)]))
    return desc


def emit(mb, instr, a, b, c, scratch, plan=None, operands=None, patches=None):
    """Emits the kernels computing dot `instr` (plus `plan`'s epilogue) into buffer c, with
    a, b the operands' buffers (entry-function pointers), `scratch()` the pointer to the
    scratch space of the instruction holding the dot and `operands` the entry pointers of
    the epilogue's feeds (by feed id). With `patches` (the im2col producing the lhs, see
    fusion_parts), a is the im2col's operand, gathered by an implicit GEMM variant."""
    layout = Layout(instr, patches is not None, getattr(mb, "vector_bytes", None))
    if patches is not None and not layout.fast:
        raise CompileError("the cpu backend cannot gather the patches of a %s dot_general"
                           % layout.dtype.name)
    if layout.dtype == np.bool_ or layout.dtype.kind not in "fiu" or \
            layout.dtype.itemsize < 4:
        raise CompileError("the cpu backend cannot emit primitive 'dot_general' for dtype %s"
                           % layout.dtype.name)
    if not layout.fast:
        return _simple(mb, layout, a, b, c)
    plan = plan or EpiloguePlan(gk.Epilogue(), instr.outputs[0], set())
    ep = plan.epilogue
    fn = gemm_function(mb.module, layout, ep, getattr(mb, "standalone", False))
    if layout.split_k() and plan.top is instr.outputs[0]:
        return _split_k(mb, layout, fn, a, b, c, scratch(), patches)
    k = mb.kernel("gemm")
    bufs = [a, b, c, scratch()]
    pa, pb, pc, ps = (k.buffer() for _ in range(4))
    if patches is not None:
        pa = _descriptor(k, patches, pa)  # the batch (of one) offset below stays 0
    t = reg_type(layout.dtype)
    null = ir.Constant(PTR, None)
    pbias = pres = null
    alpha = ir.Constant(t, 1.0)
    if plan.bias is not None:
        bufs.append(operands[plan.bias.id])
        pbias = k.buffer()
    if plan.residual is not None:
        bufs.append(operands[plan.residual.id])
        pres = k.buffer()
    if isinstance(plan.alpha, float):
        alpha = ir.Constant(t, plan.alpha)
    elif plan.alpha is not None:
        bufs.append(operands[plan.alpha.id])
        alpha = k.b.load(k.buffer(), typ=t)
    bb = k.b
    M, N, K, B = (k.dim(d) for d in (layout.M, layout.N, layout.K, layout.B))
    parts, along_n, size, unit, tiles, _, chunk = layout.plan(_IR(bb), B, M, N, K,
                                                              _threads(bb, k.rt))
    sa, sb = _strides(k, layout.lhs), _strides(k, layout.rhs)
    lda, ldb = sa[layout.lda_axis], sb[layout.ldb_axis]
    mn = bb.mul(M, N)
    scratch = bb.gep(I8, ps, [bb.mul(bb.sdiv(k.start, chunk),
                                     ir.Constant(I64, layout.slot_bytes()))])
    o = _IR(bb)

    def tile(ti):
        bi, r = bb.sdiv(ti, parts), bb.srem(ti, parts)
        lo = o.min(size, bb.mul(bb.sdiv(bb.mul(tiles, r), parts), unit))
        hi = o.min(size, bb.mul(bb.sdiv(bb.mul(tiles, bb.add(r, k.one)), parts), unit))
        row0, row1 = bb.select(along_n, k.zero, lo), bb.select(along_n, M, hi)
        col0, col1 = bb.select(along_n, lo, k.zero), bb.select(along_n, hi, N)
        at = lambda p, off: bb.gep(t, p, [off])  # noqa: E731
        res = at(pres, bb.mul(bi, mn)) if plan.residual is not None else null
        bb.call(fn, [M, N, K, at(pa, bb.mul(bi, sa[layout.bl])), lda,
                     at(pb, bb.mul(bi, sb[layout.br])), ldb, at(pc, bb.mul(bi, mn)), N,
                     scratch, row0, row1, col0, col1, pbias, res, N, alpha])
    k.loop(k.start, k.end, tile)
    k.finish()
    mo = _IR(mb.b)
    mM, mN, mK, mB = (mb.dim(d) for d in (layout.M, layout.N, layout.K, layout.B))
    _, _, _, _, _, total, mchunk = layout.plan(mo, mB, mM, mN, mK, _threads(mb.b, mb.rt))
    mb.call(k, bufs, total, chunk=mchunk)


def _threads(b, rt):
    """The call's thread count: graphc_rt's first field (runtime/graphc_rt.c)."""
    return b.sext(b.load(rt, typ=ir.IntType(32)), I64)


def _split_k(mb, layout, fn, a, b, c, scratch, patches):
    """Split-K (see the module docstring): the parts' GEMMs into partial Cs (chunk s: part s,
    packing in scratch slot s), then their sum in part order into C."""
    t = reg_type(layout.dtype)
    slot, partial = layout.slot_bytes(), layout.partial_bytes()
    unit = layout.blk.kc
    if patches is not None:
        # Parts start at whole images of x: K runs over the patch rows, image by image.
        image_rows = int(np.prod(patches.outputs[0].shape[1:patches.operands[0].rank - 1]))
        unit = unit * image_rows // np.gcd(unit, image_rows)
    k = mb.kernel("gemm_split_k")
    pa, pb, ps = k.buffer(), k.buffer(), k.buffer()
    bb = k.b
    M, N, K = (k.dim(d) for d in (layout.M, layout.N, layout.K))
    parts, units = layout.k_parts(_IR(bb), K, unit)
    sa, sb = _strides(k, layout.lhs), _strides(k, layout.rhs)
    lda, ldb = sa[layout.lda_axis], sb[layout.ldb_axis]
    o = _IR(bb)

    def part(s):
        k0 = o.min(K, bb.mul(bb.sdiv(bb.mul(units, s), parts), o.c(unit)))
        k1 = o.min(K, bb.mul(bb.sdiv(bb.mul(units, bb.add(s, k.one)), parts), o.c(unit)))
        if patches is None:
            a_at = bb.gep(t, pa, [bb.mul(k0, sa[layout.cl])])
        else:
            image = int(np.prod(patches.operands[0].shape[1:]))
            x_at = bb.gep(t, pa, [bb.mul(bb.sdiv(k0, o.c(image_rows)), o.c(image))])
            a_at = _descriptor(k, patches, x_at)
        c_at = bb.gep(I8, ps, [bb.add(o.c(SPLIT_K_PARTS * slot), bb.mul(s, o.c(partial)))])
        bb.call(fn, [M, N, bb.sub(k1, k0), a_at, lda, bb.gep(t, pb, [bb.mul(k0, sb[layout.cr])]),
                     ldb, c_at, N, bb.gep(I8, ps, [bb.mul(s, o.c(slot))]), k.zero, M, k.zero, N,
                     ir.Constant(PTR, None), ir.Constant(PTR, None), N, ir.Constant(t, 1.0)])
    k.loop(k.start, k.end, part)
    k.finish()
    mparts, _ = layout.k_parts(_IR(mb.b), mb.dim(layout.K), unit)
    mb.call(k, [a, b, scratch], mparts, chunk=ir.Constant(I64, 1))

    # C = partial 0 + partial 1 + ... (no parts, K = 0: zeros), a run of elements at a time.
    k = mb.kernel("gemm_split_k_sum")
    pc, ps = k.buffer(), k.buffer()
    bb = k.b
    parts, _ = layout.k_parts(_IR(bb), k.dim(layout.K), unit)
    base = bb.gep(I8, ps, [ir.Constant(I64, SPLIT_K_PARTS * slot)])

    def first(e):
        value = bb.load(bb.gep(t, base, [e]), typ=t)
        k.store(pc, layout.dtype, e, bb.select(bb.icmp_signed(">", parts, k.zero), value,
                                              ir.Constant(t, 0.0)))

    def add(s):
        part_at = bb.gep(I8, base, [bb.mul(s, ir.Constant(I64, partial))])
        k.loop(k.start, k.end, lambda e: k.store(pc, layout.dtype, e, bb.fadd(
            k.load(pc, layout.dtype, e), bb.load(bb.gep(t, part_at, [e]), typ=t))))
    k.loop(k.start, k.end, first)
    k.loop(k.one, parts, add)
    k.finish()
    mb.call(k, [c, scratch], (layout.M, layout.N), work=SPLIT_K_PARTS)


def _simple(mb, layout, a, b, c):
    """C[b, i, j] = sum_p A[b, i, p] B[b, p, j], one element per iteration, any strides and
    dtypes (integers wrap as in TF)."""
    k = mb.kernel("dot")
    pa, pb, pc = k.buffer(), k.buffer(), k.buffer()
    bb = k.b
    dt = layout.dtype
    t = reg_type(dt)
    M, N, K = (k.dim(d) for d in (layout.M, layout.N, layout.K))
    sa, sb = _strides(k, layout.lhs), _strides(k, layout.rhs)
    acc = k.alloca(t)
    zero = ir.Constant(t, 0.0 if is_float(dt) else 0)

    def element(ti):
        j = bb.srem(ti, N)
        rest = bb.sdiv(ti, N)
        i, bi = bb.srem(rest, M), bb.sdiv(rest, M)
        a0 = bb.add(bb.mul(bi, sa[layout.bl]), bb.mul(i, sa[layout.fl]))
        b0 = bb.add(bb.mul(bi, sb[layout.br]), bb.mul(j, sb[layout.fr]))
        bb.store(zero, acc)

        def term(p):
            x = k.load(pa, dt, bb.add(a0, bb.mul(p, sa[layout.cl])))
            y = k.load(pb, dt, bb.add(b0, bb.mul(p, sb[layout.cr])))
            s = bb.load(acc, typ=t)
            bb.store(bb.fadd(s, bb.fmul(x, y)) if is_float(dt) else
                     bb.add(s, bb.mul(x, y)), acc)
        k.loop(k.zero, K, term)
        k.store(pc, dt, ti, bb.load(acc, typ=t))
    k.loop(k.start, k.end, element)
    k.finish()
    mb.call(k, [a, b, c], (layout.B, layout.M, layout.N), work=max(
        1, layout.K if _static(layout.K) else 64))
