"""A self-contained generator of fast GEMM kernels as LLVM IR (AVX2 or AVX-512 with FMA,
float32/float64): C = op(A) . op(B), then a fused epilogue, for run-time sizes and leading
dimensions.

Design (Goto / BLIS): for each NC-wide column block and KC-deep slice of the contraction, the
B slice is packed into NR-wide panels; for each MC-high row block the A slice is packed into
MR-high panels; a register-blocked MR x NR micro-kernel (MR broadcasts of A times NR/W vectors
of B in MR * NR/W vector accumulators, llvm.fma) runs over every pair of panels. Packing reads
A and B through (row, column) strides, so transposed operands are never materialised, and
zero-fills partial panels, so the micro-kernel's loops never test bounds and only the
write-back of edge tiles is masked. Edge tiles that fit a smaller register tile (at most
`edge_rows` rows, or one vector of columns) run a kernel of that shape over the same panels
instead of a full tile mostly of padding: 3% more GFLOP/s on the MNIST MLP's 100 x 500 x 784,
4% on its CNN's 64 x 1024 x 3136 (one thread, same-run medians). The B micro-panel (KC x NR)
stays in L1, the packed A block (MC x KC) in L2 and the packed B block (KC x NC) in L3; a
short contraction over a small B block runs its tiles row panel by row panel, so C is swept
along its rows (ROWS_OUTER_K); otherwise a rectangle of one row block (each B panel used once)
with B in cache packs each panel right before its tiles instead, into L1.

Blocking per target (`Blocking`, `blocking(dtype, vector_bytes)`): W, MR, NR, MC, KC, NC fit
the target's vector registers and caches: 6 x 16 float32 / 6 x 8 float64 tiles on AVX2 (16
ymm registers), 12 x 32 / 12 x 16 on AVX-512 (32 zmm). Everything here takes the blocking as
`blk` (default: AVX2); the caller picks it from the target it compiles for and passes the same
one to the kernel, scratch_bytes and split. Kernel names carry `Blocking.tag`.

Paths, chosen from the whole problem (m, n, k, strides), never from the rectangle computed:
  - GEMV (n == 1, A rows and the B column contiguous): "dot" kernel, vectorised along k;
  - one row (m == 1, batch-1 inference): "vecmat" streams B row by row into a row
    accumulator (or the dot kernel when B is transposed);
  - few rows (m <= SMALL_M) or little work, B small enough to stay cached: "direct" kernels,
    the micro-kernel reading A and B in place (no packing); transposed B: the dot kernel;
  - otherwise packed; with few columns (n <= NARROW_N * NR) or few rows, A is read in place
    by the micro-kernel and only B is packed;
  - an implicit variant (A = a convolution's patches, gathered block by block from its input:
    "Implicit im2col operand" below) always runs the packed path.
The epilogue's alpha, bias, residual, relu and mask are applied to the accumulators in
registers as each tile is written back; sigmoid, tanh and callables run as one pass over the
just-written tile (still in L1) through a shared function, which keeps the code (and compile
time) small.

Code sharing. The micro-kernels (packed and in-place tiles, direct, dot and vecmat kernels)
read A and B through run-time strides and take alpha, bias, residual and relu as run-time
flags (a tile stores plainly when none is on), so one set of them (`kernel_set`: per dtype,
and per activation applied as a separate pass) serves every transpose and epilogue; a variant
adds only its packing, blocking and dispatch code. Compiled as a library of their own
(`emit_kernels`, then variants with extern_kernels) they are built once per process, which
divides the LLVM time of a program using several variants.

Determinism. Every output element is computed as: for each KC chunk of the contraction (fixed
chunk boundaries 0, KC, 2*KC, ...), acc = 0; acc = fma(a[i, p], b[p, j], acc) for p in order;
then total = acc for the first chunk and total = total + acc after; the epilogue follows. The
packed, direct and vecmat kernels share that sequence (the dot kernel has its own, fixed by k),
and nothing in it depends on where the element sits in a tile or which rectangle of C a call
computes. So C can be split into any rectangles computed by any number of threads: the result
is bit-identical to one call.

The emitted function (`emit_sgemm`) has one ABI for every variant (unused arguments are
ignored; pass null / 0):

    void name(i64 m, i64 n, i64 k, T* a, i64 lda, T* b, i64 ldb, T* c, i64 ldc,
              i8* scratch, i64 row0, i64 row1, i64 col0, i64 col1,
              T* bias, T* residual, i64 ldr, T alpha)

It computes C[row0:row1, col0:col1] of the m x n x k problem (row-major with leading
dimensions lda, ldb, ldc, ldr; A is m x k, or stored k x m when trans_a; B is k x n, or
stored n x k when trans_b) as
    C = act(alpha * op(A) . op(B) + bias[None, :] + residual)
with the terms present per the `Epilogue`. `scratch` holds `scratch_bytes(m, n, k, dtype,
implicit, blk)` bytes (any alignment; at most 64 + MC*KC + KC*NC elements whatever the shape,
and MC*KC elements + 64 bytes more for an implicit variant's gathered block) private to the
call; `residual` must not overlap C while k > KC (C then holds partial sums),
but may be C itself when k <= KC: each element of it is read once, right before that element
is stored.

Thread pool use: cut C into rectangles, e.g. `split(m, n, workers, dtype, blk)` (cuts the
longer side at micro-tile multiples; cutting columns repeats A's packing per worker, cutting
rows B's), give each worker its own scratch of scratch_bytes bytes and call the function
once per rectangle with the same m, n, k and pointers; join. No other synchronisation is
needed, and the bits do not depend on the number of workers. Problems under ~64^3 flops per
worker are faster unsplit."""

import decimal
import fractions
import math
from dataclasses import dataclass

import numpy as np
from llvmlite import ir

I1 = ir.IntType(1)
I32 = ir.IntType(32)
I64 = ir.IntType(64)
PTR = ir.PointerType()
VOID = ir.VoidType()


@dataclass(frozen=True)
class Blocking:
    """Register and cache blocking for one dtype and vector width."""
    w: int   # vector lanes
    mr: int  # micro-tile rows (broadcast A values)
    nr: int  # micro-tile columns (nr // w vectors)
    mc: int  # packed A block rows (L2)
    kc: int  # contraction chunk (a B micro-panel kc x nr fills half of L1)
    nc: int  # packed B block columns (L3)
    direct: tuple  # heights of the direct (unpacked) kernels, the tallest mr
    edge_rows: tuple  # heights of the packed path's shorter tiles (below mr)

    def __post_init__(self):
        if (self.nr % self.w or self.mc % self.mr or self.nc % self.nr
                or self.direct[-1] != self.mr
                or not all(0 < h < self.mr for h in self.edge_rows)):
            raise ValueError("inconsistent GEMM blocking %r" % (self,))

    @property
    def tag(self):
        """A name part that differs between blockings (kernel, library and cache names
        carry it, so code built for one blocking is never taken for another's)."""
        return "%dx%dw%d_%d_%d_%d_%s_%s" % (self.mr, self.nr, self.w, self.mc, self.kc,
                                            self.nc, "-".join(map(str, self.direct)),
                                            "-".join(map(str, self.edge_rows)))


# Per vector width in bytes, per dtype. Caches assumed per core: L1D of at least 32 KiB, L2
# of at least 256 KiB (AVX2) or 512 KiB (every AVX-512 core), a shared L3 of several MiB.
BLOCKINGS = {
    # AVX2, 16 ymm: 6 x 2 vectors = 12 accumulators + 2 B vectors + 1 broadcast. B
    # micro-panel 256 x 16 floats = 16 KiB; A block 144 x 256 = 144 KiB; B block 4 MiB.
    32: {np.dtype(np.float32): Blocking(w=8, mr=6, nr=16, mc=144, kc=256, nc=4080,
                                        direct=(1, 2, 6), edge_rows=(4,)),
         np.dtype(np.float64): Blocking(w=4, mr=6, nr=8, mc=72, kc=256, nc=2040,
                                        direct=(1, 2, 6), edge_rows=(4,))},
    # AVX-512, 32 zmm: 12 x 2 vectors = 24 accumulators + 2 B vectors + 1 broadcast, with
    # slack: LLVM's scheduler loads the next step's B vectors early, and with 14 rows (28
    # accumulators) the in-place A tile (tile_sa) spills accumulators in its k loop
    # (skylake-avx512 assembly). 14 loads (2 B vectors, 12 broadcasts) per 24 FMAs: the
    # FMA ports, not the loads, bound the loop. The B micro-panel is twice as wide, so KC
    # halves to keep it at 16 KiB of L1 (C is still read and written once per 128 FMAs of
    # each accumulator); the A block, MC x KC = 252 KiB, takes half of the smallest AVX-512
    # L2 (a quarter of Skylake-SP's 1 MiB); KC x NC keeps the AVX2 B block's 4 MiB. A 6-row
    # direct kernel keeps 3..6-row blocks off the 12-row one.
    64: {np.dtype(np.float32): Blocking(w=16, mr=12, nr=32, mc=504, kc=128, nc=8160,
                                        direct=(1, 2, 6, 12), edge_rows=(4, 8)),
         np.dtype(np.float64): Blocking(w=8, mr=12, nr=16, mc=252, kc=128, nc=4080,
                                        direct=(1, 2, 6, 12), edge_rows=(4, 8))},
}
DTYPES = tuple(BLOCKINGS[32])


def blocking(dtype=np.float32, vector_bytes=32):
    """The Blocking for `dtype` on a target whose widest float vectors have `vector_bytes`
    bytes (64: AVX-512; 32 or less: the AVX2 blocking, which LLVM legalizes for narrower
    vectors). Every function taking `blk` defaults to blocking(dtype): callers that compile
    for another target pass its blocking to all of them alike (kernel, scratch_bytes,
    split)."""
    return BLOCKINGS[64 if vector_bytes >= 64 else 32][_dtype(dtype)]

# Path thresholds (module constants read when a kernel is emitted). Unpacked kernels for at
# most SMALL_M rows or SMALL_VOLUME multiply-adds, provided B (k x n) has at most
# DIRECT_B_BYTES: they read B in column strips, one short piece per row, which only pays
# while B stays in cache.
SMALL_M = 12
SMALL_VOLUME = 48 * 48 * 48
DIRECT_B_BYTES = 4 << 20
# Up to this many micro-tile widths of columns, A is read in place rather than packed (each
# A block meets too few B panels to repay its packing).
NARROW_N = 2
# A short contraction (k <= ROWS_OUTER_K: C read and written once per few FMAs of each
# element) over a packed B block of at most ROWS_OUTER_B_BYTES (L2) runs its tiles row panel
# by row panel: C is then swept along its rows, a few sequential streams, rather than down
# its columns (one line per row each time). Measured on two threads: a CNN's fully connected
# filter gradient (3136 x 1024 x 64, W updated in place) and its conv2 input gradient
# (12544 x 800 x 64) 8-11% faster; longer contractions and larger B blocks gain nothing.
# The order also beats packing each B panel just in time for a rectangle of one row block:
# the masked gradients of a softmax layer's input (64 x 1024 x 10, rows 4 KiB apart, and the
# MNIST MLP's 100 x 500 x 10) 65% and 20% faster on one thread.
ROWS_OUTER_K = 128
ROWS_OUTER_B_BYTES = 256 << 10
# Software prefetch distance, in rows, for B rows that lie a leading dimension apart.
PREFETCH_ROWS = 12

ACTIVATIONS = (None, "relu", "sigmoid", "tanh")
MASKS = (None, "ge", "gt")


@dataclass(frozen=True)
class Epilogue:
    """What is applied to each output tile in registers, in this order:
    x = alpha * acc (`alpha`), x += bias[j] (`bias`), x += residual[i, j] (`residual`),
    x = activation(x), then x = x if r[i, j] >= 0 (`mask` "ge") or r[i, j] > 0 (`mask` "gt")
    else +0.0, where r is the operand passed as the residual (a relu's gradient masked by
    its input). `activation` is None, "relu", "sigmoid", "tanh" or a callable
    `f(builder, vector) -> vector` emitting IR for any float vector type. A mask shares the
    residual's operand, so it excludes a residual, and the inline activations' place in
    the order, so it excludes the activations run as a separate pass."""
    alpha: bool = False
    bias: bool = False
    residual: bool = False
    activation: object = None
    mask: object = None

    def __post_init__(self):
        if not callable(self.activation) and self.activation not in ACTIVATIONS:
            raise ValueError("unknown GEMM epilogue activation %r (expected one of %s or a "
                             "callable)" % (self.activation, ACTIVATIONS[1:]))
        if self.mask not in MASKS:
            raise ValueError("unknown GEMM epilogue mask %r (expected one of %s)"
                             % (self.mask, MASKS[1:]))
        if self.mask and (self.residual or self.activation not in (None, "relu")):
            raise ValueError("a GEMM epilogue mask excludes a residual and a %s activation"
                             % (self.activation,))


def edge_tiles(blk):
    """The (rows, vectors) shapes of the packed path's smaller tiles, each computing the
    top-left corner of a full tile: the edge tiles of a C whose sizes are not multiples of MR
    and NR run them instead of full tiles mostly of padding."""
    nv = blk.nr // blk.w
    return tuple((h, nv) for h in blk.edge_rows) + (((blk.mr, 1),) if nv > 1 else ())


def tile_suffix(shape=None):
    """The kernel-set name suffix of the packed tile of `shape` (None: the full tile)."""
    return ".tile" if shape is None else ".tile%dx%d" % shape


def _dtype(dtype):
    dt = np.dtype(dtype)
    if dt not in DTYPES:
        raise TypeError("GEMM kernels exist for float32 and float64, not %s" % dt)
    return dt


def _round_up(x, m):
    return -(-x // m) * m


def _scratch_layout(m, n, k, blk, size):
    """(bytes of the packed A block rounded to 64, bytes of the packed B block)."""
    mcap = min(blk.mc, _round_up(max(m, 1), blk.mr))
    kcap = min(blk.kc, max(k, 1))
    ncap = min(blk.nc, _round_up(max(n, 1), blk.nr))
    return _round_up(mcap * kcap * size, 64), kcap * ncap * size


def scratch_bytes(m, n, k, dtype=np.float32, implicit=False, blk=None):
    """Bytes of scratch one call of an m x n x k kernel with blocking `blk` needs (for any
    rectangle of C); an `implicit` variant also stages each gathered A block there."""
    dt = _dtype(dtype)
    a_bytes, b_bytes = _scratch_layout(m, n, k, blk or blocking(dt), dt.itemsize)
    return 64 + a_bytes + (a_bytes + STAGE_SLACK if implicit else 0) + b_bytes


def split(m, n, parts, dtype=np.float32, blk=None):
    """`parts` (or fewer) rectangles (row0, row1, col0, col1) covering the m x n output, cut
    along the longer side at micro-tile multiples of `blk`: a work split for a thread pool."""
    blk = blk or blocking(dtype)
    along_n = n >= m
    size, unit = (n, blk.nr) if along_n else (m, blk.mr)
    tiles = -(-size // unit)
    parts = max(1, min(parts, tiles))
    cuts = [min(size, (tiles * q // parts) * unit) for q in range(parts + 1)]
    return [(0, m, lo, hi) if along_n else (lo, hi, 0, n)
            for lo, hi in zip(cuts, cuts[1:]) if hi > lo]


def emit_sgemm(module, name, dtype=np.float32, trans_a=False, trans_b=False, epilogue=None,
               extern_kernels=False, implicit=False, blk=None):
    """Adds the GEMM function `name` (ABI in the module docstring) and its internal helpers
    (named `name.*`) to the llvmlite `module`; returns the ir.Function. The micro-kernels it
    calls (named after `kernel_set`) are defined in the module too (internal, shared by every
    variant the module holds), or with `extern_kernels` only declared: another module made
    by `emit_kernels` defines them. An `implicit` variant reads A as the patches of a
    convolution's input (see "Implicit im2col operand" below). `blk`: the Blocking (default
    blocking(dtype), AVX2)."""
    return _Gen(module, name, _dtype(dtype), bool(trans_a), bool(trans_b),
                epilogue or Epilogue(), extern_kernels, implicit=implicit, blk=blk).emit()


# ---- Implicit im2col operand ----------------------------------------------------------------
#
# An implicit variant takes, instead of A's elements, `a` = a descriptor (IM2COL_FIELDS, one
# i64 each) of a convolution input x [N, D0, D1, D2, C] (fewer spatial dims padded with unit
# ones in front) whose patch matrix P [N*O0*O1*O2, K0*K1*K2*C] (graphc's im2col, reshaped)
# is the stored A: A = P, or P's transpose with trans_a (a filter gradient P^T dy); `lda` is
# ignored. The packed path then gathers each MC x KC block of A from x into scratch (`gather`:
# per row of P, a few contiguous runs of x, one per window row, zeros where the window lies in
# the padding) and packs it from there as usual, so P never exists whole. The values are P's
# exactly, so the accumulation order, and the bits, are the materialised variant's packed path.
# Every other path (direct, dot, vecmat) would read A in place: an implicit variant always
# runs the packed path. Fields: x's address; the input's spatial sizes d*, channels c; the
# output's spatial sizes o*; window sizes k* (k2 = 1 when the last window dim is undilated:
# its offsets then read consecutive positions, one run of `seg` = K2 * C elements, else seg =
# C); strides s*; window dilations r*; low paddings p*. x has no input (lhs) dilation.
# Bytes past a gathered block that its last (whole-vector) stores may overrun: w - 1
# elements, under 64 bytes for every blocking.
STAGE_SLACK = 64
IM2COL_FIELDS = ("x", "d0", "d1", "d2", "c", "o0", "o1", "o2", "k0", "k1", "k2", "s0", "s1",
                 "s2", "r0", "r1", "r2", "p0", "p1", "p2", "seg")


def kernel_set(dtype=np.float32, epilogue=None, blk=None):
    """The name prefix of the micro-kernels a variant calls. They take the epilogue's
    alpha, bias, residual, relu and mask as run-time flags, so every variant of a dtype and
    blocking shares one set; only an activation applied as a separate pass (sigmoid, tanh, a
    callable) is built into them."""
    dt = _dtype(dtype)
    base = "graphc_gemm_kernels_%s_%s" % (dt.name, (blk or blocking(dt)).tag)
    act = (epilogue or Epilogue()).activation
    if act in (None, "relu"):
        return base
    if callable(act):
        return "%s_fn%x" % (base, id(act))
    return "%s_%s" % (base, act)


def emit_kernels(module, dtype=np.float32, epilogue=None, blk=None):
    """Defines the `kernel_set(dtype, epilogue, blk)` micro-kernels in `module` with
    external linkage (for variants emitted with extern_kernels); returns their names."""
    gen = _Gen(module, None, _dtype(dtype), False, False, epilogue or Epilogue(), False,
               local=False, blk=blk)
    return [fn.name for fn in gen.emit_kernels()]


def kernel_names(dtype=np.float32, epilogue=None, blk=None):
    """The names of the `kernel_set(dtype, epilogue, blk)` functions variants call (no code
    is generated)."""
    gen = _Gen(ir.Module(), None, _dtype(dtype), False, False, epilogue or Epilogue(), True,
               blk=blk)
    return [fn.name for fn in gen.emit_kernels()]


# Run-time epilogue flags (the kernels' last argument).
EP_ALPHA, EP_BIAS, EP_RESIDUAL, EP_RELU, EP_MASK_GE, EP_MASK_GT = 1, 2, 4, 8, 16, 32
EP_READS_R = EP_RESIDUAL | EP_MASK_GE | EP_MASK_GT  # the terms reading the residual operand


def epilogue_flags(ep):
    return ((EP_ALPHA if ep.alpha else 0) | (EP_BIAS if ep.bias else 0)
            | (EP_RESIDUAL if ep.residual else 0) | (EP_RELU if ep.activation == "relu" else 0)
            | (EP_MASK_GE if ep.mask == "ge" else 0) | (EP_MASK_GT if ep.mask == "gt" else 0))


def _c64(v):
    return ir.Constant(I64, v)


def _c32(v):
    return ir.Constant(I32, v)


class _Gen:
    def __init__(self, module, name, dt, trans_a, trans_b, epilogue, extern_kernels=False,
                 local=True, implicit=False, blk=None):
        self.mod = module
        self.name = name
        self.blk = blk or blocking(dt)
        self.kname = kernel_set(dt, epilogue, self.blk)
        self.extern_kernels = extern_kernels
        self.local = local  # kernels defined here are internal to the module
        self.dt = dt
        self.t = ir.FloatType() if dt == np.float32 else ir.DoubleType()
        self.vt = ir.VectorType(self.t, self.blk.w)
        self.trans_a = trans_a
        self.trans_b = trans_b
        self.implicit = implicit  # A is an im2col descriptor (IM2COL_FIELDS)
        self.ep = epilogue
        self.align = dt.itemsize

    # ---- IR helpers ------------------------------------------------------------------------

    def _function(self, suffix, args, names, internal=True):
        fn = ir.Function(self.mod, ir.FunctionType(VOID, args), self.name + suffix)
        if internal:
            # Kept out of line: each is large, and separate register allocation keeps the
            # micro-kernels' loops free of the callers' live values.
            fn.linkage = "internal"
            fn.attributes.add("noinline")
        fn.attributes.add("nounwind")
        for a, n in zip(fn.args, names):
            a.name = n
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        return fn, b

    def _kernel(self, suffix, args, names):
        """(fn, builder) for the micro-kernel `suffix` of the kernel set, whose last argument
        is the epilogue flags; builder None when there is no body to emit (already in the
        module, or only declared here)."""
        name = self.kname + suffix
        fn = self.mod.globals.get(name)
        if fn is not None:
            return fn, None
        fn = ir.Function(self.mod, ir.FunctionType(VOID, args + [I64]), name)
        fn.attributes.add("nounwind")
        if self.extern_kernels:
            return fn, None
        if self.local:
            fn.linkage = "internal"
        fn.attributes.add("noinline")
        for a, n in zip(fn.args, names + ["flags"]):
            a.name = n
        return fn, ir.IRBuilder(fn.append_basic_block("entry"))

    def flag(self, b, flags, bit):
        """Whether any of the flag bits in `bit` is on."""
        return b.icmp_signed("!=", b.and_(flags, _c64(bit)), _c64(0))

    def present(self, b, flags, bit, ptr, fallback):
        """ptr when the epilogue term `bit` is on, else `fallback`: memory the same loads
        may read (the C tile), so an absent (null) bias or residual is never touched. (Lanes
        masked off by the flag instead cost a microcode assist per load at an unmapped
        address: measured 4x slower at k = 10.)"""
        return b.select(self.flag(b, flags, bit), ptr, fallback)

    @staticmethod
    def offset(b, ptr, off, t):
        # Not inbounds: an absent bias or residual is a null pointer, offset but never read.
        return b.gep(ptr, [off], source_etype=t)

    def _intrinsic(self, name, ret, args):
        fn = self.mod.globals.get(name)
        if fn is None:
            fn = ir.Function(self.mod, ir.FunctionType(ret, args), name)
        return fn

    @staticmethod
    def _mangle(vt):
        return "v%d%s" % (vt.count, "f32" if isinstance(vt.element, ir.FloatType) else "f64")

    def fma(self, b, x, y, z):
        fn = self._intrinsic("llvm.fma." + self._mangle(x.type), x.type, [x.type] * 3)
        return b.call(fn, [x, y, z])

    def masked_load(self, b, ptr, mask, vt):
        mt = ir.VectorType(I1, vt.count)
        fn = self._intrinsic("llvm.masked.load.%s.p0" % self._mangle(vt), vt, [PTR, mt, vt])
        return b.call(fn, [ptr, mask, ir.Constant(vt, None)])

    def masked_store(self, b, val, ptr, mask):
        mt = ir.VectorType(I1, val.type.count)
        fn = self._intrinsic("llvm.masked.store.%s.p0" % self._mangle(val.type), VOID,
                             [val.type, PTR, mt])
        b.call(fn, [val, ptr, mask])

    def load_vec(self, b, ptr, vt, mask=None, align=None):
        if mask is None:
            return b.load(ptr, typ=vt, align=align or self.align)
        return self.masked_load(b, ptr, mask, vt)

    def store_vec(self, b, val, ptr, mask=None):
        if mask is None:
            b.store(val, ptr, align=self.align)
        else:
            self.masked_store(b, val, ptr, mask)

    def gep(self, b, ptr, offset):
        return b.gep(ptr, [offset], inbounds=True, source_etype=self.t)

    def splat(self, b, scalar, count):
        vt = ir.VectorType(scalar.type, count)
        v = b.insert_element(ir.Constant(vt, ir.Undefined), scalar, _c32(0))
        return b.shuffle_vector(v, ir.Constant(vt, ir.Undefined),
                                ir.Constant(ir.VectorType(I32, count), [0] * count))

    @staticmethod
    def vconst(vt, value):
        return ir.Constant(vt, [float(value)] * vt.count)

    @staticmethod
    def smin(b, x, y):
        return b.select(b.icmp_signed("<", x, y), x, y)

    @staticmethod
    def lane_mask(b, count, valid, offset=0):
        """<count x i1>: lane l is on when offset + l < valid (valid an i64)."""
        iota = ir.Constant(ir.VectorType(I64, count), list(range(offset, offset + count)))
        vv = b.insert_element(ir.Constant(ir.VectorType(I64, count), ir.Undefined), valid,
                              _c32(0))
        vv = b.shuffle_vector(vv, ir.Constant(ir.VectorType(I64, count), ir.Undefined),
                              ir.Constant(ir.VectorType(I32, count), [0] * count))
        return b.icmp_signed("<", iota, vv)

    @staticmethod
    def while_loop(b, carried, cond, body, name="loop"):
        """while cond(carried): carried = body(carried), with `carried` a list of values.
        Returns the final carried values (body may open blocks of its own)."""
        pre = b.block
        head = b.append_basic_block(name)
        inner = b.append_basic_block(name + ".body")
        done = b.append_basic_block(name + ".done")
        b.branch(head)
        b.position_at_end(head)
        phis = []
        for v in carried:
            ph = b.phi(v.type)
            ph.add_incoming(v, pre)
            phis.append(ph)
        b.cbranch(cond(phis), inner, done)
        b.position_at_end(inner)
        new = body(phis)
        latch = b.block
        for ph, v in zip(phis, new):
            ph.add_incoming(v, latch)
        b.branch(head)
        b.position_at_end(done)
        return phis

    @classmethod
    def loop(cls, b, start, stop, carried, body, step=1):
        """for i in range(start, stop, step): carried = body(i, carried). Returns the final
        carried values (body may open blocks of its own)."""
        def counted(values):
            i = values[0]
            return [b.add(i, _c64(step))] + list(body(i, values[1:]))
        return cls.while_loop(b, [start] + list(carried),
                              lambda values: b.icmp_signed("<", values[0], stop), counted)[1:]

    def chunks(self, b, k, body):
        """body(pc, kc, first, last) for the KC chunks of [0, k) (one empty chunk if k == 0:
        the epilogue still runs)."""
        kc_ = _c64(self.blk.kc)
        count = b.sdiv(b.add(k, _c64(self.blk.kc - 1)), kc_)
        count = b.select(b.icmp_signed("<", count, _c64(1)), _c64(1), count)

        def chunk(ci, _):
            pc = b.mul(ci, kc_)
            body(pc, self.smin(b, kc_, b.sub(k, pc)), b.icmp_signed("==", ci, _c64(0)),
                 b.icmp_signed("==", ci, b.sub(count, _c64(1))))
            return []
        self.loop(b, _c64(0), count, [], chunk)

    # ---- epilogue --------------------------------------------------------------------------

    def epilogue_args(self, fn_args):
        """(bias, residual, ldr, alpha, flags) from the last five arguments of a kernel."""
        return tuple(fn_args[-5:])

    def apply_epilogue(self, b, x, alpha, bias_v, res_ptr, mask, flags):
        """The epilogue the run-time `flags` ask for on vector x whose bias lanes are
        `bias_v` and residual starts at res_ptr (lanes under `mask`; both pointers readable
        whatever the flags, see `present`). Selects rather than adds of zero keep x bit for
        bit (-0.0 + 0.0 is +0.0)."""
        n = x.type.count
        zero = self.vconst(x.type, 0.0)
        r = self.load_vec(b, res_ptr, x.type, mask)
        x = b.select(self.flag(b, flags, EP_ALPHA), b.fmul(x, self.splat(b, alpha, n)), x)
        x = b.select(self.flag(b, flags, EP_BIAS), b.fadd(x, bias_v), x)
        x = b.select(self.flag(b, flags, EP_RESIDUAL), b.fadd(x, r), x)
        # x < 0 ? 0 : x keeps NaN (an ordered compare is false for it).
        relu = self.splat(b, self.flag(b, flags, EP_RELU), n)
        neg = b.and_(b.fcmp_ordered("<", x, zero), relu)
        x = b.select(neg, zero, x)
        # The mask drops x where r fails its ordered compare (so where r is NaN too).
        drop = b.or_(
            b.and_(b.not_(b.fcmp_ordered(">=", r, zero)),
                   self.splat(b, self.flag(b, flags, EP_MASK_GE), n)),
            b.and_(b.not_(b.fcmp_ordered(">", r, zero)),
                   self.splat(b, self.flag(b, flags, EP_MASK_GT), n)))
        return b.select(drop, zero, x)

    @property
    def separate_activation(self):
        """Whether the activation runs as a pass over the just-stored (L1-resident) tile
        instead of inline: sigmoid, tanh and callables are long, and inlining them into every
        tile variant of every kernel multiplies the code and its compile time."""
        return self.ep.activation not in (None, "relu")

    def activate(self, b, x):
        act = self.ep.activation
        if callable(act):
            return act(b, x)
        if act == "sigmoid":
            return _sigmoid(self, b, x)
        return _tanh(self, b, x)

    def activation_pass(self, b, c, ldc, rows, cols):
        """Calls (emitting once) act_tile(c, ldc, rows, cols): C[:rows, :cols] =
        activation(C) in place, w lanes at a time."""
        fn, fb = self._kernel(".act_tile", [PTR, I64, I64, I64], ["c", "ldc", "rows", "cols"])
        if fb is not None:
            w = self.blk.w
            cp, ld, nrows, ncols = fn.args[:4]

            def row(i, _):
                crow = self.gep(fb, cp, fb.mul(i, ld))

                def vec(j, _):
                    ptr = self.gep(fb, crow, j)
                    whole = fb.icmp_signed("<=", fb.add(j, _c64(w)), ncols)
                    with fb.if_else(whole, likely=True) as (plain, edge):
                        with plain:
                            self.store_vec(fb, self.activate(fb, self.load_vec(fb, ptr, self.vt)),
                                           ptr)
                        with edge:
                            mask = self.lane_mask(fb, w, fb.sub(ncols, j))
                            x = self.activate(fb, self.load_vec(fb, ptr, self.vt, mask))
                            self.store_vec(fb, x, ptr, mask)
                    return []
                self.loop(fb, _c64(0), ncols, [], vec, step=w)
                return []
            self.loop(fb, _c64(0), nrows, [], row)
            fb.ret_void()
        b.call(fn, [c, ldc, rows, cols, _c64(0)])

    # ---- tile write-back -------------------------------------------------------------------

    def store_tile(self, b, accs, nrows, mr_eff, nr_eff, c, ldc, first, last, ep_args):
        """Writes the nrows x len(accs[0]) vector tile of accumulators to C (rows < mr_eff,
        columns < nr_eff): C = first ? acc : C + acc, then the epilogue when `last`."""
        nv = len(accs[0])
        w = self.blk.w
        full = b.and_(b.icmp_signed("==", mr_eff, _c64(nrows)),
                      b.icmp_signed("==", nr_eff, _c64(nv * w)))
        with b.if_else(full, likely=True) as (whole, edge):
            with whole:
                self._store_rows(b, accs, None, None, c, ldc, first, last, ep_args)
            with edge:
                masks = [self.lane_mask(b, w, nr_eff, v * w) for v in range(nv)]
                self._store_rows(b, accs, masks, mr_eff, c, ldc, first, last, ep_args)
        if self.separate_activation:
            with b.if_then(last):
                self.activation_pass(b, c, ldc, mr_eff, nr_eff)

    def _store_rows(self, b, accs, masks, mr_eff, c, ldc, first, last, ep_args):
        # Without epilogue flags the last chunk stores as the others do (no selects, no
        # reads of absent terms).
        apply = b.and_(last, b.icmp_signed("!=", ep_args[4], _c64(0)))
        with b.if_else(apply) as (final, plain):
            with final:
                self._emit_rows(b, accs, masks, mr_eff, c, ldc, first, ep_args)
            with plain:
                self._emit_rows(b, accs, masks, mr_eff, c, ldc, first, None)

    def _emit_rows(self, b, accs, masks, mr_eff, c, ldc, first, ep_args):
        w = self.blk.w
        nv = len(accs[0])
        masks = masks or [None] * nv
        if ep_args is not None:
            bias, res, ldr, alpha, flags = ep_args
            bias = self.present(b, flags, EP_BIAS, bias, c)
            bias_v = [self.load_vec(b, self.gep(b, bias, _c64(v * w)), self.vt, masks[v])
                      for v in range(nv)]

        def row(i):
            crow = self.gep(b, c, b.mul(ldc, _c64(i)))
            if ep_args is not None:
                rrow = self.present(b, flags, EP_READS_R,
                                    self.offset(b, res, b.mul(ldr, _c64(i)), self.t), crow)
            for v in range(nv):
                ptr = self.gep(b, crow, _c64(v * w))
                old = self.load_vec(b, ptr, self.vt, masks[v])
                x = b.select(first, accs[i][v], b.fadd(old, accs[i][v]))
                if ep_args is not None:
                    rp = self.gep(b, rrow, _c64(v * w))
                    x = self.apply_epilogue(b, x, alpha, bias_v[v], rp, masks[v], flags)
                self.store_vec(b, x, ptr, masks[v])

        for i in range(len(accs)):
            if mr_eff is None or i == 0:
                row(i)
            else:
                with b.if_then(b.icmp_signed("<", _c64(i), mr_eff)):
                    row(i)

    # ---- the accumulation loop -------------------------------------------------------------

    def either(self, b, cond, run):
        """The accumulator vectors of `run(False)` where `cond` holds (the likely, plain case)
        and of `run(True)` otherwise (edge tiles), merged by phis; `run(edge)` emits its code
        and returns (vectors, its last block)."""
        with b.if_else(cond, likely=True) as (plain, edge):
            with plain:
                plain_values, plain_end = run(False)
            with edge:
                edge_values, edge_end = run(True)
        merged = []
        for x, y in zip(plain_values, edge_values):
            ph = b.phi(self.vt)
            ph.add_incoming(x, plain_end)
            ph.add_incoming(y, edge_end)
            merged.append(ph)
        return merged

    def kloop(self, b, kc, nrows, nv, a_at, b_at, unroll):
        """Accumulators acc[i][v] = sum over p < kc of a(i, p) * b(p, v) (fma chains in p
        order). a_at(p, i) -> scalar, b_at(p, v) -> vector."""
        zero = self.vconst(self.vt, 0.0)
        init = [zero] * (nrows * nv)

        def step(p, flat):
            bv = [b_at(p, v) for v in range(nv)]
            out = list(flat)
            for i in range(nrows):
                av = self.splat(b, a_at(p, i), self.blk.w)
                for v in range(nv):
                    out[i * nv + v] = self.fma(b, av, bv[v], out[i * nv + v])
            return out

        def unrolled(p, flat):
            for u in range(unroll):
                flat = step(b.add(p, _c64(u)) if u else p, flat)
            return flat

        main = b.sub(kc, b.srem(kc, _c64(unroll)))
        flat = self.loop(b, _c64(0), main, init, unrolled, step=unroll)
        flat = self.loop(b, main, kc, flat, step)
        return [flat[i * nv:(i + 1) * nv] for i in range(nrows)]

    # ---- packed path -----------------------------------------------------------------------

    def emit_tile(self, strided_a=False, shape=None):
        """tile(kc, pa, pb, c, ldc, mr_eff, nr_eff, first, last, bias, res, ldr, alpha): one
        MR x NR micro-tile from packed panels (with `shape` = (rows, vectors), its top-left
        rows x vectors * W corner: mr_eff <= rows, nr_eff <= vectors * W). With `strided_a`
        (tile_sa) A is read in place instead: tile_sa(kc, a, rsa, csa, pb, c, ...) with
        A(i, p) = a[i*rsa + p*csa] (rows past mr_eff re-read the last row)."""
        blk = self.blk
        a_args, a_names = ([PTR, I64, I64], ["a", "rsa", "csa"]) if strided_a else ([PTR], ["pa"])
        fn, b = self._kernel(".tile_sa" if strided_a else tile_suffix(shape),
                             [I64] + a_args + [PTR, PTR, I64, I64, I64, I1, I1, PTR, PTR,
                                               I64, self.t],
                             ["kc"] + a_names + ["pb", "c", "ldc", "mr", "nr", "first",
                                                 "last", "bias", "res", "ldr", "alpha"])
        if b is None:
            return fn
        kc = fn.args[0]
        pb, c, ldc, mr_eff, nr_eff, first, last = fn.args[len(a_args) + 1:len(a_args) + 8]
        pb.add_attribute("noalias")
        rows, nv = shape or (blk.mr, blk.nr // blk.w)

        def b_at(p, v):
            ptr = self.gep(b, pb, b.add(b.mul(p, _c64(blk.nr)), _c64(v * blk.w)))
            return self.load_vec(b, ptr, self.vt, align=32)

        self.prefetch_tile(b, c, ldc, rows, nv * blk.w)
        if strided_a:
            a, rsa, csa = fn.args[1:4]

            def run(clamp):
                # Edge panels clamp rows to the last one; full panels keep the plain offsets
                # i * rsa (constant when A is transposed: one pointer, no register spills).
                last_row = b.sub(mr_eff, _c64(1))
                offs = [b.mul(self.smin(b, _c64(i), last_row) if clamp else _c64(i), rsa)
                        for i in range(blk.mr)]

                def a_at(p, i):
                    return b.load(self.gep(b, a, b.add(b.mul(p, csa), offs[i])), typ=self.t,
                                  align=self.align)
                return sum(self.kloop(b, kc, blk.mr, nv, a_at, b_at, unroll=4), []), b.block

            flat = self.either(b, b.icmp_signed("==", mr_eff, _c64(blk.mr)), run)
            accs = [flat[i * nv:(i + 1) * nv] for i in range(blk.mr)]
        else:
            pa = fn.args[1]
            pa.add_attribute("noalias")

            def a_at(p, i):
                return b.load(self.gep(b, pa, b.add(b.mul(p, _c64(blk.mr)), _c64(i))),
                              typ=self.t, align=self.align)
            accs = self.kloop(b, kc, rows, nv, a_at, b_at, unroll=4)
        self.store_tile(b, accs, rows, mr_eff, nr_eff, c, ldc, first, last,
                        self.epilogue_args(fn.args))
        b.ret_void()
        return fn

    def prefetch_tile(self, b, c, ldc, rows, cols):
        """Prefetches the C tile's lines while the k loop runs: with power-of-two leading
        dimensions the tile's rows share cache sets and are gone from L1/L2 by the time the
        write-back needs them. (Rows past the matrix only prefetch: no fault, no effect.)"""
        fn = self._intrinsic("llvm.prefetch.p0", VOID, [PTR, I32, I32, I32])
        # A line apart, then the last element (a tile row spans one more line unaligned).
        offsets = list(range(0, cols, 64 // self.dt.itemsize)) + [cols - 1]
        for i in range(rows):
            row = b.gep(c, [b.mul(ldc, _c64(i))], source_etype=self.t)
            for off in offsets:
                b.call(fn, [b.gep(row, [_c64(off)], source_etype=self.t), _c32(1), _c32(3),
                            _c32(1)])

    def prefetch_ahead(self, b, row, nbytes):
        """Prefetches the lines of [row, row + nbytes) (row may lie past the matrix: the
        address is never dereferenced, so no inbounds GEP)."""
        fn = self._intrinsic("llvm.prefetch.p0", VOID, [PTR, I32, I32, I32])
        for off in list(range(0, nbytes, 64)) + [nbytes - 1]:
            b.call(fn, [b.gep(row, [_c64(off)], source_etype=ir.IntType(8)), _c32(0), _c32(3),
                        _c32(1)])

    def transpose(self, b, vecs):
        """The w lanes of len(vecs) <= 2w vectors regrouped: out[q] = <vecs[r][q] for r> (a
        <len(vecs) x T> vector per lane q), by w x w butterfly transposes in registers."""
        w = self.blk.w
        count = len(vecs)
        groups = -(-count // w)
        assert groups <= 2
        padded = list(vecs) + [vecs[0]] * (groups * w - count)
        blocks = []
        for g in range(groups):
            r = padded[g * w:(g + 1) * w]
            d = 1
            while d < w:
                lo = ir.Constant(ir.VectorType(I32, w),
                                 [lane if lane & d == 0 else w + lane - d for lane in range(w)])
                hi = ir.Constant(ir.VectorType(I32, w),
                                 [lane + d if lane & d == 0 else w + lane for lane in range(w)])
                for i in range(w):
                    if i & d == 0:
                        r[i], r[i + d] = (b.shuffle_vector(r[i], r[i + d], lo),
                                          b.shuffle_vector(r[i], r[i + d], hi))
                d *= 2
            blocks.append(r)
        take = ir.Constant(ir.VectorType(I32, count), list(range(count)))
        return [b.shuffle_vector(blocks[0][q], blocks[-1][q], take) for q in range(w)]

    def interleave_rows(self, b, srcs, kc, dst):
        """dst[p * len(srcs) + r] = srcs[r][p] for p < kc (each source contiguous along p):
        whole vectors of every source transposed in registers, the last kc % w one by one."""
        w = self.blk.w
        count = len(srcs)

        def block(p, _):
            outs = self.transpose(b, [self.load_vec(b, self.gep(b, x, p), self.vt)
                                      for x in srcs])
            for q, v in enumerate(outs):
                b.store(v, self.gep(b, dst, b.mul(b.add(p, _c64(q)), _c64(count))),
                        align=self.align)
            return []

        def single(p, _):
            for r, x in enumerate(srcs):
                v = b.load(self.gep(b, x, p), typ=self.t, align=self.align)
                b.store(v, self.gep(b, dst, b.add(b.mul(p, _c64(count)), _c64(r))),
                        align=self.align)
            return []

        main = b.sub(kc, b.srem(kc, _c64(w)))
        self.loop(b, _c64(0), main, [], block, step=w)
        self.loop(b, main, kc, [], single)

    def copy_pieces(self, b, src, ld, count, dst):
        """dst[p * MR + r] = src[p * ld + r] for r < MR, p < count, by vectors: a last
        vector of fewer than w lanes is loaded masked and stored whole, its extra lanes landing
        where the next p's values are stored next, except after the last p (masked there)."""
        mr, w = self.blk.mr, self.blk.w
        pieces = [(v * w, min(w, mr - v * w)) for v in range(-(-mr // w))]
        masks = {lanes: ir.Constant(ir.VectorType(I1, w), [i < lanes for i in range(w)])
                 for _, lanes in pieces if lanes < w}

        def copy(p, last):
            row, out = self.gep(b, src, b.mul(p, ld)), self.gep(b, dst, b.mul(p, _c64(mr)))
            for off, lanes in pieces:
                mask = masks.get(lanes)
                x = self.load_vec(b, self.gep(b, row, _c64(off)), self.vt, mask)
                self.store_vec(b, x, self.gep(b, out, _c64(off)), mask if last else None)
            return []
        last = b.sub(count, _c64(1))
        self.loop(b, _c64(0), last, [], lambda p, _: copy(p, False))
        with b.if_then(b.icmp_signed(">=", last, _c64(0))):
            copy(last, True)

    def emit_pack_a(self):
        """pack_a(kc, mc, a, lda, pa): the mc x kc block of A at `a` into MR-row panels
        (pa[panel][p][r]), rows past mc zero."""
        blk = self.blk
        fn, b = self._function(".pack_a", [I64, I64, PTR, I64, PTR],
                               ["kc", "mc", "a", "lda", "pa"])
        kc, mc, a, lda, pa = fn.args
        pa.add_attribute("noalias")

        def at(row, p):
            # A(row, p): row-major m x k, or k x m stored when transposed.
            off = b.add(b.mul(row, lda), p) if not self.trans_a else b.add(b.mul(p, lda), row)
            return b.load(self.gep(b, a, off), typ=self.t, align=self.align)

        def panel(ip, _):
            rows = self.smin(b, _c64(blk.mr), b.sub(mc, ip))
            dst = self.gep(b, pa, b.mul(ip, kc))
            full = b.icmp_signed("==", rows, _c64(blk.mr))

            def copy_edge():  # one value at a time, rows past `rows` zero (row 0 exists)
                def depth(p, _):
                    for r in range(blk.mr):
                        if r:
                            inside = b.icmp_signed("<", _c64(r), rows)
                            row = b.select(inside, b.add(ip, _c64(r)), ip)
                            x = b.select(inside, at(row, p), ir.Constant(self.t, 0.0))
                        else:
                            x = at(b.add(ip, _c64(r)), p)
                        b.store(x, self.gep(b, dst, b.add(b.mul(p, _c64(blk.mr)), _c64(r))),
                                align=self.align)
                    return []
                self.loop(b, _c64(0), kc, [], depth)

            with b.if_else(full, likely=True) as (whole, edge):
                with whole:
                    if self.trans_a:
                        # The panel's values for each p lie side by side: whole vectors
                        # (the MNIST MLP's filter gradient x^T.dh 5% faster than one by one).
                        self.copy_pieces(b, self.gep(b, a, ip), lda, kc, dst)
                    else:
                        # Rows contiguous along p: transpose MR x w blocks in registers.
                        self.interleave_rows(b, [self.gep(b, a, b.mul(b.add(ip, _c64(r)), lda))
                                                 for r in range(blk.mr)], kc, dst)
                with edge:
                    copy_edge()
            return []

        self.loop(b, _c64(0), mc, [], panel, step=blk.mr)
        b.ret_void()
        return fn

    def emit_pack_b(self):
        """pack_b(kc, nc, b, ldb, pb): the kc x nc block of B at `b` into NR-column panels
        (pb[panel][p][j]), columns past nc zero."""
        fn, b = self._function(".pack_b", [I64, I64, PTR, I64, PTR],
                               ["kc", "nc", "b", "ldb", "pb"])
        kc, nc, src, ldb, pb = fn.args
        pb.add_attribute("noalias")
        if self.trans_b:
            self._pack_b_transposed(b, kc, nc, src, ldb, pb)
        else:
            self._pack_b_rows(b, kc, nc, src, ldb, pb)
        b.ret_void()
        return fn

    def _pack_b_rows(self, b, kc, nc, src, ldb, pb):
        """B(p, j) = b[p * ldb + j]: a few rows at a time, each read along its whole length
        across the panels (a handful of sequential streams, as the hardware prefetcher
        likes, rather than one short piece per row of a panel: rows are often pages apart)."""
        blk = self.blk
        w = blk.w
        nv = blk.nr // w
        group = 4
        whole = b.sub(nc, b.srem(nc, _c64(blk.nr)))
        edge_masks = [self.lane_mask(b, w, b.sub(nc, whole), v * w) for v in range(nv)]

        def copy_rows(p0, count):
            def panel(jp, masks):
                dst = self.gep(b, pb, b.add(b.mul(jp, kc), b.mul(p0, _c64(blk.nr))))
                for g in range(count):
                    row = self.gep(b, src, b.add(b.mul(b.add(p0, _c64(g)), ldb), jp))
                    for v in range(nv):
                        x = self.load_vec(b, self.gep(b, row, _c64(v * w)), self.vt,
                                          masks[v] if masks else None)
                        b.store(x, self.gep(b, dst, _c64(g * blk.nr + v * w)), align=32)

            self.loop(b, _c64(0), whole, [], lambda jp, _: panel(jp, None) or [],
                      step=blk.nr)
            with b.if_then(b.icmp_signed("<", whole, nc)):
                panel(whole, edge_masks)

        main = b.sub(kc, b.srem(kc, _c64(group)))
        self.loop(b, _c64(0), main, [], lambda p, _: copy_rows(p, group) or [], step=group)
        self.loop(b, main, kc, [], lambda p, _: copy_rows(p, 1) or [])

    def _pack_b_transposed(self, b, kc, nc, src, ldb, pb):
        """B(p, j) = b[j * ldb + p]: each packed row gathers NR stored rows (NR sequential
        streams), w rows of the panel at a time by register transposes."""
        blk = self.blk

        def panel(jp, _):
            cols = self.smin(b, _c64(blk.nr), b.sub(nc, jp))
            dst = self.gep(b, pb, b.mul(jp, kc))

            def copy_edge():  # one value at a time, columns past `cols` zero (column 0 exists)
                def depth(p, _):
                    out = self.gep(b, dst, b.mul(p, _c64(blk.nr)))
                    for j in range(blk.nr):
                        col = b.add(jp, _c64(j))
                        if j:
                            inside = b.icmp_signed("<", _c64(j), cols)
                            col = b.select(inside, col, jp)
                        x = b.load(self.gep(b, src, b.add(b.mul(col, ldb), p)), typ=self.t,
                                   align=self.align)
                        if j:
                            x = b.select(inside, x, ir.Constant(self.t, 0.0))
                        b.store(x, self.gep(b, out, _c64(j)), align=self.align)
                    return []
                self.loop(b, _c64(0), kc, [], depth)

            with b.if_else(b.icmp_signed("==", cols, _c64(blk.nr)), likely=True) as (full, edge):
                with full:
                    self.interleave_rows(b, [self.gep(b, src, b.mul(b.add(jp, _c64(j)), ldb))
                                             for j in range(blk.nr)], kc, dst)
                with edge:
                    copy_edge()
            return []

        self.loop(b, _c64(0), nc, [], panel, step=blk.nr)

    # ---- implicit im2col operand -------------------------------------------------------------

    def gather_block(self, b, gather, desc, stage, ic, mc, pc, kc):
        """Gathers the mc x kc block of A at (ic, pc) from the im2col descriptor into `stage`
        as P's sub-block (row-major: [mc][kc], or [kc][mc] when A is P transposed); returns
        (block, leading dimension, row stride, column stride) of A there."""
        if not self.trans_a:
            b.call(gather, [desc, ic, mc, pc, kc, stage, kc])
            return stage, kc, kc, _c64(1)
        b.call(gather, [desc, pc, kc, ic, mc, stage, mc])
        return stage, mc, _c64(1), mc

    def emit_gather(self):
        """gather(desc, r0, nrows, c0, ncols, dst, ldd): dst[i * ldd + j] = P[r0 + i, c0 + j]
        for the patch matrix P the descriptor describes (see IM2COL_FIELDS). Each row's slice
        is a sequence of segments (window rows, or single window offsets when the last window
        dim is dilated), each a run of x's consecutive elements clipped to the input with
        zeros around it; runs are copied by whole vectors (loads masked at a run's end).
        Output positions and window offsets are stepped with carries, so no division runs per
        row or run."""
        fn = self.mod.globals.get(self.name + ".gather")
        if fn is not None:
            return fn
        w = self.blk.w
        fn, b = self._function(".gather", [PTR, I64, I64, I64, I64, PTR, I64],
                               ["desc", "r0", "nrows", "c0", "ncols", "dst", "ldd"])
        desc, r0, nrows, c0, ncols, dst, ldd = fn.args
        dst.add_attribute("noalias")
        f = {name: b.load(b.gep(desc, [_c64(i)], source_etype=I64), typ=I64)
             for i, name in enumerate(IM2COL_FIELDS)}
        x = b.inttoptr(f["x"], PTR)
        c, seg = f["c"], f["seg"]
        zero = self.vconst(self.vt, 0.0)

        def runs(dst_at, count, src_at=None):
            """dst[0:count] = src[0:count] (or zeros) by whole vectors, the last one's load
            masked past the run; stores are never masked (masked stores are slow): the last
            one's extra lanes land where later runs or rows are written, or in the stage's
            slack."""
            def vec(j, mask=None):
                v = zero if src_at is None else self.load_vec(b, self.gep(b, src_at, j),
                                                              self.vt, mask)
                self.store_vec(b, v, self.gep(b, dst_at, j))
                return []
            whole = b.sub(count, b.srem(count, _c64(w)))
            self.loop(b, _c64(0), whole, [], lambda j, _: vec(j), step=w)
            with b.if_then(b.icmp_signed("<", whole, count)):
                vec(whole, None if src_at is None else self.lane_mask(b, w, b.sub(count, whole)))

        def divmod_(v, d):
            return b.sdiv(v, d), b.srem(v, d)

        def step(digits, sizes):
            """digits + 1 in the mixed radix `sizes` (last digit fastest)."""
            out = list(digits)
            carry = ir.Constant(I1, 1)
            for i in range(len(out) - 1, -1, -1):
                inc = b.add(out[i], b.zext(carry, I64))
                wrap = b.and_(carry, b.icmp_signed("==", inc, sizes[i])) if i else \
                    ir.Constant(I1, 0)
                out[i] = b.select(wrap, _c64(0), inc)
                carry = wrap
            return out

        # The window offset of column c0 and the output position of row r0.
        g, q0 = divmod_(c0, seg)
        g, k2 = divmod_(g, f["k2"])
        k0, k1 = divmod_(g, f["k1"])
        rest, o2 = divmod_(r0, f["o2"])
        rest, o1 = divmod_(rest, f["o1"])
        n0, o0 = divmod_(rest, f["o0"])
        out_sizes = [None, f["o0"], f["o1"], f["o2"]]
        win_sizes = [None, f["k1"], f["k2"]]
        zero64 = _c64(0)

        def clamp(v, lo, hi):
            v = b.select(b.icmp_signed("<", v, lo), lo, v)
            return b.select(b.icmp_signed(">", v, hi), hi, v)

        def row(i, pos):
            n, p0_, p1_, p2_ = pos
            drow = self.gep(b, dst, b.mul(i, ldd))
            origin = [b.sub(b.mul(o, f["s%d" % d]), f["p%d" % d])
                      for d, o in enumerate((p0_, p1_, p2_))]
            # The per-segment loop: j (columns done), q (offset in the segment), window offset.
            def segment(values):
                j, q, w0, w1, w2 = values
                length = self.smin(b, b.sub(seg, q), b.sub(ncols, j))
                at = [b.add(org, b.mul(k, f["r%d" % d]))
                      for d, (org, k) in enumerate(zip(origin, (w0, w1, w2)))]
                inside = b.and_(b.icmp_unsigned("<", at[0], f["d0"]),
                                b.icmp_unsigned("<", at[1], f["d1"]))
                # Segment offsets t read x at base + t, valid for t in [lo, hi).
                lo = b.mul(b.sub(zero64, at[2]), c)
                hi = b.mul(b.sub(f["d2"], at[2]), c)
                lo = b.select(inside, lo, seg)
                end = b.add(q, length)
                first = clamp(lo, q, end)
                last = clamp(hi, first, end)
                base = b.add(b.mul(n, f["d0"]), at[0])
                base = b.add(b.mul(base, f["d1"]), at[1])
                base = b.mul(b.add(b.mul(base, f["d2"]), at[2]), c)

                def out(t):  # where segment offset t lands in the row
                    return self.gep(b, drow, b.add(j, b.sub(t, q)))
                src = b.gep(x, [base], source_etype=self.t)
                runs(out(q), b.sub(first, q))
                runs(out(first), b.sub(last, first), b.gep(src, [first], source_etype=self.t))
                runs(out(last), b.sub(end, last))
                return [b.add(j, length), zero64] + step([w0, w1, w2], win_sizes)
            self.while_loop(b, [zero64, q0, k0, k1, k2],
                            lambda values: b.icmp_signed("<", values[0], ncols), segment, "seg")
            return step([n, p0_, p1_, p2_], out_sizes)

        self.loop(b, _c64(0), nrows, [n0, o0, o1, o2], row)
        b.ret_void()
        return fn

    def emit_packed(self, tiles, tile_sa, pack_a, pack_b):
        """packed(m, n, k, a, lda, b, ldb, c, ldc, scratch, row0, row1, col0, col1, bias, res,
        ldr, alpha, direct_a): the blocked loops over C[row0:row1, col0:col1]; A is packed
        (the tiles: {None: the full tile, (rows, vectors): an edge tile}), or with direct_a
        read in place by tile_sa (when each A block meets few B panels)."""
        blk = self.blk
        fn, b = self._function(".packed", self.public_args() + [I1],
                               self.public_names() + ["direct_a"])
        (m, n, k, a, lda, bb, ldb, c, ldc, scratch, row0, row1, col0, col1, bias, res, ldr,
         alpha, direct_a) = fn.args
        ep = (bias, res, ldr, alpha, _c64(epilogue_flags(self.ep)))
        rsa, csa = (lda, _c64(1)) if not self.trans_a else (_c64(1), lda)
        # The packed blocks' layout in scratch (as _scratch_layout): A block, then B block.
        size = self.dt.itemsize
        mcap = self.smin(b, _c64(blk.mc), b.mul(b.sdiv(b.add(m, _c64(blk.mr - 1)),
                                                       _c64(blk.mr)), _c64(blk.mr)))
        kcap = self.smin(b, _c64(blk.kc), k)
        kcap = b.select(b.icmp_signed("<", kcap, _c64(1)), _c64(1), kcap)
        a_bytes = b.and_(b.add(b.mul(b.mul(mcap, kcap), _c64(size)), _c64(63)), _c64(-64))
        base = b.gep(scratch, [_c64(63)], inbounds=True, source_etype=ir.IntType(8))
        mask_fn = self._intrinsic("llvm.ptrmask.p0.i64", PTR, [PTR, I64])
        pa = b.call(mask_fn, [base, _c64(-64)])
        pb = b.gep(pa, [a_bytes], inbounds=True, source_etype=ir.IntType(8))
        if self.implicit:
            # The gathered A block sits between the packed A and B blocks.
            stage, gather = pb, self.emit_gather()
            pb = b.gep(pb, [b.add(a_bytes, _c64(STAGE_SLACK))], inbounds=True,
                       source_etype=ir.IntType(8))

        def b_off(p, j):
            return b.add(b.mul(p, ldb), j) if not self.trans_b else b.add(b.mul(j, ldb), p)

        # A rectangle of one row block meets each B panel once: with B in cache (and C not
        # swept by rows, ROWS_OUTER_K), each panel is packed right before its tiles into one
        # panel's space (L1), rather than all of them up front (a block of up to KC x NC,
        # passing through L2 to L3 and back): 4% faster for the MNIST MLP's x.W1. A B from
        # memory is packed row by row instead, along whole rows, as the hardware prefetcher
        # likes (panel by panel, each row a short piece, loses 2-10% on a CNN's fully
        # connected layer).
        b_cached = b.icmp_signed("<=", b.mul(b.mul(k, n), _c64(size)), _c64(DIRECT_B_BYTES))
        stream_b = b.and_(b.icmp_signed("<=", b.sub(row1, row0), _c64(blk.mc)), b_cached)

        def col_block(jc, _):
            nc = self.smin(b, _c64(blk.nc), b.sub(col1, jc))

            def chunk(pc, kc, first, last):
                b_bytes = b.mul(b.mul(kc, nc), _c64(size))
                rows_outer = b.and_(b.icmp_signed("<=", k, _c64(ROWS_OUTER_K)),
                                    b.icmp_signed("<=", b_bytes, _c64(ROWS_OUTER_B_BYTES)))
                stream = b.and_(stream_b, b.not_(rows_outer))
                with b.if_then(b.not_(stream)):
                    b.call(pack_b, [kc, nc, self.gep(b, bb, b_off(pc, jc)), ldb, pb])

                def row_block(ic, _):
                    mc = self.smin(b, _c64(blk.mc), b.sub(row1, ic))
                    if self.implicit:
                        blk_a = self.gather_block(b, gather, a, stage, ic, mc, pc, kc)
                    else:
                        blk_a = (self.gep(b, a, b.add(b.mul(ic, rsa), b.mul(pc, csa))), lda,
                                 rsa, csa)
                    a_blk, ld_blk, rs_blk, cs_blk = blk_a

                    def panels(in_place):
                        def tile_at(ir_, jr, pbj):
                            mr_eff = self.smin(b, _c64(blk.mr), b.sub(mc, ir_))
                            nr_eff = self.smin(b, _c64(blk.nr), b.sub(nc, jr))
                            i, j = b.add(ic, ir_), b.add(jc, jr)
                            a_args = ([self.gep(b, a_blk, b.mul(ir_, rs_blk)), rs_blk, cs_blk]
                                      if in_place else [self.gep(b, pa, b.mul(ir_, kc))])
                            args = ([kc] + a_args +
                                    [pbj, self.gep(b, c, b.add(b.mul(i, ldc), j)), ldc,
                                     mr_eff, nr_eff, first, last]
                                    + self.offset_epilogue(b, ep, i, j))
                            if in_place:
                                b.call(tile_sa, args)
                            else:
                                self.call_tile(b, tiles, mr_eff, nr_eff, args)
                            return []

                        def col_panel(jr, _):
                            with b.if_then(stream):
                                src = self.gep(b, bb, b_off(pc, b.add(jc, jr)))
                                cols = self.smin(b, _c64(blk.nr), b.sub(nc, jr))
                                b.call(pack_b, [kc, cols, src, ldb, pb])
                            pbj = b.select(stream, pb, self.gep(b, pb, b.mul(jr, kc)))
                            self.loop(b, _c64(0), mc, [], lambda ir_, _: tile_at(ir_, jr, pbj),
                                      step=blk.mr)
                            return []

                        def row_panel(ir_, _):
                            def tile(jr, _):
                                return tile_at(ir_, jr, self.gep(b, pb, b.mul(jr, kc)))
                            self.loop(b, _c64(0), nc, [], tile, step=blk.nr)
                            return []

                        with b.if_else(rows_outer) as (by_rows, by_cols):
                            with by_rows:
                                self.loop(b, _c64(0), mc, [], row_panel, step=blk.mr)
                            with by_cols:
                                self.loop(b, _c64(0), nc, [], col_panel, step=blk.nr)

                    with b.if_else(direct_a) as (in_place, packed):
                        with in_place:
                            panels(True)
                        with packed:
                            b.call(pack_a, [kc, mc, a_blk, ld_blk, pa])
                            panels(False)
                    return []
                self.loop(b, row0, row1, [], row_block, step=blk.mc)
            self.chunks(b, k, chunk)
            return []

        self.loop(b, col0, col1, [], col_block, step=blk.nc)
        b.ret_void()
        return fn

    def call_tile(self, b, tiles, mr_eff, nr_eff, args):
        """Calls the packed tile for an mr_eff x nr_eff piece of C: the edge tile with the
        fewest accumulators that covers it, else the full one."""
        after = b.append_basic_block("tile.done")
        for shape in sorted((s for s in tiles if s is not None), key=lambda s: s[0] * s[1]):
            fits = b.and_(b.icmp_signed("<=", mr_eff, _c64(shape[0])),
                          b.icmp_signed("<=", nr_eff, _c64(shape[1] * self.blk.w)))
            edge, other = b.append_basic_block("tile.edge"), b.append_basic_block("tile.next")
            b.cbranch(fits, edge, other)
            b.position_at_end(edge)
            b.call(tiles[shape], args)
            b.branch(after)
            b.position_at_end(other)
        b.call(tiles[None], args)
        b.branch(after)
        b.position_at_end(after)

    def offset_epilogue(self, b, ep_args, i, j):
        """The epilogue arguments (bias, res, ldr, alpha, flags) for the tile whose top-left
        element is C[i, j]."""
        bias, res, ldr, alpha, flags = ep_args
        return [self.offset(b, bias, j, self.t),
                self.offset(b, res, b.add(b.mul(i, ldr), j), self.t), ldr, alpha, flags]

    # ---- direct (unpacked) path ------------------------------------------------------------

    def direct_vectors(self, rows):
        """Vectors per tile row for an r-row direct kernel: as many independent accumulators
        as registers allow (B loads fold into the FMAs when r == 1)."""
        return {1: 8, 2: 4}.get(rows, 2)

    def emit_direct(self, rows):
        """direct_r(k, a, rsa, csa, b, rsb, c, ldc, mrows, ncols, bias, res, ldr, alpha):
        mrows <= `rows` rows of C, all ncols columns, reading A(i, p) = a[i*rsa + p*csa] and
        the B row p at b + p*rsb (unit column stride) in place; the same arithmetic as the
        packed path. Rows past mrows re-read the last row and are not stored."""
        blk = self.blk
        w = blk.w
        nv = self.direct_vectors(rows)
        tw = nv * w
        fn, b = self._kernel(".direct%d" % rows,
                             [I64, PTR, I64, I64, PTR, I64, PTR, I64, I64, I64, PTR, PTR,
                              I64, self.t],
                             ["k", "a", "rsa", "csa", "b", "rsb", "c", "ldc", "mrows",
                              "ncols", "bias", "res", "ldr", "alpha"])
        if b is None:
            return fn
        k, a, rsa, csa, bb, rsb, c, ldc, mrows, ncols = fn.args[:10]
        ep = self.epilogue_args(fn.args)
        last_row = b.sub(mrows, _c64(1))
        row_off = [b.mul(self.smin(b, _c64(i), last_row), rsa) for i in range(rows)]

        def col_tile(j0, _):
            nr_eff = self.smin(b, _c64(tw), b.sub(ncols, j0))
            full = b.icmp_signed("==", nr_eff, _c64(tw))
            masks = [self.lane_mask(b, w, nr_eff, v * w) for v in range(nv)]
            ep_args = self.offset_epilogue(b, ep, _c64(0), j0)

            def chunk(pc, kc, first, last):
                arow = [self.gep(b, a, b.add(off, b.mul(pc, csa))) for off in row_off]
                bcol = self.gep(b, bb, b.add(b.mul(pc, rsb), j0))

                def a_at(p, i):
                    return b.load(self.gep(b, arow[i], b.mul(p, csa)), typ=self.t,
                                  align=self.align)

                def run(guard):
                    def b_at(p, v):
                        ptr = self.gep(b, bcol, b.add(b.mul(p, rsb), _c64(v * w)))
                        if v == 0:
                            # B rows lie rsb apart: fetch a few rows ahead by hand.
                            ahead = b.gep(ptr, [b.mul(rsb, _c64(PREFETCH_ROWS))],
                                          source_etype=self.t)
                            self.prefetch_ahead(b, ahead, tw * self.dt.itemsize)
                        return self.load_vec(b, ptr, self.vt, masks[v] if guard else None)
                    flat = sum(self.kloop(b, kc, rows, nv, a_at, b_at, unroll=2), [])
                    return flat, b.block

                # Full-width tiles load B plainly, the last one under lane masks.
                flat = self.either(b, full, run)
                accs = [flat[i * nv:(i + 1) * nv] for i in range(rows)]
                self.store_tile(b, accs, rows, mrows, nr_eff, self.gep(b, c, j0), ldc, first,
                                last, ep_args)
            self.chunks(b, k, chunk)
            return []

        self.loop(b, _c64(0), ncols, [], col_tile, step=tw)
        b.ret_void()
        return fn

    # ---- one-row (batch-1) path -------------------------------------------------------------

    def emit_vecmat(self):
        """vecmat(k, a, csa, b, rsb, c, ncols, t, bias, res, ldr, alpha): the single row
        C[0, :ncols] = sum_p A(0, p) B(p, :) with A(0, p) = a[p*csa] and B rows at b + p*rsb
        (unit column stride), in axpy form: B is streamed row by row (sequential reads, four
        rows at a time) into the row accumulator t (scratch, L1-resident) rather than by
        column strips. Per element this is the packed path's arithmetic: t = 0 at each KC
        chunk, fmas in p order, then C = t or C + t."""
        blk = self.blk
        w = blk.w
        vt = self.vt
        fn, b = self._kernel(".vecmat", [I64, PTR, I64, PTR, I64, PTR, I64, PTR, PTR, PTR,
                                         I64, self.t],
                             ["k", "a", "csa", "b", "rsb", "c", "ncols", "t", "bias", "res",
                              "ldr", "alpha"])
        if b is None:
            return fn
        k, a, csa, bb, rsb, c, ncols, t = fn.args[:8]
        ep = self.epilogue_args(fn.args)
        t.add_attribute("noalias")
        group = 4

        def col_block(j0, _):
            width = self.smin(b, _c64(blk.nc), b.sub(ncols, j0))
            whole = b.sub(width, b.srem(width, _c64(w)))
            tail = b.icmp_signed("<", whole, width)
            tail_mask = self.lane_mask(b, w, b.sub(width, whole))

            def over_vectors(body):
                """body(j, mask) for the vectors of [0, width) (the last one masked)."""
                self.loop(b, _c64(0), whole, [], lambda j, _: body(j, None) or [], step=w)
                with b.if_then(tail):
                    body(whole, tail_mask)

            def chunk(pc, kc, first, last):
                over_vectors(lambda j, mask: self.store_vec(b, self.vconst(vt, 0.0),
                                                            self.gep(b, t, j)))

                def rows(p, count):
                    s = [self.splat(b, b.load(self.gep(b, a, b.mul(b.add(p, _c64(g)), csa)),
                                              typ=self.t, align=self.align), w)
                         for g in range(count)]
                    brow = [self.gep(b, bb, b.add(b.mul(b.add(p, _c64(g)), rsb), j0))
                            for g in range(count)]

                    def axpy(j, mask):
                        tp = self.gep(b, t, j)
                        x = self.load_vec(b, tp, vt, align=32)
                        for g in range(count):
                            x = self.fma(b, s[g], self.load_vec(b, self.gep(b, brow[g], j), vt,
                                                                mask), x)
                        self.store_vec(b, x, tp)
                    over_vectors(axpy)
                    return []

                main = b.add(pc, b.sub(kc, b.srem(kc, _c64(group))))
                self.loop(b, pc, main, [], lambda p, _: rows(p, group), step=group)
                self.loop(b, main, b.add(pc, kc), [], lambda p, _: rows(p, 1))

                def write(j, mask):
                    acc = self.load_vec(b, self.gep(b, t, j), vt, align=32)
                    nr_eff = self.smin(b, _c64(w), b.sub(width, j))
                    col = b.add(j0, j)
                    self.store_tile(b, [[acc]], 1, _c64(1), nr_eff, self.gep(b, c, col),
                                    _c64(0), first, last,
                                    self.offset_epilogue(b, ep, _c64(0), col))
                over_vectors(write)
            self.chunks(b, k, chunk)
            return []

        self.loop(b, _c64(0), ncols, [], col_block, step=blk.nc)
        b.ret_void()
        return fn

    # ---- dot (contraction-vectorised) path ---------------------------------------------------

    def emit_dot(self, ra, cb):
        """dot_RAxCB(mrows, ncols, k, a, rsa, b, csb, c, ldc, bias, res, ldr, alpha): C over
        mrows x ncols with A(i, p) = a[i*rsa + p] and B(p, j) = b[j*csb + p] (both contiguous
        along p), ra x cb dot products at a time, w partial sums each, reduced by a fixed
        pairwise tree."""
        w = self.blk.w
        vt = self.vt
        ot = ir.VectorType(self.t, cb)
        fn, b = self._kernel(".dot%dx%d" % (ra, cb),
                             [I64, I64, I64, PTR, I64, PTR, I64, PTR, I64, PTR, PTR, I64,
                              self.t],
                             ["mrows", "ncols", "k", "a", "rsa", "b", "csb", "c", "ldc",
                              "bias", "res", "ldr", "alpha"])
        if b is None:
            return fn
        mrows, ncols, k, a, rsa, bb, csb, c, ldc, bias, res, ldr, alpha, flags = fn.args
        kv = b.sub(k, b.srem(k, _c64(w)))
        tail = b.icmp_signed("<", kv, k)
        tail_mask = self.lane_mask(b, w, b.sub(k, kv))
        zero = self.vconst(vt, 0.0)

        def row_tile(i0, _):
            def col_tile(j0, _):
                # Out-of-range rows/columns of the tile re-read the last valid one (no stores).
                ap = [self.gep(b, a, b.mul(self.smin(b, b.add(i0, _c64(i)),
                                                     b.sub(mrows, _c64(1))), rsa))
                      for i in range(ra)]
                bp = [self.gep(b, bb, b.mul(self.smin(b, b.add(j0, _c64(j)),
                                                      b.sub(ncols, _c64(1))), csb))
                      for j in range(cb)]

                def accumulate(p, flat, mask=None):
                    av = [self.load_vec(b, self.gep(b, x, p), vt, mask) for x in ap]
                    bv = [self.load_vec(b, self.gep(b, y, p), vt, mask) for y in bp]
                    return [self.fma(b, av[i], bv[j], flat[i * cb + j])
                            for i in range(ra) for j in range(cb)]

                flat = self.loop(b, _c64(0), kv, [zero] * (ra * cb), accumulate, step=w)
                pre = b.block
                with b.if_then(tail):
                    tailed = accumulate(kv, flat, tail_mask)
                    tail_block = b.block
                merged = []
                for old, new in zip(flat, tailed):
                    ph = b.phi(vt)
                    ph.add_incoming(old, pre)
                    ph.add_incoming(new, tail_block)
                    merged.append(ph)
                sums = [self.reduce(b, x) for x in merged]
                cmask = self.lane_mask(b, cb, b.sub(ncols, j0))
                ctile = self.gep(b, c, b.add(b.mul(i0, ldc), j0))
                bias_v = self.load_vec(b, self.present(b, flags, EP_BIAS,
                                                       self.offset(b, bias, j0, self.t),
                                                       ctile), ot, cmask)
                for i in range(ra):
                    row = b.add(i0, _c64(i))
                    with b.if_then(b.icmp_signed("<", row, mrows)):
                        x = ir.Constant(ot, ir.Undefined)
                        for j in range(cb):
                            x = b.insert_element(x, sums[i * cb + j], _c32(j))
                        rp = self.present(b, flags, EP_READS_R,
                                          self.offset(b, res, b.add(b.mul(row, ldr), j0),
                                                      self.t),
                                          self.gep(b, c, b.add(b.mul(row, ldc), j0)))
                        x = self.apply_epilogue(b, x, alpha, bias_v, rp, cmask, flags)
                        self.store_vec(b, x, self.gep(b, c, b.add(b.mul(row, ldc), j0)),
                                       cmask)
                if self.separate_activation:
                    self.activation_pass(b, self.gep(b, c, b.add(b.mul(i0, ldc), j0)), ldc,
                                         self.smin(b, _c64(ra), b.sub(mrows, i0)),
                                         self.smin(b, _c64(cb), b.sub(ncols, j0)))
                return []
            self.loop(b, _c64(0), ncols, [], col_tile, step=cb)
            return []

        self.loop(b, _c64(0), mrows, [], row_tile, step=ra)
        b.ret_void()
        return fn

    def reduce(self, b, x):
        """Sum of the lanes of x by halving (a fixed order)."""
        n = x.type.count
        while n > 1:
            half = n // 2
            lo = b.shuffle_vector(x, x, ir.Constant(ir.VectorType(I32, half), list(range(half))))
            hi = b.shuffle_vector(x, x, ir.Constant(ir.VectorType(I32, half),
                                                    list(range(half, n))))
            x = b.fadd(lo, hi)
            n = half
        return b.extract_element(x, _c32(0))

    # ---- the public entry ------------------------------------------------------------------

    def public_args(self):
        return [I64, I64, I64, PTR, I64, PTR, I64, PTR, I64, PTR, I64, I64, I64, I64, PTR, PTR,
                I64, self.t]

    @staticmethod
    def public_names():
        return ["m", "n", "k", "a", "lda", "b", "ldb", "c", "ldc", "scratch", "row0", "row1",
                "col0", "col1", "bias", "res", "ldr", "alpha"]

    DOT_SHAPES = ((3, 4), (8, 1), (1, 8))

    def emit_kernels(self):
        """The kernel set's functions (defined or declared as the generator says): tile,
        tile_sa, the direct kernels, the dot kernels, vecmat."""
        return ([self.emit_tile(), self.emit_tile(strided_a=True)]
                + [self.emit_tile(shape=shape) for shape in edge_tiles(self.blk)]
                + [self.emit_direct(r) for r in self.blk.direct]
                + [self.emit_dot(*shape) for shape in self.DOT_SHAPES] + [self.emit_vecmat()])

    def emit(self):
        blk = self.blk
        self.emit_kernels()
        # Each emitter returns the function already in the module (or declared) once made.
        tiles = {shape: self.emit_tile(shape=shape) for shape in (None,) + edge_tiles(blk)}
        tile_sa = self.emit_tile(strided_a=True)
        direct = [self.emit_direct(r) for r in blk.direct]
        dots = {shape: self.emit_dot(*shape) for shape in self.DOT_SHAPES}
        vecmat = self.emit_vecmat()
        packed = self.emit_packed(tiles, tile_sa, self.emit_pack_a(), self.emit_pack_b())

        fn, b = self._function("", self.public_args(), self.public_names(), internal=False)
        args = fn.args
        (m, n, k, a, lda, bb, ldb, c, ldc, scratch, row0, row1, col0, col1, bias, res, ldr,
         alpha) = args
        one = _c64(1)
        rsa, csa = (lda, one) if not self.trans_a else (one, lda)
        rsb, csb = (ldb, one) if not self.trans_b else (one, ldb)
        rows = b.sub(row1, row0)
        cols = b.sub(col1, col0)
        with b.if_then(b.or_(b.icmp_signed("<=", rows, _c64(0)),
                             b.icmp_signed("<=", cols, _c64(0)))):
            b.ret_void()
        a0 = self.gep(b, a, b.mul(row0, rsa))
        b0 = self.gep(b, bb, b.mul(col0, csb))
        c0 = self.gep(b, c, b.add(b.mul(row0, ldc), col0))
        ep0 = self.offset_epilogue(b, (bias, res, ldr, alpha, _c64(epilogue_flags(self.ep))),
                                   row0, col0)

        # The path depends on the whole problem only, never on the rectangle.
        # Unpacked when packing cannot pay: few rows (B is read once anyway) or little work.
        small = b.or_(b.icmp_signed("<=", m, _c64(SMALL_M)),
                      b.icmp_signed("<=", b.mul(b.mul(m, n), k), _c64(SMALL_VOLUME)))
        # Few columns: each A block meets few B panels, so packing it costs more than reading
        # it in place (B is still packed: zero-padded panels keep the edge loop unmasked).
        narrow = b.icmp_signed("<=", n, _c64(NARROW_N * blk.nr))
        dot_ok = b.and_(b.icmp_signed("==", csa, one), b.icmp_signed("==", rsb, one))
        dot_ok = b.and_(dot_ok, b.icmp_signed(">", k, _c64(0)))
        direct_ok = b.or_(b.icmp_signed("==", csb, one), b.icmp_signed("==", n, one))
        gemv = b.and_(dot_ok, b.icmp_signed("==", n, one))
        one_row = b.icmp_signed("==", m, one)
        # The direct kernels read B by column strips, one row piece per page when ldb is
        # large: only worth it while B stays in cache.
        b_cached = b.icmp_signed("<=", b.mul(b.mul(k, n), _c64(self.dt.itemsize)),
                                 _c64(DIRECT_B_BYTES))

        def call_dot(shape):
            b.call(dots[shape], [rows, cols, k, a0, rsa, b0, csb, c0, ldc] + ep0)

        def call_direct():
            def row_block(i, _):
                r = self.smin(b, _c64(blk.mr), b.sub(rows, i))
                after = b.append_basic_block("direct.next")
                # r rows run the smallest kernel of at least r rows (blk.direct); the
                # default (r > the second-largest height) the tallest.
                choices = [b.append_basic_block("direct%d" % h) for h in blk.direct]
                sw = b.switch(r, choices[-1])
                for lower, height, kern, blk_r in zip((0,) + blk.direct, blk.direct, direct,
                                                      choices):
                    if blk_r is not choices[-1]:
                        for rows_ in range(lower + 1, height + 1):
                            sw.add_case(_c64(rows_), blk_r)
                    b.position_at_end(blk_r)
                    b.call(kern, [k, self.gep(b, a0, b.mul(i, rsa)), rsa, csa, b0, rsb,
                                  self.gep(b, c0, b.mul(i, ldc)), ldc, r, cols]
                           + self.offset_epilogue(b, ep0, i, _c64(0)))
                    b.branch(after)
                b.position_at_end(after)
                return []
            self.loop(b, _c64(0), rows, [], row_block, step=blk.mr)

        if self.implicit:
            # A transposed block is gathered as P's rows [KC][MC]: the MR values of a panel
            # for each p already lie side by side, so the tiles read it in place (measured
            # 10% faster than repacking it for a filter gradient).
            in_place = ir.Constant(I1, 1) if self.trans_a else \
                b.or_(narrow, b.icmp_signed("<=", m, _c64(SMALL_M)))
            b.call(packed, list(args) + [in_place])
            b.ret_void()
            return fn
        with b.if_then(gemv):
            call_dot((8, 1))
            b.ret_void()
        with b.if_then(b.and_(one_row, direct_ok)):
            # The row accumulator lives where the packed path keeps its A block.
            t = b.call(self._intrinsic("llvm.ptrmask.p0.i64", PTR, [PTR, I64]),
                       [b.gep(scratch, [_c64(63)], source_etype=ir.IntType(8)), _c64(-64)])
            b.call(vecmat, [k, a0, csa, b0, rsb, c0, cols, t] + ep0)
            b.ret_void()
        with b.if_then(b.and_(one_row, dot_ok)):
            call_dot((1, 8))
            b.ret_void()
        with b.if_then(b.and_(b.and_(small, direct_ok), b_cached)):
            call_direct()
            b.ret_void()
        with b.if_then(b.and_(small, dot_ok)):
            call_dot((3, 4))
            b.ret_void()
        b.call(packed, list(args) + [b.or_(narrow, b.icmp_signed("<=", m, _c64(SMALL_M)))])
        b.ret_void()
        return fn


# ---- element functions in registers --------------------------------------------------------


def _ln2_parts(t):
    """ln 2 as hi + lo in the float type t (hi the nearest value, lo the rest)."""
    with decimal.localcontext() as ctx:
        ctx.prec = 50
        ln2 = decimal.Decimal(2).ln()
    if isinstance(t, ir.FloatType):
        hi = float(np.float32(float(ln2)))
        return hi, float(np.float32(float(ln2 - decimal.Decimal(hi))))
    hi = float(ln2)
    return hi, float(ln2 - decimal.Decimal(hi))


def _exp_neg(gen, b, x):
    """exp(x) for x <= 0 on a float vector: x = n ln2 + r with |r| <= ln2 / 2, a Taylor
    polynomial in r, times 2^n applied in two halves so results down to the subnormals are
    right; x below the underflow bound gives 0 (via 2^-(big))."""
    vt = x.type
    single = isinstance(vt.element, ir.FloatType)
    it = ir.VectorType(I32 if single else I64, vt.count)
    mant, bias, degree = (23, 127, 7) if single else (52, 1023, 13)
    lo_bound = -104.0 if single else -746.0
    x = b.select(b.fcmp_ordered("<", x, gen.vconst(vt, lo_bound)), gen.vconst(vt, lo_bound), x)
    n = b.fmul(x, gen.vconst(vt, 1.0 / math.log(2.0)))
    rnd = gen._intrinsic("llvm.roundeven." + gen._mangle(vt), vt, [vt])
    n = b.call(rnd, [n])
    hi, lo = _ln2_parts(vt.element)
    r = gen.fma(b, n, gen.vconst(vt, -hi), x)
    r = gen.fma(b, n, gen.vconst(vt, -lo), r)
    p = gen.vconst(vt, 1.0 / math.factorial(degree))
    for d in range(degree - 1, -1, -1):
        p = gen.fma(b, p, r, gen.vconst(vt, 1.0 / math.factorial(d)))
    ni = b.fptosi(n, it)
    n1 = b.ashr(ni, ir.Constant(it, [1] * vt.count))
    n2 = b.sub(ni, n1)

    def pow2(e):
        return b.bitcast(b.shl(b.add(e, ir.Constant(it, [bias] * vt.count)),
                               ir.Constant(it, [mant] * vt.count)), vt)
    return b.fmul(b.fmul(p, pow2(n1)), pow2(n2))


def _sigmoid(gen, b, x):
    """1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) below, with e = exp(-|x|) (never
    overflows, keeps the relative accuracy of tiny results)."""
    vt = x.type
    fabs = gen._intrinsic("llvm.fabs." + gen._mangle(vt), vt, [vt])
    e = _exp_neg(gen, b, b.fsub(gen.vconst(vt, 0.0), b.call(fabs, [x])))
    s = b.fdiv(gen.vconst(vt, 1.0), b.fadd(gen.vconst(vt, 1.0), e))
    neg = b.fcmp_ordered("<", x, gen.vconst(vt, 0.0))
    return b.select(neg, b.fmul(e, s), s)


def _tanh_series(terms):
    """The first `terms` odd Taylor coefficients of tanh (from tanh' = 1 - tanh^2)."""
    a = [fractions.Fraction(0)] * (2 * terms + 1)
    for q in range(2 * terms):
        conv = sum((a[i] * a[q - i] for i in range(q + 1)), fractions.Fraction(0))
        a[q + 1] = ((1 if q == 0 else 0) - conv) / (q + 1)
    return [float(a[2 * i + 1]) for i in range(terms)]


def _tanh(gen, b, x):
    """tanh: the odd Taylor series for |x| < 0.3 (no cancellation near 0), else
    sign(x) (1 - e) / (1 + e) with e = exp(-2|x|) (1 - e is exact or >= 1/2 there)."""
    vt = x.type
    single = isinstance(vt.element, ir.FloatType)
    fabs = gen._intrinsic("llvm.fabs." + gen._mangle(vt), vt, [vt])
    sign = gen._intrinsic("llvm.copysign." + gen._mangle(vt), vt, [vt, vt])
    ax = b.call(fabs, [x])
    e = _exp_neg(gen, b, b.fmul(ax, gen.vconst(vt, -2.0)))
    big = b.fdiv(b.fsub(gen.vconst(vt, 1.0), e), b.fadd(gen.vconst(vt, 1.0), e))
    big = b.call(sign, [big, x])
    x2 = b.fmul(x, x)
    coeffs = _tanh_series(6 if single else 12)
    p = gen.vconst(vt, coeffs[-1])
    for cf in reversed(coeffs[:-1]):
        p = gen.fma(b, p, x2, gen.vconst(vt, cf))
    small = b.fmul(p, x)
    return b.select(b.fcmp_ordered("<", ax, gen.vconst(vt, 0.3)), small, big)


# ---- standalone JIT (tests, benchmarks) -----------------------------------------------------


def _emit_repeat(module, fn):
    """`<fn>_repeat(reps, args...)`: fn(args...) reps times (timing without call overhead)."""
    rep = ir.Function(module, ir.FunctionType(VOID, [I64] + [a.type for a in fn.args]),
                      fn.name + "_repeat")
    b = ir.IRBuilder(rep.append_basic_block("entry"))

    def once(i, _):
        b.call(fn, list(rep.args[1:]))
        return []
    _Gen.loop(b, _c64(0), rep.args[0], [], once)
    b.ret_void()


class JitGemm:
    """One emitted GEMM compiled on its own MCJIT engine (with its own TargetMachine for the
    host CPU), callable on numpy arrays; `fn` is the raw ctypes entry (the ABI above) and,
    with `repeat`, `fn_repeat(reps, *args)` calls it reps times. The engine lives as long as
    this object. `blk` is the Blocking (default blocking(dtype), the AVX2 one, whatever the
    host: callers of `fn` size scratch and split C with `self.blk` too)."""

    def __init__(self, dtype=np.float32, trans_a=False, trans_b=False, epilogue=None,
                 repeat=False, blk=None):
        import ctypes

        import llvmlite.binding as llvm
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        self.dtype = _dtype(dtype)
        self.trans_a, self.trans_b = bool(trans_a), bool(trans_b)
        self.epilogue = epilogue or Epilogue()
        self.blk = blk or blocking(self.dtype)
        module = ir.Module(name="gemm")
        fn = emit_sgemm(module, "gemm", self.dtype, trans_a, trans_b, self.epilogue,
                        blk=self.blk)
        if repeat:
            _emit_repeat(module, fn)
        self.ir = str(module)
        target = llvm.Target.from_default_triple()
        self.tm = target.create_target_machine(cpu=llvm.get_host_cpu_name(),
                                               features=llvm.get_host_cpu_features().flatten(),
                                               opt=3, jit=True)
        mod = llvm.parse_assembly(self.ir)
        mod.triple = self.tm.triple
        mod.data_layout = str(self.tm.target_data)
        mod.verify()
        pto = llvm.create_pipeline_tuning_options(speed_level=3)
        pb = llvm.create_pass_builder(self.tm, pto)
        pb.getModulePassManager().run(mod, pb)
        self.module = mod
        self.engine = llvm.create_mcjit_compiler(mod, self.tm)
        self.engine.finalize_object()
        ct = ctypes.c_float if self.dtype == np.float32 else ctypes.c_double
        i64, vp = ctypes.c_int64, ctypes.c_void_p
        args = (i64, i64, i64, vp, i64, vp, i64, vp, i64, vp, i64, i64, i64, i64, vp, vp, i64,
                ct)
        self.fn = ctypes.CFUNCTYPE(None, *args)(self.engine.get_function_address("gemm"))
        if repeat:
            self.fn_repeat = ctypes.CFUNCTYPE(None, i64, *args)(
                self.engine.get_function_address("gemm_repeat"))
        self._scratch = {}

    def assembly(self):
        return self.tm.emit_assembly(self.module)

    def scratch(self, m, n, k, slot=0):
        need = scratch_bytes(m, n, k, self.dtype, blk=self.blk)
        buf = self._scratch.get(slot)
        if buf is None or buf.size < need:
            buf = self._scratch[slot] = np.empty(need, np.uint8)
        return buf

    def __call__(self, a, b, c=None, bias=None, residual=None, alpha=1.0, rect=None, slot=0):
        """C (allocated when not given) = the GEMM of 2-D arrays a, b (as stored: transposed
        when the kernel's trans flag says so), over `rect` = (row0, row1, col0, col1) of C or
        all of it. Arrays need unit stride along their last axis."""
        a_, b_ = (a.T if self.trans_a else a), (b.T if self.trans_b else b)
        m, k = a_.shape
        n = b_.shape[1]
        if b_.shape[0] != k:
            raise ValueError("GEMM shapes %s and %s do not match" % (a.shape, b.shape))
        for x in (a, b):
            if x.dtype != self.dtype or (x.strides[-1] != self.dtype.itemsize
                                         and x.shape[-1] > 1 and x.size):
                raise ValueError("GEMM operands need dtype %s and unit last-axis stride"
                                 % self.dtype)
        if c is None:
            c = np.empty((m, n), self.dtype)
        row0, row1, col0, col1 = rect or (0, m, 0, n)
        size = self.dtype.itemsize
        ld = (lambda x: x.strides[0] // size if x.ndim == 2 and x.shape[0] > 1 else
              max(x.shape[-1], 1))
        res_ptr = residual.ctypes.data if residual is not None else None
        bias_ptr = bias.ctypes.data if bias is not None else None
        self.fn(m, n, k, a.ctypes.data, ld(a), b.ctypes.data, ld(b), c.ctypes.data, ld(c),
                self.scratch(m, n, k, slot).ctypes.data, row0, row1, col0, col1, bias_ptr,
                res_ptr, ld(residual) if residual is not None else 0, alpha)
        return c
