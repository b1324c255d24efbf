"""Math ops: elementwise arithmetic with broadcasting, unary functions, comparisons and logic,
selection, reductions, cumulative sums, matrix products, sequences (range, linspace, eye), and
the Tensor operators (`+ - * / // % ** @ < <= > >= & | ^ ~ abs -`) with TF's op names (`add`,
`add/y`, reflected forms).

Public functions follow TF1's conversion rules: a functional op (`tf.multiply(x, y)`) converts
`x` first with its own dtype and `y` with x's dtype, as TF's generated op wrappers do, so
`tf.multiply(2, float_tensor)` is TF's TypeError; an operator converts its Python operand to the
Tensor operand's dtype (`2 * float_tensor` works). Ops reject the dtypes TF rejects at graph-build
time (complex and bfloat16 are not supported by graphc).

`range`, `abs`, `round` and `pow` shadow Python builtins: they are defined as `range_`, `abs_`,
`round_`, `pow_` and aliased at the very end of the module, and this module's code calls the
builtins through `builtins`."""

import builtins

import numpy as np

from graphc import dtypes, errors
from graphc.graph.graph import Tensor, convert_to_tensor, name_scope
from graphc.graph.op_registry import OpDef
from graphc.graph.tensor_shape import TensorShape, unknown_shape
from graphc.ir.builder import FOLD_LIMIT
from graphc.ir.shapes import SymDim, num_elements
from graphc.ops import array_ops
from graphc.ops.array_ops import fold_by_lowering
from graphc.ops.op_util import (FLOATS, INTS, apply_op1, broadcast_shapes, check_dtype, int_list,
                                lower_broadcast, shape_str)

SIGNED = (dtypes.int8, dtypes.int16, dtypes.int32, dtypes.int64)
REAL = FLOATS + INTS
FLOATS_SIGNED = FLOATS + SIGNED
# TRUEDIV: integer operands are cast to a float type wide enough for them (TF's table).
_TRUEDIV = {dtypes.int8: dtypes.float32, dtypes.uint8: dtypes.float32,
            dtypes.int16: dtypes.float32, dtypes.uint16: dtypes.float32,
            dtypes.int32: dtypes.float64, dtypes.uint32: dtypes.float64,
            dtypes.int64: dtypes.float64, dtypes.uint64: dtypes.float64}


# ---------------------------------------------------------------- shared rules: build time

def _is_graph_value(v):
    return isinstance(v, Tensor) or hasattr(v, "_as_graph_element")


def _graph_values(*values):
    return [v for v in values if _is_graph_value(v)]


def check_bool_input(op, index, param):
    """TF's TypeError for a non-bool input of an op whose input type is fixed to bool."""
    t = op.inputs[index]
    if t.dtype.base_dtype != dtypes.bool:
        raise TypeError("Input '%s' of '%s' Op has type %s that does not match expected type of "
                        "bool (node '%s')." % (param, op.type, t.dtype.base_dtype.name, op.name))


def _check_same_type(op, index, first=0, names=("x", "y")):
    a, b = op.inputs[first], op.inputs[index]
    if a.dtype.base_dtype != b.dtype.base_dtype:
        raise TypeError("Input '%s' of '%s' Op has type %s that does not match type %s of "
                        "argument '%s'." % (names[1], op.type, b.dtype.base_dtype.name,
                                            a.dtype.base_dtype.name, names[0]))


def binary_infer(op):
    """dtype of x (inputs must agree), broadcast partial shape."""
    _check_same_type(op, 1)
    x, y = op.inputs
    return [(x.dtype.base_dtype, broadcast_shapes(op, x.shape, y.shape))]


def binary_rule(allowed, result=None):
    """Shape rule of a broadcasting binary op taking `allowed` dtypes (None: any); the result
    has x's dtype, or `result`."""
    def infer(op):
        [(dtype, shape)] = binary_infer(op)
        if allowed is not None:
            check_dtype(op, op.inputs[0], allowed)
        return [(result or dtype, shape)]
    return infer


def unary_rule(allowed, result=None):
    """Shape rule of an elementwise unary op taking `allowed` dtypes."""
    def infer(op):
        check_dtype(op, op.inputs[0], allowed)
        return [(result or op.inputs[0].dtype.base_dtype, op.inputs[0].shape)]
    return infer


def _convert_as(value, dtype, name):
    """`value` as an input whose type attr is already `dtype`: Python values are converted to
    it; tensors keep their dtype (a mismatch is the op's TypeError)."""
    if _is_graph_value(value):
        return convert_to_tensor(value)
    return convert_to_tensor(value, dtype=dtype, name=name)


def gen_binary(op_type, x, y, name=None, attrs=None):
    """Creates a two-input op as TF's generated wrappers do: in scope `name` (default: the op
    type), `x` converted with its own dtype, then `y` with x's dtype."""
    with name_scope(name, op_type, _graph_values(x, y)) as scope:
        x = convert_to_tensor(x, name="x")
        y = _convert_as(y, x.dtype.base_dtype, "y")
        return apply_op1(op_type, [x, y], dict(attrs or {}, T=x.dtype.base_dtype), name=scope)


def gen_unary(op_type, x, name=None):
    """Creates a one-input op named `name` (default: the op type)."""
    with name_scope(name, op_type, _graph_values(x)) as scope:
        x = convert_to_tensor(x, name="x")
        return apply_op1(op_type, [x], {"T": x.dtype.base_dtype}, name=scope)


def gen_logical(op_type, inputs, name=None):
    """Creates a LogicalAnd/Or/Not op: every input has the fixed type bool."""
    with name_scope(name, op_type, _graph_values(*inputs)) as scope:
        tensors = [_convert_as(v, dtypes.bool, n) for v, n in zip(inputs, ("x", "y"))]
        return apply_op1(op_type, tensors, {}, name=scope)


# ---------------------------------------------------------------- shared rules: gradients

def constant_like(value, like):
    """A scalar constant with the dtype of tensor `like`."""
    from graphc.ops.constant_op import constant
    return constant(value, dtype=like.dtype.base_dtype)


def _reduce_to(grad, axes, shape_t):
    return array_ops.reshape(reduce_sum(grad, axes), shape_t)


def reduce_gradient_args(x, y, gx, gy):
    """Sums the gradients of a broadcasting binary op (x, y) back to each operand's shape
    (TF's _ReduceGradientArgs); static shapes give the axes at graph-build time."""
    sx, sy = x.shape, y.shape
    if sx.is_fully_defined() and sy.is_fully_defined():
        rx, ry = array_ops.broadcast_gradient_args(sx.as_list(), sy.as_list())
        out = []
        for g, r, s in ((gx, rx, sx), (gy, ry, sy)):
            out.append(g if g is None or not r else _reduce_to(g, r, s.as_list()))
        return out
    dx, dy = array_ops.shape(x), array_ops.shape(y)
    rx, ry = array_ops.apply_broadcast_gradient_args(dx, dy)
    return [None if g is None else _reduce_to(g, r, s) for g, r, s in ((gx, rx, dx),
                                                                      (gy, ry, dy))]


def unbroadcast(op, gx, gy):
    """Sums the gradients of a broadcasting binary op back to each operand's shape."""
    return reduce_gradient_args(op.inputs[0], op.inputs[1], gx, gy)


# ---------------------------------------------------------------- shared rules: lowering

def lower_binary(ctx, prim, x, y):
    x, y = lower_broadcast(ctx, x, y)
    return ctx.b.emit1(prim, x, y)


def _scalar_like(ctx, value, like):
    """`value` broadcast to the shape and dtype of IR value `like`."""
    return ctx.b.full(value, like.dtype, like.shape)


def _trunc(ctx, v):
    """Rounds toward zero (no primitive of its own: floor above zero, ceil below)."""
    neg = ctx.b.emit1("lt", v, _scalar_like(ctx, 0, v))
    return ctx.b.emit1("select", neg, ctx.b.emit1("ceil", v), ctx.b.emit1("floor", v))


def _floor_adjust(ctx, r, y):
    """Where the truncated remainder r of x / y is non-zero and its sign differs from y's: the
    places where floor division differs from truncated division."""
    zero = _scalar_like(ctx, 0, r)
    nonzero = ctx.b.emit1("ne", r, zero)
    signs = ctx.b.emit1("ne", ctx.b.emit1("lt", r, zero), ctx.b.emit1("lt", y, zero))
    return ctx.b.emit1("and", nonzero, signs)


# ---------------------------------------------------------------- arithmetic

class AddV2(OpDef):
    """x + y with broadcasting (strings concatenate under the TF1 type `Add`)."""
    type = "AddV2"
    aliases = ("Add",)
    fold = fold_by_lowering

    def infer(op):
        allowed = REAL + (dtypes.string,) if op.type == "Add" else REAL
        return binary_rule(allowed)(op)

    def lower(ctx, op, x, y):
        return lower_binary(ctx, "add", x, y)

    def gradient(op, grad):
        return unbroadcast(op, grad, grad)


def add(x, y, name=None):
    """tf.add: x + y (AddV2; Add for strings)."""
    with name_scope(name, "Add", _graph_values(x)) as scope:
        x = convert_to_tensor(x, name="x")
        y = _convert_as(y, x.dtype.base_dtype, "y")
        op_type = "Add" if x.dtype.base_dtype == dtypes.string else "AddV2"
        return apply_op1(op_type, [x, y], {"T": x.dtype.base_dtype}, name=scope)


class Sub(OpDef):
    """x - y with broadcasting."""
    type = "Sub"
    fold = fold_by_lowering
    infer = binary_rule(REAL)

    def lower(ctx, op, x, y):
        return lower_binary(ctx, "sub", x, y)

    def gradient(op, grad):
        return unbroadcast(op, grad, negative(grad))


def subtract(x, y, name=None):
    return gen_binary("Sub", x, y, name)


class Mul(OpDef):
    """x * y with broadcasting."""
    type = "Mul"
    fold = fold_by_lowering
    infer = binary_rule(REAL)

    def lower(ctx, op, x, y):
        return lower_binary(ctx, "mul", x, y)

    def gradient(op, grad):
        x, y = op.inputs
        return unbroadcast(op, multiply(grad, y), multiply(x, grad))


def multiply(x, y, name=None):
    return gen_binary("Mul", x, y, name)


class RealDiv(OpDef):
    """x / y with broadcasting; integers divide truncating toward zero."""
    type = "RealDiv"
    fold = fold_by_lowering
    infer = binary_rule(REAL)

    def lower(ctx, op, x, y):
        return lower_binary(ctx, "div", x, y)

    def gradient(op, grad):
        x, y = op.inputs
        return unbroadcast(op, realdiv(grad, y),
                           multiply(grad, realdiv(realdiv(negative(x), y), y)))


def realdiv(x, y, name=None):
    return gen_binary("RealDiv", x, y, name)


def _float_division_operands(x, y, what, y_first=False):
    """Converts division operands as TF's truediv and div_no_nan do: they must share a dtype,
    and integers are cast to float (8/16-bit -> float32, 32/64-bit -> float64). With `y_first`
    a Python `x` takes the dtype of a Tensor `y`."""
    if y_first and not _is_graph_value(x) and _is_graph_value(y):
        y = convert_to_tensor(y, name="y")
        x = convert_to_tensor(x, dtype=y.dtype.base_dtype, name="x")
    else:
        x = convert_to_tensor(x, name="x")
        y = convert_to_tensor(y, preferred_dtype=x.dtype.base_dtype, name="y")
    dt, ydt = x.dtype.base_dtype, y.dtype.base_dtype
    if dt != ydt:
        raise TypeError("`x` and `y` must have the same dtype, got %r != %r." % (dt, ydt))
    if dt not in REAL:
        raise TypeError("Invalid dtype %r in %s. Expected one of {%s}." % (
            dt, what, ", ".join(repr(d) for d in REAL)))
    if dt in _TRUEDIV:
        x, y = cast(x, _TRUEDIV[dt]), cast(y, _TRUEDIV[dt])
    return x, y


def truediv(x, y, name=None):
    """x / y; integer operands are cast to float (8/16-bit -> float32, 32/64-bit -> float64)."""
    with name_scope(name, "truediv", _graph_values(x, y)) as scope:
        x, y = _float_division_operands(x, y, "__truediv__")
        return apply_op1("RealDiv", [x, y], {"T": x.dtype.base_dtype}, name=scope)


def divide(x, y, name=None):
    """tf.divide: Python 3 division (truediv), named `truediv` unless `name` is given."""
    if not _is_graph_value(x) and _is_graph_value(y):
        x = convert_to_tensor(x, dtype=y.dtype.base_dtype)
    return truediv(x, y, name=name)


def div(x, y, name=None):
    """TF1 tf.div: floor division for integers, RealDiv for floats (Python 2 semantics)."""
    with name_scope(name, "div", _graph_values(x, y)) as scope:
        x = convert_to_tensor(x, name="x")
        y = convert_to_tensor(y, name="y", dtype=x.dtype.base_dtype)
        op_type = "RealDiv" if x.dtype.base_dtype.is_floating else "FloorDiv"
        return apply_op1(op_type, [x, y], {"T": x.dtype.base_dtype}, name=scope)


class FloorDiv(OpDef):
    """floor(x / y) with broadcasting; integers follow Python (-7 // 2 == -4). Unlike TF,
    integer division by zero is not a run-time error: it gives -1 (XLA's value, the IR's div)."""
    type = "FloorDiv"
    fold = fold_by_lowering
    infer = binary_rule(REAL)
    not_differentiable = True  # TF's gradient is None for both inputs

    def lower(ctx, op, x, y):
        x, y = lower_broadcast(ctx, x, y)
        q = ctx.b.emit1("div", x, y)
        if x.dtype.kind == "f":
            return ctx.b.emit1("floor", q)
        if x.dtype.kind == "u":
            return q
        adjust = _floor_adjust(ctx, ctx.b.emit1("rem", x, y), y)
        return ctx.b.emit1("select", adjust, ctx.b.emit1("sub", q, _scalar_like(ctx, 1, q)), q)


def floor_div(x, y, name=None):
    return gen_binary("FloorDiv", x, y, name)


def floordiv(x, y, name=None):
    """tf.floordiv (and `//`): FloorDiv in scope `floordiv`."""
    with name_scope(name, "floordiv", _graph_values(x, y)) as scope:
        return floor_div(x, y, name=scope)


class FloorMod(OpDef):
    """x mod y with the sign of y (Python's %) with broadcasting; floats like fmod adjusted."""
    type = "FloorMod"
    fold = fold_by_lowering
    infer = binary_rule(REAL)

    def lower(ctx, op, x, y):
        x, y = lower_broadcast(ctx, x, y)
        r = ctx.b.emit1("rem", x, y)
        if x.dtype.kind == "u":
            return r
        return ctx.b.emit1("select", _floor_adjust(ctx, r, y), ctx.b.emit1("add", r, y), r)

    def gradient(op, grad):
        x, y = op.inputs
        return unbroadcast(op, grad, multiply(grad, negative(floor_div(x, y))))


def floormod(x, y, name=None):
    return gen_binary("FloorMod", x, y, name)


mod = floormod  # tf.mod is the generated FloorMod wrapper


def _operator_mod(x, y, name=None):
    """`%`: FloorMod in scope `mod`."""
    with name_scope(name, "mod", _graph_values(x, y)) as scope:
        return floormod(x, y, name=scope)


class TruncateDiv(OpDef):
    """x / y rounded toward zero (C division) with broadcasting."""
    type = "TruncateDiv"
    fold = fold_by_lowering
    infer = binary_rule(REAL)
    not_differentiable = True  # TF's gradient is None for both inputs

    def lower(ctx, op, x, y):
        q = lower_binary(ctx, "div", x, y)
        return _trunc(ctx, q) if q.dtype.kind == "f" else q


def truncatediv(x, y, name=None):
    return gen_binary("TruncateDiv", x, y, name)


class DivNoNan(OpDef):
    """x / y, and 0 where y == 0, with broadcasting."""
    type = "DivNoNan"
    fold = fold_by_lowering
    infer = binary_rule(FLOATS)

    def lower(ctx, op, x, y):
        x, y = lower_broadcast(ctx, x, y)
        zero = _scalar_like(ctx, 0, y)
        return ctx.b.emit1("select", ctx.b.emit1("eq", y, zero), zero, ctx.b.emit1("div", x, y))

    def gradient(op, grad):
        x, y = op.inputs
        return unbroadcast(op, div_no_nan(grad, y),
                           multiply(grad, div_no_nan(div_no_nan(negative(x), y), y)))


def div_no_nan(x, y, name=None):
    """x / y with 0 where y == 0; integers are cast to float as in truediv."""
    with name_scope(name, "div_no_nan", _graph_values(x, y)) as scope:
        x, y = _float_division_operands(x, y, "tf.math.divide_no_nan", y_first=True)
        return apply_op1("DivNoNan", [x, y], {"T": x.dtype.base_dtype}, name=scope)


class Pow(OpDef):
    """x ** y with broadcasting. Integer x to a negative integer power is an error in TF;
    graphc gives x ** 0 (no run-time check)."""
    type = "Pow"
    fold = fold_by_lowering
    infer = binary_rule(FLOATS_SIGNED)

    def lower(ctx, op, x, y):
        return lower_binary(ctx, "pow", x, y)

    def gradient(op, grad):
        x, y = op.inputs
        gx = multiply(grad, multiply(y, pow_(x, subtract(y, constant_like(1, y)))))
        # log(x) is replaced by 0 where x <= 0, avoiding a false singularity at x == 0.
        mask = greater(x, constant_like(0, x))
        safe_x = where(mask, x, array_ops.ones_like(x))
        log_x = where(mask, log(safe_x), array_ops.zeros_like(x))
        gy = multiply(multiply(grad, op.outputs[0]), log_x)
        return unbroadcast(op, gx, gy)


def pow_(x, y, name=None):
    """tf.pow (and `**`): Pow in scope `Pow`."""
    with name_scope(name, "Pow", _graph_values(x)) as scope:
        return gen_binary("Pow", x, y, name=scope)


class Maximum(OpDef):
    """max(x, y) with broadcasting; NaN in either operand gives NaN."""
    type = "Maximum"
    fold = fold_by_lowering
    infer = binary_rule(REAL)

    def lower(ctx, op, x, y):
        return lower_binary(ctx, "max", x, y)

    def gradient(op, grad):
        return _maximum_minimum_grad(op, grad, greater_equal)


class Minimum(OpDef):
    """min(x, y) with broadcasting; NaN in either operand gives NaN."""
    type = "Minimum"
    fold = fold_by_lowering
    infer = binary_rule(REAL)

    def lower(ctx, op, x, y):
        return lower_binary(ctx, "min", x, y)

    def gradient(op, grad):
        return _maximum_minimum_grad(op, grad, less_equal)


def _maximum_minimum_grad(op, grad, selector):
    """The gradient goes to x where `selector(x, y)` holds (ties go to x), else to y."""
    x, y = op.inputs
    zeros = array_ops.zeros_like(grad)
    xmask = selector(x, y)
    return unbroadcast(op, where_v2(xmask, grad, zeros), where_v2(xmask, zeros, grad))


def maximum(x, y, name=None):
    return gen_binary("Maximum", x, y, name)


def minimum(x, y, name=None):
    return gen_binary("Minimum", x, y, name)


class SquaredDifference(OpDef):
    """(x - y) * (x - y) with broadcasting."""
    type = "SquaredDifference"
    fold = fold_by_lowering
    infer = binary_rule(FLOATS + (dtypes.int32, dtypes.int64))

    def lower(ctx, op, x, y):
        d = lower_binary(ctx, "sub", x, y)
        return ctx.b.emit1("mul", d, d)

    def gradient(op, grad):
        x, y = op.inputs
        x_grad = multiply(multiply(constant_like(2.0, grad), grad), subtract(x, y))
        return unbroadcast(op, x_grad, negative(x_grad))


def squared_difference(x, y, name=None):
    return gen_binary("SquaredDifference", x, y, name)


# ---------------------------------------------------------------- unary functions

class Neg(OpDef):
    """-x."""
    type = "Neg"
    fold = fold_by_lowering
    infer = unary_rule(FLOATS_SIGNED)

    def lower(ctx, op, x):
        return ctx.b.emit1("neg", x)

    def gradient(op, grad):
        return [negative(grad)]


def negative(x, name=None):
    return gen_unary("Neg", x, name)


class Abs(OpDef):
    """|x|."""
    type = "Abs"
    fold = fold_by_lowering
    infer = unary_rule(FLOATS_SIGNED)

    def lower(ctx, op, x):
        return ctx.b.emit1("abs", x)

    def gradient(op, grad):
        return [multiply(grad, sign(op.inputs[0]))]


def abs_(x, name=None):
    """tf.abs (and `abs()`)."""
    with name_scope(name, "Abs", _graph_values(x)) as scope:
        return gen_unary("Abs", x, name=scope)


class Sign(OpDef):
    """-1, 0 or 1 by the sign of x (NaN stays NaN)."""
    type = "Sign"
    fold = fold_by_lowering
    infer = unary_rule(FLOATS_SIGNED)

    def lower(ctx, op, x):
        return ctx.b.emit1("sign", x)

    def gradient(op, grad):
        return [array_ops.zeros_like(op.inputs[0])]


def sign(x, name=None):
    return gen_unary("Sign", convert_to_tensor(x), name)


class Square(OpDef):
    """x * x."""
    type = "Square"
    fold = fold_by_lowering
    infer = unary_rule(REAL)

    def lower(ctx, op, x):
        return ctx.b.emit1("mul", x, x)

    def gradient(op, grad):
        x = op.inputs[0]
        return [multiply(grad, multiply(x, constant_like(2.0, x)))]


def square(x, name=None):
    return gen_unary("Square", x, name)


class Sqrt(OpDef):
    """sqrt(x) (NaN for x < 0)."""
    type = "Sqrt"
    fold = fold_by_lowering
    infer = unary_rule(FLOATS)

    def lower(ctx, op, x):
        return ctx.b.emit1("sqrt", x)

    def gradient(op, grad):
        return [_grad_op("SqrtGrad", op.outputs[0], grad)]


def sqrt(x, name=None):
    return gen_unary("Sqrt", x, name)


class Rsqrt(OpDef):
    """1 / sqrt(x)."""
    type = "Rsqrt"
    fold = fold_by_lowering
    infer = unary_rule(FLOATS)

    def lower(ctx, op, x):
        return ctx.b.emit1("rsqrt", x)

    def gradient(op, grad):
        return [_grad_op("RsqrtGrad", op.outputs[0], grad)]


def rsqrt(x, name=None):
    return gen_unary("Rsqrt", x, name)


class Exp(OpDef):
    """e ** x."""
    type = "Exp"
    fold = fold_by_lowering
    infer = unary_rule(FLOATS)

    def lower(ctx, op, x):
        return ctx.b.emit1("exp", x)

    def gradient(op, grad):
        return [multiply(grad, op.outputs[0])]


def exp(x, name=None):
    return gen_unary("Exp", x, name)


class Expm1(OpDef):
    """e ** x - 1, accurate near 0."""
    type = "Expm1"
    fold = fold_by_lowering
    infer = unary_rule(FLOATS)

    def lower(ctx, op, x):
        return ctx.b.emit1("expm1", x)

    def gradient(op, grad):
        return [multiply(grad, exp(op.inputs[0]))]


def expm1(x, name=None):
    return gen_unary("Expm1", x, name)


class Log(OpDef):
    """Natural logarithm (-inf at 0, NaN below)."""
    type = "Log"
    fold = fold_by_lowering
    infer = unary_rule(FLOATS)

    def lower(ctx, op, x):
        return ctx.b.emit1("log", x)

    def gradient(op, grad):
        return [multiply(grad, reciprocal(op.inputs[0]))]


def log(x, name=None):
    return gen_unary("Log", x, name)


class Log1p(OpDef):
    """log(1 + x), accurate near 0."""
    type = "Log1p"
    fold = fold_by_lowering
    infer = unary_rule(FLOATS)

    def lower(ctx, op, x):
        return ctx.b.emit1("log1p", x)

    def gradient(op, grad):
        x = op.inputs[0]
        return [multiply(grad, reciprocal(add(constant_like(1, x), x)))]


def log1p(x, name=None):
    return gen_unary("Log1p", x, name)


class Floor(OpDef):
    """Largest integer not greater than x."""
    type = "Floor"
    fold = fold_by_lowering
    infer = unary_rule(FLOATS)
    not_differentiable = True  # TF's gradient is None

    def lower(ctx, op, x):
        return ctx.b.emit1("floor", x)


def floor(x, name=None):
    return gen_unary("Floor", x, name)


class Ceil(OpDef):
    """Smallest integer not less than x."""
    type = "Ceil"
    fold = fold_by_lowering
    infer = unary_rule(FLOATS)
    not_differentiable = True  # TF's gradient is None

    def lower(ctx, op, x):
        return ctx.b.emit1("ceil", x)


def ceil(x, name=None):
    return gen_unary("Ceil", x, name)


class Round(OpDef):
    """Rounds half to even (banker's rounding); integers pass through."""
    type = "Round"
    fold = fold_by_lowering
    infer = unary_rule(FLOATS_SIGNED)
    not_differentiable = True  # TF's gradient is None

    def lower(ctx, op, x):
        return ctx.b.emit1("round", x)


def round_(x, name=None):
    """tf.round: integer tensors are returned as they are."""
    x = convert_to_tensor(x, name="x")
    if x.dtype.base_dtype.is_integer:
        return x
    return gen_unary("Round", x, name)


class Reciprocal(OpDef):
    """1 / x. Floats only: TF's OpDef lists integers but TF has no integer kernel."""
    type = "Reciprocal"
    aliases = ("Inv",)
    fold = fold_by_lowering
    infer = unary_rule(FLOATS)

    def lower(ctx, op, x):
        return ctx.b.emit1("div", _scalar_like(ctx, 1, x), x)

    def gradient(op, grad):
        return [_grad_op("ReciprocalGrad", op.outputs[0], grad)]


def reciprocal(x, name=None):
    return gen_unary("Reciprocal", x, name)


class Sigmoid(OpDef):
    """1 / (1 + exp(-x)), computed without overflow."""
    type = "Sigmoid"
    fold = fold_by_lowering
    infer = unary_rule(FLOATS)

    def lower(ctx, op, x):
        return ctx.b.emit1("logistic", x)

    def gradient(op, grad):
        return [_grad_op("SigmoidGrad", op.outputs[0], grad)]


def sigmoid(x, name=None):
    with name_scope(name, "Sigmoid", _graph_values(x)) as scope:
        return gen_unary("Sigmoid", x, name=scope)


class Tanh(OpDef):
    """Hyperbolic tangent."""
    type = "Tanh"
    fold = fold_by_lowering
    infer = unary_rule(FLOATS)

    def lower(ctx, op, x):
        return ctx.b.emit1("tanh", x)

    def gradient(op, grad):
        return [_grad_op("TanhGrad", op.outputs[0], grad)]


def tanh(x, name=None):
    return gen_unary("Tanh", x, name)


# The gradients of the unary functions above, as TF writes them into a graph: each takes the
# forward op's output y and the incoming gradient dy.

def _grad_op(op_type, y, dy, name=None):
    return apply_op1(op_type, [y, dy], {"T": y.dtype.base_dtype}, name, op_type)


def _grad_infer(op):
    _check_same_type(op, 1, names=("y", "dy"))
    check_dtype(op, op.inputs[0], FLOATS)
    y, dy = op.inputs
    return [(y.dtype.base_dtype, _merge_or_raise(op, y.shape, dy.shape))]


class SqrtGrad(OpDef):
    """dy * 0.5 / y: the gradient of y = sqrt(x)."""
    type = "SqrtGrad"
    infer = _grad_infer

    def lower(ctx, op, y, dy):
        half = ctx.b.emit1("mul", dy, _scalar_like(ctx, 0.5, dy))
        return ctx.b.emit1("div", half, y)

    def gradient(op, grad):
        a, _ = op.inputs
        ga = realdiv(grad, a)
        return [multiply(negative(ga), op.outputs[0]), multiply(constant_like(0.5, ga), ga)]


class RsqrtGrad(OpDef):
    """dy * -0.5 * y ** 3: the gradient of y = rsqrt(x)."""
    type = "RsqrtGrad"
    infer = _grad_infer

    def lower(ctx, op, y, dy):
        y3 = ctx.b.emit1("mul", ctx.b.emit1("mul", y, y), y)
        return ctx.b.emit1("mul", ctx.b.emit1("mul", dy, _scalar_like(ctx, -0.5, dy)), y3)

    def gradient(op, grad):
        a, b = op.inputs
        grad_a = multiply(multiply(multiply(constant_like(-1.5, grad), grad), b), square(a))
        return [grad_a, _grad_op("RsqrtGrad", a, grad)]


class TanhGrad(OpDef):
    """dy * (1 - y * y): the gradient of y = tanh(x)."""
    type = "TanhGrad"
    infer = _grad_infer

    def lower(ctx, op, y, dy):
        one_minus = ctx.b.emit1("sub", _scalar_like(ctx, 1, y), ctx.b.emit1("mul", y, y))
        return ctx.b.emit1("mul", dy, one_minus)

    def gradient(op, grad):
        a, b = op.inputs
        return [multiply(multiply(multiply(grad, constant_like(-2.0, grad)), b), a),
                _grad_op("TanhGrad", a, grad)]


class SigmoidGrad(OpDef):
    """dy * y * (1 - y): the gradient of y = sigmoid(x)."""
    type = "SigmoidGrad"
    infer = _grad_infer

    def lower(ctx, op, y, dy):
        one_minus = ctx.b.emit1("sub", _scalar_like(ctx, 1, y), y)
        return ctx.b.emit1("mul", ctx.b.emit1("mul", dy, y), one_minus)

    def gradient(op, grad):
        a, b = op.inputs
        gb = multiply(grad, b)
        return [subtract(gb, multiply(multiply(constant_like(2.0, gb), gb), a)),
                _grad_op("SigmoidGrad", a, grad)]


class ReciprocalGrad(OpDef):
    """-dy * y * y: the gradient of y = 1 / x."""
    type = "ReciprocalGrad"
    aliases = ("InvGrad",)
    infer = _grad_infer

    def lower(ctx, op, y, dy):
        return ctx.b.emit1("mul", ctx.b.emit1("neg", dy), ctx.b.emit1("mul", y, y))

    def gradient(op, grad):
        a, b = op.inputs
        return [multiply(multiply(multiply(grad, constant_like(-2.0, grad)), b), a),
                _grad_op("ReciprocalGrad", a, grad)]


class IsFinite(OpDef):
    """True where x is neither infinite nor NaN."""
    type = "IsFinite"
    fold = fold_by_lowering
    infer = unary_rule(FLOATS, dtypes.bool)
    not_differentiable = True

    def lower(ctx, op, x):
        return ctx.b.emit1("is_finite", x)


class IsNan(OpDef):
    """True where x is NaN."""
    type = "IsNan"
    fold = fold_by_lowering
    infer = unary_rule(FLOATS, dtypes.bool)
    not_differentiable = True

    def lower(ctx, op, x):
        return ctx.b.emit1("is_nan", x)


class IsInf(OpDef):
    """True where x is +inf or -inf."""
    type = "IsInf"
    fold = fold_by_lowering
    infer = unary_rule(FLOATS, dtypes.bool)
    not_differentiable = True

    def lower(ctx, op, x):
        finite_or_nan = ctx.b.emit1("or", ctx.b.emit1("is_finite", x), ctx.b.emit1("is_nan", x))
        return ctx.b.emit1("not", finite_or_nan)


def is_finite(x, name=None):
    return gen_unary("IsFinite", x, name)


def is_nan(x, name=None):
    return gen_unary("IsNan", x, name)


def is_inf(x, name=None):
    return gen_unary("IsInf", x, name)


# ---------------------------------------------------------------- comparisons and logic

def _primitive_binary_op(op_type, prim, allowed, result, doc):
    """The OpDef of a non-differentiable broadcasting binary op lowered to one primitive."""
    def lower(ctx, op, x, y):
        return lower_binary(ctx, prim, x, y)
    return type(op_type, (OpDef,), {"type": op_type, "__doc__": doc, "not_differentiable": True,
                                    "infer": binary_rule(allowed, result), "lower": lower,
                                    "fold": fold_by_lowering})


Equal = _primitive_binary_op("Equal", "eq", None, dtypes.bool,
                             "x == y with broadcasting (any dtype).")
NotEqual = _primitive_binary_op("NotEqual", "ne", None, dtypes.bool,
                                "x != y with broadcasting (any dtype).")
Less = _primitive_binary_op("Less", "lt", REAL, dtypes.bool, "x < y with broadcasting.")
LessEqual = _primitive_binary_op("LessEqual", "le", REAL, dtypes.bool,
                                 "x <= y with broadcasting.")
Greater = _primitive_binary_op("Greater", "gt", REAL, dtypes.bool, "x > y with broadcasting.")
GreaterEqual = _primitive_binary_op("GreaterEqual", "ge", REAL, dtypes.bool,
                                    "x >= y with broadcasting.")


def equal(x, y, name=None):
    return gen_binary("Equal", x, y, name, {"incompatible_shape_error": True})


def not_equal(x, y, name=None):
    return gen_binary("NotEqual", x, y, name, {"incompatible_shape_error": True})


def less(x, y, name=None):
    return gen_binary("Less", x, y, name)


def less_equal(x, y, name=None):
    return gen_binary("LessEqual", x, y, name)


def greater(x, y, name=None):
    return gen_binary("Greater", x, y, name)


def greater_equal(x, y, name=None):
    return gen_binary("GreaterEqual", x, y, name)


def _logical_binary_infer(op):
    check_bool_input(op, 0, "x")
    check_bool_input(op, 1, "y")
    x, y = op.inputs
    return [(dtypes.bool, broadcast_shapes(op, x.shape, y.shape))]


class LogicalAnd(OpDef):
    """x and y for bool tensors, with broadcasting."""
    type = "LogicalAnd"
    fold = fold_by_lowering
    infer = _logical_binary_infer
    not_differentiable = True

    def lower(ctx, op, x, y):
        return lower_binary(ctx, "and", x, y)


class LogicalOr(OpDef):
    """x or y for bool tensors, with broadcasting."""
    type = "LogicalOr"
    fold = fold_by_lowering
    infer = _logical_binary_infer
    not_differentiable = True

    def lower(ctx, op, x, y):
        return lower_binary(ctx, "or", x, y)


class LogicalNot(OpDef):
    """not x for a bool tensor."""
    type = "LogicalNot"
    fold = fold_by_lowering
    not_differentiable = True

    def infer(op):
        check_bool_input(op, 0, "x")
        return [(dtypes.bool, op.inputs[0].shape)]

    def lower(ctx, op, x):
        return ctx.b.emit1("not", x)


def logical_and(x, y, name=None):
    return gen_logical("LogicalAnd", [x, y], name)


def logical_or(x, y, name=None):
    return gen_logical("LogicalOr", [x, y], name)


def logical_not(x, name=None):
    return gen_logical("LogicalNot", [x], name)


def logical_xor(x, y, name="LogicalXor"):
    """(x or y) and not (x and y), composed as TF composes it."""
    return logical_and(logical_or(x, y), logical_not(logical_and(x, y)), name=name)


BitwiseAnd = _primitive_binary_op("BitwiseAnd", "and", INTS, None,
                                  "x & y for integers, with broadcasting.")
BitwiseOr = _primitive_binary_op("BitwiseOr", "or", INTS, None,
                                 "x | y for integers, with broadcasting.")
BitwiseXor = _primitive_binary_op("BitwiseXor", "xor", INTS, None,
                                  "x ^ y for integers, with broadcasting.")


class Invert(OpDef):
    """~x (bitwise complement) for integers."""
    type = "Invert"
    fold = fold_by_lowering
    infer = unary_rule(INTS)
    not_differentiable = True

    def lower(ctx, op, x):
        return ctx.b.emit1("not", x)


def bitwise_and(x, y, name=None):
    return gen_binary("BitwiseAnd", x, y, name)


def bitwise_or(x, y, name=None):
    return gen_binary("BitwiseOr", x, y, name)


def bitwise_xor(x, y, name=None):
    return gen_binary("BitwiseXor", x, y, name)


def invert(x, name=None):
    return gen_unary("Invert", x, name)


# ---------------------------------------------------------------- selection

def _convert_select(condition, x, y):
    condition = _convert_as(condition, dtypes.bool, "condition")
    x = convert_to_tensor(x, name="t")
    y = _convert_as(y, x.dtype.base_dtype, "e")
    return condition, x, y


def _merge_or_raise(op, a, b):
    """Merges partial shapes with TF's Merge messages (the shape rule of Select)."""
    if a.ndims is not None and b.ndims is not None and a.ndims != b.ndims:
        raise ValueError("Shapes must be equal rank, but are %d and %d for '{{node %s}} = "
                         "%s' with input shapes: %s." % (a.ndims, b.ndims, op.name, op.type,
                                                          _input_shapes(op)))
    if not a.is_compatible_with(b):
        for i, (p, q) in enumerate(zip(a.as_list(), b.as_list())):
            if p is not None and q is not None and p != q:
                raise ValueError(
                    "Dimension %d in both shapes must be equal, but are %d and %d. Shapes are %s "
                    "and %s. for '{{node %s}} = %s' with input shapes: %s." % (
                        i, p, q, shape_str(a), shape_str(b), op.name, op.type,
                        _input_shapes(op)))
    return a.merge_with(b)


def _input_shapes(op):
    return ", ".join(shape_str(t.shape) for t in op.inputs)


def _check_condition(op):
    check_bool_input(op, 0, "condition")
    _check_same_type(op, 2, 1, ("t", "e"))


class Select(OpDef):
    """TF1 `where(c, t, e)`: t where c else e. t and e have one shape; c has that shape, is a
    scalar, or is a vector matching their first dimension (selecting whole rows)."""
    type = "Select"
    fold = fold_by_lowering

    def infer(op):
        _check_condition(op)
        cond, t, e = (x.shape for x in op.inputs)
        data = _merge_or_raise(op, t, e)
        dtype = op.inputs[1].dtype.base_dtype
        if cond.ndims is None or data.ndims is None or cond.ndims == 0:
            return [(dtype, data)]
        if cond.ndims != 1 or data.ndims == 0 or data.ndims == 1:
            return [(dtype, _merge_or_raise(op, data, cond))]
        _merge_or_raise(op, cond, TensorShape([data[0]]))
        return [(dtype, data)]

    def lower(ctx, op, c, t, e):
        if t.shape != e.shape:
            raise errors.InvalidArgumentError(None, op, "'then' and 'else' must have the same "
                                              "size. but received: %s vs. %s" % (
                                                  list(t.shape), list(e.shape)))
        if c.rank == 0:
            c = ctx.b.broadcast_in_dim(c, t.shape, ())
        elif c.rank == 1 and t.rank > 1:
            if c.shape[0] != t.shape[0]:
                raise errors.InvalidArgumentError(None, op, "Number of batches of 'then' must "
                                                  "match size of 'cond', but saw: %s vs. %s" % (
                                                      t.shape[0], c.shape[0]))
            c = ctx.b.broadcast_in_dim(c, t.shape, (0,))
        elif c.shape != t.shape:
            raise errors.InvalidArgumentError(None, op, "'cond' and 'then' must have the same "
                                              "shape: %s vs. %s" % (list(c.shape),
                                                                    list(t.shape)))
        return ctx.b.emit1("select", c, t, e)

    def gradient(op, grad):
        c, x, _ = op.inputs
        zeros = array_ops.zeros_like(x)
        return [None, where(c, grad, zeros), where(c, zeros, grad)]


class SelectV2(OpDef):
    """`where_v2(c, t, e)`: t where c else e, all three broadcast together."""
    type = "SelectV2"
    fold = fold_by_lowering

    def infer(op):
        _check_condition(op)
        c, t, e = op.inputs
        data = broadcast_shapes(op, t.shape, e.shape)
        return [(t.dtype.base_dtype, broadcast_shapes(op, c.shape, data))]

    def lower(ctx, op, c, t, e):
        rank = builtins.max(c.rank, t.rank, e.rank)
        shape = [1] * rank
        for v in (c, t, e):
            for i, d in enumerate((1,) * (rank - v.rank) + v.shape):
                if d != 1:
                    if shape[i] not in (1, d):
                        raise errors.InvalidArgumentError(
                            None, op, "Incompatible shapes: %s vs. %s vs. %s" % (
                                list(c.shape), list(t.shape), list(e.shape)))
                    shape[i] = d
        c, t, e = (ctx.b.broadcast_to(v, shape) for v in (c, t, e))
        return ctx.b.emit1("select", c, t, e)

    def gradient(op, grad):
        c, x, y = op.inputs
        z = op.outputs[0]
        zeros = array_ops.zeros([], dtype=grad.dtype.base_dtype)
        gx, _ = reduce_gradient_args(x, z, where_v2(c, grad, zeros), None)
        gy, _ = reduce_gradient_args(y, z, where_v2(c, zeros, grad), None)
        return [None, gx, gy]


class Where(OpDef):
    """`where(c)`: the [n, rank] int64 coordinates of the true (non-zero) elements of c, in
    row-major order. n depends on the data, so graphc computes it only when c is known at
    compile time."""
    type = "Where"
    not_differentiable = True

    def infer(op):
        check_dtype(op, op.inputs[0], REAL + (dtypes.bool,), "T")
        return [(dtypes.int64, TensorShape([None, op.inputs[0].shape.ndims]))]

    def fold(op):
        value = array_ops.constant_value(op.inputs[0])
        return None if value is None else np.argwhere(value).astype(np.int64)

    def lower(ctx, op, c):
        value = ctx.maybe_const(op, 0)
        if value is None:
            raise NotImplementedError(
                "%s (Where): tf.where(condition) with one argument returns a tensor whose size "
                "depends on the values of '%s'; graphc computes it only when the condition is "
                "known at compile time" % (op.name, op.inputs[0].name))
        return ctx.b.constant(np.argwhere(value).astype(np.int64))


def where(condition, x=None, y=None, name=None):
    """TF1 tf.where: Select(condition, x, y); with x and y None, the coordinates of the true
    elements of `condition` (Where)."""
    if x is None and y is None:
        with name_scope(name, "Where", _graph_values(condition)) as scope:
            condition = convert_to_tensor(condition, preferred_dtype=dtypes.bool,
                                          name="condition")
            return apply_op1("Where", [condition], {"T": condition.dtype.base_dtype},
                             name=scope)
    if x is None or y is None:
        raise ValueError("x and y must both be non-None or both be None.")
    with name_scope(name, "Select", _graph_values(condition, x, y)) as scope:
        inputs = _convert_select(condition, x, y)
        return apply_op1("Select", list(inputs), {"T": inputs[1].dtype.base_dtype}, name=scope)


def where_v2(condition, x=None, y=None, name=None):
    """tf.where_v2: SelectV2 (broadcasting); with x and y None, as `where(condition)`."""
    if x is None and y is None:
        return where(condition, name=name)
    if x is None or y is None:
        raise ValueError("x and y must both be non-None or both be None.")
    with name_scope(name, "SelectV2", _graph_values(condition, x, y)) as scope:
        inputs = _convert_select(condition, x, y)
        return apply_op1("SelectV2", list(inputs), {"T": inputs[1].dtype.base_dtype},
                         name=scope)


# ---------------------------------------------------------------- cast

class Cast(OpDef):
    """Converts to DstT; float -> int truncates and saturates (NaN -> 0)."""
    type = "Cast"

    def infer(op):
        return [(op.get_attr("DstT"), op.inputs[0].shape)]

    def fold(op):
        value = array_ops.constant_value(op.inputs[0])
        return None if value is None else np.asarray(value).astype(op.get_attr("DstT").np)

    def lower(ctx, op, x):
        return ctx.b.convert(x, op.get_attr("DstT").np)

    def gradient(op, grad):
        src, dst = op.get_attr("SrcT"), op.get_attr("DstT")
        if src.is_floating and dst.is_floating:
            return [cast(grad, src)]
        return [None]


def cast(x, dtype, name=None):
    """tf.cast: a Tensor already of `dtype` is returned as it is."""
    dtype = dtypes.as_dtype(dtype).base_dtype
    if isinstance(x, Tensor) and x.dtype.base_dtype == dtype:
        return x
    with name_scope(name, "Cast", _graph_values(x)) as scope:
        x = convert_to_tensor(x, name="x")
        if x.dtype.base_dtype == dtype:
            return x
        return apply_op1("Cast", [x], {"SrcT": x.dtype.base_dtype, "DstT": dtype,
                                       "Truncate": False}, name=scope)


def to_float(x, name="ToFloat"):
    return cast(x, dtypes.float32, name=name)


def to_double(x, name="ToDouble"):
    return cast(x, dtypes.float64, name=name)


def to_int32(x, name="ToInt32"):
    return cast(x, dtypes.int32, name=name)


def to_int64(x, name="ToInt64"):
    return cast(x, dtypes.int64, name=name)


# ---------------------------------------------------------------- reductions

def _reduction_axes_of(op, rank):
    """The normalized, sorted axes of reduction `op` (constant input 1), TF's errors."""
    out = set()
    for a in int_list(array_ops.constant_value(op.inputs[1])):
        if not -rank <= a < builtins.max(rank, 1):
            raise ValueError("Invalid reduction dimension %d for input with %d dimensions. for "
                             "'{{node %s}} = %s'" % (a, rank, op.name, op.type))
        out.add(a % rank if rank else 0)
    return sorted(out)


def reduction_rule(allowed):
    """Shape rule of Sum/Mean/Max/...: `allowed` input dtypes, or "bool" for Any/All."""
    def infer(op):
        x, axes_t = op.inputs
        if allowed == "bool":
            check_bool_input(op, 0, "input")
        else:
            check_dtype(op, x, allowed, "input")
        check_dtype(op, axes_t, (dtypes.int32, dtypes.int64), "Tidx")
        keep = op.get_attr("keep_dims")
        dtype = x.dtype.base_dtype
        if x.shape.ndims is None:
            return [(dtype, unknown_shape())]
        rank = x.shape.ndims
        if array_ops.constant_value(axes_t) is None:
            return [(dtype, unknown_shape(rank) if keep else unknown_shape())]
        axes = _reduction_axes_of(op, rank)
        dims = x.shape.as_list()
        out = [1 if i in axes else d for i, d in enumerate(dims) if keep or i not in axes]
        return [(dtype, TensorShape(out))]
    return infer


reduction_infer = reduction_rule(REAL)


def _lowered_axes(ctx, op, x):
    axes = set()
    for a in int_list(ctx.const(op, 1)):
        if not -x.rank <= a < builtins.max(x.rank, 1):
            raise errors.InvalidArgumentError(None, op, "Invalid reduction dimension (%d for "
                                              "input with %d dimension(s)" % (a, x.rank))
        axes.add(a % x.rank if x.rank else 0)
    return sorted(a for a in axes if x.rank)


def _keep_dims_shape(op, x, axes, out):
    if op.get_attr("keep_dims"):
        return [1 if i in axes else d for i, d in enumerate(x.shape)]
    return out.shape


def lower_reduction(ctx, op, x, kind):
    axes = _lowered_axes(ctx, op, x)
    out = ctx.b.reduce(x, axes, kind)
    return ctx.b.reshape(out, _keep_dims_shape(op, x, axes, out))


def _static_axes(op):
    """The sorted reduced axes of `op` when they and the input rank are known at graph-build
    time, else None."""
    x, axes = op.inputs
    if array_ops.constant_value(axes) is None or x.shape.ndims is None:
        return None
    return _reduction_axes_of(op, x.shape.ndims)


def reduced_shape(input_shape, axes):
    """`input_shape` with 1 at each of `axes` (negative ones count from the end): the shape of
    a keep_dims reduction (TF's reduced_shape). Built from graph ops that fold to a constant
    when lowering, where every shape is known."""
    rank = array_ops.size(input_shape)
    axes = array_ops.reshape(cast(axes, input_shape.dtype.base_dtype), [1, -1])
    axes = floormod(add(axes, cast(rank, axes.dtype)), cast(rank, axes.dtype))
    positions = array_ops.expand_dims(range_(cast(rank, axes.dtype)), 1)
    is_reduced = reduce_any(equal(positions, axes), axis=1)
    return where_v2(is_reduced, array_ops.ones_like(input_shape), input_shape)


def _keep_reduced_dims(op, t):
    """`t` (shaped like op's output) with the reduced axes re-inserted as size-1 dims."""
    if op.get_attr("keep_dims"):
        return t
    axes = _static_axes(op)
    if axes is None:
        return array_ops.reshape(t, reduced_shape(array_ops.shape(op.inputs[0]), op.inputs[1]))
    for a in axes:
        t = array_ops.expand_dims(t, a)
    return t


def sum_gradient(op, grad):
    """Re-inserts the reduced axes (when keep_dims is off) and broadcasts to the input shape."""
    grad = _keep_reduced_dims(op, grad)
    return [array_ops.broadcast_to(grad, array_ops.shape(op.inputs[0])), None]


class Sum(OpDef):
    """Sum over `reduction_indices`; attr keep_dims."""
    type = "Sum"
    fold = fold_by_lowering
    infer = reduction_infer
    gradient = sum_gradient

    def lower(ctx, op, x, _):
        return lower_reduction(ctx, op, x, "sum")


class Mean(OpDef):
    """Mean over `reduction_indices` (integers divide truncating, as TF; empty -> NaN/0)."""
    type = "Mean"
    fold = fold_by_lowering
    infer = reduction_infer

    def lower(ctx, op, x, _):
        axes = _lowered_axes(ctx, op, x)
        total = ctx.b.reduce(x, axes, "sum")
        count = num_elements([x.shape[a] for a in axes])
        out = total
        if isinstance(count, SymDim):  # the batch: its size is read at run time
            divisor = ctx.b.broadcast_to(ctx.size_value([count], total.dtype), total.shape)
            out = ctx.b.emit1("div", total, divisor)
        elif count != 1 and not (count == 0 and x.dtype.kind in "iu"):
            out = ctx.b.emit1("div", total, _scalar_like(ctx, count, total))
        return ctx.b.reshape(out, _keep_dims_shape(op, x, axes, out))

    def gradient(op, grad):
        sum_grad = sum_gradient(op, grad)[0]
        x, y = op.inputs[0], op.outputs[0]
        if x.shape.is_fully_defined() and y.shape.is_fully_defined():
            factor = x.shape.num_elements() // builtins.max(y.shape.num_elements(), 1)
            factor = constant_like(factor, sum_grad)
        else:
            factor = floordiv(array_ops.size(x), maximum(array_ops.size(y), 1))
        return [truediv(sum_grad, cast(factor, sum_grad.dtype)), None]


def _min_or_max_gradient(op, grad):
    """The gradient is shared equally by the elements equal to the extremum."""
    x = op.inputs[0]
    y = _keep_reduced_dims(op, op.outputs[0])
    grad = _keep_reduced_dims(op, grad)
    indicators = cast(equal(y, x), grad.dtype)
    num_selected = reduce_sum(indicators, op.inputs[1], keepdims=True)
    return [multiply(divide(indicators, num_selected), grad), None]


class Max(OpDef):
    """Maximum over `reduction_indices` (NaN propagates; empty -> the lowest value)."""
    type = "Max"
    fold = fold_by_lowering
    infer = reduction_infer
    gradient = _min_or_max_gradient

    def lower(ctx, op, x, _):
        return lower_reduction(ctx, op, x, "max")


class Min(OpDef):
    """Minimum over `reduction_indices` (NaN propagates; empty -> the highest value)."""
    type = "Min"
    fold = fold_by_lowering
    infer = reduction_infer
    gradient = _min_or_max_gradient

    def lower(ctx, op, x, _):
        return lower_reduction(ctx, op, x, "min")


def _exclusive_product(x, axes):
    """For each element, the product of the other elements of its reduction group over
    `axes`, without division (zeros are fine): over a single axis it is the product of the
    exclusive cumulative products from both ends, and over axes (a, rest...) the product of
    the other slices along a times the exclusive product within the element's own slice."""
    a, rest = axes[0], axes[1:]
    if not rest:
        return multiply(cumprod(x, a, exclusive=True), cumprod(x, a, exclusive=True,
                                                                reverse=True))
    others = _exclusive_product(reduce_prod(x, rest, keepdims=True), [a])
    return multiply(others, _exclusive_product(x, rest))


class Prod(OpDef):
    """Product over `reduction_indices`."""
    type = "Prod"
    fold = fold_by_lowering
    infer = reduction_infer

    def lower(ctx, op, x, _):
        return lower_reduction(ctx, op, x, "prod")

    def gradient(op, grad):
        x = op.inputs[0]
        axes = _static_axes(op)
        if axes is None:
            raise NotImplementedError("%s: graphc differentiates Prod only when its axes and "
                                      "input rank are known at graph-build time" % op.name)
        grad = array_ops.broadcast_to(_keep_reduced_dims(op, grad), array_ops.shape(x))
        if not axes:
            return [grad, None]
        return [multiply(grad, _exclusive_product(x, axes)), None]


class Any(OpDef):
    """Logical or over `reduction_indices` (bool input)."""
    type = "Any"
    fold = fold_by_lowering
    infer = reduction_rule("bool")
    not_differentiable = True

    def lower(ctx, op, x, _):
        return lower_reduction(ctx, op, x, "any")


class All(OpDef):
    """Logical and over `reduction_indices` (bool input)."""
    type = "All"
    fold = fold_by_lowering
    infer = reduction_rule("bool")
    not_differentiable = True

    def lower(ctx, op, x, _):
        return lower_reduction(ctx, op, x, "all")


def reduction_axes(x, axis):
    """The axes tensor of a reduction with `axis` None: all axes (a `Const`, or Range(0, Rank)
    when the rank is not known, as TF builds it)."""
    from graphc.ops.constant_op import constant
    if axis is None:
        if x.shape.ndims:
            return constant(np.arange(x.shape.ndims, dtype=np.int32))
        return range_(0, array_ops.rank(x))
    return axis


def _keepdims(keepdims, keep_dims):
    if keepdims is not None and keep_dims is not None:
        raise ValueError("Cannot specify both 'keep_dims' and 'keepdims'.")
    return bool(keepdims if keepdims is not None else keep_dims)


def _reduction_axis(axis, reduction_indices):
    if axis is not None and reduction_indices is not None:
        raise ValueError("Cannot specify both 'axis' and 'reduction_indices'.")
    return axis if axis is not None else reduction_indices


def reduce_op(op_type, default_name, input_tensor, axis, keepdims, name, reduction_indices,
              keep_dims):
    """Shared front end of tf.reduce_*: legacy argument names, all-axes default; a Python axis
    becomes `<op>/reduction_indices` as in TF."""
    x = convert_to_tensor(input_tensor)
    axis = _reduction_axis(axis, reduction_indices)
    keep = _keepdims(keepdims, keep_dims)
    axes = reduction_axes(x, axis)
    with name_scope(name, default_name, [x]) as scope:
        axes = axes if _is_graph_value(axes) else convert_to_tensor(
            axes, preferred_dtype=dtypes.int32, name="reduction_indices")
        out = apply_op1(op_type, [x, axes], {"T": x.dtype.base_dtype, "Tidx": axes.dtype,
                                             "keep_dims": keep}, name=scope)
    if axis is None and not keep and not out.shape.is_fully_defined():
        out.set_shape([])  # all axes reduced: a scalar, even when the rank is unknown
    return out


def reduce_sum(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None,
               keep_dims=None):
    return reduce_op("Sum", "Sum", input_tensor, axis, keepdims, name, reduction_indices,
                     keep_dims)


def reduce_mean(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None,
                keep_dims=None):
    return reduce_op("Mean", "Mean", input_tensor, axis, keepdims, name, reduction_indices,
                     keep_dims)


def reduce_max(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None,
               keep_dims=None):
    return reduce_op("Max", "Max", input_tensor, axis, keepdims, name, reduction_indices,
                     keep_dims)


def reduce_min(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None,
               keep_dims=None):
    return reduce_op("Min", "Min", input_tensor, axis, keepdims, name, reduction_indices,
                     keep_dims)


def reduce_prod(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None,
                keep_dims=None):
    return reduce_op("Prod", "Prod", input_tensor, axis, keepdims, name, reduction_indices,
                     keep_dims)


def reduce_any(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None,
               keep_dims=None):
    return reduce_op("Any", "Any", input_tensor, axis, keepdims, name, reduction_indices,
                     keep_dims)


def reduce_all(input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None,
               keep_dims=None):
    return reduce_op("All", "All", input_tensor, axis, keepdims, name, reduction_indices,
                     keep_dims)


def reduce_logsumexp(input_tensor, axis=None, keepdims=None, name=None,
                     reduction_indices=None, keep_dims=None):
    """log(sum(exp(x))) computed stably around the (finite) maximum, composed as TF does."""
    axis = _reduction_axis(axis, reduction_indices)
    keep = _keepdims(keepdims, keep_dims)
    with name_scope(name, "ReduceLogSumExp", _graph_values(input_tensor)) as scope:
        x = convert_to_tensor(input_tensor)
        raw_max = reduce_max(x, axis=axis, keepdims=True)
        my_max = array_ops.stop_gradient(where_v2(is_finite(raw_max), raw_max, 0))
        result = log(reduce_sum(exp(subtract(x, my_max)), axis=axis, keepdims=keep))
        if not keep:
            my_max = array_ops.reshape(my_max, array_ops.shape_internal(result,
                                                                        optimize=False))
        result = add(result, my_max, name=scope)
    if axis is None and not keep and not result.shape.is_fully_defined():
        result.set_shape([])
    return result


def count_nonzero(input_tensor=None, axis=None, keepdims=None, dtype=dtypes.int64, name=None,
                  reduction_indices=None, keep_dims=None, input=None):  # noqa: A002
    """The number of non-zero (true) elements over `axis`, as `dtype`."""
    if input is not None:
        if input_tensor is not None:
            raise ValueError("Cannot specify both 'input' and 'input_tensor'.")
        input_tensor = input
    keep = _keepdims(keepdims, keep_dims)
    axis = _reduction_axis(axis, reduction_indices)
    with name_scope(name, "count_nonzero", _graph_values(input_tensor)):
        x = convert_to_tensor(input_tensor, name="input")
        if x.dtype.base_dtype == dtypes.bool:
            predicate = x
        else:
            predicate = not_equal(x, array_ops.zeros([], dtype=x.dtype.base_dtype))
        counts = reduce_sum(cast(predicate, dtypes.int64), axis=axis, keepdims=keep)
        return cast(counts, dtype)


# ---------------------------------------------------------------- arg max / arg min

def _arg_rule(op):
    x, axis_t = op.inputs
    check_dtype(op, x, REAL + (dtypes.bool,), "T")
    out_type = op.get_attr("output_type")
    axis = array_ops.constant_value(axis_t)
    if x.shape.ndims is None:
        return [(out_type, unknown_shape())]
    rank = x.shape.ndims
    if axis is None:
        return [(out_type, unknown_shape(builtins.max(rank - 1, 0)))]
    a = int(np.asarray(axis).reshape(-1)[0])
    if not -rank <= a < rank:
        raise ValueError("Dimension (%d) must be in the range [%d, %d), where %d is the number "
                         "of dimensions in the input. for '{{node %s}} = %s'" % (
                             a, -rank, rank, rank, op.name, op.type))
    dims = x.shape.as_list()
    del dims[a % rank]
    return [(out_type, TensorShape(dims))]


def _lower_arg(ctx, op, x, prim, nan_fill):
    axis = int(np.asarray(ctx.const(op, 1)).reshape(-1)[0])
    if not -x.rank <= axis < x.rank:
        raise errors.InvalidArgumentError(None, op, "Expected dimension in the range [%d, %d), "
                                          "but got %d" % (-x.rank, x.rank, axis))
    axis %= x.rank
    if x.shape[axis] == 0:
        raise errors.InvalidArgumentError(None, op, "Reduction axis %d is empty in shape %s"
                                          % (axis, list(x.shape)))
    if x.dtype.kind == "f":
        # NaN never wins (TF's kernels skip it); an all-NaN slice gives index 0.
        x = ctx.b.emit1("select", ctx.b.emit1("is_nan", x), _scalar_like(ctx, nan_fill, x), x)
    return ctx.b.emit1(prim, x, axis=axis, index_dtype=op.get_attr("output_type").np)


class ArgMax(OpDef):
    """Index of the largest value along `dimension` (the first on ties; NaN is skipped)."""
    type = "ArgMax"
    fold = fold_by_lowering
    infer = _arg_rule
    not_differentiable = True

    def lower(ctx, op, x, _):
        return _lower_arg(ctx, op, x, "argmax", -np.inf)


class ArgMin(OpDef):
    """Index of the smallest value along `dimension` (the first on ties; NaN is skipped)."""
    type = "ArgMin"
    fold = fold_by_lowering
    infer = _arg_rule
    not_differentiable = True

    def lower(ctx, op, x, _):
        return _lower_arg(ctx, op, x, "argmin", np.inf)


def _arg(op_type, x, axis, name, output_type):
    with name_scope(name, op_type, _graph_values(x, axis)) as scope:
        x = convert_to_tensor(x, name="input")
        axis = _convert_as(0 if axis is None else axis, None, "dimension")
        return apply_op1(op_type, [x, axis], {"T": x.dtype.base_dtype, "Tidx": axis.dtype,
                                              "output_type": dtypes.as_dtype(output_type)},
                         name=scope)


def argmax(input, axis=None, name=None, dimension=None,  # noqa: A002
           output_type=dtypes.int64):
    """TF1 tf.argmax: `axis` (or legacy `dimension`) defaults to 0."""
    if axis is not None and dimension is not None:
        raise ValueError("Cannot specify both 'axis' and 'dimension'.")
    return _arg("ArgMax", input, dimension if axis is None else axis, name, output_type)


def argmin(input, axis=None, name=None, dimension=None,  # noqa: A002
           output_type=dtypes.int64):
    """TF1 tf.argmin: `axis` (or legacy `dimension`) defaults to 0."""
    if axis is not None and dimension is not None:
        raise ValueError("Cannot specify both 'axis' and 'dimension'.")
    return _arg("ArgMin", input, dimension if axis is None else axis, name, output_type)


def arg_max(input, dimension, output_type=dtypes.int64, name=None):  # noqa: A002
    return _arg("ArgMax", input, dimension, name, output_type)


def arg_min(input, dimension, output_type=dtypes.int64, name=None):  # noqa: A002
    return _arg("ArgMin", input, dimension, name, output_type)


# ---------------------------------------------------------------- cumulative sum / product

def _cumulative_infer(op):
    x, axis = op.inputs
    check_dtype(op, x, REAL)
    check_dtype(op, axis, (dtypes.int32, dtypes.int64), "Tidx")
    if axis.shape.ndims not in (None, 0):
        raise ValueError("Shape must be rank 0 but is rank %d for '{{node %s}} = %s'" % (
            axis.shape.ndims, op.name, op.type))
    return [(x.dtype.base_dtype, x.shape)]


def _lower_cumulative(ctx, op, x, kind, identity):
    """out[..i..] = reduce over j of x[..j..] where j <= i (exclusive: j < i; reverse: j >= i,
    j > i), as a masked reduction over a [.., n, n, ..] broadcast: exact, and O(n^2)."""
    axis = int(np.asarray(ctx.const(op, 1)).reshape(-1)[0])
    if not -x.rank <= axis < x.rank:
        raise errors.InvalidArgumentError(None, op, "Expected axis in the range [%d, %d), but "
                                          "got %d" % (-x.rank, x.rank, axis))
    axis %= x.rank
    n = x.shape[axis]
    compare = {(False, False): "le", (True, False): "lt", (False, True): "ge",
               (True, True): "gt"}[(op.get_attr("exclusive"), op.get_attr("reverse"))]
    i = ctx.b.emit1("iota", dtype=np.int32, shape=(n, n), dimension=0)
    j = ctx.b.emit1("iota", dtype=np.int32, shape=(n, n), dimension=1)
    mask = ctx.b.emit1(compare, j, i)
    shape = x.shape[:axis] + (n,) + x.shape[axis:]
    xb = ctx.b.broadcast_in_dim(x, shape, [d if d < axis else d + 1 for d in builtins.range(
        x.rank)])
    mb = ctx.b.broadcast_in_dim(mask, shape, (axis, axis + 1))
    masked = ctx.b.emit1("select", mb, xb, ctx.b.full(identity, x.dtype, shape))
    return ctx.b.emit1("reduce", masked, axes=(axis + 1,), kind=kind)


class Cumsum(OpDef):
    """Cumulative sum along `axis`; attrs exclusive, reverse."""
    type = "Cumsum"
    infer = _cumulative_infer

    def lower(ctx, op, x, _):
        return _lower_cumulative(ctx, op, x, "sum", 0)

    def gradient(op, grad):
        return [cumsum(grad, op.inputs[1], exclusive=op.get_attr("exclusive"),
                       reverse=not op.get_attr("reverse")), None]


class Cumprod(OpDef):
    """Cumulative product along `axis`; attrs exclusive, reverse."""
    type = "Cumprod"
    infer = _cumulative_infer

    def lower(ctx, op, x, _):
        return _lower_cumulative(ctx, op, x, "prod", 1)

    def gradient(op, grad):
        # TF's rule: exact except where x == 0 (div_no_nan gives 0 there).
        x, axis = op.inputs
        exclusive, reverse = op.get_attr("exclusive"), op.get_attr("reverse")
        prod = cumprod(x, axis, exclusive=exclusive, reverse=reverse)
        out = cumsum(multiply(prod, grad), axis, exclusive=exclusive, reverse=not reverse)
        return [div_no_nan(out, x), None]


def _cumulative(op_type, x, axis, exclusive, reverse, name):
    with name_scope(name, op_type, _graph_values(x)) as scope:
        x = convert_to_tensor(x, name="x")
        axis = _convert_as(axis, None, "axis")
        return apply_op1(op_type, [x, axis], {"T": x.dtype.base_dtype, "Tidx": axis.dtype,
                                              "exclusive": bool(exclusive),
                                              "reverse": bool(reverse)}, name=scope)


def cumsum(x, axis=0, exclusive=False, reverse=False, name=None):
    return _cumulative("Cumsum", x, axis, exclusive, reverse, name)


def cumprod(x, axis=0, exclusive=False, reverse=False, name=None):
    return _cumulative("Cumprod", x, axis, exclusive, reverse, name)


# ---------------------------------------------------------------- matmul

MATMUL_TYPES = FLOATS + (dtypes.int32, dtypes.int64, dtypes.uint8, dtypes.uint16,
                         dtypes.uint32, dtypes.uint64)
BATCH_MATMUL_TYPES = MATMUL_TYPES + (dtypes.int16,)


class MatMul(OpDef):
    """2-D matrix product with optional transposes of either operand."""
    type = "MatMul"

    def infer(op):
        _check_same_type(op, 1, names=("a", "b"))
        a, b = op.inputs
        check_dtype(op, a, MATMUL_TYPES)
        ta, tb = op.get_attr("transpose_a"), op.get_attr("transpose_b")
        sa, sb = a.shape.with_rank(2), b.shape.with_rank(2)
        m, ka = (sa[1], sa[0]) if ta else (sa[0], sa[1])
        kb, n = (sb[1], sb[0]) if tb else (sb[0], sb[1])
        if not ka.is_compatible_with(kb):
            raise ValueError("Dimensions must be equal, but are %s and %s for '{{node %s}} = "
                             "MatMul[T=DT_%s, transpose_a=%s, transpose_b=%s]' with input "
                             "shapes: %s, %s." % (ka, kb, op.name, a.dtype.base_dtype.name.upper(),
                                                  ta, tb, shape_str(sa), shape_str(sb)))
        return [(a.dtype.base_dtype, TensorShape([m, n]))]

    def lower(ctx, op, a, b):
        ca = 0 if op.get_attr("transpose_a") else 1
        cb = 1 if op.get_attr("transpose_b") else 0
        return ctx.b.emit1("dot_general", a, b, lhs_contract=(ca,), rhs_contract=(cb,),
                           lhs_batch=(), rhs_batch=())

    def gradient(op, grad):
        a, b = op.inputs
        ta, tb = op.get_attr("transpose_a"), op.get_attr("transpose_b")
        if not ta and not tb:
            return [matmul(grad, b, transpose_b=True), matmul(a, grad, transpose_a=True)]
        if not ta and tb:
            return [matmul(grad, b), matmul(grad, a, transpose_a=True)]
        if ta and not tb:
            return [matmul(b, grad, transpose_b=True), matmul(a, grad)]
        return [matmul(b, grad, transpose_a=True, transpose_b=True),
                matmul(grad, a, transpose_a=True, transpose_b=True)]


class BatchMatMulV2(OpDef):
    """Matrix products over the last two dims, with numpy broadcasting of the leading (batch)
    dims; attrs adj_x, adj_y transpose the matrices of x, y."""
    type = "BatchMatMulV2"

    def infer(op):
        _check_same_type(op, 1)
        x, y = op.inputs
        check_dtype(op, x, BATCH_MATMUL_TYPES)
        sx, sy = x.shape, y.shape
        for s in (sx, sy):
            if s.ndims is not None and s.ndims < 2:
                raise ValueError("Shape must be at least rank 2 but is rank %d for '{{node %s}} "
                                 "= BatchMatMulV2' with input shapes: %s." % (
                                     s.ndims, op.name, _input_shapes(op)))
        if sx.ndims is None or sy.ndims is None:
            return [(x.dtype.base_dtype, unknown_shape())]
        adj_x, adj_y = op.get_attr("adj_x"), op.get_attr("adj_y")
        m, kx = (sx[-1], sx[-2]) if adj_x else (sx[-2], sx[-1])
        ky, n = (sy[-1], sy[-2]) if adj_y else (sy[-2], sy[-1])
        if not kx.is_compatible_with(ky):
            raise ValueError("Dimensions must be equal, but are %s and %s for '{{node %s}} = "
                             "BatchMatMulV2' with input shapes: %s." % (kx, ky, op.name,
                                                                       _input_shapes(op)))
        batch = broadcast_shapes(op, sx[:-2], sy[:-2])
        return [(x.dtype.base_dtype, batch.concatenate([m, n]))]

    def lower(ctx, op, x, y):
        nb = builtins.max(x.rank, y.rank) - 2
        bx = (1,) * (nb - x.rank + 2) + x.shape[:-2]
        by = (1,) * (nb - y.rank + 2) + y.shape[:-2]
        batch = []
        for p, q in zip(bx, by):
            if p != q and 1 not in (p, q):
                raise errors.InvalidArgumentError(None, op, "Incompatible batch shapes: %s vs. "
                                                  "%s" % (list(x.shape), list(y.shape)))
            batch.append(q if p == 1 else p)
        x = ctx.b.broadcast_to(x, batch + list(x.shape[-2:]))
        y = ctx.b.broadcast_to(y, batch + list(y.shape[-2:]))
        cx = nb if op.get_attr("adj_x") else nb + 1
        cy = nb + 1 if op.get_attr("adj_y") else nb
        if x.shape[cx] != y.shape[cy]:
            raise errors.InvalidArgumentError(None, op, "Matrix size-incompatible: In[0]: %s, "
                                              "In[1]: %s" % (list(x.shape), list(y.shape)))
        batch_dims = tuple(builtins.range(nb))
        return ctx.b.emit1("dot_general", x, y, lhs_contract=(cx,), rhs_contract=(cy,),
                           lhs_batch=batch_dims, rhs_batch=batch_dims)

    def gradient(op, grad):
        x, y = op.inputs
        adj_x, adj_y = op.get_attr("adj_x"), op.get_attr("adj_y")
        if not adj_x and not adj_y:
            gx, gy = matmul(grad, y, adjoint_b=True), matmul(x, grad, adjoint_a=True)
        elif not adj_x:
            gx, gy = matmul(grad, y), matmul(grad, x, adjoint_a=True)
        elif not adj_y:
            gx, gy = matmul(y, grad, adjoint_b=True), matmul(x, grad)
        else:
            gx = matmul(y, grad, adjoint_a=True, adjoint_b=True)
            gy = matmul(grad, x, adjoint_a=True, adjoint_b=True)
        sx, sy = x.shape, y.shape
        if sx.ndims is not None and sy.ndims is not None and sx[:-2].is_fully_defined() and \
                sy[:-2].is_fully_defined() and sx[:-2] == sy[:-2]:
            return [gx, gy]
        # Sum over the batch dims each operand was broadcast along: the matrix dims of the
        # gradients already match the operands', so comparing full shapes finds exactly those.
        return [_reduce_to_operand(g, t) for g, t in ((gx, x), (gy, y))]


def _reduce_to_operand(grad, operand):
    s = array_ops.shape(operand)
    axes, _ = array_ops.apply_broadcast_gradient_args(s, array_ops.shape(grad))
    return array_ops.reshape(reduce_sum(grad, axes), s)


def matmul(a, b, transpose_a=False, transpose_b=False, adjoint_a=False, adjoint_b=False,
           a_is_sparse=False, b_is_sparse=False, name=None):
    """tf.matmul: MatMul for rank-2 operands, BatchMatMulV2 when either may have batch dims."""
    with name_scope(name, "MatMul", _graph_values(a, b)) as scope:
        if transpose_a and adjoint_a:
            raise ValueError("Only one of `transpose_a` and `adjoint_a` can be True. Received "
                             "`transpose_a`=True, `adjoint_a`=True.")
        if transpose_b and adjoint_b:
            raise ValueError("Only one of `transpose_b` and `adjoint_b` can be True. Received "
                             "`transpose_b`=True, `adjoint_b`=True.")
        a = convert_to_tensor(a, name="a")
        b = convert_to_tensor(b, preferred_dtype=a.dtype.base_dtype, name="b")
        ta, tb = transpose_a or adjoint_a, transpose_b or adjoint_b
        ra, rb = a.shape.ndims, b.shape.ndims
        if ra is None or ra > 2 or rb is None or rb > 2:
            return apply_op1("BatchMatMulV2", [a, b], {"T": a.dtype.base_dtype, "adj_x": ta,
                                                       "adj_y": tb}, name=scope)
        return apply_op1("MatMul", [a, b], {"T": a.dtype.base_dtype, "transpose_a": ta,
                                            "transpose_b": tb}, name=scope)


# ---------------------------------------------------------------- sequences

RANGE_TYPES = (dtypes.int32, dtypes.int64, dtypes.float32, dtypes.float64)


def _range_size(op, start, limit, delta):
    """The length of range(start, limit, delta), with TF's errors."""
    def fail(msg):
        raise ValueError("%s for '{{node %s}} = Range' with computed input tensors: input[0] = "
                         "<%s>, input[1] = <%s>, input[2] = <%s>." % (msg, op.name, start, limit,
                                                                     delta))
    if delta == 0:
        fail("Requires delta != 0")
    if delta > 0 and start > limit:
        fail("Requires start <= limit when delta > 0: %s/%s" % (start, limit))
    if delta < 0 and start < limit:
        fail("Requires start >= limit when delta < 0: %s/%s" % (start, limit))
    if isinstance(start, (np.integer, int)):
        return int((builtins.abs(int(limit) - int(start)) + builtins.abs(int(delta)) - 1)
                   // builtins.abs(int(delta)))
    return int(np.ceil(np.abs((float(limit) - float(start)) / float(delta))))


def _range_args(op):
    """(start, limit, delta) as Python scalars when all are known at graph-build time."""
    values = [array_ops.constant_value(t) for t in op.inputs]
    if any(v is None or np.asarray(v).size != 1 for v in values):
        return None
    return [np.asarray(v).reshape(()).item() for v in values]


class Range(OpDef):
    """start, start + delta, ... up to (excluding) limit; scalar inputs of type Tidx."""
    type = "Range"
    not_differentiable = True

    def infer(op):
        for i in builtins.range(1, 3):
            _check_same_type(op, i, names=("start", ("limit", "delta")[i - 1]))
        check_dtype(op, op.inputs[0], RANGE_TYPES, "Tidx")
        for t, what in zip(op.inputs, ("start", "limit", "delta")):
            if t.shape.ndims not in (None, 0):
                raise ValueError("%s must be a scalar, not shape %s for '{{node %s}} = Range'"
                                 % (what, shape_str(t.shape), op.name))
        args = _range_args(op)
        size = None if args is None else _range_size(op, *args)
        return [(op.inputs[0].dtype.base_dtype, TensorShape([size]))]

    def fold(op):
        args = _range_args(op)
        if args is None or _range_size(op, *args) > FOLD_LIMIT:
            return None
        return _range_values(op.inputs[0].dtype.base_dtype.np, _range_size(op, *args), *args)

    def lower(ctx, op, *_):
        start, limit, delta = (np.asarray(ctx.const(op, i)).reshape(()).item()
                               for i in builtins.range(3))
        dtype = op.outputs[0].dtype.np
        n = _range_size(op, start, limit, delta)
        if n <= FOLD_LIMIT:
            # A constant, so shape arithmetic built on ranges (reduced_shape) folds.
            return ctx.b.constant(_range_values(dtype, n, start, limit, delta))
        idx = ctx.b.emit1("iota", dtype=dtype, shape=(n,), dimension=0)
        scaled = ctx.b.emit1("mul", idx, ctx.b.full(delta, dtype, (n,)))
        return ctx.b.emit1("add", ctx.b.full(start, dtype, (n,)), scaled)


def _range_values(dtype, n, start, _, delta):
    return np.asarray(start, dtype) + np.arange(n).astype(dtype) * np.asarray(delta, dtype)


def range_(start, limit=None, delta=1, dtype=None, name="range"):
    """tf.range: like Python's range; the dtype is the widest of the arguments' (int32 <
    int64 < float32 < float64) unless `dtype` is given."""
    if limit is None:
        start, limit = 0, start
    with name_scope(name, "Range", _graph_values(start, limit, delta)) as scope:
        args = []
        for value, arg_name in ((start, "start"), (limit, "limit"), (delta, "delta")):
            if not isinstance(value, Tensor):
                value = convert_to_tensor(value, dtype=dtype, name=arg_name)
            args.append(value)
        if dtype is None:
            order = [dtypes.int32, dtypes.int64, dtypes.float16, dtypes.float32, dtypes.float64]
            for t in args:
                if t.dtype.base_dtype not in order:
                    raise TypeError("tf.range does not take %s arguments" % t.dtype.name)
            dtype = builtins.max((t.dtype.base_dtype for t in args), key=order.index)
        dtype = dtypes.as_dtype(dtype)
        args = [cast(t, dtype) for t in args]
        return apply_op1("Range", args, {"Tidx": dtype}, name=scope)


class LinSpace(OpDef):
    """`num` evenly spaced values from start to stop inclusive (the last is exactly stop)."""
    type = "LinSpace"
    not_differentiable = True

    def infer(op):
        start, stop, num = op.inputs
        _check_same_type(op, 1, names=("start", "stop"))
        check_dtype(op, start, FLOATS)
        check_dtype(op, num, (dtypes.int32, dtypes.int64), "Tidx")
        for t, what in zip(op.inputs, ("start", "stop", "num")):
            if t.shape.ndims not in (None, 0):
                raise ValueError("%s must be a scalar, not shape %s for '{{node %s}} = "
                                 "LinSpace'" % (what, shape_str(t.shape), op.name))
        n = array_ops.constant_value(num)
        if n is not None and int(n) < 0:
            raise ValueError("Requires num >= 0: %d for '{{node %s}} = LinSpace'" % (int(n),
                                                                                 op.name))
        return [(start.dtype.base_dtype, TensorShape([None if n is None else int(n)]))]

    def lower(ctx, op, start, stop, _):
        n = int(np.asarray(ctx.const(op, 2)))
        if n < 0:
            raise errors.InvalidArgumentError(None, op, "Requires num >= 0: %d" % n)
        shape = (n,)
        if n <= 1:
            return ctx.b.broadcast_in_dim(start, shape, ())
        step = ctx.b.emit1("div", ctx.b.emit1("sub", stop, start),
                           ctx.b.constant(np.asarray(n - 1, dtype=start.dtype)))
        idx = ctx.b.emit1("iota", dtype=start.dtype, shape=shape, dimension=0)
        values = ctx.b.emit1("add", ctx.b.broadcast_in_dim(start, shape, ()),
                             ctx.b.emit1("mul", idx, ctx.b.broadcast_in_dim(step, shape, ())))
        last = ctx.b.emit1("eq", ctx.b.emit1("iota", dtype=np.int64, shape=shape, dimension=0),
                           ctx.b.full(n - 1, np.int64, shape))
        return ctx.b.emit1("select", last, ctx.b.broadcast_in_dim(stop, shape, ()), values)


def linspace(start, stop, num, name=None, axis=0):
    """tf.linspace / tf.lin_space for scalar start and stop (one LinSpace op, as TF1 built it).
    Integer start/stop give float64 (float32 for 8/16-bit types), as TF 2's linspace does."""
    if axis != 0:
        raise NotImplementedError("tf.linspace: only axis=0 (scalar start and stop) is "
                                  "supported")
    with name_scope(name, "LinSpace", _graph_values(start, stop, num)) as scope:
        start = convert_to_tensor(start, name="start")
        stop = _convert_as(stop, start.dtype.base_dtype, "stop")
        if start.dtype.base_dtype in _TRUEDIV:
            target = _TRUEDIV[start.dtype.base_dtype]
            start, stop = cast(start, target), cast(stop, target)
        num = convert_to_tensor(num, name="num", preferred_dtype=dtypes.int32)
        return apply_op1("LinSpace", [start, stop, num], {"T": start.dtype.base_dtype,
                                                          "Tidx": num.dtype}, name=scope)


lin_space = linspace


def eye(num_rows, num_columns=None, batch_shape=None, dtype=dtypes.float32, name=None):
    """An identity matrix [num_rows, num_columns] (optionally batched), composed from range
    and equality: row index == column index."""
    dtype = dtypes.as_dtype(dtype)
    with name_scope(name, "eye", _graph_values(num_rows, num_columns, batch_shape)):
        rows = range_(num_rows)
        cols = rows if num_columns is None else range_(num_columns)
        diag = cast(equal(array_ops.expand_dims(rows, 1), cols), dtype)
        if batch_shape is None:
            return diag
        if not _is_graph_value(batch_shape):
            static = [int(d) for d in batch_shape] + diag.shape.as_list()
            if None not in static:
                return array_ops.broadcast_to(diag, static)
        batch_ones = array_ops.ones(batch_shape, dtype=dtype)
        return multiply(array_ops.expand_dims(array_ops.expand_dims(batch_ones, -1), -1), diag)


# ---------------------------------------------------------------- clipping, sums

def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    """max(min(t, clip_value_max), clip_value_min), composed as in TF1, so its gradient is
    that of Minimum and Maximum: it passes where t lies within the bounds (inclusive)."""
    with name_scope(name, "clip_by_value",
                    _graph_values(t, clip_value_min, clip_value_max)) as scope:
        values = convert_to_tensor(t, name="t")
        t_min = minimum(values, clip_value_max)
        if not values.shape.is_compatible_with(t_min.shape):
            raise ValueError("Shapes %s and %s are incompatible" % (values.shape, t_min.shape))
        t_max = maximum(t_min, clip_value_min, name=scope)
        if not values.shape.is_compatible_with(t_max.shape):
            raise ValueError("Shapes %s and %s are incompatible" % (values.shape, t_max.shape))
    return t_max


class AddN(OpDef):
    """Elementwise sum of a list of same-shaped tensors."""
    type = "AddN"

    def infer(op):
        shape = op.inputs[0].shape
        for t in op.inputs[1:]:
            if t.dtype.base_dtype != op.inputs[0].dtype.base_dtype:
                raise TypeError("AddN inputs must have one dtype: %s vs %s" % (
                    t.dtype.name, op.inputs[0].dtype.name))
            if not shape.is_compatible_with(t.shape):
                raise ValueError("Shapes must be equal for '%s' (op: 'AddN'): %s vs %s" % (
                    op.name, shape, t.shape))
            shape = shape.merge_with(t.shape)
        return [(op.inputs[0].dtype.base_dtype, shape)]

    def lower(ctx, op, *xs):
        out = xs[0]
        for x in xs[1:]:
            out = ctx.b.emit1("add", out, x)
        return out

    def gradient(op, grad):
        return [grad] * len(op.inputs)


def add_n(inputs, name=None):
    if not inputs or not isinstance(inputs, (list, tuple)):
        raise ValueError("inputs must be a list of at least one Tensor/IndexedSlices with the "
                         "same dtype and shape")
    inputs = [convert_to_tensor(t) for t in inputs]
    if len(inputs) == 1:
        return array_ops.identity(inputs[0], name=name) if name else inputs[0]
    return apply_op1("AddN", inputs, {"N": len(inputs), "T": inputs[0].dtype.base_dtype}, name,
                     "AddN")


# ---------------------------------------------------------------- TF1 aliases

def sub(x, y, name=None):
    """TF1 tf.sub (removed in TF 2): tf.subtract."""
    return subtract(x, y, name)


def mul(x, y, name=None):
    """TF1 tf.mul (removed in TF 2): tf.multiply."""
    return multiply(x, y, name)


def neg(x, name=None):
    """TF1 tf.neg (removed in TF 2): tf.negative."""
    return negative(x, name)


# ---------------------------------------------------------------- operators

def _and(x, y, name=None):
    if x.dtype.base_dtype == dtypes.bool:
        return logical_and(x, y, name)
    return bitwise_and(x, y)


def _or(x, y, name=None):
    if x.dtype.base_dtype == dtypes.bool:
        return logical_or(x, y, name)
    return bitwise_or(x, y)


def _xor(x, y, name=None):
    if x.dtype.base_dtype == dtypes.bool:
        return logical_xor(x, y, name)
    return bitwise_xor(x, y)


def _invert(x):
    if x.dtype.base_dtype == dtypes.bool:
        return logical_not(x)
    return invert(x)


def _operator_add(x, y, name=None):
    y = y if _is_graph_value(y) else convert_to_tensor(y, preferred_dtype=x.dtype.base_dtype,
                                                        name="y")
    return add(x, y, name)


def _operator_mul(x, y, name=None):
    """`*`; bool operands are multiplied as int32 and cast back, as TF does."""
    if x.dtype.base_dtype == dtypes.bool or (isinstance(y, Tensor) and
                                             y.dtype.base_dtype == dtypes.bool):
        product = multiply(cast(x, dtypes.int32), cast(y, dtypes.int32), name=name)
        return cast(product, dtypes.bool)
    return multiply(x, y, name)


def install_operator(op_name, func, reflected=True):
    """Attaches `__<op_name>__` (and `__r<op_name>__`) to Tensor as TF does: the op is built
    inside scope `op_name` by `func(x, y, name=scope)`; in the reflected form the Python
    operand becomes a Tensor of the other operand's dtype named `x`. Variables forward their
    operators to these (graphc/variables.py)."""
    def forward(x, y):
        with name_scope(None, op_name, [x, y]) as scope:
            return func(x, y, name=scope)

    def backward(y, x):
        with name_scope(None, op_name, [x, y]) as scope:
            x = convert_to_tensor(x, dtype=y.dtype.base_dtype, name="x")
            return func(x, y, name=scope)
    forward.__name__ = "__%s__" % op_name
    setattr(Tensor, forward.__name__, forward)
    if reflected:
        backward.__name__ = "__r%s__" % op_name
        setattr(Tensor, backward.__name__, backward)


for _op_name, _func in (("add", _operator_add), ("sub", subtract), ("mul", _operator_mul),
                        ("truediv", truediv), ("floordiv", floordiv), ("mod", _operator_mod),
                        ("pow", pow_), ("and", _and), ("or", _or), ("xor", _xor),
                        ("matmul", matmul)):
    install_operator(_op_name, _func)
Tensor.__lt__ = lambda x, y: less(x, y)
Tensor.__le__ = lambda x, y: less_equal(x, y)
Tensor.__gt__ = lambda x, y: greater(x, y)
Tensor.__ge__ = lambda x, y: greater_equal(x, y)
Tensor.__neg__ = lambda x: negative(x)
Tensor.__abs__ = lambda x: abs_(x)
Tensor.__invert__ = _invert


__all__ = [
    "add", "subtract", "multiply", "realdiv", "truediv", "divide", "div", "floordiv",
    "floor_div", "floormod", "mod", "truncatediv", "div_no_nan", "pow", "maximum", "minimum",
    "squared_difference", "negative", "abs", "sign", "square", "sqrt", "rsqrt", "exp", "expm1",
    "log", "log1p", "floor", "ceil", "round", "reciprocal", "sigmoid", "tanh", "is_finite",
    "is_nan", "is_inf", "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
    "logical_and", "logical_or", "logical_not", "logical_xor", "where", "where_v2", "cast",
    "to_float", "to_double", "to_int32", "to_int64", "reduce_sum", "reduce_mean", "reduce_max",
    "reduce_min", "reduce_prod", "reduce_any", "reduce_all", "reduce_logsumexp",
    "count_nonzero", "argmax", "argmin", "arg_max", "arg_min", "cumsum", "cumprod", "matmul",
    "range", "linspace", "lin_space", "eye", "clip_by_value", "add_n", "sub", "mul", "neg",
]

# The public names that shadow Python builtins, bound last (see the module docstring).
abs = abs_  # noqa: A001
round = round_  # noqa: A001
pow = pow_  # noqa: A001
range = range_  # noqa: A001
