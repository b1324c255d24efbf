"""The primitive set of the core IR. Each primitive is one block: its shape/dtype rule
(`infer`), its numpy reference (`reference`, the definition the interpreter runs and every
backend is tested against) and its fusion kind, which is all the fusion pass reads.

Operands of elementwise primitives have equal shapes and dtypes: broadcasting is explicit
(`broadcast_in_dim`), as in XLA HLO. Shapes may hold SymDim; the interpreter binds them before
calling a reference."""

import numpy as np

from graphc import errors
from graphc.ir.shapes import SymDim, num_elements

ELEMENTWISE = "elementwise"
BROADCAST = "broadcast"
INJECTIVE = "injective"
REDUCTION = "reduction"
OPAQUE = "opaque"
KINDS = (ELEMENTWISE, BROADCAST, INJECTIVE, REDUCTION, OPAQUE)

PRIMITIVES = {}


class Primitive:
    """Registry entry. `infer(operands, **params) -> [(dtype, shape), ...]`."""

    def __init__(self, name, kind, infer, reference, num_outputs=1):
        self.name = name
        self.kind = kind
        self.infer = infer
        self.reference = reference
        self.num_outputs = num_outputs

    def __repr__(self):
        return "Primitive(%s, %s)" % (self.name, self.kind)


def define(name, kind, infer, reference, num_outputs=1):
    if name in PRIMITIVES:
        raise ValueError("primitive %s defined twice" % name)
    PRIMITIVES[name] = Primitive(name, kind, infer, reference, num_outputs)
    return PRIMITIVES[name]


class IRTypeError(TypeError):
    """An ill-typed primitive application (a compiler bug, reported by the verifier)."""


def _check(cond, msg, *args):
    if not cond:
        raise IRTypeError(msg % args)


def _same_shapes(name, operands):
    first = operands[0]
    for o in operands[1:]:
        _check(o.shape == first.shape, "%s: operand shapes differ: %s vs %s", name, first.shape,
               o.shape)
    return first.shape


# ---------------------------------------------------------------- elementwise

def _float_err(fn):
    def ref(*xs):
        with np.errstate(all="ignore"):
            return fn(*xs)
    return ref


def _unary(name, fn, dtype_rule=None, kind=ELEMENTWISE):
    def infer(x):
        return [(dtype_rule(x.dtype) if dtype_rule else x.dtype, x.shape)]
    define(name, kind, infer, _float_err(fn))


def _binary(name, fn, out_dtype=None):
    def infer(x, y):
        _check(x.dtype == y.dtype, "%s: operand dtypes differ: %s vs %s", name, x.dtype, y.dtype)
        return [(np.dtype(out_dtype) if out_dtype else x.dtype, _same_shapes(name, [x, y]))]

    def ref(x, y):
        with np.errstate(all="ignore"):
            r = fn(x, y)
        return np.asarray(r, dtype=out_dtype or x.dtype)
    define(name, ELEMENTWISE, infer, ref)


def _int_division(a, b):
    """C-style integer division (truncate toward zero); x/0 gives -1 as in XLA."""
    safe = np.where(b == 0, 1, b)
    q = np.abs(a) // np.abs(safe)
    q = np.where((a < 0) != (safe < 0), -q, q)
    return np.where(b == 0, -1, q).astype(a.dtype)


def _div(a, b):
    if a.dtype.kind in "iu":
        return _int_division(a, b)
    return a / b


def _rem(a, b):
    """C-style remainder (sign of the dividend), like XLA's rem; x%0 gives x."""
    if a.dtype.kind in "iu":
        safe = np.where(b == 0, 1, b)
        return np.where(b == 0, a, a - _int_division(a, safe) * safe).astype(a.dtype)
    return np.fmod(a, b)


def _round_half_even(x):
    return np.round(x) if x.dtype.kind == "f" else x


def _logistic(x):
    # exp(-|x|) never overflows: the two branches are the stable forms of 1/(1+exp(-x)).
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)


def _pow(a, b):
    if a.dtype.kind in "iu":
        return np.power(a, np.maximum(b, 0)) if a.dtype.kind == "i" else np.power(a, b)
    return np.power(a, b)


def _sign(x):
    return np.sign(x).astype(x.dtype)


def _bool_result(_):
    return np.dtype(np.bool_)


for _name, _fn in [("neg", np.negative), ("abs", np.abs), ("sign", _sign), ("exp", np.exp),
                   ("expm1", np.expm1), ("log", np.log), ("log1p", np.log1p), ("sqrt", np.sqrt),
                   ("rsqrt", lambda x: (1 / np.sqrt(x)).astype(x.dtype)), ("tanh", np.tanh),
                   ("logistic", _logistic), ("floor", np.floor), ("ceil", np.ceil),
                   ("round", _round_half_even), ("sin", np.sin), ("cos", np.cos),
                   ("not", lambda x: np.logical_not(x) if x.dtype == np.bool_ else np.invert(x))]:
    _unary(_name, _fn)
_unary("is_finite", np.isfinite, _bool_result)
_unary("is_nan", np.isnan, _bool_result)

for _name, _fn in [("add", np.add), ("sub", np.subtract), ("mul", np.multiply), ("div", _div),
                   ("rem", _rem), ("pow", _pow), ("max", np.maximum), ("min", np.minimum),
                   ("and", lambda a, b: a & b), ("or", lambda a, b: a | b),
                   ("xor", lambda a, b: a ^ b), ("atan2", np.arctan2)]:
    _binary(_name, _fn)
for _name, _fn in [("eq", np.equal), ("ne", np.not_equal), ("lt", np.less),
                   ("le", np.less_equal), ("gt", np.greater), ("ge", np.greater_equal)]:
    _binary(_name, _fn, out_dtype=np.bool_)


def _select_infer(pred, on_true, on_false):
    _check(pred.dtype == np.bool_, "select: predicate must be bool, got %s", pred.dtype)
    _check(on_true.dtype == on_false.dtype, "select: branch dtypes differ")
    return [(on_true.dtype, _same_shapes("select", [pred, on_true, on_false]))]


define("select", ELEMENTWISE, _select_infer, lambda p, a, b: np.where(p, a, b))


def _convert(x, dtype):
    """Saturating conversion: float->int clamps to the target range and maps NaN to 0."""
    dtype = np.dtype(dtype)
    if x.dtype.kind == "f" and dtype.kind in "iu":
        info = np.iinfo(dtype)
        with np.errstate(invalid="ignore"):
            y = np.nan_to_num(np.trunc(x.astype(np.float64)), nan=0.0)
            y = np.clip(y, info.min, info.max)
            # float64(info.max) of int64 rounds up to 2**63, whose cast would wrap.
            return np.where(y >= float(info.max), info.max, y.astype(dtype)).astype(dtype)
    if dtype == np.bool_:
        return x != 0
    with np.errstate(all="ignore"):
        return x.astype(dtype)


define("convert", ELEMENTWISE, lambda x, dtype: [(np.dtype(dtype), x.shape)], _convert)


# ---------------------------------------------------------------- data movement

def _constant_infer(value):
    return [(value.dtype, value.shape)]


define("constant", OPAQUE, _constant_infer, lambda value: value)


def _iota_infer(dtype, shape, dimension):
    _check(0 <= dimension < len(shape), "iota: dimension %d out of range", dimension)
    return [(np.dtype(dtype), tuple(shape))]


def _iota(dtype, shape, dimension):
    idx = np.arange(shape[dimension], dtype=dtype)
    view = [1] * len(shape)
    view[dimension] = shape[dimension]
    return np.broadcast_to(idx.reshape(view), shape).copy()


define("iota", ELEMENTWISE, _iota_infer, _iota)


def _broadcast_infer(x, shape, broadcast_dimensions):
    _check(len(broadcast_dimensions) == x.rank, "broadcast_in_dim: need one dim per operand axis")
    for i, d in enumerate(broadcast_dimensions):
        _check(x.shape[i] in (1, shape[d]), "broadcast_in_dim: operand dim %d (%s) vs %s", i,
               x.shape[i], shape[d])
    _check(list(broadcast_dimensions) == sorted(broadcast_dimensions),
           "broadcast_in_dim: dimensions must be increasing")
    return [(x.dtype, tuple(shape))]


def _broadcast(x, shape, broadcast_dimensions):
    view = [1] * len(shape)
    for i, d in enumerate(broadcast_dimensions):
        view[d] = x.shape[i]
    return np.broadcast_to(x.reshape(view), shape).copy()


define("broadcast_in_dim", BROADCAST, _broadcast_infer, _broadcast)


def _reshape_infer(x, shape):
    _check(num_elements(x.shape) == num_elements(shape), "reshape: %s -> %s changes size",
           x.shape, shape)
    return [(x.dtype, tuple(shape))]


define("reshape", INJECTIVE, _reshape_infer, lambda x, shape: x.reshape(shape))


def _transpose_infer(x, perm):
    _check(sorted(perm) == list(range(x.rank)), "transpose: bad permutation %s", perm)
    return [(x.dtype, tuple(x.shape[p] for p in perm))]


define("transpose", INJECTIVE, _transpose_infer,
       lambda x, perm: np.ascontiguousarray(np.transpose(x, perm)))


def _slice_infer(x, start, limit, strides):
    _check(len(start) == len(limit) == len(strides) == x.rank, "slice: rank mismatch")
    shape = []
    for s, l, st, d in zip(start, limit, strides, x.shape):
        if not isinstance(d, SymDim) and not isinstance(l, SymDim):
            _check(0 <= s <= l <= d and st >= 1, "slice: bad bounds %s:%s:%s of %s", s, l, st, d)
        shape.append(l if (s == 0 and st == 1) else -(-(l - s) // st))
    return [(x.dtype, tuple(shape))]


define("slice", INJECTIVE, _slice_infer,
       lambda x, start, limit, strides: x[tuple(slice(s, l, st) for s, l, st in
                                                  zip(start, limit, strides))].copy())


def _reverse_infer(x, axes):
    return [(x.dtype, x.shape)]


define("reverse", INJECTIVE, _reverse_infer, lambda x, axes: np.flip(x, axes).copy())


def _pad_infer(x, value, lo, hi, interior):
    _check(value.shape == () and value.dtype == x.dtype, "pad: value must be a scalar of x's type")
    shape = tuple(d + l + h + max(d - 1, 0) * i if not isinstance(d, SymDim) else d
                  for d, l, h, i in zip(x.shape, lo, hi, interior))
    return [(x.dtype, shape)]


def _pad(x, value, lo, hi, interior):
    shape = tuple(d + l + h + max(d - 1, 0) * i for d, l, h, i in zip(x.shape, lo, hi, interior))
    out = np.full(shape, value, dtype=x.dtype)
    out[tuple(slice(l, l + (d - 1) * (i + 1) + 1 if d else l, i + 1)
              for d, l, i in zip(x.shape, lo, interior))] = x
    return out


define("pad", INJECTIVE, _pad_infer, _pad)


def _concat_infer(*xs, axis):
    _check(len(xs) >= 1, "concatenate: no operands")
    first = xs[0]
    total = 0
    for x in xs:
        _check(x.dtype == first.dtype and x.rank == first.rank, "concatenate: operand mismatch")
        _check(all(a == b for i, (a, b) in enumerate(zip(x.shape, first.shape)) if i != axis),
               "concatenate: non-axis dims differ: %s vs %s", x.shape, first.shape)
        total = x.shape[axis] + total
    shape = list(first.shape)
    shape[axis] = total
    return [(first.dtype, tuple(shape))]


define("concatenate", INJECTIVE, _concat_infer, lambda *xs, axis: np.concatenate(xs, axis))


# ---------------------------------------------------------------- gather / scatter

def _gather_infer(x, indices, axis):
    _check(indices.dtype.kind in "iu", "gather: indices must be integers")
    return [(x.dtype, x.shape[:axis] + indices.shape + x.shape[axis + 1:])]


def _check_indices(indices, bound, what):
    bad = (indices < 0) | (indices >= bound)
    if np.any(bad):
        pos = tuple(int(i) for i in np.argwhere(bad)[0])
        raise errors.InvalidArgumentError(
            None, None, "%s[%s] = %d is not in [0, %d)" % (
                what, ",".join(map(str, pos)), int(indices[pos]), bound))


def _gather(x, indices, axis):
    _check_indices(indices, x.shape[axis], "indices")
    return np.take(x, indices, axis=axis)


define("gather", INJECTIVE, _gather_infer, _gather)


def _scatter_add_infer(operand, indices, updates, axis):
    expected = operand.shape[:axis] + indices.shape + operand.shape[axis + 1:]
    _check(updates.shape == expected, "scatter_add: updates shape %s, expected %s",
           updates.shape, expected)
    return [(operand.dtype, operand.shape)]


def _scatter_add(operand, indices, updates, axis):
    _check_indices(indices, operand.shape[axis], "indices")
    out = np.moveaxis(operand.copy(), axis, 0)
    upd = np.moveaxis(updates.reshape(
        operand.shape[:axis] + (indices.size,) + operand.shape[axis + 1:]), axis, 0)
    np.add.at(out, indices.reshape(-1), upd)
    return np.ascontiguousarray(np.moveaxis(out, 0, axis))


define("scatter_add", OPAQUE, _scatter_add_infer, _scatter_add)


# ---------------------------------------------------------------- reductions

_REDUCERS = {"sum": np.sum, "max": np.max, "min": np.min, "prod": np.prod,
             "any": np.any, "all": np.all}


def _reduce_infer(x, axes, kind):
    _check(kind in _REDUCERS, "reduce: unknown kind %s", kind)
    _check(all(0 <= a < x.rank for a in axes), "reduce: axes %s out of range", axes)
    return [(x.dtype, tuple(d for i, d in enumerate(x.shape) if i not in axes))]


def _reduce(x, axes, kind):
    if kind in ("max", "min") and x.size == 0:
        info = np.finfo if x.dtype.kind == "f" else np.iinfo
        fill = info(x.dtype).min if kind == "max" else info(x.dtype).max
        if x.dtype.kind == "f":
            fill = -np.inf if kind == "max" else np.inf
        return np.full(tuple(d for i, d in enumerate(x.shape) if i not in axes), fill, x.dtype)
    return np.asarray(_REDUCERS[kind](x, axis=tuple(axes)), dtype=x.dtype)


define("reduce", REDUCTION, _reduce_infer, _reduce)


def _arg_infer(x, axis, index_dtype):
    return [(np.dtype(index_dtype), x.shape[:axis] + x.shape[axis + 1:])]


define("argmax", REDUCTION, _arg_infer,
       lambda x, axis, index_dtype: np.argmax(x, axis=axis).astype(index_dtype))
define("argmin", REDUCTION, _arg_infer,
       lambda x, axis, index_dtype: np.argmin(x, axis=axis).astype(index_dtype))


# ---------------------------------------------------------------- dot

def _dot_infer(lhs, rhs, lhs_contract, rhs_contract, lhs_batch, rhs_batch):
    _check(lhs.dtype == rhs.dtype, "dot_general: dtypes differ: %s vs %s", lhs.dtype, rhs.dtype)
    _check(len(lhs_contract) == len(rhs_contract) and len(lhs_batch) == len(rhs_batch),
           "dot_general: dimension lists differ in length")
    for a, b in zip(lhs_contract, rhs_contract):
        _check(lhs.shape[a] == rhs.shape[b], "dot_general: contracting dims %s vs %s",
               lhs.shape[a], rhs.shape[b])
    for a, b in zip(lhs_batch, rhs_batch):
        _check(lhs.shape[a] == rhs.shape[b], "dot_general: batch dims %s vs %s",
               lhs.shape[a], rhs.shape[b])
    lhs_free = [d for i, d in enumerate(lhs.shape) if i not in lhs_contract + lhs_batch]
    rhs_free = [d for i, d in enumerate(rhs.shape) if i not in rhs_contract + rhs_batch]
    return [(lhs.dtype, tuple([lhs.shape[i] for i in lhs_batch] + lhs_free + rhs_free))]


def _dot_general(lhs, rhs, lhs_contract, rhs_contract, lhs_batch, rhs_batch):
    """Batch dims first, then lhs free dims, then rhs free dims (XLA's DotGeneral order)."""
    lf = [i for i in range(lhs.ndim) if i not in lhs_contract + lhs_batch]
    rf = [i for i in range(rhs.ndim) if i not in rhs_contract + rhs_batch]
    size = lambda x, dims: int(np.prod([x.shape[i] for i in dims], dtype=np.int64))  # noqa: E731
    b = size(lhs, lhs_batch)
    a = np.transpose(lhs, list(lhs_batch) + lf + list(lhs_contract)).reshape(
        b, size(lhs, lf), size(lhs, lhs_contract))
    c = np.transpose(rhs, list(rhs_batch) + list(rhs_contract) + rf).reshape(
        b, size(rhs, rhs_contract), size(rhs, rf))
    out = np.matmul(a, c)
    shape = [lhs.shape[i] for i in lhs_batch] + [lhs.shape[i] for i in lf] + \
        [rhs.shape[i] for i in rf]
    return out.reshape(shape).astype(lhs.dtype)


define("dot_general", OPAQUE, _dot_infer, _dot_general)


# ---------------------------------------------------------------- random numbers

def _rng_infer(state, kind, shape, dtype, **params):
    _check(state.dtype == np.int64 and state.shape == (3,),
           "rng: state must be int64[3] (seed, seed2, counter offset)")
    return [(np.dtype(dtype), tuple(shape)), (state.dtype, state.shape)]


def _rng(state, kind, shape, dtype, **params):
    """Counter-based Philox-4x32-10 draws; the state's offset advances by what was used."""
    from graphc.ir import philox
    if kind == "permutation":  # RandomShuffle's row permutation of shape[0] rows
        values, offset = philox.shuffle_permutation(shape[0], int(state[0]), int(state[1]),
                                                    int(state[2]))
        return values.astype(dtype), np.array([state[0], state[1], offset], dtype=np.int64)
    values, offset = philox.sample(kind, tuple(shape), np.dtype(dtype), int(state[0]),
                                   int(state[1]), int(state[2]), **params)
    return values, np.array([state[0], state[1], offset], dtype=np.int64)


define("rng", OPAQUE, _rng_infer, _rng, num_outputs=2)


# ---------------------------------------------------------------- fusion (made by graphc.passes)

class FusedComputation:
    """The body of a `fusion` instruction: a core-IR Function whose feeds stand for the
    fusion's operands and whose fetches are its outputs. `kind` says how a backend schedules it:
    "loop" (one loop nest over the output), "reduce" (a reduction with fused producers) or
    "dot" (a dot_general with an elementwise epilogue)."""

    def __init__(self, kind, fn):
        self.kind = kind
        self.fn = fn

    def __repr__(self):
        return "{\n    %s\n  }" % str(self.fn).replace("\n", "\n    ")


def _fusion_infer(*operands, body):
    feeds = body.fn.feeds
    _check(len(operands) == len(feeds), "fusion: %d operands for %d body inputs", len(operands),
           len(feeds))
    for o, f in zip(operands, feeds):
        _check((o.dtype, o.shape) == (f.dtype, f.shape), "fusion: operand %r for input %r", o, f)
    return [(v.dtype, v.shape) for v in body.fn.fetches]


def _fusion(*operands, body):
    """Interprets the body; symbolic dims are recovered from the operand shapes."""
    from graphc.ir.interpreter import interpret
    dims = {}
    for a, f in zip(operands, body.fn.feeds):
        for d, n in zip(f.shape, a.shape):
            if isinstance(d, SymDim):
                dims[d.name] = n // d.coeff
    values, _ = interpret(body.fn, operands, [], dims)
    return values if len(values) > 1 else values[0]


define("fusion", OPAQUE, _fusion_infer, _fusion)


# ---------------------------------------------------------------- windows: convolution, pooling
#
# Layouts are fixed: conv_general takes lhs [N, spatial..., C_in] and rhs [spatial..., C_in,
# C_out] (TF's NHWC / HWIO) and gives [N, spatial..., C_out]. The window primitives
# (reduce_window, select_and_scatter_add, select_and_gather) take a window size, stride and
# (lo, hi) padding for every dimension of their operand, as XLA's do. The references walk the
# window offsets (or take strided views), so each step is one vectorized numpy operation.

def _window_dim(d, k, s, lo, hi, base_dilation=1, window_dilation=1, what="window"):
    """Output size of a window of size `k` (dilated) sliding with stride `s` over a dimension of
    size `d` (dilated, then padded by lo/hi; negative padding crops)."""
    if isinstance(d, SymDim):
        _check((k, s, lo, hi, base_dilation, window_dilation) == (1, 1, 0, 0, 1, 1),
               "%s: a symbolic dimension (%s) can only pass through a trivial window", what, d)
        return d
    _check(k >= 1 and s >= 1 and base_dilation >= 1 and window_dilation >= 1,
           "%s: window %s, stride %s and dilations must be positive", what, k, s)
    size = (d - 1) * base_dilation + 1 if d > 0 else 0
    padded = size + lo + hi
    effective = (k - 1) * window_dilation + 1
    return 0 if padded < effective else (padded - effective) // s + 1


def _window_params(name, x, window_dimensions, window_strides, padding):
    _check(len(window_dimensions) == len(window_strides) == len(padding) == x.rank,
           "%s: need a window size, stride and padding per dimension of %s", name, x.shape)
    _check(all(lo >= 0 and hi >= 0 for lo, hi in padding), "%s: negative padding %s", name,
           padding)
    return tuple(_window_dim(d, k, s, lo, hi, what=name) for d, k, s, (lo, hi) in
                 zip(x.shape, window_dimensions, window_strides, padding))


def _dilate_pad(x, axes, dilation, padding, value):
    """`x` with `dilation - 1` copies of `value` between elements and `padding` (lo, hi) added
    along `axes`; negative padding removes elements."""
    if all(d == 1 for d in dilation) and all(lo == hi == 0 for lo, hi in padding):
        return x
    shape = list(x.shape)
    inner = []
    for ax, d, (lo, hi) in zip(axes, dilation, padding):
        size = (x.shape[ax] - 1) * d + 1 if x.shape[ax] else 0
        shape[ax] = size + max(lo, 0) + max(hi, 0)
        inner.append((ax, slice(max(lo, 0), max(lo, 0) + size, d)))
    out = np.full(shape, value, dtype=x.dtype)
    index = [slice(None)] * x.ndim
    for ax, sl in inner:
        index[ax] = sl
    out[tuple(index)] = x
    crop = [slice(None)] * x.ndim
    for ax, (lo, hi) in zip(axes, padding):
        crop[ax] = slice(max(-lo, 0), shape[ax] - max(-hi, 0))
    return out[tuple(crop)]


def _conv_infer(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation):
    n = lhs.rank - 2
    _check(n >= 1 and rhs.rank == n + 2, "conv_general: lhs %s and rhs %s need ranks n+2",
           lhs.shape, rhs.shape)
    _check(len(window_strides) == len(padding) == len(lhs_dilation) == len(rhs_dilation) == n,
           "conv_general: need a stride, padding and dilations per spatial dimension")
    _check(lhs.dtype == rhs.dtype, "conv_general: dtypes differ: %s vs %s", lhs.dtype,
           rhs.dtype)
    _check(lhs.shape[-1] == rhs.shape[-2], "conv_general: input features %s vs filter %s",
           lhs.shape[-1], rhs.shape[-2])
    spatial = tuple(_window_dim(d, k, s, lo, hi, ld, rd, "conv_general")
                    for d, k, s, (lo, hi), ld, rd in zip(lhs.shape[1:-1], rhs.shape[:n],
                                                        window_strides, padding, lhs_dilation,
                                                        rhs_dilation))
    return [(lhs.dtype, (lhs.shape[0],) + spatial + (rhs.shape[-1],))]


def _conv_general(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation):
    """out[n, o.., f] = sum over window k.. and c of lhs'[n, o*s + k*rd .., c] * rhs[k.., c, f]
    where lhs' is lhs dilated by lhs_dilation and padded: im2col as a strided view of the
    padded input, then one tensordot (a GEMM)."""
    n = lhs.ndim - 2
    spatial = tuple(range(1, n + 1))
    x = _dilate_pad(lhs, spatial, lhs_dilation, padding, lhs.dtype.type(0))
    eff = tuple((k - 1) * d + 1 for k, d in zip(rhs.shape[:n], rhs_dilation))
    out_spatial = tuple(0 if p < e else (p - e) // s + 1
                        for p, e, s in zip(x.shape[1:-1], eff, window_strides))
    out_shape = (lhs.shape[0],) + out_spatial + (rhs.shape[-1],)
    if 0 in out_shape or 0 in rhs.shape:
        return np.zeros(out_shape, dtype=lhs.dtype)
    view = np.lib.stride_tricks.sliding_window_view(x, eff, axis=spatial)
    view = view[(slice(None),) + tuple(slice(None, None, s) for s in window_strides) +
                (slice(None),) + tuple(slice(None, None, d) for d in rhs_dilation)]
    # view: [N, out.., C, k..]; contract (k.., C) with rhs [k.., C, F]
    out = np.tensordot(view, rhs, axes=(list(range(n + 2, 2 * n + 2)) + [n + 1],
                                        list(range(n)) + [n]))
    return np.ascontiguousarray(out, dtype=lhs.dtype)


define("conv_general", OPAQUE, _conv_infer, _conv_general)


def _window_identity(dtype, kind):
    if kind == "sum":
        return dtype.type(0)
    if dtype.kind == "f":
        return dtype.type(-np.inf if kind == "max" else np.inf)
    if dtype == np.bool_:
        return kind == "min"
    info = np.iinfo(dtype)
    return dtype.type(info.min if kind == "max" else info.max)


def _window_slices(offset, out_shape, strides):
    return tuple(slice(o, o + (n - 1) * s + 1, s) for o, n, s in zip(offset, out_shape, strides))


def _reduce_window_infer(x, kind, window_dimensions, window_strides, padding):
    _check(kind in ("max", "min", "sum"), "reduce_window: unknown kind %s", kind)
    return [(x.dtype, _window_params("reduce_window", x, window_dimensions, window_strides,
                                     padding))]


def _reduce_window(x, kind, window_dimensions, window_strides, padding):
    """Reduces each window of `x` padded with the reduction's identity (so padding is never
    the max and adds nothing to a sum); NaN propagates through max/min."""
    out_shape = tuple(_window_dim(d, k, s, lo, hi) for d, k, s, (lo, hi) in
                      zip(x.shape, window_dimensions, window_strides, padding))
    xp = _dilate_pad(x, range(x.ndim), (1,) * x.ndim, padding, _window_identity(x.dtype, kind))
    if 0 in out_shape:
        return np.zeros(out_shape, dtype=x.dtype)
    combine = {"max": np.maximum, "min": np.minimum, "sum": np.add}[kind]
    out = None
    for offset in np.ndindex(*window_dimensions):
        part = xp[_window_slices(offset, out_shape, window_strides)]
        out = part.copy() if out is None else combine(out, part, out=out)
    return out


define("reduce_window", OPAQUE, _reduce_window_infer, _reduce_window)


def _window_argmax(operand, window_dimensions, window_strides, padding):
    """For each window: the index (into np.ndindex order of the window offsets) of its first
    maximal element, never a padding position; NaN counts as the maximum. -1 for a window of
    padding only. Returns (argmax, out_shape, padded shape)."""
    out_shape = tuple(_window_dim(d, k, s, lo, hi) for d, k, s, (lo, hi) in
                      zip(operand.shape, window_dimensions, window_strides, padding))
    lowest = _window_identity(operand.dtype, "max")
    axes, unit = range(operand.ndim), (1,) * operand.ndim
    xp = _dilate_pad(operand, axes, unit, padding, lowest)
    valid = None
    if any(lo or hi for lo, hi in padding):
        valid = _dilate_pad(np.ones(operand.shape, dtype=bool), axes, unit, padding, False)
    best = np.full(out_shape, lowest, dtype=operand.dtype)
    arg = np.full(out_shape, -1, dtype=np.int32)
    floating = operand.dtype.kind == "f"
    # Branch-free updates (np.where on random masks is slow): offsets come in increasing
    # order, so the latest taken offset is the max; padding holds the lowest value, so it
    # never raises `best`.
    for k, offset in enumerate(np.ndindex(*window_dimensions)):
        sl = _window_slices(offset, out_shape, window_strides)
        v = xp[sl]
        take = v > best
        if floating:
            take |= np.isnan(v) & ~np.isnan(best)
        take |= arg < 0
        if valid is not None:
            take &= valid[sl]
        best = np.maximum(best, v)
        arg = np.maximum(arg, take * np.int32(k + 1) - 1)
    return arg, out_shape, xp.shape


def _select_and_scatter_infer(operand, source, window_dimensions, window_strides, padding):
    out = _window_params("select_and_scatter_add", operand, window_dimensions, window_strides,
                         padding)
    _check(source.shape == out, "select_and_scatter_add: source %s for windows %s",
           source.shape, out)
    _check(source.dtype == operand.dtype, "select_and_scatter_add: dtypes differ")
    return [(operand.dtype, operand.shape)]


def _select_and_scatter_add(operand, source, window_dimensions, window_strides, padding):
    """Adds each window's `source` value at the position of the window's first maximum in
    `operand` (max pooling's gradient)."""
    arg, out_shape, padded = _window_argmax(operand, window_dimensions, window_strides, padding)
    out = np.zeros(padded, dtype=operand.dtype)
    if 0 not in out_shape:
        zero = source.dtype.type(0)
        for k, offset in enumerate(np.ndindex(*window_dimensions)):
            out[_window_slices(offset, out_shape, window_strides)] += np.where(arg == k, source,
                                                                               zero)
    return np.ascontiguousarray(out[tuple(slice(lo, lo + d) for d, (lo, _) in
                                          zip(operand.shape, padding))])


define("select_and_scatter_add", OPAQUE, _select_and_scatter_infer, _select_and_scatter_add)


def _select_and_gather_infer(operand, values, window_dimensions, window_strides, padding):
    _check(values.shape == operand.shape and values.dtype == operand.dtype,
           "select_and_gather: values %s must match operand %s", values, operand)
    return [(operand.dtype, _window_params("select_and_gather", operand, window_dimensions,
                                           window_strides, padding))]


def _select_and_gather(operand, values, window_dimensions, window_strides, padding):
    """For each window: `values` at the position of the window's first maximum in `operand`
    (the transpose of select_and_scatter_add, for max pooling's second derivative)."""
    arg, out_shape, _ = _window_argmax(operand, window_dimensions, window_strides, padding)
    vp = _dilate_pad(values, range(values.ndim), (1,) * values.ndim, padding,
                     values.dtype.type(0))
    out = np.zeros(out_shape, dtype=values.dtype)
    for k, offset in enumerate(np.ndindex(*window_dimensions)):
        part = vp[_window_slices(offset, out_shape, window_strides)]
        out = np.where(arg == k, part, out)
    return out


define("select_and_gather", OPAQUE, _select_and_gather_infer, _select_and_gather)


# ---------------------------------------------------------------- im2col (convolution patches)
#
# im2col gathers every window a conv_general would read into one row per output position, so a
# convolution becomes one GEMM (graphc/passes/conv_to_dot.py): operand [N, spatial..., C] gives
# [N, out..., window..., C], out[n, o.., k.., c] = lhs'[n, o*s + k*rd .., c] with lhs' the
# operand dilated by lhs_dilation and padded (zero outside), exactly the values conv_general
# multiplies by rhs[k.., c, :]. It is opaque: its kernel copies whole feature rows (C contiguous
# elements per window position), and the reshape feeding the GEMM stays a view of its output.

def _im2col_infer(x, window_dimensions, window_strides, padding, lhs_dilation, rhs_dilation):
    n = x.rank - 2
    _check(n >= 1, "im2col: operand %s needs a batch, spatial and feature dims", x.shape)
    _check(len(window_dimensions) == len(window_strides) == len(padding) == len(lhs_dilation)
           == len(rhs_dilation) == n,
           "im2col: need a window size, stride, padding and dilations per spatial dimension")
    spatial = tuple(_window_dim(d, k, s, lo, hi, ld, rd, "im2col")
                    for d, k, s, (lo, hi), ld, rd in zip(x.shape[1:-1], window_dimensions,
                                                        window_strides, padding, lhs_dilation,
                                                        rhs_dilation))
    return [(x.dtype, (x.shape[0],) + spatial + tuple(window_dimensions) + (x.shape[-1],))]


def _im2col(x, window_dimensions, window_strides, padding, lhs_dilation, rhs_dilation):
    """Strided view of the dilated, padded operand (as conv_general's reference takes it)."""
    n = x.ndim - 2
    spatial = tuple(range(1, n + 1))
    out_shape = _im2col_infer(_ShapeOf(x), window_dimensions, window_strides, padding,
                              lhs_dilation, rhs_dilation)[0][1]
    if 0 in out_shape:
        return np.zeros(out_shape, dtype=x.dtype)
    xp = _dilate_pad(x, spatial, lhs_dilation, padding, x.dtype.type(0))
    eff = tuple((k - 1) * d + 1 for k, d in zip(window_dimensions, rhs_dilation))
    view = np.lib.stride_tricks.sliding_window_view(xp, eff, axis=spatial)
    view = view[(slice(None),) + tuple(slice(None, o * s, s) for o, s in
                                       zip(out_shape[1:n + 1], window_strides)) +
                (slice(None),) + tuple(slice(None, None, d) for d in rhs_dilation)]
    # view: [N, out.., C, k..] -> [N, out.., k.., C]
    return np.ascontiguousarray(np.moveaxis(view, n + 1, -1))


class _ShapeOf:
    """An array's dtype, shape and rank as a shape rule reads them."""

    def __init__(self, a):
        self.dtype, self.shape, self.rank = a.dtype, a.shape, a.ndim


define("im2col", OPAQUE, _im2col_infer, _im2col)


# ---------------------------------------------------------------- col2im (patch gradients)
#
# col2im is im2col's adjoint for undilated operands: it sums every patch element back into the
# operand position im2col read it from, so a convolution's input gradient becomes one GEMM
# dy x W^T into patch gradients [N, out..., window..., C] and one col2im
# (graphc/passes/conv_to_dot.py), never materialising dy's dilated, padded patches.
# out[n, p.., c] = sum over o.., k.. with p = o*s + k*rd - lo of patches[n, o.., k.., c];
# `spatial` gives the output's spatial sizes and positions outside them are dropped.

def _col2im_infer(patches, spatial, window_strides, padding_low, rhs_dilation):
    n = len(spatial)
    _check(patches.rank == 2 * n + 2, "col2im: patches %s need batch, output, window and "
           "feature dims for %d spatial dims", patches.shape, n)
    _check(len(window_strides) == len(padding_low) == len(rhs_dilation) == n,
           "col2im: need a stride, low padding and dilation per spatial dimension")
    return [(patches.dtype, (patches.shape[0],) + tuple(spatial) + (patches.shape[-1],))]


def _col2im(patches, spatial, window_strides, padding_low, rhs_dilation):
    """Adds each window offset's slab of patches into a strided slice of the output."""
    n = len(spatial)
    positions = patches.shape[1:n + 1]
    out = np.zeros((patches.shape[0],) + tuple(spatial) + (patches.shape[-1],), patches.dtype)
    for k in np.ndindex(*patches.shape[n + 1:2 * n + 1]):
        src, dst = [slice(None)], [slice(None)]
        for o, kk, s, lo, rd, size in zip(positions, k, window_strides, padding_low,
                                          rhs_dilation, spatial):
            first = kk * rd - lo  # where position 0's element lands
            o0, o1 = max(0, -(first // s)), min(o, (size - 1 - first) // s + 1)
            if o1 <= o0:
                break  # this offset lands outside the output everywhere
            src.append(slice(o0, o1))
            dst.append(slice(o0 * s + first, (o1 - 1) * s + first + 1, s))
        else:
            out[tuple(dst)] += patches[tuple(src) + k]
    return out


define("col2im", OPAQUE, _col2im_infer, _col2im)


# ---------------------------------------------------------------- dim_size
#
# The run-time value of a dimension as a scalar: the size of a symbolic dimension (the batch
# `N` of a function compiled for any batch) becomes data where a graph computes with it, e.g.
# the divisor of a mean over the batch. The interpreter binds `dim` to an int before calling
# the reference; backends read the bound dims of the call.

def _dim_size_infer(dim, dtype):
    return [(np.dtype(dtype), ())]


def _dim_size(dim, dtype):
    if isinstance(dim, SymDim):
        raise IRTypeError("dim_size: symbolic dimension %s is not bound" % dim)
    return np.asarray(dim, dtype=dtype)


define("dim_size", ELEMENTWISE, _dim_size_infer, _dim_size)
