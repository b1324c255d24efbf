"""The CPU kernel of the `rng` primitive: counter-based Philox-4x32-10 draws with exactly the
numbers of graphc/ir/philox.py (the interpreter's reference, which reproduces TensorFlow).

The state slot is int64[3] = (seed, seed2, counter offset). Block `i` of a draw is Philox of
the 128-bit counter `(seed2 << 64) + offset + i` under the key `seed`; the kernel runs in
parallel over groups of outputs, and a group's blocks depend only on its number, so the bits
never depend on the thread count:

* uniform, normal, uniform_int: group g is block g (four 32-bit or two 64-bit outputs);
* truncated_normal: group g (four float32/float16 or two float64 outputs) reads its own
  region of blocks from `256 * g` (`128 * g` for float64) until it has accepted its outputs;
* permutation (RandomShuffle): a sequential forward Fisher-Yates shuffle, one uint32 per swap.

After the draw the entry stores the new state: the offset advanced by 256 blocks per output
(one block per four swaps for a permutation), as the reference does.

Box-Muller calls the C library's double `log`, `sin` and `cos` and rounds as the reference
does (numpy's float64 functions are the C library's on the machines this runs on)."""

import numpy as np
from llvmlite import ir

from graphc.backend import CompileError
from graphc.backend.cpu.emitters import convert
from graphc.backend.cpu.types import F16, F32, F64, I32, I64, const, intrinsic, reg_type

PHILOX_A = 0xD2511F53
PHILOX_B = 0xCD9E8D57
WEYL = (0x9E3779B9, 0xBB67AE85)
ROUNDS = 10
RESERVED_BLOCKS_PER_OUTPUT = 256
I16 = ir.IntType(16)
I128 = ir.IntType(128)
TWO_PI = 2.0 * np.pi  # a double, as in TensorFlow's 2.0f * M_PI
WORK_PER_GROUP = 64  # rough cost of one group in elements of elementwise work (GRAIN units)


def _c32(v):
    return const(np.uint32, v)


def philox(b, counter, key):
    """The four uint32 output words (i32 values) of Philox-4x32-10 of the i128 `counter`
    under the (k0, k1) i32 key."""
    c = [b.trunc(b.lshr(counter, ir.Constant(I128, 32 * i)), I32) for i in range(4)]
    k0, k1 = key
    shift = ir.Constant(I64, 32)
    for r in range(ROUNDS):
        if r:
            k0 = b.add(k0, _c32(WEYL[0]))
            k1 = b.add(k1, _c32(WEYL[1]))
        p0 = b.mul(b.zext(c[0], I64), ir.Constant(I64, PHILOX_A))
        p1 = b.mul(b.zext(c[2], I64), ir.Constant(I64, PHILOX_B))
        c = [b.xor(b.xor(b.trunc(b.lshr(p1, shift), I32), c[1]), k0), b.trunc(p1, I32),
             b.xor(b.xor(b.trunc(b.lshr(p0, shift), I32), c[3]), k1), b.trunc(p0, I32)]
    return c


class _Stream:
    """A draw's key and base counter, loaded from the state buffer inside a kernel."""

    def __init__(self, k, state_ptr):
        b = k.b
        words = [k.load(state_ptr, np.int64, ir.Constant(I64, i)) for i in range(3)]
        seed, seed2, offset = words
        self.b = b
        self.key = (b.trunc(seed, I32), b.trunc(b.lshr(seed, ir.Constant(I64, 32)), I32))
        # (seed2 mod 2**64) << 64, plus the offset as the (signed) integer it is, mod 2**128.
        self.base = b.add(b.shl(b.zext(seed2, I128), ir.Constant(I128, 64)),
                          b.sext(offset, I128))

    def block(self, index):
        """The words of block `index` (i64, treated as unsigned) of this stream."""
        b = self.b
        return philox(b, b.add(self.base, b.zext(index, I128)), self.key)


# ---------------------------------------------------------------- bits to numbers

def _unit_float32(b, x):
    bits = b.or_(b.and_(x, _c32(0x7FFFFF)), _c32(127 << 23))
    return b.fsub(b.bitcast(bits, F32), ir.Constant(F32, 1.0))


def _unit_float16(b, x):
    bits = b.trunc(b.or_(b.and_(x, _c32(0x3FF)), _c32(15 << 10)), I16)
    return b.fsub(b.bitcast(bits, F16), ir.Constant(F16, 1.0))


def _unit_float64(b, hi, lo):
    mant = b.or_(b.shl(b.zext(b.and_(hi, _c32(0xFFFFF)), I64), ir.Constant(I64, 32)),
                 b.zext(lo, I64))
    bits = b.or_(mant, ir.Constant(I64, 1023 << 52))
    return b.fsub(b.bitcast(bits, F64), ir.Constant(F64, 1.0))


def _libm(b, name, x):
    fn = b.module.globals.get(name)
    if fn is None:
        fn = ir.Function(b.module, ir.FunctionType(F64, [F64]), name)
    return b.call(fn, [x])


def _fmax(b, x, floor):
    return b.select(b.fcmp_ordered("<", x, floor), floor, x)


def _box_muller_float32(b, x0, x1):
    """(sin, cos) float32 normals of two words, rounding where the reference rounds."""
    u1 = _fmax(b, _unit_float32(b, x0), ir.Constant(F32, float(np.float32(1e-7))))
    v1 = b.fpext(b.fptrunc(b.fmul(ir.Constant(F64, TWO_PI), b.fpext(_unit_float32(b, x1), F64)),
                           F32), F64)
    log_u1 = b.fptrunc(_libm(b, "log", b.fpext(u1, F64)), F32)
    sqrt = intrinsic(b.module, "llvm.sqrt", [F32])
    u2 = b.call(sqrt, [b.fmul(ir.Constant(F32, -2.0), log_u1)])
    return (b.fmul(b.fptrunc(_libm(b, "sin", v1), F32), u2),
            b.fmul(b.fptrunc(_libm(b, "cos", v1), F32), u2))


def _box_muller_float64(b, x0, x1, x2, x3):
    u1 = _fmax(b, _unit_float64(b, x0, x1), ir.Constant(F64, 1e-7))
    v1 = b.fmul(ir.Constant(F64, TWO_PI), _unit_float64(b, x2, x3))
    sqrt = intrinsic(b.module, "llvm.sqrt", [F64])
    u2 = b.call(sqrt, [b.fmul(ir.Constant(F64, -2.0), _libm(b, "log", u1))])
    return b.fmul(_libm(b, "sin", v1), u2), b.fmul(_libm(b, "cos", v1), u2)


def _normals(b, words, dtype):
    """A block's Box-Muller values in the reference's order: four float32 (for float32 and
    float16) or two float64."""
    if dtype == np.float64:
        return list(_box_muller_float64(b, *words))
    s0, c0 = _box_muller_float32(b, words[0], words[1])
    s1, c1 = _box_muller_float32(b, words[2], words[3])
    return [s0, c0, s1, c1]


def _fixed_values(b, kind, words, dtype, params):
    """One block's outputs (register values of `dtype`) for uniform, normal, uniform_int."""
    if kind == "uniform":
        if dtype == np.float64:
            return [_unit_float64(b, words[0], words[1]), _unit_float64(b, words[2], words[3])]
        unit = _unit_float32 if dtype == np.float32 else _unit_float16
        return [unit(b, w) for w in words]
    if kind == "normal":
        values = _normals(b, words, dtype)
        return values if dtype != np.float16 else [b.fptrunc(v, F16) for v in values]
    lo, hi = int(params["minval"]), int(params["maxval"])
    if dtype == np.int64:
        span = const(np.uint64, hi - lo)
        out = []
        for w_lo, w_hi in ((words[0], words[1]), (words[2], words[3])):
            bits = b.or_(b.zext(w_lo, I64), b.shl(b.zext(w_hi, I64), ir.Constant(I64, 32)))
            out.append(b.add(const(np.int64, lo), b.urem(bits, span)))
        return out
    return [b.add(const(np.int32, lo), b.urem(w, _c32(hi - lo))) for w in words]


# ---------------------------------------------------------------- kernels

def _fixed_kernel(k, kind, dtype, size, params, state_ptr, out_ptr):
    b = k.b
    per_block = 2 if dtype.itemsize == 8 else 4
    full = size // per_block  # groups whose every output exists

    def group(g):
        stream = _Stream(k, state_ptr)
        values = _fixed_values(b, kind, stream.block(g), dtype, params)
        first = b.mul(g, ir.Constant(I64, per_block))
        complete = b.icmp_signed("<", g, ir.Constant(I64, full))
        with b.if_else(complete) as (then, otherwise):
            with then:
                for j, v in enumerate(values):
                    k.store(out_ptr, dtype, b.add(first, ir.Constant(I64, j)), v)
            with otherwise:
                for j, v in enumerate(values[:size % per_block]):
                    k.store(out_ptr, dtype, b.add(first, ir.Constant(I64, j)), v)
    k.loop(k.start, k.end, group)
    k.finish()
    return -(-size // per_block)


def _truncated_normal_kernel(k, dtype, size, state_ptr, out_ptr):
    b = k.b
    per_group = 2 if dtype == np.float64 else 4
    stride = per_group * RESERVED_BLOCKS_PER_OUTPUT // 4
    limit = ir.Constant(I64, per_group)
    filled = k.alloca(I64)
    step = k.alloca(I64)
    two = {np.dtype(np.float64): ir.Constant(F64, 2.0)}.get(dtype, ir.Constant(F32, 2.0))

    def group(g):
        stream = _Stream(k, state_ptr)
        first = b.mul(g, limit)
        b.store(k.zero, filled)
        b.store(k.zero, step)
        head = b.append_basic_block("draw")
        body = b.append_basic_block("draw.body")
        done = b.append_basic_block("draw.end")
        b.branch(head)
        b.position_at_end(head)
        b.cbranch(b.icmp_signed("<", b.load(filled, typ=I64), limit), body, done)
        b.position_at_end(body)
        s = b.load(step, typ=I64)
        index = b.add(b.mul(g, ir.Constant(I64, stride)), s)
        for cand in _normals(b, stream.block(index), dtype):
            n = b.load(filled, typ=I64)
            fabs = intrinsic(b.module, "llvm.fabs", [cand.type])
            accept = b.and_(b.fcmp_ordered("<", b.call(fabs, [cand]), two),
                            b.icmp_signed("<", n, limit))
            with b.if_then(accept):
                at = b.add(first, n)
                with b.if_then(b.icmp_signed("<", at, ir.Constant(I64, size))):
                    k.store(out_ptr, dtype, at,
                            cand if dtype != np.float16 else b.fptrunc(cand, F16))
                b.store(b.add(n, k.one), filled)
        b.store(b.add(s, k.one), step)
        b.branch(head)
        b.position_at_end(done)
    k.loop(k.start, k.end, group)
    k.finish()
    return -(-size // per_group)


def _permutation_kernel(k, dtype, n, state_ptr, out_ptr):
    """out[i] = perm[i] of the reference's forward Fisher-Yates shuffle (serial)."""
    b = k.b
    k.loop(k.zero, ir.Constant(I64, n),
           lambda i: k.store(out_ptr, dtype, i, convert(b, i, np.int64, dtype)))
    draws = n - 1
    stream = _Stream(k, state_ptr)

    def block(blk):
        words = stream.block(blk)
        for j, w in enumerate(words):
            i = b.add(b.mul(blk, ir.Constant(I64, 4)), ir.Constant(I64, j))
            with b.if_then(b.icmp_signed("<", i, ir.Constant(I64, draws))):
                other = b.add(i, b.urem(b.zext(w, I64), b.sub(ir.Constant(I64, n), i)))
                a, c = k.load(out_ptr, dtype, i), k.load(out_ptr, dtype, other)
                k.store(out_ptr, dtype, i, c)
                k.store(out_ptr, dtype, other, a)
    k.loop(k.zero, ir.Constant(I64, -(-draws // 4)), block)
    k.finish()


def _static_size(shape):
    if not all(isinstance(d, (int, np.integer)) for d in shape):
        raise CompileError("rng needs a static shape, got %s" % (shape,))
    return int(np.prod(shape, dtype=np.int64))


def rng(mb, instr):
    """Kernel builder (codegen KERNELS entry) for `values, new_state = rng(state)`."""
    params = dict(instr.params)
    kind, dtype = params.pop("kind"), np.dtype(params.pop("dtype"))
    shape = params.pop("shape")
    state, = instr.operands
    values, new_state = instr.outputs
    reg_type(dtype)  # rejects dtypes the backend cannot store
    size = _static_size(shape)
    state_ptr = mb.pointer(state)
    if kind == "permutation":
        n = int(shape[0])
        advance = -(-(n - 1) // 4) if n > 1 else 0
    else:
        advance = RESERVED_BLOCKS_PER_OUTPUT * size
    if size and advance:
        k = mb.kernel("rng_" + kind)
        sp, op = k.buffer(), k.buffer()
        if kind == "permutation":
            _permutation_kernel(k, dtype, int(shape[0]), sp, op)
            groups, serial = 1, True
        elif kind == "truncated_normal":
            groups, serial = _truncated_normal_kernel(k, dtype, size, sp, op), False
        elif kind in ("uniform", "normal", "uniform_int"):
            groups, serial = _fixed_kernel(k, kind, dtype, size, params, sp, op), False
        else:
            raise CompileError("rng kind %r is not supported by the cpu backend" % kind)
        mb.call(k, [state_ptr, mb.pointer(values)], (groups,), work=WORK_PER_GROUP,
                serial=serial)
    elif kind == "permutation" and size:
        k = mb.kernel("rng_identity")
        op = k.buffer()
        k.loop(k.zero, ir.Constant(I64, size),
               lambda i: k.store(op, dtype, i, convert(k.b, i, np.int64, dtype)))
        k.finish()
        mb.call(k, [mb.pointer(values)], (), serial=True)
    # The new state, after the draw has read the old one (they may share a buffer).
    b = mb.b
    src, dst = state_ptr, mb.pointer(new_state)
    words = [b.load(b.gep(I64, src, [ir.Constant(I64, i)]), typ=I64) for i in range(3)]
    words[2] = b.add(words[2], ir.Constant(I64, advance))
    for i, w in enumerate(words):
        b.store(w, b.gep(I64, dst, [ir.Constant(I64, i)]))
