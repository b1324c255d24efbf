"""Element emitters of the CPU backend: per primitive, the LLVM IR computing ONE element of its
output at a given index from its operands' elements (XLA's element generators). A loop kernel
composes them; adding a primitive to the CPU backend means adding its emitter here (or, for an
opaque primitive, a kernel in graphc/backend/cpu/codegen.py).

`emit(k, instr, idx)`: k is the Kernel being built (k.b the IRBuilder, k.gen(value, idx) the
element of an operand), idx the output Index. Results are register values (bool is i1)."""

import numpy as np
from llvmlite import ir

from graphc.backend import CompileError
from graphc.backend.cpu import mathfns
from graphc.backend.cpu.types import I1, I64, intrinsic, is_float, is_signed, reg_type

ELEMENT = {}


def emitter(*names):
    def register(fn):
        for n in names:
            ELEMENT[n] = fn
        return fn
    return register


def _intrinsic(b, name, *args):
    return b.call(intrinsic(b.module, name, [args[0].type], args=len(args)), list(args))


def _unsupported(instr, dtype):
    return CompileError("the cpu backend cannot emit primitive %r for dtype %s" % (
        instr.op, np.dtype(dtype).name))


def _libm(b, name, x, *rest):
    fname = name + ("f" if x.type == ir.FloatType() else "")
    fn = b.module.globals.get(fname)
    if fn is None:
        fn = ir.Function(b.module, ir.FunctionType(x.type, [x.type] * (1 + len(rest))), fname)
    return b.call(fn, [x, *rest])


# ---------------------------------------------------------------- unary

@emitter("neg")
def _neg(k, instr, idx):
    x = k.gen(instr.operands[0], idx)
    dt = instr.operands[0].dtype
    if dt == np.bool_:
        raise _unsupported(instr, dt)
    return k.b.fneg(x) if is_float(dt) else k.b.neg(x)


@emitter("abs")
def _abs(k, instr, idx):
    x = k.gen(instr.operands[0], idx)
    dt = instr.operands[0].dtype
    if is_float(dt):
        return _intrinsic(k.b, "llvm.fabs", x)
    if is_signed(dt):
        return k.b.select(k.b.icmp_signed("<", x, ir.Constant(x.type, 0)), k.b.neg(x), x)
    return x


@emitter("sign")
def _sign(k, instr, idx):
    b = k.b
    x = k.gen(instr.operands[0], idx)
    dt = instr.operands[0].dtype
    if is_float(dt):
        zero, one = ir.Constant(x.type, 0.0), ir.Constant(x.type, 1.0)
        y = b.select(b.fcmp_ordered(">", x, zero), one, x)
        return b.select(b.fcmp_ordered("<", x, zero), ir.Constant(x.type, -1.0), y)
    if dt == np.bool_:
        return x
    zero = ir.Constant(x.type, 0)
    pos = b.zext(b.icmp_unsigned("!=", x, zero) if not is_signed(dt) else
                 b.icmp_signed(">", x, zero), x.type)
    if not is_signed(dt):
        return pos
    return b.sub(pos, b.zext(b.icmp_signed("<", x, zero), x.type))


@emitter("exp", "expm1", "log", "log1p", "tanh", "logistic")
def _transcendental(k, instr, idx):
    dt = instr.operands[0].dtype
    if not is_float(dt):
        raise _unsupported(instr, dt)
    return mathfns.apply(k.b, instr.op, k.gen(instr.operands[0], idx))


@emitter("sqrt", "rsqrt", "floor", "ceil", "round", "sin", "cos")
def _float_intrinsic(k, instr, idx):
    x = k.gen(instr.operands[0], idx)
    dt = instr.operands[0].dtype
    if not is_float(dt):
        if instr.op in ("floor", "ceil", "round"):
            return x  # integers are their own floor, ceiling and rounding
        raise _unsupported(instr, dt)
    name = {"rsqrt": "sqrt", "round": "roundeven"}.get(instr.op, instr.op)
    y = _intrinsic(k.b, "llvm." + name, x)
    return k.b.fdiv(ir.Constant(x.type, 1.0), y) if instr.op == "rsqrt" else y


@emitter("not")
def _not(k, instr, idx):
    x = k.gen(instr.operands[0], idx)
    if is_float(instr.operands[0].dtype):
        raise _unsupported(instr, instr.operands[0].dtype)
    return k.b.not_(x)


@emitter("is_finite", "is_nan")
def _classify(k, instr, idx):
    x = k.gen(instr.operands[0], idx)
    if not is_float(instr.operands[0].dtype):
        return ir.Constant(I1, int(instr.op == "is_finite"))
    if instr.op == "is_nan":
        return k.b.fcmp_unordered("uno", x, x)
    return k.b.fcmp_ordered("<", _intrinsic(k.b, "llvm.fabs", x), ir.Constant(x.type, np.inf))


# ---------------------------------------------------------------- binary

_FLOAT_BIN = {"add": "fadd", "sub": "fsub", "mul": "fmul"}
_INT_BIN = {"add": "add", "sub": "sub", "mul": "mul", "and": "and_", "or": "or_", "xor": "xor"}
_BOOL_BIN = {"add": "or_", "mul": "and_", "max": "or_", "min": "and_", "and": "and_",
             "or": "or_", "xor": "xor"}


@emitter("add", "sub", "mul", "div", "rem", "pow", "max", "min", "and", "or", "xor", "atan2")
def _binary(k, instr, idx):
    b = k.b
    x, y = (k.gen(o, idx) for o in instr.operands)
    dt = instr.operands[0].dtype
    op = instr.op
    if dt == np.bool_:
        if op not in _BOOL_BIN:
            raise _unsupported(instr, dt)
        return getattr(b, _BOOL_BIN[op])(x, y)
    if is_float(dt):
        if op in _FLOAT_BIN:
            return getattr(b, _FLOAT_BIN[op])(x, y, flags=("contract",))
        if op == "div":
            return b.fdiv(x, y)
        if op == "rem":
            return b.frem(x, y)
        if op in ("max", "min"):
            return _intrinsic(b, "llvm.maximum" if op == "max" else "llvm.minimum", x, y)
        if op == "pow":
            return _intrinsic(b, "llvm.pow", x, y)
        if op == "atan2":
            return _libm(b, "atan2", x, y)
        raise _unsupported(instr, dt)
    if op in _INT_BIN:
        return getattr(b, _INT_BIN[op])(x, y)
    signed = is_signed(dt)
    if op in ("max", "min"):
        cmp = b.icmp_signed if signed else b.icmp_unsigned
        return b.select(cmp(">" if op == "max" else "<", x, y), x, y)
    if op in ("div", "rem"):
        return _int_divide(b, op, x, y, signed)
    if op == "pow":
        return _int_pow(k, x, y, signed)
    raise _unsupported(instr, dt)


def _int_divide(b, op, x, y, signed):
    """C-style division and remainder; x/0 = -1 and x%0 = x (the reference's choices); the
    overflowing MIN/-1 wraps as numpy does instead of trapping."""
    t = x.type
    zero = b.icmp_unsigned("==", y, ir.Constant(t, 0))
    bad = zero
    if signed:
        overflow = b.and_(b.icmp_signed("==", x, ir.Constant(t, -(1 << (t.width - 1)))),
                          b.icmp_signed("==", y, ir.Constant(t, -1)))
        bad = b.or_(zero, overflow)
    safe = b.select(bad, ir.Constant(t, 1), y)
    if op == "div":
        q = (b.sdiv if signed else b.udiv)(x, safe)
        if signed:
            q = b.select(overflow, x, q)
        return b.select(zero, ir.Constant(t, -1), q)
    r = (b.srem if signed else b.urem)(x, safe)
    if signed:
        r = b.select(overflow, ir.Constant(t, 0), r)
    return b.select(zero, x, r)


def _int_pow(k, x, y, signed):
    """x**y by squaring (wrapping); negative exponents count as 0 like the reference."""
    b = k.b
    t = x.type
    if signed:
        y = b.select(b.icmp_signed("<", y, ir.Constant(t, 0)), ir.Constant(t, 0), y)
    pre = b.block
    head = b.append_basic_block("pow.head")
    body = b.append_basic_block("pow.body")
    done = b.append_basic_block("pow.done")
    b.branch(head)
    b.position_at_end(head)
    acc = b.phi(t)
    base = b.phi(t)
    e = b.phi(t)
    acc.add_incoming(ir.Constant(t, 1), pre)
    base.add_incoming(x, pre)
    e.add_incoming(y, pre)
    b.cbranch(b.icmp_unsigned("!=", e, ir.Constant(t, 0)), body, done)
    b.position_at_end(body)
    odd = b.trunc(e, I1)
    acc.add_incoming(b.select(odd, b.mul(acc, base), acc), body)
    base.add_incoming(b.mul(base, base), body)
    e.add_incoming(b.lshr(e, ir.Constant(t, 1)), body)
    b.branch(head)
    b.position_at_end(done)
    return acc


_FCMP = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


@emitter("eq", "ne", "lt", "le", "gt", "ge")
def _compare(k, instr, idx):
    b = k.b
    x, y = (k.gen(o, idx) for o in instr.operands)
    dt = instr.operands[0].dtype
    if is_float(dt):
        if instr.op == "ne":
            return b.fcmp_unordered("!=", x, y)  # NaN != anything
        return b.fcmp_ordered(_FCMP[instr.op], x, y)
    cmp = b.icmp_signed if is_signed(dt) else b.icmp_unsigned
    return cmp(_FCMP[instr.op], x, y)


@emitter("select")
def _select(k, instr, idx):
    p, x, y = (k.gen(o, idx) for o in instr.operands)
    return k.b.select(p, x, y)


@emitter("convert")
def _convert(k, instr, idx):
    x = k.gen(instr.operands[0], idx)
    return convert(k.b, x, instr.operands[0].dtype, instr.outputs[0].dtype)


def convert(b, x, src, dst):
    """numpy's astype, except float -> int saturates and maps NaN to 0."""
    src, dst = np.dtype(src), np.dtype(dst)
    t = reg_type(dst)
    if src == dst:
        return x
    f32 = np.dtype(np.float32)
    if np.float16 in (src, dst) and f32 not in (src, dst):
        # Only float32 <-> float16 has instructions (F16C); others would call compiler-rt.
        return convert(b, convert(b, x, src, f32), f32, dst)
    if dst == np.bool_:
        if is_float(src):
            return b.fcmp_unordered("!=", x, ir.Constant(x.type, 0.0))
        return b.icmp_unsigned("!=", x, ir.Constant(x.type, 0))
    if src == np.bool_:
        return b.uitofp(x, t) if is_float(dst) else b.zext(x, t)
    if is_float(src) and is_float(dst):
        return b.fpext(x, t) if dst.itemsize > src.itemsize else b.fptrunc(x, t)
    if is_float(src):
        name = "llvm.fptosi.sat" if is_signed(dst) else "llvm.fptoui.sat"
        return b.call(intrinsic(b.module, name, [t, x.type], ret=t, args=[x.type]), [x])
    if is_float(dst):
        return b.sitofp(x, t) if is_signed(src) else b.uitofp(x, t)
    if dst.itemsize < src.itemsize:
        return b.trunc(x, t)
    if dst.itemsize > src.itemsize:
        return b.sext(x, t) if is_signed(src) else b.zext(x, t)
    return x


@emitter("iota")
def _iota(k, instr, idx):
    i = idx.multi[instr.params["dimension"]]
    return convert(k.b, i, np.int64, instr.outputs[0].dtype)


@emitter("dim_size")
def _dim_size(k, instr, idx):
    return convert(k.b, k.dim(instr.params["dim"]), np.int64, instr.outputs[0].dtype)


# ---------------------------------------------------------------- data movement

@emitter("broadcast_in_dim")
def _broadcast(k, instr, idx):
    x = instr.operands[0]
    multi = [k.zero if x.shape[i] == 1 else idx.multi[d]
             for i, d in enumerate(instr.params["broadcast_dimensions"])]
    return k.gen(x, k.index(x.shape, multi=multi))


@emitter("reshape")
def _reshape(k, instr, idx):
    x = instr.operands[0]
    return k.gen(x, k.index(x.shape, linear=idx.linear))


@emitter("transpose")
def _transpose(k, instr, idx):
    x = instr.operands[0]
    multi = [None] * x.rank
    for out_axis, in_axis in enumerate(instr.params["perm"]):
        multi[in_axis] = idx.multi[out_axis]
    return k.gen(x, k.index(x.shape, multi=multi))


@emitter("slice")
def _slice(k, instr, idx):
    x = instr.operands[0]
    b = k.b
    multi = [b.add(b.mul(i, ir.Constant(I64, st)), k.dim(s))
             for i, s, st in zip(idx.multi, instr.params["start"], instr.params["strides"])]
    return k.gen(x, k.index(x.shape, multi=multi))


@emitter("reverse")
def _reverse(k, instr, idx):
    x = instr.operands[0]
    b = k.b
    multi = [b.sub(b.sub(k.dim(d), ir.Constant(I64, 1)), i) if a in instr.params["axes"] else i
             for a, (i, d) in enumerate(zip(idx.multi, x.shape))]
    return k.gen(x, k.index(x.shape, multi=multi))


@emitter("pad")
def _pad(k, instr, idx):
    x, value = instr.operands
    b = k.b
    p = instr.params
    inside = ir.Constant(I1, 1)
    multi = []
    for i, d, lo, interior in zip(idx.multi, x.shape, p["lo"], p["interior"]):
        t = b.sub(i, ir.Constant(I64, lo))
        step = ir.Constant(I64, interior + 1)
        q = b.sdiv(t, step) if interior else t
        ok = b.and_(b.icmp_signed(">=", t, ir.Constant(I64, 0)),
                    b.icmp_signed("<", q, k.dim(d)))
        if interior:
            ok = b.and_(ok, b.icmp_signed("==", b.srem(t, step), ir.Constant(I64, 0)))
        inside = b.and_(inside, ok)
        multi.append(q)
    fill = k.gen(value, k.index((), multi=[]))
    return k.branch(inside, lambda: k.gen(x, k.index(x.shape, multi=multi)), lambda: fill)


@emitter("concatenate")
def _concatenate(k, instr, idx):
    b = k.b
    axis = instr.params["axis"]
    pos = idx.multi[axis]
    offsets = []
    start = ir.Constant(I64, 0)
    for x in instr.operands:
        offsets.append(start)
        start = b.add(start, k.dim(x.shape[axis]))

    def part(i):
        x = instr.operands[i]
        multi = list(idx.multi)
        multi[axis] = b.sub(pos, offsets[i])
        if i == len(instr.operands) - 1:
            return k.gen(x, k.index(x.shape, multi=multi))
        return k.branch(b.icmp_signed("<", pos, offsets[i + 1]),
                        lambda: k.gen(x, k.index(x.shape, multi=multi)),
                        lambda: part(i + 1))
    return part(0)


@emitter("gather")
def _gather(k, instr, idx):
    x, indices = instr.operands
    axis = instr.params["axis"]
    r = indices.rank
    where = k.gen(indices, k.index(indices.shape, multi=idx.multi[axis:axis + r]))
    i = convert(k.b, where, indices.dtype, np.int64)
    multi = idx.multi[:axis] + [i] + idx.multi[axis + r:]
    return k.gen(x, k.index(x.shape, multi=multi))
