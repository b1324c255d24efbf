"""Array ops: identity, shapes, reshaping, filling, transposing, joining and splitting,
slicing (`StridedSlice` and `Tensor.__getitem__`), gathering and scattering, padding, tiling,
reversing, one-hot. Each TF op type is one OpDef block; its public function follows it and
builds the graph TF builds (op names, the names of converted arguments, attributes).

Shape inference follows TF's C++ shape functions on partial shapes: build-time errors are
ValueErrors naming the node as TF does (`... for '{{node Squeeze}} = Squeeze[...](x)' with
input shapes: [?,2]`). Errors that need the run-time shapes are raised by the lowering rules as
`InvalidArgumentError`s."""

import numbers
import weakref

import numpy as np

from graphc import dtypes, errors
from graphc.graph.graph import Tensor, convert_to_tensor, name_scope
from graphc.graph.op_registry import OpDef
from graphc.graph.tensor_shape import Dimension, TensorShape, as_shape, unknown_shape
from graphc.ir.core import Function
from graphc.ir.shapes import SymDim, num_elements
from graphc.lower import LoweringContext
from graphc.ops.constant_op import constant
from graphc.ops.op_util import apply_op, broadcast_shapes, int_list

newaxis = None
_PySlice = slice  # this module defines tf.slice

_INDEX_TYPES = (dtypes.int32, dtypes.int64)


# ---------------------------------------------------------------- build-time values

_FOLDED = weakref.WeakKeyDictionary()


def constant_value(tensor):
    """The value of `tensor` if it can be computed at graph-build time, else None (TF's
    tensor_util.constant_value): each op type may provide `fold`."""
    tensor = convert_to_tensor(tensor)
    if len(tensor.op.outputs) != 1:
        return None
    op = tensor.op
    if op not in _FOLDED:
        _FOLDED[op] = op.op_def.fold(op)
    return _FOLDED[op]


def fold_by_lowering(op):
    """`fold` for ops whose lowering rule can run on constants: the op is lowered with its
    inputs' build-time values and the builder evaluates it (small results only), as TF's
    shape inference evaluates small constant subgraphs."""
    values = [constant_value(t) for t in op.inputs]
    if any(v is None for v in values):
        return None
    ctx = LoweringContext(Function("fold"), {op})
    args = [ctx.b.constant(np.asarray(v, dtype=t.dtype.base_dtype.np))
            for t, v in zip(op.inputs, values)]
    for t, v in zip(op.inputs, args):
        ctx.bind(t, v)
    try:
        out = op.op_def.lower(ctx, op, *args)
    except (ValueError, TypeError, IndexError, errors.OpError):
        return None
    out = out[0] if isinstance(out, (list, tuple)) else out
    return out.constant_value if out.is_constant else None


def _scalar_value(tensor):
    """A build-time int scalar (TF's EvaluateConstantIntScalarEdge), or None."""
    value = constant_value(tensor)
    if value is None or np.ndim(value) != 0:
        return None
    return int(value)


def shape_from_tensor(tensor):
    """A partial TensorShape from a 1-D shape tensor (TF's MakeShapeFromShapeTensor): -1 and
    values unknown at build time are unknown dims. Sees through Shape, Pack, ConcatV2, Cast
    and StridedSlice of shape tensors."""
    value = constant_value(tensor)
    if value is not None:
        value = np.asarray(value)
        if value.ndim == 0:
            if int(value) == -1:
                return unknown_shape()
            raise ValueError("Shape must be rank 1 but is rank 0 for %s" % tensor.name)
        for d in value.reshape(-1):
            if d < -1:
                raise ValueError("Invalid value in tensor used for shape: %d" % d)
        return TensorShape([None if d == -1 else int(d) for d in value.reshape(-1)])
    op = tensor.op
    if op.type == "Shape":
        return op.inputs[0].shape
    if op.type == "Pack":
        dims = []
        for t in op.inputs:
            d = _scalar_value(t)
            if d is not None and d < -1:
                raise ValueError("Invalid value in tensor used for shape: %d" % d)
            dims.append(None if d is None or d == -1 else d)
        return TensorShape(dims)
    if op.type == "ConcatV2" and constant_value(op.inputs[-1]) is not None:
        out = TensorShape([])
        for t in op.inputs[:-1]:
            out = out.concatenate(shape_from_tensor(t))
        return out
    if op.type == "Cast":
        return shape_from_tensor(op.inputs[0])
    if op.type == "StridedSlice":
        sliced = _slice_shape_tensor(op)
        if sliced is not None:
            return sliced
    return unknown_shape(tensor.shape[0].value if tensor.shape.ndims == 1 else None)


def _slice_masks(op):
    return tuple(op.get_attr(k) for k in ("begin_mask", "end_mask", "ellipsis_mask",
                                          "new_axis_mask", "shrink_axis_mask"))


def _slice_shape_tensor(op):
    """A StridedSlice of a shape tensor as a partial shape (TF's PartialStridedSliceShape):
    constant begin/end/strides, no ellipsis, new or shrunk axes."""
    x = op.inputs[0]
    spec = [constant_value(t) for t in op.inputs[1:]]
    masks = _slice_masks(op)
    if any(v is None for v in spec) or any(masks[2:]) or x.shape.ndims != 1:
        return None
    dims = shape_from_tensor(x)
    if dims.ndims is None:
        return None
    plan, _ = _slice_plan([len(dims)], *[int_list(v) for v in spec], masks)
    b, _, s, _, n = plan[0]
    return TensorShape([dims.as_list()[b + i * s] for i in range(n)])


def _fold_shape_slice(op):
    """The value of a StridedSlice of a Shape whose selected dimensions are known although the
    whole shape is not (`tf.shape(x)[1]` with x of shape [?, 3])."""
    x = op.inputs[0]
    if x.op.type != "Shape" or x.op.inputs[0].shape.ndims is None:
        return None
    spec = [constant_value(t) for t in op.inputs[1:]]
    if any(v is None for v in spec):
        return None
    dims = x.op.inputs[0].shape.as_list()
    masks = _slice_masks(op)
    try:
        plan, gather = _slice_plan([len(dims)], *[int_list(v) for v in spec], masks)
    except ValueError:
        return None
    b, _, s, _, n = plan[0]
    picked = [dims[b + i * s] for i in range(n)]
    if None in picked:
        return None
    value = np.array(picked, dtype=op.outputs[0].dtype.np)
    return value.reshape(_final_dims([n], gather))


# ---------------------------------------------------------------- TF's error texts

_DT_NAMES = {"float32": "FLOAT", "float64": "DOUBLE", "float16": "HALF"}


def _attr_text(value):
    if isinstance(value, dtypes.DType):
        name = value.base_dtype.name
        return "DT_" + _DT_NAMES.get(name, name.upper())
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, bytes)):
        return '"%s"' % (value.decode() if isinstance(value, bytes) else value)
    if isinstance(value, (list, tuple)):
        return "[%s]" % ", ".join(_attr_text(v) for v in value)
    return str(value)


def shape_text(shape):
    """`[?,3]`, `[]`, `?`: how TF's C++ shape code prints a partial shape."""
    if shape.ndims is None:
        return "?"
    return "[%s]" % ",".join("?" if d is None else str(d) for d in shape.as_list())


def node_error(op, message, error=ValueError):
    """TF's build-time error for node `op`: `message for '{{node n}} = T[attrs](inputs)' with
    input shapes: ...`."""
    attrs = ", ".join("%s=%s" % (k, _attr_text(v)) for k, v in sorted(op.attrs.items())
                      if k != "value")
    inputs = ", ".join(t.op.name if t.value_index == 0 else t.name for t in op.inputs)
    return error("%s for '{{node %s}} = %s[%s](%s)' with input shapes: %s." % (
        message, op.name, op.type, attrs, inputs, ", ".join(shape_text(t.shape)
                                                           for t in op.inputs)))


def run_error(op, message):
    """A run-time error of node `op` (raised while lowering with the fed shapes)."""
    return errors.InvalidArgumentError(None, op, "%s\n\t [[{{node %s}}]]" % (message, op.name))


def _with_rank(op, shape, rank):
    """`shape` checked to have `rank` (TF's WithRank)."""
    if shape.ndims is not None and shape.ndims != rank:
        raise node_error(op, "Shape must be rank %d but is rank %d" % (rank, shape.ndims))
    return shape if shape.ndims is not None else unknown_shape(rank)


def _with_rank_at_least(op, shape, rank):
    if shape.ndims is not None and shape.ndims < rank:
        raise node_error(op, "Shape must be at least rank %d but is rank %d" % (rank,
                                                                             shape.ndims))


def _merge(op, a, b, context=""):
    """Merges two partial shapes with TF's messages (`Dimension 1 in both shapes must be
    equal...`)."""
    if a.ndims is not None and b.ndims is not None:
        if a.ndims != b.ndims:
            raise node_error(op, "Shapes must be equal rank, but are %d and %d%s" % (
                a.ndims, b.ndims, context))
        for i, (x, y) in enumerate(zip(a.as_list(), b.as_list())):
            if x is not None and y is not None and x != y:
                raise node_error(op, "Dimension %d in both shapes must be equal, but are %d and "
                                     "%d. Shapes are %s and %s.%s" % (
                                         i, x, y, shape_text(a), shape_text(b), context))
    return a.merge_with(b)


def _dim_add(a, b):
    return None if a is None or b is None else a + b


def _dim_mul(a, b):
    """TF's Multiply of dims: 0 and 1 are absorbing/neutral even when the other is unknown."""
    if a == 0 or b == 0:
        return 0
    if a == 1:
        return b
    if b == 1:
        return a
    return None if a is None or b is None else a * b


def dims_text(dims):
    """`[2,3,4]`: how TF's kernels print a shape in run-time errors."""
    return "[%s]" % ",".join(str(d) for d in dims)


def _static_int_dims(value_shape):
    """A lowered shape as ints, with None for symbolic dims."""
    return [d if isinstance(d, int) else None for d in value_shape]


# ---------------------------------------------------------------- creating ops as TF does

class _In:
    """One input of a TF op as its generated wrapper sees it: argument name, value, the type
    attr it sets (or a fixed dtype), the attr's default dtype and allowed dtypes; `is_list` for
    `N * T` inputs of at least `minimum` tensors."""

    __slots__ = ("name", "value", "attr", "fixed", "default", "allowed", "is_list", "minimum")

    def __init__(self, name, value, attr=None, fixed=None, default=None, allowed=None,
                 is_list=False, minimum=0):
        self.name, self.value, self.attr, self.fixed = name, value, attr, fixed
        self.default, self.allowed, self.is_list = default, allowed, is_list
        self.minimum = minimum


def _is_tensor_like(value):
    return isinstance(value, Tensor) or (hasattr(value, "_as_graph_element") and
                                         hasattr(value, "dtype"))


def _check_allowed(spec, dtype):
    if spec.allowed and dtype not in spec.allowed:
        raise TypeError("Value passed to parameter '%s' has DataType %s not in list of allowed "
                        "values: %s" % (spec.name, dtype.name,
                                        ", ".join(d.name for d in spec.allowed)))


def _convert_one(op_type, spec, dtype, inferred_from):
    """Converts one input as TF's op_def_library does: to the dtype its attr already has, or
    by inference (preferring the attr's default when inference gives a disallowed type)."""
    value = spec.value
    try:
        if dtype is None and spec.default is not None and spec.allowed and \
                not _is_tensor_like(value):
            try:
                t = convert_to_tensor(value, name=spec.name)
            except TypeError:
                t = None
            if t is None or t.dtype.base_dtype not in spec.allowed:
                t = convert_to_tensor(value, name=spec.name, preferred_dtype=spec.default)
            return t
        return convert_to_tensor(value, dtype=dtype, name=spec.name,
                                 preferred_dtype=spec.default if dtype is None else None)
    except TypeError as e:
        if dtype is None:
            raise
        raise TypeError("Expected %s passed to parameter '%s' of op '%s', got %r of type '%s' "
                        "instead. Error: %s" % (dtype.name, spec.name, op_type, value,
                                                type(value).__name__, e)) from None
    except ValueError:
        observed = convert_to_tensor(value).dtype.base_dtype.name
        prefix = "Input '%s' of '%s' Op has type %s that does not match" % (spec.name, op_type,
                                                                          observed)
        if spec.fixed is not None:
            raise TypeError("%s expected type of %s." % (prefix, spec.fixed.name)) from None
        raise TypeError("%s type %s of argument '%s'." % (
            prefix, dtype.name, inferred_from.get(spec.attr))) from None


def _convert_list(op_type, spec, dtype):
    values = spec.value
    if not isinstance(values, (list, tuple)):
        raise TypeError("Expected list for '%s' argument to '%s' Op, not %s." % (
            spec.name, op_type, values))
    if len(values) < spec.minimum:
        raise ValueError("List argument '%s' to '%s' Op with length %d shorter than minimum "
                         "length %d." % (spec.name, op_type, len(values), spec.minimum))
    if dtype is None:
        dtype = next((v.dtype.base_dtype for v in values if isinstance(v, Tensor)), None)
    try:
        out = [convert_to_tensor(v, dtype=dtype, name="%s_%d" % (spec.name, i),
                                 preferred_dtype=spec.default if dtype is None else None)
               for i, v in enumerate(values)]
        if len({t.dtype.base_dtype for t in out}) > 1:
            raise TypeError("types differ")
    except (TypeError, ValueError):
        observed = []
        for v in values:
            try:
                observed.append(convert_to_tensor(v).dtype.base_dtype.name)
            except (TypeError, ValueError):
                observed.append("<NOT CONVERTIBLE TO TENSOR>")
        raise TypeError("Tensors in list passed to '%s' of '%s' Op have types [%s] that don't "
                        "all match." % (spec.name, op_type, ", ".join(observed))) from None
    return out


def gen_op(op_type, name, inputs, attrs=None):
    """Creates `op_type` as TF's generated op wrappers do: in name scope `name` (default: the
    op type), non-tensor inputs become constants named after their argument (`Fill/dims`),
    type attrs are set from the inputs in order. Returns the Operation."""
    values = []
    for spec in inputs:
        values.extend(spec.value if spec.is_list else [spec.value])
    with name_scope(name or op_type, values=[v for v in values if _is_tensor_like(v)]) as scope:
        types, inferred_from, tensors = {}, {}, []
        for spec in inputs:
            dtype = spec.fixed if spec.fixed is not None else types.get(spec.attr)
            if spec.is_list:
                converted = _convert_list(op_type, spec, dtype)
            else:
                converted = [_convert_one(op_type, spec, dtype, inferred_from)]
            for t in converted:
                dt = t.dtype.base_dtype
                if spec.fixed is None and spec.attr not in types:
                    _check_allowed(spec, dt)
                    types[spec.attr] = dt
                    inferred_from[spec.attr] = spec.name
                elif dt != (spec.fixed or types[spec.attr]):
                    raise TypeError("Input '%s' of '%s' Op has type %s that does not match type "
                                    "%s of argument '%s'." % (spec.name, op_type, dt.name,
                                                              types[spec.attr].name,
                                                              inferred_from[spec.attr]))
            tensors.extend(converted)
        types.update(attrs or {})
        return apply_op(op_type, tensors, types, name=scope)


def _gen1(op_type, name, inputs, attrs=None):
    return gen_op(op_type, name, inputs, attrs).outputs[0]


def _T(name, value):  # noqa: N802 - an input typed by attr T
    return _In(name, value, "T")


def _index(name, value, attr, default=dtypes.int32, allowed=_INDEX_TYPES):
    return _In(name, value, attr, default=default, allowed=allowed)


# ---------------------------------------------------------------- identity

class Identity(OpDef):
    """Returns its input; on a variable it forwards the reference (reads happen downstream)."""
    type = "Identity"
    forwards_ref = True

    def infer(op):
        x = op.inputs[0]
        return [(x.dtype.base_dtype, x.shape)]

    def fold(op):
        return constant_value(op.inputs[0])

    def lower(ctx, op, x):
        return x

    def gradient(op, grad):
        return [grad]


def identity(input, name=None):  # noqa: A002 - TF's argument names
    return _gen1("Identity", name, [_T("input", input)])


class StopGradient(OpDef):
    """Identity for the forward pass; gradients do not flow through it."""
    type = "StopGradient"
    not_differentiable = True

    def infer(op):
        x = op.inputs[0]
        return [(x.dtype.base_dtype, x.shape)]

    fold = Identity.fold

    def lower(ctx, op, x):
        return x


def stop_gradient(input, name=None):  # noqa: A002
    return _gen1("StopGradient", name, [_T("input", input)])


# ---------------------------------------------------------------- shape, rank, size

class Shape(OpDef):
    """The dynamic shape of its input as a 1-D int tensor (folded when static)."""
    type = "Shape"
    not_differentiable = True

    def infer(op):
        x = op.inputs[0]
        return [(op.get_attr("out_type"), TensorShape([x.shape.ndims]))]

    def fold(op):
        shape = op.inputs[0].shape
        if shape.is_fully_defined():
            return np.array(shape.as_list(), dtype=op.get_attr("out_type").np)
        return None

    def lower(ctx, op, x):
        return ctx.shape_value(x.shape, op.get_attr("out_type").np)


def shape(input, name=None, out_type=None):  # noqa: A002
    """tf.shape: a constant when the static shape is fully defined, else a Shape op."""
    return shape_internal(input, name, optimize=True, out_type=out_type or dtypes.int32)


def shape_internal(input, name=None, optimize=True, out_type=None):  # noqa: A002
    """TF's shape_internal: without `out_type` a static shape becomes `shape_as_tensor`."""
    with name_scope(name, "Shape", [input]) as scope:
        input = convert_to_tensor(input)
        if optimize and input.shape.is_fully_defined():
            if out_type is None:
                return convert_to_tensor(input.shape)
            return constant(input.shape.as_list(), dtypes.as_dtype(out_type), name=scope)
        return _gen1("Shape", scope, [_T("input", input)],
                     {"out_type": dtypes.as_dtype(out_type or dtypes.int32)})


class Rank(OpDef):
    """The rank of its input as an int32 scalar."""
    type = "Rank"
    not_differentiable = True

    def infer(op):
        return [(dtypes.int32, TensorShape([]))]

    def fold(op):
        r = op.inputs[0].shape.ndims
        return None if r is None else np.int32(r)

    def lower(ctx, op, x):
        return ctx.b.constant(np.int32(x.rank))


def rank(input, name=None):  # noqa: A002
    """tf.rank: a constant when the rank is known at build time."""
    with name_scope(name, "Rank", [input]) as scope:
        input = convert_to_tensor(input)
        if input.shape.ndims is not None:
            return constant(input.shape.ndims, dtypes.int32, name=scope)
        return _gen1("Rank", scope, [_T("input", input)])


class Size(OpDef):
    """The number of elements of its input."""
    type = "Size"
    not_differentiable = True

    def infer(op):
        return [(op.get_attr("out_type"), TensorShape([]))]

    def fold(op):
        n = op.inputs[0].shape.num_elements()
        return None if n is None else np.asarray(n, dtype=op.get_attr("out_type").np)

    def lower(ctx, op, x):
        return ctx.size_value(x.shape, op.get_attr("out_type").np)


def size(input, name=None, out_type=None):  # noqa: A002
    """tf.size: a constant when the static shape is fully defined or has a 0 dimension."""
    out_type = dtypes.as_dtype(out_type or dtypes.int32)
    with name_scope(name, "Size", [input]) as scope:
        input = convert_to_tensor(input)
        shape_ = input.shape
        if shape_.is_fully_defined():
            return constant(shape_.num_elements(), out_type, name=scope)
        if shape_.ndims and 0 in shape_.as_list():
            return constant(0, out_type, name=scope)
        return _gen1("Size", scope, [_T("input", input)], {"out_type": out_type})


# ---------------------------------------------------------------- reshape

def _reshape_infer(op, in_shape, out):
    """TF's Reshape shape function: checks element counts and infers the one unknown dim of
    the target (or takes the input's unknown dim when both have one and the rest agree)."""
    if out.ndims is None or in_shape.ndims is None:
        return out
    out_dims, in_dims = out.as_list(), in_shape.as_list()
    out_unknown = [i for i, d in enumerate(out_dims) if d is None]
    in_unknown = [i for i, d in enumerate(in_dims) if d is None]
    if len(out_unknown) > 1 or len(in_unknown) > 1:
        return out
    known_out = int(np.prod([d for d in out_dims if d is not None], dtype=np.int64))
    known_in = int(np.prod([d for d in in_dims if d is not None], dtype=np.int64))
    if not in_unknown and not out_unknown:
        if known_in != known_out:
            raise node_error(op, "Cannot reshape a tensor with %d elements to shape %s (%d "
                                 "elements)" % (known_in, shape_text(out), known_out))
    elif not in_unknown and known_out > 0:
        if known_in % known_out:
            raise node_error(op, "Dimension size must be evenly divisible by %d but is %d" % (
                known_out, known_in))
        out_dims[out_unknown[0]] = known_in // known_out
    elif not out_unknown and known_in != 0:
        if known_out % known_in:
            raise node_error(op, "Dimension size must be evenly divisible by %d but is %d" % (
                known_in, known_out))
    elif in_unknown and out_unknown and known_in == known_out:
        out_dims[out_unknown[0]] = in_dims[in_unknown[0]]
    return TensorShape(out_dims)


def _shape_arg(op, tensor):
    """shape_from_tensor; TF reports a bad value without naming the node."""
    return shape_from_tensor(tensor)


class Reshape(OpDef):
    """Reshape to a shape tensor; one -1 is inferred from the element count."""
    type = "Reshape"
    fold = fold_by_lowering

    def infer(op):
        x, shape_t = op.inputs
        _with_rank(op, shape_t.shape, 1)
        return [(x.dtype.base_dtype, _reshape_infer(op, x.shape, _shape_arg(op, shape_t)))]

    def lower(ctx, op, x, _):
        target = int_list(ctx.const(op, 1))
        size_ = 1
        for d in x.shape:
            size_ = d * size_
        unknown = [i for i, d in enumerate(target) if d == -1]
        if len(unknown) > 1:
            raise run_error(op, "Only one input size may be -1, not both %d and %d" % tuple(
                unknown[:2]))
        if any(isinstance(d, int) and d < -1 for d in target):
            raise run_error(op, "Size %d must be non-negative, not %d" % next(
                (i, d) for i, d in enumerate(target) if isinstance(d, int) and d < -1))
        known = num_elements([d for d in target if d != -1])
        if not isinstance(size_, int) or not isinstance(known, int):
            # A symbolic target (from the Shape of a batch-sized tensor) must match exactly.
            if not unknown and size_ != known:
                raise ValueError("%s: cannot reshape %s to %s" % (op.name, x.shape, target))
        else:
            if unknown and (known == 0 or size_ % known):
                raise run_error(op, "Input to reshape is a tensor with %d values, but the "
                                    "requested shape requires a multiple of %d" % (size_, known))
            if not unknown and size_ != known:
                raise run_error(op, "Input to reshape is a tensor with %d values, but the "
                                    "requested shape has %d" % (size_, known))
        if unknown:
            target[unknown[0]] = size_ // known
        return ctx.b.reshape(x, target)

    def gradient(op, grad):
        return [reshape(grad, shape(op.inputs[0])), None]


def reshape(tensor, shape, name=None):  # noqa: A002 - TF's argument names
    return _gen1("Reshape", name, [_T("tensor", tensor), _index("shape", shape, "Tshape")])


class BroadcastGradientArgs(OpDef):
    """For shapes s0, s1: the axes to sum each operand's gradient over (TF's rule)."""
    type = "BroadcastGradientArgs"
    not_differentiable = True

    def infer(op):
        dt = op.inputs[0].dtype.base_dtype
        return [(dt, TensorShape([None])), (dt, TensorShape([None]))]

    def lower(ctx, op, s0, s1):
        r0, r1 = broadcast_gradient_args(int_list(ctx.const(op, 0)), int_list(ctx.const(op, 1)))
        dt = op.outputs[0].dtype.np
        return [ctx.b.constant(np.array(r0, dtype=dt)), ctx.b.constant(np.array(r1, dtype=dt))]


def broadcast_gradient_args(s0, s1):
    rank_ = max(len(s0), len(s1))
    a = [1] * (rank_ - len(s0)) + list(s0)
    b = [1] * (rank_ - len(s1)) + list(s1)
    r0 = [i for i in range(rank_) if a[i] == 1 and (b[i] != 1 or i < rank_ - len(s0))]
    r1 = [i for i in range(rank_) if b[i] == 1 and (a[i] != 1 or i < rank_ - len(s1))]
    return r0, r1


def apply_broadcast_gradient_args(s0, s1, name=None):
    op = apply_op("BroadcastGradientArgs", [s0, s1], {"T": s0.dtype}, name,
                  "BroadcastGradientArgs")
    return op.outputs[0], op.outputs[1]


# ---------------------------------------------------------------- filling

class Fill(OpDef):
    """A tensor of shape `dims` filled with the scalar `value`."""
    type = "Fill"
    fold = fold_by_lowering

    def infer(op):
        dims, value = op.inputs
        _with_rank(op, dims.shape, 1)
        _with_rank(op, value.shape, 0)
        known = constant_value(dims)
        if known is not None and np.any(np.asarray(known) < 0):
            raise node_error(op, "Fill dimensions must be >= 0")
        return [(value.dtype.base_dtype, _shape_arg(op, dims))]

    def lower(ctx, op, _, value):
        dims = int_list(ctx.const(op, 0))
        if any(d < 0 for d in dims):
            raise run_error(op, "dims must be a vector of non-negative integers, got %s" % dims)
        return ctx.b.broadcast_in_dim(value, dims, ())

    def gradient(op, grad):
        from graphc.ops.math_ops import reduce_sum
        return [None, reduce_sum(grad)]


def fill(dims, value, name=None):
    return _gen1("Fill", name, [_index("dims", dims, "index_type"), _T("value", value)])


class ZerosLike(OpDef):
    """Zeros with the shape and dtype of its input."""
    type = "ZerosLike"
    not_differentiable = True

    def infer(op):
        x = op.inputs[0]
        return [(x.dtype.base_dtype, x.shape)]

    def lower(ctx, op, x):
        return ctx.b.full(0, x.dtype, x.shape)


class OnesLike(OpDef):
    """Ones with the shape and dtype of its input."""
    type = "OnesLike"
    not_differentiable = True

    def infer(op):
        x = op.inputs[0]
        return [(x.dtype.base_dtype, x.shape)]

    def lower(ctx, op, x):
        return ctx.b.full(1, x.dtype, x.shape)


def zeros_like(tensor, dtype=None, name=None, optimize=True):
    """tf.zeros_like: constant zeros for a static shape, a ZerosLike op otherwise (Fill of the
    dynamic shape when `dtype` differs)."""
    with name_scope(name, "zeros_like", [tensor]) as scope:
        tensor = convert_to_tensor(tensor, name="tensor")
        dtype = dtypes.as_dtype(dtype).base_dtype if dtype is not None else None
        if optimize and tensor.shape.is_fully_defined():
            return zeros(tensor.shape, dtype=dtype or tensor.dtype.base_dtype, name=scope)
        if dtype is not None and dtype != tensor.dtype.base_dtype:
            return zeros(shape_internal(tensor, optimize=optimize), dtype=dtype, name=scope)
        return _gen1("ZerosLike", scope, [_T("x", tensor)])


def ones_like(tensor, dtype=None, name=None, optimize=True):
    """tf.ones_like (TF1): a Fill of the input's shape (a constant shape when static)."""
    with name_scope(name, "ones_like", [tensor]) as scope:
        tensor = convert_to_tensor(tensor, name="tensor")
        ones_shape = shape_internal(tensor, optimize=optimize)
        out = ones(ones_shape, dtype=dtype or tensor.dtype.base_dtype, name=scope)
        out.set_shape(tensor.shape)
        return out


def _constant_if_small(value, shape_arg, dtype, name):
    """A constant when `shape_arg` is a known shape of fewer than 1000 elements."""
    try:
        dims = as_shape(shape_arg).as_list()
    except (TypeError, ValueError):
        return None
    if None in dims or np.prod(dims, dtype=np.int64) >= 1000:
        return None
    return constant(value, dtype=dtype, shape=dims, name=name)


def _filled(value, shape_arg, dtype, name, default_name):
    """tf.zeros / tf.ones: a constant when small, else a Fill of the shape (a Tensor, a list
    that may mix ints and tensors, or a TensorShape)."""
    dtype = dtypes.as_dtype(dtype).base_dtype
    if dtype == dtypes.bool:
        value = bool(value)
    elif dtype == dtypes.string and value == 0:
        value = ""
    with name_scope(name, default_name, [shape_arg]) as scope:
        if not isinstance(shape_arg, Tensor):
            small = _constant_if_small(value, shape_arg, dtype, scope)
            if small is not None:
                return small
            try:
                shape_arg = convert_to_tensor(as_shape(shape_arg))
            except (TypeError, ValueError):
                shape_arg = convert_to_tensor(shape_arg, dtype=dtypes.int32)
        if not shape_arg.shape.ndims:
            shape_arg = reshape(shape_arg, [-1])
        return fill(shape_arg, constant(value, dtype=dtype), name=scope)


def zeros(shape, dtype=dtypes.float32, name=None):  # noqa: A002
    return _filled(0, shape, dtype, name, "zeros")


def ones(shape, dtype=dtypes.float32, name=None):  # noqa: A002
    return _filled(1, shape, dtype, name, "ones")


# ---------------------------------------------------------------- expand_dims, broadcast_to

class ExpandDims(OpDef):
    """Inserts a dimension of size 1 at `axis` (negative counts from the end, rank+1 based)."""
    type = "ExpandDims"
    fold = fold_by_lowering

    def infer(op):
        x, axis_t = op.inputs
        axis = constant_value(axis_t)
        if axis is not None and np.size(axis) != 1:
            raise node_error(op, "'dim' input must be a tensor with a single value")
        if x.shape.ndims is None or axis is None:
            return [(x.dtype.base_dtype, unknown_shape())]
        dims = x.shape.as_list()
        a = int(np.asarray(axis).reshape(-1)[0])
        if not -len(dims) - 1 <= a <= len(dims):
            raise node_error(op, "dim %d not in the interval [%d, %d]." % (a, -len(dims) - 1,
                                                                           len(dims)))
        a %= len(dims) + 1
        return [(x.dtype.base_dtype, TensorShape(dims[:a] + [1] + dims[a:]))]

    def lower(ctx, op, x, _):
        axis = int(np.asarray(ctx.const(op, 1)).reshape(-1)[0])
        if not -x.rank - 1 <= axis <= x.rank:
            raise run_error(op, "Tried to expand dim index %d for tensor with %d dimensions." % (
                axis, x.rank))
        a = axis % (x.rank + 1)
        return ctx.b.reshape(x, x.shape[:a] + (1,) + x.shape[a:])

    def gradient(op, grad):
        return [reshape(grad, shape(op.inputs[0])), None]


def _deprecated_arg(new_name, new_value, old_name, old_value):
    if old_value is not None:
        if new_value is not None:
            raise ValueError("Cannot specify both '%s' and '%s'" % (old_name, new_name))
        return old_value
    return new_value


def expand_dims(input, axis=None, name=None, dim=None):  # noqa: A002
    axis = _deprecated_arg("axis", axis, "dim", dim)
    if axis is None:
        raise ValueError("Must specify an axis argument to tf.expand_dims()")
    return _gen1("ExpandDims", name, [_T("input", input), _index("dim", axis, "Tdim")])


class BroadcastTo(OpDef):
    """numpy-style broadcast of the input to `shape`."""
    type = "BroadcastTo"
    fold = fold_by_lowering

    def infer(op):
        x, shape_t = op.inputs
        target = _shape_arg(op, shape_t)
        if target.ndims is None:
            return [(x.dtype.base_dtype, target)]
        return [(x.dtype.base_dtype, broadcast_shapes(op, x.shape, target))]

    def lower(ctx, op, x, _):
        return ctx.b.broadcast_to(x, int_list(ctx.const(op, 1)))

    def gradient(op, grad):
        from graphc.ops.math_ops import reduce_sum
        x = op.inputs[0]
        sx = shape(x)
        rx, _ = apply_broadcast_gradient_args(sx, op.inputs[1])
        return [reshape(reduce_sum(grad, rx), sx), None]


def broadcast_to(input, shape, name=None):  # noqa: A002
    return _gen1("BroadcastTo", name, [_T("input", input), _index("shape", shape, "Tidx")])


# ---------------------------------------------------------------- transpose

class Transpose(OpDef):
    """Permutes the dimensions: output dimension i is input dimension perm[i]."""
    type = "Transpose"
    fold = fold_by_lowering

    def infer(op):
        x, perm_t = op.inputs
        dt = x.dtype.base_dtype
        perm = constant_value(perm_t)
        perm_len = perm_t.shape.as_list()[0] if perm_t.shape.ndims == 1 else None
        if x.shape.ndims is not None:
            rank_ = x.shape.ndims
        elif perm_len is not None:
            rank_ = perm_len
        elif perm is not None:
            rank_ = int(np.size(perm))
        else:
            return [(dt, unknown_shape())]
        if x.shape.ndims is None and rank_ < 2:
            return [(dt, x.shape)]
        dims = _with_rank(op, x.shape, rank_).as_list()
        _with_rank(op, perm_t.shape, 1)
        if perm_len is not None and perm_len != rank_:
            raise node_error(op, "Dimension must be %d but is %d" % (rank_, perm_len))
        if perm is None:
            return [(dt, unknown_shape(rank_))]
        out = []
        for p in int_list(perm):
            if not -rank_ <= p < rank_:
                raise node_error(op, "perm dim %d is out of range of input rank %d" % (p,
                                                                                      rank_))
            out.append(dims[p])
        return [(dt, TensorShape(out))]

    def lower(ctx, op, x, _):
        return ctx.b.transpose(x, _check_permutation(op, int_list(ctx.const(op, 1)), x.rank))

    def gradient(op, grad):
        return [transpose(grad, invert_permutation(op.inputs[1])), None]


def _check_permutation(op, perm, rank_):
    """`perm` as a permutation of range(rank_), or TF's run-time error."""
    if len(perm) != rank_:
        raise run_error(op, "transpose expects a vector of size %d. But input(1) is a vector of "
                            "size %d" % (rank_, len(perm)))
    for p in perm:
        if not 0 <= p < rank_:
            raise run_error(op, "%d is out of range [0 .. %d)" % (p, rank_))
    missing = sorted(set(range(rank_)) - set(perm))
    if missing:
        raise run_error(op, "%d is missing from {%s}." % (missing[0],
                                                         ",".join(str(p) for p in perm)))
    return perm


def transpose(a, perm=None, name="transpose", conjugate=False):
    """tf.transpose: `perm` defaults to reversing the dimensions (built with Rank and Range
    ops when the rank is unknown at build time)."""
    with name_scope(name, "transpose", [a]) as scope:
        if not _is_tensor_like(a):
            a = convert_to_tensor(a, name="a")
        if conjugate and a.dtype.base_dtype.name.startswith("complex"):
            raise NotImplementedError("tf.transpose(conjugate=True) of complex tensors is not "
                                      "supported by graphc")
        if perm is None:
            a = convert_to_tensor(a)
            if a.shape.ndims is None:
                last = _gen1("Rank", None, [_T("input", a)]) - 1
                perm = _gen1("Range", None, [_In("start", last, "Tidx", default=dtypes.int32),
                                             _In("limit", -1, "Tidx"),
                                             _In("delta", -1, "Tidx")])
            else:
                perm = np.arange(a.shape.ndims - 1, -1, -1, dtype=np.int32)
        return _gen1("Transpose", scope, [_T("x", a), _index("perm", perm, "Tperm")])


class InvertPermutation(OpDef):
    """The inverse of a permutation vector: y[x[i]] = i."""
    type = "InvertPermutation"
    not_differentiable = True
    fold = fold_by_lowering

    def infer(op):
        x = op.inputs[0]
        return [(x.dtype.base_dtype, _with_rank(op, x.shape, 1))]

    def lower(ctx, op, x):
        perm = int_list(ctx.const(op, 0))
        if sorted(perm) != list(range(len(perm))):
            raise run_error(op, "%s is not a permutation of 0..%d" % (perm, len(perm) - 1))
        return ctx.b.constant(np.argsort(perm).astype(x.dtype))


def invert_permutation(x, name=None):
    return _gen1("InvertPermutation", name, [_In("x", x, "T", default=dtypes.int32,
                                                 allowed=_INDEX_TYPES)])


# ---------------------------------------------------------------- squeeze

class Squeeze(OpDef):
    """Removes the dimensions listed in `squeeze_dims` (which must be 1), or every dimension
    of size 1 when the list is empty."""
    type = "Squeeze"
    fold = fold_by_lowering

    def infer(op):
        x = op.inputs[0]
        dt = x.dtype.base_dtype
        if x.shape.ndims is None:
            return [(dt, unknown_shape())]
        rank_ = x.shape.ndims
        axes = _squeeze_axes(op, rank_, node_error)
        out = []
        for i, d in enumerate(x.shape.as_list()):
            explicit = i in axes
            if d is None:
                if explicit:
                    continue
                if not axes:
                    return [(dt, unknown_shape())]
            elif d == 1:
                if explicit or not axes:
                    continue
            elif explicit:
                raise node_error(op, "Can not squeeze dim[%d], expected a dimension of 1, got "
                                     "%d" % (i, d))
            out.append(d)
        return [(dt, TensorShape(out))]

    def lower(ctx, op, x):
        axes = _squeeze_axes(op, x.rank, run_error)
        for a in axes:
            if x.shape[a] != 1:
                raise run_error(op, "Can not squeeze dim[%d], expected a dimension of 1, got %s"
                                % (a, x.shape[a]))
        keep = [d for i, d in enumerate(x.shape) if (i not in axes if axes else d != 1)]
        return ctx.b.reshape(x, keep)

    def gradient(op, grad):
        return [reshape(grad, shape(op.inputs[0]))]


def _squeeze_axes(op, rank_, error):
    axes = set()
    for i, a in enumerate(op.get_attr("squeeze_dims")):
        if not -rank_ <= a < rank_:
            raise error(op, "squeeze_dims[%d] not in [%d,%d)." % (i, -rank_, rank_))
        axes.add(a % rank_)
    return axes


def squeeze(input, axis=None, name=None, squeeze_dims=None):  # noqa: A002
    axis = _deprecated_arg("axis", axis, "squeeze_dims", squeeze_dims)
    if np.isscalar(axis):
        axis = [axis]
    dims = []
    for a in axis or []:
        if not isinstance(a, numbers.Integral):
            raise TypeError("Expected int for argument 'axis' not %r." % (a,))
        dims.append(int(a))
    return _gen1("Squeeze", name, [_T("input", input)], {"squeeze_dims": dims})


# ---------------------------------------------------------------- concat

class ConcatV2(OpDef):
    """Joins N tensors along `axis` (the last input; negative counts from the end)."""
    type = "ConcatV2"
    fold = fold_by_lowering

    def infer(op):
        xs, axis_t = op.inputs[:-1], op.inputs[-1]
        dt = xs[0].dtype.base_dtype
        axis = _scalar_value(axis_t)
        rank_ = next((x.shape.ndims for x in xs if x.shape.ndims is not None), None)
        if axis is None:
            if rank_ is None:
                return [(dt, unknown_shape())]
            if rank_ == 0:
                raise node_error(op, "Can't concatenate scalars (use tf.stack instead)")
            for x in xs:
                _with_rank(op, x.shape, rank_)
            return [(dt, unknown_shape(rank_))]
        if rank_ is not None:
            for x in xs:
                _with_rank(op, x.shape, rank_)
        min_rank = -axis if axis < 0 else axis + 1
        for x in xs:
            _with_rank_at_least(op, x.shape, min_rank)
        if rank_ is None:
            return [(dt, unknown_shape())]
        a = axis % rank_

        def parts(s):
            if s.ndims is None:
                return unknown_shape(), None, unknown_shape()
            dims = s.as_list()
            return TensorShape(dims[:a]), dims[a], TensorShape(dims[a + 1:])
        before, middle, after = parts(xs[-1].shape)
        for x in reversed(xs[:-1]):
            b, m, e = parts(x.shape)
            before = _merge(op, b, before)
            middle = _dim_add(middle, m)
            after = _merge(op, e, after)
        return [(dt, TensorShape(before.as_list() + [middle] + after.as_list()))]

    def lower(ctx, op, *args):
        xs = args[:-1]
        axis = int(ctx.const(op, len(args) - 1))
        rank_ = xs[0].rank
        if rank_ == 0:
            raise run_error(op, "ConcatOp : Can't concatenate scalars (use tf.stack instead)")
        if not -rank_ <= axis < rank_:
            raise run_error(op, "ConcatOp : Expected concatenating dimensions in the range "
                                "[%d, %d), but got %d" % (-rank_, rank_, axis))
        a = axis % rank_
        first = dims_text(xs[0].shape)
        for i, x in enumerate(xs[1:], 1):
            if x.rank != rank_:
                raise run_error(op, "ConcatOp : Ranks of all input tensors should match: "
                                    "shape[0] = %s vs. shape[%d] = %s" % (first, i,
                                                                         dims_text(x.shape)))
            for j, (d0, d) in enumerate(zip(xs[0].shape, x.shape)):
                if j != a and d0 != d:
                    raise run_error(op, "ConcatOp : Dimension %d in both shapes must be equal: "
                                        "shape[0] = %s vs. shape[%d] = %s" % (
                                            j, first, i, dims_text(x.shape)))
        return ctx.b.emit1("concatenate", *xs, axis=a)

    def gradient(op, grad):
        xs = op.inputs[:-1]
        shapes = [shape(x) for x in xs]
        offsets = concat_offset(op.inputs[-1], shapes)
        return [slice(grad, o, s) for o, s in zip(offsets, shapes)] + [None]


def concat(values, axis, name="concat"):
    """tf.concat (one value gives an Identity named `<name>/<name>`, as in TF)."""
    if not isinstance(values, (list, tuple)):
        values = [values]
    if len(values) == 1:
        with name_scope(name):
            convert_to_tensor(axis, name="concat_dim", dtype=dtypes.int32).shape \
                .assert_has_rank(0)
            return identity(values[0], name=name)
    return _gen1("ConcatV2", name, [_In("values", values, "T", is_list=True, minimum=2),
                                    _index("axis", axis, "Tidx")], {"N": len(values)})


class ConcatOffset(OpDef):
    """For the shapes of ConcatV2's inputs: where each input starts in the output (used by
    the concat gradient)."""
    type = "ConcatOffset"
    not_differentiable = True

    def infer(op):
        return [(t.dtype.base_dtype, t.shape) for t in op.inputs[1:]]

    def lower(ctx, op, *args):
        shapes = [int_list(ctx.const(op, i)) for i in range(1, len(args))]
        axis = int(ctx.const(op, 0)) % max(len(shapes[0]), 1)
        out, start = [], 0
        for s, t in zip(shapes, op.inputs[1:]):
            offset = [0] * len(s)
            offset[axis] = start
            start += s[axis]
            out.append(ctx.b.constant(np.array(offset, dtype=t.dtype.np)))
        return out


def concat_offset(concat_dim, shape, name=None):  # noqa: A002
    return gen_op("ConcatOffset", name, [
        _In("concat_dim", concat_dim, fixed=dtypes.int32),
        _In("shape", shape, "shape_type", default=dtypes.int32, allowed=_INDEX_TYPES,
            is_list=True, minimum=2)], {"N": len(shape)}).outputs


# ---------------------------------------------------------------- split

def _split_axis(op, axis_t, x_shape):
    """The build-time split axis (non-negative), or None (TF's
    MakeDimForScalarInputWithNegativeIndexing)."""
    axis = _scalar_value(axis_t)
    rank_ = x_shape.ndims
    if axis is None or rank_ is None:
        return None if axis is None or axis < 0 else axis
    if not -rank_ <= axis < rank_:
        raise node_error(op, "Dimension size, given by scalar input %d must be in range [%d, %d)"
                         % (axis, -rank_, rank_))
    return axis % rank_


def _lower_split_axis(ctx, op, index, x):
    axis = int(ctx.const(op, index))
    if not -x.rank <= axis < x.rank:
        raise run_error(op, "-input rank(-%d) <= split_dim < input rank (%d), but got %d" % (
            x.rank, x.rank, axis))
    return axis % x.rank


def _lower_pieces(ctx, x, axis, sizes):
    out, start = [], 0
    for n in sizes:
        lo, hi = [0] * x.rank, list(x.shape)
        lo[axis], hi[axis] = start, start + n
        out.append(ctx.b.emit1("slice", x, start=tuple(lo), limit=tuple(hi),
                               strides=(1,) * x.rank) if (start, n) != (0, x.shape[axis]) else x)
        start += n
    return out


class Split(OpDef):
    """Splits `value` into `num_split` equal pieces along `split_dim` (the first input)."""
    type = "Split"

    def infer(op):
        axis_t, x = op.inputs
        n = op.get_attr("num_split")
        dt = x.dtype.base_dtype
        axis = _split_axis(op, axis_t, x.shape)
        if axis is None or x.shape.ndims is None:
            return [(dt, unknown_shape(x.shape.ndims))] * n
        _with_rank_at_least(op, x.shape, axis + 1)
        dims = x.shape.as_list()
        if dims[axis] is not None:
            if dims[axis] % n:
                raise node_error(op, "Dimension size must be evenly divisible by %d but is %d\n\t"
                                     "Number of ways to split should evenly divide the split "
                                     "dimension" % (n, dims[axis]))
            dims[axis] //= n
        return [(dt, TensorShape(dims))] * n

    def lower(ctx, op, _, x):
        n = op.get_attr("num_split")
        axis = _lower_split_axis(ctx, op, 0, x)
        d = x.shape[axis]
        if isinstance(d, int) and d % n:
            raise run_error(op, "Number of ways to split should evenly divide the split "
                                "dimension, but got split_dim %d (size = %d) and num_split %d"
                            % (axis, d, n))
        return _lower_pieces(ctx, x, axis, [d // n] * n)

    def gradient(op, *grads):
        return [None, concat(list(grads), op.inputs[0])]


def _split_sizes(sizes, total, error):
    """SplitV's sizes with the one -1 resolved against `total` (None when unknown)."""
    unknown = [i for i, s in enumerate(sizes) if s == -1]
    if len(unknown) > 1:
        raise error("size_splits can only have one -1")
    determined = sum(s for s in sizes if s != -1)
    if total is not None and not unknown and determined != total:
        raise error("can't split axis of size %d into pieces of size [%s]" % (
            total, ",".join(str(s) for s in sizes)))
    sizes = list(sizes)
    if unknown:
        sizes[unknown[0]] = None if total is None else total - determined
    for i, s in enumerate(sizes):
        if s is not None and s < 0:
            raise error("Split size at index %d must be >= 0. Got: %d" % (i, s))
    return sizes


class SplitV(OpDef):
    """Splits `value` along `split_dim` into pieces of the given sizes (one may be -1)."""
    type = "SplitV"

    def infer(op):
        x, sizes_t, axis_t = op.inputs
        n = op.get_attr("num_split")
        dt = x.dtype.base_dtype
        rank_ = x.shape.ndims
        axis = _split_axis(op, axis_t, x.shape)
        sizes = constant_value(sizes_t)
        if rank_ is None:
            return [(dt, unknown_shape())] * n
        if rank_ == 0:
            raise node_error(op, "Can't split scalars")
        if sizes is None or axis is None:
            if axis is None:
                return [(dt, unknown_shape(rank_))] * n
            dims = x.shape.as_list()
            dims[axis] = None
            return [(dt, TensorShape(dims))] * n
        _with_rank_at_least(op, x.shape, axis + 1)
        sizes = int_list(sizes)
        if len(sizes) != n:
            raise node_error(op, "Length of size_splits should be equal to the number of "
                                 "outputs. Got %d vs %d" % (len(sizes), n))
        dims = x.shape.as_list()
        resolved = _split_sizes(sizes, dims[axis], lambda m: node_error(op, m))
        return [(dt, TensorShape(dims[:axis] + [s] + dims[axis + 1:])) for s in resolved]

    def lower(ctx, op, x, _, __):
        axis = _lower_split_axis(ctx, op, 2, x)
        total = x.shape[axis]
        sizes = int_list(ctx.const(op, 1))
        if not isinstance(total, int):
            if -1 in sizes:
                raise ValueError("%s: cannot split a symbolic dimension with a -1 size" % op.name)
            return _lower_pieces(ctx, x, axis, sizes)
        unknown = [i for i, s in enumerate(sizes) if s == -1]
        if len(unknown) > 1:
            raise run_error(op, "There can only be one -1 in the input.")
        determined = sum(s for s in sizes if s != -1)
        if determined > total or (not unknown and determined != total):
            raise run_error(op, "Determined shape must either match input shape along split_dim "
                                "exactly if fully specified, or be less than the size of the "
                                "input along split_dim if not fully specified.  Got: %d"
                            % determined)
        if unknown:
            sizes[unknown[0]] = total - determined
        for i, s in enumerate(sizes):
            if s < 0:
                raise run_error(op, "Split size at index %d must be >= 0. Got: %d" % (i, s))
        return _lower_pieces(ctx, x, axis, sizes)

    def gradient(op, *grads):
        return [concat(list(grads), op.inputs[2]), None, None]


def split(value, num_or_size_splits, axis=0, num=None, name="split"):
    """tf.split: an int gives `Split` into equal pieces, a list or tensor of sizes `SplitV`."""
    if isinstance(num_or_size_splits, (numbers.Integral, Dimension)):
        return gen_op("Split", name, [_In("split_dim", axis, fixed=dtypes.int32),
                                      _T("value", value)],
                      {"num_split": int(num_or_size_splits)}).outputs
    size_splits = convert_to_tensor(num_or_size_splits)
    if size_splits.shape.ndims == 0:
        raise ValueError("Rank-0 tensors are not supported as the num_or_size_splits argument "
                         "to split. Argument provided: %s" % (num_or_size_splits,))
    if num is None:
        if size_splits.shape.ndims:
            num = size_splits.shape.as_list()[0]
        if num is None:
            raise ValueError("Cannot infer argument `num` from shape %s" % (num_or_size_splits,))
    return gen_op("SplitV", name, [
        _T("value", value),
        _In("size_splits", size_splits, "Tlen", default=dtypes.int64,
            allowed=(dtypes.int8, dtypes.int32, dtypes.int64)),
        _In("split_dim", axis, fixed=dtypes.int32)], {"num_split": int(num)}).outputs


# ---------------------------------------------------------------- stack, unstack

def _pack_axis(op, axis, rank_after, error):
    if not -rank_after <= axis < rank_after:
        raise error(op, "Invalid axis: %d; must be in [%d,%d)" % (axis, -rank_after,
                                                                   rank_after))
    return axis % rank_after


class Pack(OpDef):
    """Stacks N tensors of one shape along a new dimension `axis`."""
    type = "Pack"
    fold = fold_by_lowering

    def infer(op):
        xs = op.inputs
        dt = xs[0].dtype.base_dtype
        cur = xs[-1].shape
        for i in range(len(xs) - 2, -1, -1):
            cur = _merge(op, xs[i].shape, cur, "\n\tFrom merging shape %d with other shapes." % i)
        if cur.ndims is None:
            return [(dt, unknown_shape())]
        axis = _pack_axis(op, op.get_attr("axis"), cur.ndims + 1, node_error)
        dims = cur.as_list()
        return [(dt, TensorShape(dims[:axis] + [len(xs)] + dims[axis:]))]

    def lower(ctx, op, *xs):
        axis = _pack_axis(op, op.get_attr("axis"), xs[0].rank + 1, run_error)
        for i, x in enumerate(xs[1:], 1):
            if x.shape != xs[0].shape:
                raise run_error(op, "Shapes of all inputs must match: values[0].shape = %s != "
                                    "values[%d].shape = %s" % (dims_text(xs[0].shape), i,
                                                               dims_text(x.shape)))
        parts = [ctx.b.reshape(x, x.shape[:axis] + (1,) + x.shape[axis:]) for x in xs]
        return parts[0] if len(parts) == 1 else ctx.b.emit1("concatenate", *parts, axis=axis)

    def gradient(op, grad):
        return unstack(grad, num=op.get_attr("N"), axis=op.get_attr("axis"))


def gen_pack(values, axis=0, name=None):
    """The `Pack` op itself (tf.stack adds TF's constant shortcut and axis check)."""
    return _gen1("Pack", name, [_In("values", values, "T", is_list=True, minimum=1)],
                 {"N": len(values), "axis": axis})


def stack(values, axis=0, name="stack"):
    """tf.stack: along axis 0 a list of constants becomes one constant (and a list holding
    tensors is auto-packed), otherwise a Pack op."""
    if axis == 0:
        try:
            return convert_to_tensor(values, name=name)
        except (TypeError, ValueError, NotImplementedError):
            pass  # elements of different dtypes or shapes: Pack reports TF's error
    first = convert_to_tensor(values[0], name=name)
    if first.shape.ndims is not None:
        expanded = first.shape.ndims + 1
        if not -expanded <= axis < expanded:
            raise ValueError("Argument `axis` = %d not in range [%d, %d)" % (axis, -expanded,
                                                                             expanded))
    return gen_pack(values, axis=axis, name=name)


class Unpack(OpDef):
    """Splits `value` along `axis` into `num` tensors of one rank less."""
    type = "Unpack"

    def infer(op):
        x = op.inputs[0]
        num = op.get_attr("num")
        dt = x.dtype.base_dtype
        if x.shape.ndims is None:
            return [(dt, unknown_shape())] * num
        axis = _pack_axis(op, op.get_attr("axis"), x.shape.ndims, node_error)
        dims = x.shape.as_list()
        if dims[axis] is not None and dims[axis] != num:
            raise node_error(op, "Dimension must be %d but is %d" % (num, dims[axis]))
        return [(dt, TensorShape(dims[:axis] + dims[axis + 1:]))] * num

    def lower(ctx, op, x):
        num = op.get_attr("num")
        axis = _pack_axis(op, op.get_attr("axis"), x.rank, run_error)
        if x.shape[axis] != num:
            raise run_error(op, "Input shape axis %d must equal %d, got shape %s" % (
                axis, num, dims_text(x.shape)))
        out_shape = x.shape[:axis] + x.shape[axis + 1:]
        return [ctx.b.reshape(p, out_shape) for p in _lower_pieces(ctx, x, axis, [1] * num)]

    def gradient(op, *grads):
        return [stack(list(grads), axis=op.get_attr("axis"))]


def unstack(value, num=None, axis=0, name="unstack"):
    if num is None:
        value = convert_to_tensor(value)
        value_shape = value.shape
        if value_shape.ndims is not None:
            if not -value_shape.ndims <= axis < value_shape.ndims:
                raise ValueError("Argument `axis` = %d not in range [%d, %d)" % (
                    axis, -value_shape.ndims, value_shape.ndims))
            num = value_shape.as_list()[axis]
        if num is None:
            raise ValueError("Cannot infer argument `num` from shape %s" % value_shape)
    return gen_op("Unpack", name, [_T("value", value)], {"num": num, "axis": axis}).outputs


# ---------------------------------------------------------------- strided slice

_SHRINK, _NEW_AXIS = -1, -2


def _slice_plan(dims, begin, end, strides, masks):
    """TF's strided-slice rule (ValidateStridedSliceOp) on a partial shape `dims` (ints, None
    when unknown). `begin`/`end` may be None (unknown at build time); `masks` are (begin, end,
    ellipsis, new_axis, shrink_axis). Returns, per input dimension, (begin, end, stride,
    shrink, size) with canonical begin/end (all None for an unknown dimension; begin/end None
    when unknown), and per output-spec entry the input dimension it takes (or _SHRINK /
    _NEW_AXIS). Raises ValueError with TF's messages."""
    begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_mask = masks
    n = len(strides)
    if (begin is not None and len(begin) != n) or (end is not None and len(end) != n):
        raise ValueError("Expected begin, end, and strides to be 1D equal size tensors, but got "
                         "shapes [%d], [%d], and [%d] instead." % (
                             len(begin) if begin is not None else -1,
                             len(end) if end is not None else -1, n))
    if ellipsis_mask & (ellipsis_mask - 1):
        raise ValueError("Multiple ellipses in slice spec not allowed")
    if not ellipsis_mask:
        ellipsis_mask, n = 1 << n, n + 1  # an implicit ellipsis after the last entry
    ellipsis_at = ellipsis_mask.bit_length() - 1
    new_after_ellipsis = sum(1 for i in range(ellipsis_at + 1, n)
                             if new_axis_mask & (1 << i))
    rank_ = len(dims)
    dense, gather, full = [], [], 0
    for i in range(n):
        bit = 1 << i
        if ellipsis_mask & bit:
            stop = min(rank_ - (n - i) + 1 + new_after_ellipsis, rank_)
            while full < stop:
                dense.append((0, 0, 1, True, True, False))
                gather.append(full)
                full += 1
        elif new_axis_mask & bit:
            gather.append(_NEW_AXIS)
        else:
            if full == rank_:
                if rank_ == 0:
                    raise ValueError("Attempting to slice scalar input.")
                raise ValueError("Index out of range using input dim %d; input has only %d dims"
                                 % (full, rank_))
            shrink = bool(shrink_mask & bit)
            dense.append((None if begin is None else begin[i], None if end is None else end[i],
                          strides[i], bool(begin_mask & bit), bool(end_mask & bit), shrink))
            gather.append(_SHRINK if shrink else full)
            full += 1
    plan = []
    for i, ((b, e, s, b_masked, e_masked, shrink), d) in enumerate(zip(dense, dims)):
        if s == 0:
            raise ValueError("strides[%d] must be non-zero" % i)
        if d is None:
            plan.append((None, None, s, shrink, 1 if shrink else None))
            continue
        if shrink and s <= 0:
            raise ValueError("only stride 1 allowed on non-range indexing.")
        lo, hi = (0, d) if s > 0 else (-1, d - 1)

        def canonical(x, masked, is_end):
            if masked:
                return (hi if is_end else lo) if s > 0 else (lo if is_end else hi)
            x = x + d if x < 0 else x
            return min(max(x, lo), hi)
        length = None
        if b is not None and e is not None:
            if shrink:
                x = b + d if b < 0 else b
                if not 0 <= x < d:
                    raise ValueError("slice index %d of dimension %d out of bounds." % (x, i))
                b, e = x, x + 1
            else:
                b, e = canonical(b, b_masked, False), canonical(e, e_masked, True)
            length = e - b
        elif shrink:
            length = 1
        elif b_masked and e_masked:
            length = -d if s < 0 else d
        if length is None:
            size_ = None
        elif length == 0 or (length < 0) != (s < 0):
            size_ = 0
        else:
            size_ = abs(length) // abs(s) + (1 if abs(length) % abs(s) else 0)
        plan.append((b, e, s, shrink, size_))
    return plan, gather


def _final_dims(processing, gather):
    return [processing[g] if g >= 0 else 1 for g in gather if g != _SHRINK]


def _slice_infer_shape(op, x_shape, begin_t, end_t, strides_t):
    """StridedSlice's static shape: unknown unless the input rank, the spec length and the
    strides are known at build time."""
    spec_len = next((t.shape.as_list()[0] for t in (begin_t, end_t, strides_t)
                     if t.shape.ndims == 1 and t.shape.as_list()[0] is not None), None)
    strides = constant_value(strides_t)
    if x_shape.ndims is None or spec_len is None or strides is None:
        return unknown_shape()
    begin, end = constant_value(begin_t), constant_value(end_t)
    try:
        plan, gather = _slice_plan(x_shape.as_list(),
                                   None if begin is None else int_list(begin),
                                   None if end is None else int_list(end),
                                   int_list(strides), _slice_masks(op))
    except ValueError as e:
        raise node_error(op, str(e)) from None
    return TensorShape(_final_dims([p[4] for p in plan], gather))


def _lower_plan(ctx, op, x, plan):
    """The strided slice of `x` described by `plan`, with the shrunk dimensions kept as 1
    (TF's processing shape): negative strides reverse the dimension, then one slice."""
    sizes, reverse_axes, start, limit, step = [], [], [], [], []
    for i, ((b, e, s, shrink, n), d) in enumerate(zip(plan, x.shape)):
        if b is None:  # a symbolic dimension: only whole-dimension slices
            if n is not None or abs(s) != 1:
                raise ValueError("%s (%s): cannot slice part of symbolic dimension %s" % (
                    op.name, op.type, d))
            sizes.append(d)
            reverse_axes += [i] if s < 0 else []
            start.append(0), limit.append(d), step.append(1)
            continue
        sizes.append(n)
        if s < 0:
            reverse_axes.append(i)
            b, s = d - 1 - b, -s
        start.append(b if n else 0)
        limit.append(b + (n - 1) * s + 1 if n else 0)
        step.append(s if n > 1 else 1)
    if 0 in sizes:
        return ctx.b.full(0, x.dtype, sizes)
    if reverse_axes:
        x = ctx.b.emit1("reverse", x, axes=tuple(reverse_axes))
    if (tuple(start), tuple(limit), tuple(step)) != ((0,) * x.rank, x.shape, (1,) * x.rank):
        x = ctx.b.emit1("slice", x, start=tuple(start), limit=tuple(limit),
                        strides=tuple(step))
    return x


def _lowered_plan(ctx, op, dims, first_spec_input):
    """The plan for concrete `dims` and the constant begin/end/strides inputs."""
    spec = [int_list(ctx.const(op, first_spec_input + k)) for k in range(3)]
    try:
        return _slice_plan(_static_int_dims(dims), *spec, _slice_masks(op))
    except ValueError as e:
        raise run_error(op, str(e)) from None


class StridedSlice(OpDef):
    """Python-style slicing `input[begin:end:strides]` per dimension, with TF's masks: begin
    and end masks (use the full range), ellipsis (covers the unnamed dimensions), new_axis
    (inserts a dimension of size 1), shrink_axis (indexes, removing the dimension)."""
    type = "StridedSlice"

    def infer(op):
        x, b, e, s = op.inputs
        return [(x.dtype.base_dtype, _slice_infer_shape(op, x.shape, b, e, s))]

    def fold(op):
        value = fold_by_lowering(op)
        if value is None and op.inputs[0].op.type == "Shape":
            value = _fold_shape_slice(op)
        return value

    def lower(ctx, op, x, *_):
        plan, gather = _lowered_plan(ctx, op, x.shape, 1)
        y = _lower_plan(ctx, op, x, plan)
        return ctx.b.reshape(y, _final_dims(list(y.shape), gather))

    def gradient(op, grad):
        x, begin, end, strides = op.inputs
        x_shape = shape(x, out_type=begin.dtype.base_dtype)
        return [strided_slice_grad(x_shape, begin, end, strides, grad, **_mask_kwargs(op)),
                None, None, None]


def _mask_kwargs(op):
    return {k: op.get_attr(k) for k in ("begin_mask", "end_mask", "ellipsis_mask",
                                         "new_axis_mask", "shrink_axis_mask")}


def _slice_spec_inputs(begin, end, strides):
    allowed = (dtypes.int16, dtypes.int32, dtypes.int64)
    return [_In("begin", begin, "Index", allowed=allowed), _In("end", end, "Index"),
            _In("strides", strides, "Index")]


def strided_slice(input_, begin, end, strides=None, begin_mask=0, end_mask=0, ellipsis_mask=0,
                  new_axis_mask=0, shrink_axis_mask=0, var=None, name=None):
    """tf.strided_slice (strides default to ones_like(begin))."""
    if strides is None:
        strides = ones_like(begin)
    return _gen1("StridedSlice", name, [_T("input", input_)] +
                 _slice_spec_inputs(begin, end, strides),
                 {"begin_mask": begin_mask, "end_mask": end_mask,
                  "ellipsis_mask": ellipsis_mask, "new_axis_mask": new_axis_mask,
                  "shrink_axis_mask": shrink_axis_mask})


class StridedSliceGrad(OpDef):
    """The gradient of StridedSlice: `dy` scattered into zeros of `shape` at the sliced
    positions."""
    type = "StridedSliceGrad"

    def infer(op):
        shape_t, _, _, _, dy = op.inputs
        return [(dy.dtype.base_dtype, _shape_arg(op, shape_t))]

    def lower(ctx, op, _, __, ___, ____, dy):
        dims = int_list(ctx.const(op, 0))
        plan, _ = _lowered_plan(ctx, op, dims, 1)
        sizes = [p[4] for p in plan]
        if 0 in sizes:
            return ctx.b.full(0, dy.dtype, dims)
        dy = ctx.b.reshape(dy, sizes)
        lo, hi, interior, reverse_axes = [], [], [], []
        for i, ((b, _, s, _, n), d) in enumerate(zip(plan, dims)):
            if s < 0:
                reverse_axes.append(i)
                b, s = d - 1 - b, -s
            lo.append(b)
            hi.append(d - (b + (n - 1) * s + 1))
            interior.append(s - 1 if n > 1 else 0)
        zero = ctx.b.constant(np.zeros((), dtype=dy.dtype))
        out = ctx.b.emit1("pad", dy, zero, lo=tuple(lo), hi=tuple(hi), interior=tuple(interior))
        if reverse_axes:
            out = ctx.b.emit1("reverse", out, axes=tuple(reverse_axes))
        return out

    def gradient(op, grad):
        _, begin, end, strides, _ = op.inputs
        return [None, None, None, None,
                strided_slice(grad, begin, end, strides, **_mask_kwargs(op))]


def strided_slice_grad(shape, begin, end, strides, dy, begin_mask=0, end_mask=0,  # noqa: A002
                       ellipsis_mask=0, new_axis_mask=0, shrink_axis_mask=0, name=None):
    return _gen1("StridedSliceGrad", name,
                 [_In("shape", shape, "Index", allowed=_INDEX_TYPES), _In("begin", begin, "Index"),
                  _In("end", end, "Index"), _In("strides", strides, "Index"), _T("dy", dy)],
                 {"begin_mask": begin_mask, "end_mask": end_mask,
                  "ellipsis_mask": ellipsis_mask, "new_axis_mask": new_axis_mask,
                  "shrink_axis_mask": shrink_axis_mask})


# ---------------------------------------------------------------- Tensor.__getitem__

_SLICE_TYPE_ERROR = ("Only integers, slices (`:`), ellipsis (`...`), tf.newaxis (`None`) and "
                     "scalar tf.int32/tf.int64 tensors are valid indices")
_SLICE_INDEX_TYPES = (dtypes.int16, dtypes.int32, dtypes.int64)


def _check_index(idx):
    """An index must be an int, a Dimension or a scalar integer tensor (TF's _check_index)."""
    if isinstance(idx, (numbers.Integral, Dimension)):
        return
    dtype = getattr(idx, "dtype", None)
    try:
        dtype = None if dtype is None else dtypes.as_dtype(dtype).base_dtype
    except TypeError:
        dtype = None
    idx_shape = getattr(idx, "shape", None)
    if dtype not in _SLICE_INDEX_TYPES or (idx_shape is not None and len(idx_shape) == 1):
        raise TypeError(_SLICE_TYPE_ERROR + ", got {!r}".format(idx))


def _is_unknown_dimension(d):
    return isinstance(d, Dimension) and d.value is None


def _slice_helper(tensor, slice_spec):
    """`tensor[slice_spec]` as TF builds it: the begin/end/strides lists are stacked in a
    `strided_slice` name scope (constants when they hold no tensor), with the masks for `:`,
    `...`, `tf.newaxis` and integer indexing."""
    tensor = convert_to_tensor(tensor)
    if isinstance(slice_spec, (bool, np.bool_)) or (
            _is_tensor_like(slice_spec) and slice_spec.dtype.base_dtype == dtypes.bool) or (
            isinstance(slice_spec, np.ndarray) and slice_spec.dtype == bool):
        raise NotImplementedError("Indexing with a boolean mask (tf.boolean_mask) gives a shape "
                                  "known only at run time, which graphc does not support")
    if not isinstance(slice_spec, (list, tuple)):
        slice_spec = [slice_spec]
    begin, end, strides = [], [], []
    begin_mask = end_mask = ellipsis_mask = new_axis_mask = shrink_axis_mask = 0
    for index, s in enumerate(slice_spec):
        bit = 1 << index
        if isinstance(s, _PySlice):
            dtype = None
            for part in (s.start, s.stop, s.step):
                if isinstance(part, Tensor):
                    dt = part.dtype.base_dtype
                    if dt == dtypes.int64 or (dt == dtypes.int32 and dtype != dtypes.int64) or \
                            (dt == dtypes.int16 and dtype is None):
                        dtype = dt
            for part, out, fill_value, mask in ((s.start, begin, 0, "begin"),
                                                (s.stop, end, 0, "end"),
                                                (s.step, strides, 1, None)):
                if part is not None and not _is_unknown_dimension(part):
                    _check_index(part)
                    out.append(part)
                    continue
                out.append(fill_value if dtype is None else constant(fill_value, dtype=dtype))
                if mask == "begin":
                    begin_mask |= bit
                elif mask == "end":
                    end_mask |= bit
        elif s is Ellipsis or s is None:
            begin.append(0)
            end.append(0)
            strides.append(1)
            if s is None:
                new_axis_mask |= bit
            else:
                ellipsis_mask |= bit
        else:
            _check_index(s)
            begin.append(s)
            end.append(s + 1)
            if isinstance(s, Tensor) and s.dtype.base_dtype in (dtypes.int16, dtypes.int64):
                strides.append(constant(1, dtype=s.dtype.base_dtype))
            else:
                strides.append(1)
            shrink_axis_mask |= bit
    with name_scope(None, "strided_slice", [tensor] + begin + end + strides) as name:
        if begin:
            packed = [stack(begin), stack(end), stack(strides)]
            if any(p.dtype.base_dtype == dtypes.int64 for p in packed):
                from graphc.ops.math_ops import cast
                packed = [cast(p, dtypes.int64) for p in packed]
        else:
            packed = [constant([], dtype=dtypes.int32)] * 3
        return strided_slice(tensor, *packed, begin_mask=begin_mask, end_mask=end_mask,
                             ellipsis_mask=ellipsis_mask, new_axis_mask=new_axis_mask,
                             shrink_axis_mask=shrink_axis_mask, name=name)


Tensor.__getitem__ = _slice_helper


# ---------------------------------------------------------------- slice

class Slice(OpDef):
    """The block of `size` elements starting at `begin` (size -1: to the end)."""
    type = "Slice"
    fold = fold_by_lowering

    def infer(op):
        x, begin_t, size_t = op.inputs
        dt = x.dtype.base_dtype
        begin_shape = _with_rank(op, begin_t.shape, 1)
        size_shape = _with_rank(op, size_t.shape, 1)
        n = _merge(op, begin_shape, size_shape).as_list()[0]
        x_shape = _with_rank(op, x.shape, n) if n is not None else x.shape
        begin = _shape_arg(op, begin_t)
        sizes = constant_value(size_t)
        if sizes is not None:
            sizes = int_list(sizes)
            begin = _with_rank(op, begin, len(sizes)).as_list()
            x_dims = _with_rank(op, x_shape, len(sizes)).as_list()
            out = []
            for i, s in enumerate(sizes):
                if s == -1:
                    d = None if x_dims[i] is None or begin[i] is None else x_dims[i] - begin[i]
                    if d is not None and d < 0:
                        raise node_error(op, "Negative dimension size caused by subtracting %d "
                                             "from %d" % (begin[i], x_dims[i]))
                    out.append(d)
                elif s < -1:
                    raise ValueError("Invalid value in tensor used for shape: %d" % s)
                else:
                    out.append(s)
            return [(dt, TensorShape(out))]
        sizes = _shape_arg(op, size_t)
        if sizes.ndims is not None:
            return [(dt, sizes)]
        return [(dt, unknown_shape(x_shape.ndims))]

    def lower(ctx, op, x, _, __):
        begin, sizes = int_list(ctx.const(op, 1)), int_list(ctx.const(op, 2))
        if len(begin) != x.rank or len(sizes) != x.rank:
            raise run_error(op, "Expected begin and size arguments to be 1-D tensors of size %d,"
                                " but got shapes [%d] and [%d] instead." % (
                                    x.rank, len(begin), len(sizes)))
        limit = []
        for i, (b, s, d) in enumerate(zip(begin, sizes, x.shape)):
            if isinstance(d, SymDim):
                if (b, s) != (0, -1):
                    raise ValueError("%s (Slice): cannot slice part of symbolic dimension %s" % (
                        op.name, d))
                limit.append(d)
                continue
            s = d - b if s == -1 else s
            if not 0 <= b <= d:
                raise run_error(op, "Expected begin[%d] in [0, %d], but got %d" % (i, d, b))
            if not 0 <= s or b + s > d:
                raise run_error(op, "Expected size[%d] in [0, %d], but got %d" % (i, d - b, s))
            limit.append(b + s)
        return ctx.b.emit1("slice", x, start=tuple(begin), limit=tuple(limit),
                           strides=(1,) * x.rank)

    def gradient(op, grad):
        x, begin, _ = op.inputs
        index_type = begin.dtype.base_dtype
        rows = stack([rank(x), 1])
        before = reshape(begin, rows)
        slice_size = shape(op.outputs[0], out_type=index_type)
        after = reshape(shape(x, out_type=index_type) - slice_size - begin, rows)
        return [pad(grad, concat([before, after], 1)), None, None]


def slice(input_, begin, size, name=None):  # noqa: A001 - TF's public name
    return _gen1("Slice", name, [_T("input", input_), _In("begin", begin, "Index",
                                                          allowed=_INDEX_TYPES),
                                 _In("size", size, "Index")])


# ---------------------------------------------------------------- gather

_GATHER_INDEX_TYPES = (dtypes.int16, dtypes.int32, dtypes.int64)


def _gather_shape(op, params, indices, axis):
    """params.shape[:axis] + indices.shape + params.shape[axis + 1:] (axis may be negative)."""
    _with_rank_at_least(op, params.shape, -axis if axis < 0 else axis + 1)
    if params.shape.ndims is None or indices.shape.ndims is None:
        return unknown_shape()
    dims = params.shape.as_list()
    a = axis % len(dims)
    return TensorShape(dims[:a] + indices.shape.as_list() + dims[a + 1:])


def _gather_gradient(params, indices, axis, grad):
    """The dense gradient of a gather: `grad` summed into the gathered rows (TF gives the same
    values as IndexedSlices)."""
    p_rank, i_rank = params.shape.ndims, indices.shape.ndims
    if p_rank is None or i_rank is None:
        raise NotImplementedError("the gradient of a gather needs the ranks of params and "
                                  "indices at graph-build time")
    axis %= p_rank
    rows = shape(params)[axis]
    if axis == 0:
        return unsorted_segment_sum(grad, indices, rows)
    front = list(range(axis, axis + i_rank))
    moved = transpose(grad, front + list(range(axis)) +
                      list(range(axis + i_rank, p_rank + i_rank - 1)))
    summed = unsorted_segment_sum(moved, indices, rows)
    return transpose(summed, list(range(1, axis + 1)) + [0] + list(range(axis + 1, p_rank)))


class GatherV2(OpDef):
    """Slices of `params` along `axis` at `indices`: out[a.., i.., b..] = params[a.., indices[i..],
    b..]. An index outside [0, params.shape[axis]) is a run-time InvalidArgumentError."""
    type = "GatherV2"
    fold = fold_by_lowering

    def infer(op):
        params, indices, axis_t = op.inputs
        dt = params.dtype.base_dtype
        _with_rank_at_least(op, params.shape, 1)
        _with_rank(op, axis_t.shape, 0)
        if op.get_attr("batch_dims"):
            raise node_error(op, "graphc supports GatherV2 with batch_dims 0 only",
                             NotImplementedError)
        axis = _scalar_value(axis_t)
        if axis is None:
            if params.shape.ndims is None or indices.shape.ndims is None:
                return [(dt, unknown_shape())]
            return [(dt, unknown_shape(params.shape.ndims + indices.shape.ndims - 1))]
        return [(dt, _gather_shape(op, params, indices, axis))]

    def lower(ctx, op, params, indices, _):
        axis = int(ctx.const(op, 2))
        if not -params.rank <= axis < params.rank:
            raise run_error(op, "Expected axis in the range [%d, %d), but got %d" % (
                -params.rank, params.rank, axis))
        return ctx.b.emit1("gather", params, indices, axis=axis % params.rank)

    def gradient(op, grad):
        params, indices, axis_t = op.inputs
        axis = _scalar_value(axis_t)
        if axis is None:
            raise NotImplementedError("%s: the gradient of a gather needs its axis at "
                                      "graph-build time" % op.name)
        return [_gather_gradient(params, indices, axis, grad), None, None]


class Gather(OpDef):
    """TF1's gather along axis 0 (GatherV2 without the axis input)."""
    type = "Gather"
    fold = fold_by_lowering

    def infer(op):
        params, indices = op.inputs
        _with_rank_at_least(op, params.shape, 1)
        return [(params.dtype.base_dtype, _gather_shape(op, params, indices, 0))]

    def lower(ctx, op, params, indices):
        return ctx.b.emit1("gather", params, indices, axis=0)

    def gradient(op, grad):
        params, indices = op.inputs
        return [_gather_gradient(params, indices, 0, grad), None]


def gather(params, indices, validate_indices=None, name=None, axis=None, batch_dims=0):
    """tf.gather (GatherV2); `params` may be a Variable (its value is read)."""
    if axis is None:
        axis = batch_dims
    if batch_dims != 0:
        raise NotImplementedError("tf.gather(batch_dims=%r): graphc supports batch_dims=0 only"
                                  % (batch_dims,))
    return _gen1("GatherV2", name, [
        _In("params", params, "Tparams"),
        _In("indices", indices, "Tindices", allowed=_GATHER_INDEX_TYPES),
        _In("axis", axis, "Taxis", allowed=_INDEX_TYPES)], {"batch_dims": 0})


class UnsortedSegmentSum(OpDef):
    """out[s, ...] = sum of data[i.., ...] over the positions i.. where segment_ids[i..] == s,
    for s in [0, num_segments); negative ids are dropped, ids >= num_segments are a run-time
    InvalidArgumentError."""
    type = "UnsortedSegmentSum"
    fold = fold_by_lowering

    def infer(op):
        data, ids, num_t = op.inputs
        _with_rank(op, num_t.shape, 0)
        num = _scalar_value(num_t)
        if data.shape.ndims is None or ids.shape.ndims is None:
            return [(data.dtype.base_dtype, unknown_shape())]
        k = ids.shape.ndims
        _with_rank_at_least(op, data.shape, k)
        dims = data.shape.as_list()
        if not TensorShape(dims[:k]).is_compatible_with(ids.shape):
            raise node_error(op, "data.shape = %s does not start with segment_ids.shape = %s" % (
                shape_text(data.shape), shape_text(ids.shape)))
        return [(data.dtype.base_dtype, TensorShape([num] + dims[k:]))]

    def lower(ctx, op, data, ids, _):
        n = int(ctx.const(op, 2))
        b = ctx.b
        inner = data.shape[ids.rank:]
        if data.shape[:ids.rank] != ids.shape:
            raise run_error(op, "data.shape = %s does not start with segment_ids.shape = %s" % (
                dims_text(data.shape), dims_text(ids.shape)))
        # Row 0 of the sum collects the dropped (negative) ids; id s goes to row s + 1. The
        # gather from 1..n checks that every id is below n.
        zeros = b.full(0, ids.dtype, ids.shape)
        shifted = b.emit1("gather", b.constant(np.arange(1, n + 1, dtype=ids.dtype)),
                          b.emit1("max", ids, zeros), axis=0)
        rows = b.emit1("select", b.emit1("lt", ids, zeros), zeros, shifted)
        summed = b.emit1("scatter_add", b.full(0, data.dtype, (n + 1,) + inner), rows, data,
                         axis=0)
        return b.emit1("slice", summed, start=(1,) + (0,) * len(inner),
                       limit=(n + 1,) + inner, strides=(1,) * (len(inner) + 1))

    def gradient(op, grad):
        from graphc.ops import math_ops
        ids = op.inputs[1]
        gathered = gather(grad, math_ops.maximum(ids, 0))
        if ids.shape.ndims is None or gathered.shape.ndims is None:
            raise NotImplementedError("%s: the gradient of UnsortedSegmentSum needs the ranks "
                                      "of its inputs at graph-build time" % op.name)
        keep = reshape(math_ops.greater_equal(ids, 0), concat([
            shape(ids), [1] * (gathered.shape.ndims - ids.shape.ndims)], 0))
        return [math_ops.where_v2(keep, gathered, zeros_like(gathered)), None, None]


def unsorted_segment_sum(data, segment_ids, num_segments, name=None):
    return _gen1("UnsortedSegmentSum", name, [
        _T("data", data), _In("segment_ids", segment_ids, "Tindices",
                              allowed=_GATHER_INDEX_TYPES),
        _index("num_segments", num_segments, "Tnumsegments")])


def _lower_linear_index(ctx, indices, dims):
    """Row-major positions in `dims` of the index vectors in the last axis of `indices`. Each
    component is looked up in a table of its multiples by a gather, which checks its range."""
    b = ctx.b
    k = len(dims)
    batch = indices.shape[:-1]
    strides = [int(np.prod(dims[i + 1:], dtype=np.int64)) for i in range(k)]
    total = b.full(0, np.int64, batch)
    for i in range(k):
        lo = [0] * indices.rank
        hi = list(indices.shape)
        lo[-1], hi[-1] = i, i + 1
        component = b.reshape(b.emit1("slice", indices, start=tuple(lo), limit=tuple(hi),
                                      strides=(1,) * indices.rank), batch)
        table = b.constant(np.arange(dims[i], dtype=np.int64) * strides[i])
        total = b.emit1("add", total, b.emit1("gather", table, component, axis=0))
    return total


def _nd_index_depth(op, indices, rank_, error):
    k = indices.shape[-1]
    if not isinstance(k, int) or k > rank_:
        raise error(op, "indices.shape[-1] must be <= params.rank, but saw indices shape: %s "
                        "and params shape of rank %d" % (dims_text(indices.shape), rank_))
    return k


class GatherNd(OpDef):
    """Slices of `params` at index vectors: out[i..] = params[indices[i.., 0], ...,
    indices[i.., K-1]]. An out-of-range index is a run-time InvalidArgumentError."""
    type = "GatherNd"
    fold = fold_by_lowering

    def infer(op):
        params, indices = op.inputs
        dt = params.dtype.base_dtype
        _with_rank_at_least(op, indices.shape, 1)
        k = indices.shape.as_list()[-1] if indices.shape.ndims is not None else None
        if params.shape.ndims is None or k is None:
            return [(dt, unknown_shape())]
        if k > params.shape.ndims:
            raise node_error(op, "indices.shape[-1] must be <= params.rank, but saw indices "
                                 "shape: %s and params shape: %s" % (shape_text(indices.shape),
                                                                     shape_text(params.shape)))
        return [(dt, TensorShape(indices.shape.as_list()[:-1] + params.shape.as_list()[k:]))]

    def lower(ctx, op, params, indices):
        k = _nd_index_depth(op, indices, params.rank, run_error)
        dims = params.shape
        rows = ctx.b.reshape(params, (int(np.prod(dims[:k], dtype=np.int64)),) + dims[k:])
        return ctx.b.emit1("gather", rows, _lower_linear_index(ctx, indices, dims[:k]), axis=0)

    def gradient(op, grad):
        params, indices = op.inputs
        return [scatter_nd(indices, grad, shape(params, out_type=indices.dtype.base_dtype)),
                None]


def gather_nd(params, indices, name=None, batch_dims=0):
    if batch_dims != 0:
        raise NotImplementedError("tf.gather_nd(batch_dims=%r): graphc supports batch_dims=0 "
                                  "only" % (batch_dims,))
    return _gen1("GatherNd", name, [
        _In("params", params, "Tparams"),
        _In("indices", indices, "Tindices", allowed=_GATHER_INDEX_TYPES)],
        {"bad_indices_policy": ""})


class ScatterNd(OpDef):
    """Zeros of `shape` with `updates` added at the index vectors of `indices` (duplicates
    sum): the inverse of GatherNd."""
    type = "ScatterNd"
    fold = fold_by_lowering

    def infer(op):
        indices, updates, shape_t = op.inputs
        out = _shape_arg(op, shape_t)
        _with_rank_at_least(op, indices.shape, 1)
        if out.ndims is not None and indices.shape.ndims is not None and \
                updates.shape.ndims is not None and indices.shape.as_list()[-1] is not None:
            k = indices.shape.as_list()[-1]
            expected = TensorShape(indices.shape.as_list()[:-1] + out.as_list()[k:])
            if not updates.shape.is_compatible_with(expected):
                raise node_error(op, "The shape of updates %s must be the shape of indices "
                                     "without its last dimension followed by shape[%d:] = %s" % (
                                         shape_text(updates.shape), k, shape_text(expected)))
        return [(updates.dtype.base_dtype, out)]

    def lower(ctx, op, indices, updates, _):
        dims = int_list(ctx.const(op, 2))
        k = _nd_index_depth(op, indices, len(dims), run_error)
        rows = (int(np.prod(dims[:k], dtype=np.int64)),) + tuple(dims[k:])
        if tuple(updates.shape) != indices.shape[:-1] + tuple(dims[k:]):
            raise run_error(op, "updates has shape %s, expected %s" % (
                dims_text(updates.shape), dims_text(indices.shape[:-1] + tuple(dims[k:]))))
        summed = ctx.b.emit1("scatter_add", ctx.b.full(0, updates.dtype, rows),
                             _lower_linear_index(ctx, indices, dims[:k]), updates, axis=0)
        return ctx.b.reshape(summed, dims)

    def gradient(op, grad):
        indices = op.inputs[0]
        return [None, gather_nd(grad, indices), None]


def scatter_nd(indices, updates, shape, name=None):  # noqa: A002
    return _gen1("ScatterNd", name, [
        _In("indices", indices, "Tindices", allowed=_GATHER_INDEX_TYPES), _T("updates", updates),
        _In("shape", shape, "Tindices")], {"bad_indices_policy": ""})


# ---------------------------------------------------------------- one_hot

class OneHot(OpDef):
    """on_value where the new `axis` (default last) equals the index, off_value elsewhere;
    indices outside [0, depth) give rows of off_value."""
    type = "OneHot"
    not_differentiable = True

    def infer(op):
        indices, depth_t, on, off = op.inputs
        axis = op.get_attr("axis")
        if axis < -1:
            raise node_error(op, "axis must be >= -1")
        for t in (depth_t, on, off):
            _with_rank(op, t.shape, 0)
        depth = _scalar_value(depth_t)
        if depth is not None and depth < 0:
            raise node_error(op, "Dimension size, given by scalar input %d, must be "
                                 "non-negative but is %d" % (depth, depth))
        if indices.shape.ndims is None:
            return [(on.dtype.base_dtype, unknown_shape())]
        new_rank = indices.shape.ndims + 1
        at = (axis + new_rank) % new_rank
        dims = indices.shape.as_list()
        return [(on.dtype.base_dtype, TensorShape(dims[:at] + [depth] + dims[at:]))]

    def lower(ctx, op, indices, _, on, off):
        b = ctx.b
        depth = int(ctx.const(op, 1))
        axis = op.get_attr("axis")
        if depth < 0:
            raise run_error(op, "depth must be non-negative, got: %d" % depth)
        out_rank = indices.rank + 1
        if not (axis == -1 or 0 <= axis < out_rank):
            raise run_error(op, "Expected axis to be -1 or between [0, %d).  But received: %d"
                            % (out_rank, axis))
        at = out_rank - 1 if axis == -1 else axis
        out_shape = indices.shape[:at] + (depth,) + indices.shape[at:]
        wide = b.convert(indices, np.int64)
        wide = b.broadcast_in_dim(wide, out_shape, [i for i in range(out_rank) if i != at])
        positions = b.emit1("iota", dtype=np.dtype(np.int64), shape=out_shape, dimension=at)
        hit = b.emit1("eq", wide, positions)
        return b.emit1("select", hit, b.broadcast_in_dim(on, out_shape, ()),
                       b.broadcast_in_dim(off, out_shape, ()))


def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None, name=None):
    """tf.one_hot: the dtype comes from `dtype`, else on/off values, else float32."""
    with name_scope(name, "one_hot", [indices, depth, on_value, off_value, axis, dtype]) as scope:
        dtype = dtypes.as_dtype(dtype).base_dtype if dtype is not None else None
        on_exists, off_exists = on_value is not None, off_value is not None
        if on_exists:
            on_value = convert_to_tensor(on_value, dtype_hint=dtype)
        if off_exists:
            off_value = convert_to_tensor(off_value, dtype_hint=dtype)
        on_dtype = on_value.dtype.base_dtype if on_exists else None
        off_dtype = off_value.dtype.base_dtype if off_exists else None
        if on_exists or off_exists:
            if dtype is not None:
                for exists, dt, what in ((on_exists, on_dtype, "on_value"),
                                         (off_exists, off_dtype, "off_value")):
                    if exists and dt != dtype:
                        raise TypeError("dtype {0} of {1} does not match dtype parameter {2}"
                                        .format(dt, what, dtype))
            else:
                dtype = on_dtype if on_exists else off_dtype
        elif dtype is None:
            dtype = dtypes.float32
        if not on_exists:
            on_value, on_dtype = convert_to_tensor(1, dtype, name="on_value"), dtype
        if not off_exists:
            off_value, off_dtype = convert_to_tensor(0, dtype, name="off_value"), dtype
        if on_dtype != off_dtype:
            raise TypeError("dtype {0} of on_value does not match dtype {1} of off_value".format(
                on_dtype, off_dtype))
        return _gen1("OneHot", scope, [
            _In("indices", indices, "TI", default=dtypes.int64,
                allowed=(dtypes.uint8, dtypes.int8, dtypes.int32, dtypes.int64)),
            _In("depth", depth, fixed=dtypes.int32), _T("on_value", on_value),
            _T("off_value", off_value)], {"axis": -1 if axis is None else axis})


# ---------------------------------------------------------------- pad

def _pad_infer(op):
    """TF's Pad shape function (paddings is [rank, 2], non-negative)."""
    x, paddings_t = op.inputs[:2]
    dt = x.dtype.base_dtype
    rows, cols = _with_rank(op, paddings_t.shape, 2).as_list()
    if cols is not None and cols != 2:
        raise node_error(op, "Dimension must be 2 but is %d" % cols)
    if len(op.inputs) == 3:
        _with_rank(op, op.inputs[2].shape, 0)
    if rows is not None:
        _with_rank(op, x.shape, rows)
    elif x.shape.ndims is not None:
        rows = x.shape.ndims
    paddings = constant_value(paddings_t)
    if paddings is None:
        return [(dt, unknown_shape(rows))]
    pads = np.asarray(paddings).reshape(-1, 2)
    dims = _with_rank(op, x.shape, len(pads)).as_list()
    if (pads < 0).any():
        raise node_error(op, "Paddings must be non-negative")
    return [(dt, TensorShape([None if d is None else d + int(lo) + int(hi)
                              for d, (lo, hi) in zip(dims, pads)]))]


def _lowered_paddings(ctx, op, x):
    pads = np.asarray(ctx.const(op, 1)).reshape(-1, 2)
    if len(pads) != x.rank:
        raise run_error(op, "The first dimension of paddings must be the rank of inputs%s %s" % (
            dims_text(pads.shape), dims_text(x.shape)))
    if (pads < 0).any():
        raise run_error(op, "Paddings must be non-negative: %s" % pads.tolist())
    return [int(p) for p in pads[:, 0]], [int(p) for p in pads[:, 1]]


def _pad_gradient(op, grad):
    """The gradient of (constant) padding: the unpadded block of `grad`."""
    x, paddings = op.inputs[:2]
    before = slice(paddings, [0, 0], stack([rank(x), 1]))
    begin = reshape(before, [-1])
    return [slice(grad, begin, shape(x, out_type=begin.dtype.base_dtype))] + \
        [None] * (len(op.inputs) - 1)


class Pad(OpDef):
    """Pads with zeros: paddings[i] = [before, after] elements for dimension i."""
    type = "Pad"
    infer = _pad_infer
    gradient = _pad_gradient
    fold = fold_by_lowering

    def lower(ctx, op, x, _):
        lo, hi = _lowered_paddings(ctx, op, x)
        zero = ctx.b.constant(np.zeros((), dtype=x.dtype))
        return ctx.b.emit1("pad", x, zero, lo=tuple(lo), hi=tuple(hi), interior=(0,) * x.rank)


class PadV2(OpDef):
    """Pads with the scalar `constant_values`."""
    type = "PadV2"
    infer = _pad_infer
    gradient = _pad_gradient
    fold = fold_by_lowering

    def lower(ctx, op, x, _, value):
        lo, hi = _lowered_paddings(ctx, op, x)
        return ctx.b.emit1("pad", x, value, lo=tuple(lo), hi=tuple(hi), interior=(0,) * x.rank)


def _mirror_index(d, lo, hi, mode):
    """For each position of a mirror-padded dimension of size d: the source position."""
    src = np.arange(-lo, d + hi)
    shift = 0 if mode == "REFLECT" else 1
    src = np.where(src < 0, -src - shift, src)
    return np.where(src >= d, 2 * d - 2 + shift - src, src)


def _mirror_plan(ctx, op, x, dims):
    """Per dimension the index map of MirrorPad on `dims` (the unpadded shape)."""
    lo, hi = _lowered_paddings(ctx, op, x)
    mode = op.get_attr("mode")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    limit = 0 if mode == "REFLECT" else 1
    maps = []
    for i, d in enumerate(dims):
        if lo[i] > d - 1 + limit or hi[i] > d - 1 + limit:
            raise run_error(op, "paddings must be less than the dimension size: %d, %d not less "
                                "than %d" % (lo[i], hi[i], d + limit))
        maps.append(_mirror_index(d, lo[i], hi[i], mode))
    return maps


def _mirror_pad_infer(op):
    x, paddings_t = op.inputs
    dt = x.dtype.base_dtype
    rows = _with_rank(op, paddings_t.shape, 2).as_list()[0]
    if rows is None:
        return [(dt, unknown_shape())]
    x_dims = _with_rank(op, x.shape, rows).as_list()
    _merge(op, paddings_t.shape, TensorShape([rows, 2]))
    paddings = constant_value(paddings_t)
    if paddings is None:
        return [(dt, unknown_shape(rows))]
    pads = np.asarray(paddings).reshape(-1, 2)
    if (pads < 0).any():
        raise node_error(op, "Paddings must be non-negative")
    sign = 1 if op.type == "MirrorPad" else -1
    return [(dt, TensorShape([None if d is None else d + sign * int(lo + hi)
                              for d, (lo, hi) in zip(x_dims, pads)]))]


class MirrorPad(OpDef):
    """Pads with a mirror image of the input: REFLECT excludes the edge element, SYMMETRIC
    repeats it."""
    type = "MirrorPad"
    infer = _mirror_pad_infer
    fold = fold_by_lowering

    def lower(ctx, op, x, _):
        for axis, index in enumerate(_mirror_plan(ctx, op, x, x.shape)):
            if len(index) != x.shape[axis] or (index != np.arange(len(index))).any():
                x = ctx.b.emit1("gather", x, ctx.b.constant(index.astype(np.int64)), axis=axis)
        return x

    def gradient(op, grad):
        return [mirror_pad_grad(grad, op.inputs[1], op.get_attr("mode")), None]


class MirrorPadGrad(OpDef):
    """The gradient of MirrorPad: each padded element's gradient added to its source."""
    type = "MirrorPadGrad"
    infer = _mirror_pad_infer

    def lower(ctx, op, g, _):
        lo, hi = _lowered_paddings(ctx, op, g)
        dims = [d - a - b for d, a, b in zip(g.shape, lo, hi)]
        for axis, index in enumerate(_mirror_plan(ctx, op, g, dims)):
            shape_ = list(g.shape)
            shape_[axis] = dims[axis]
            g = ctx.b.emit1("scatter_add", ctx.b.full(0, g.dtype, shape_),
                            ctx.b.constant(index.astype(np.int64)), g, axis=axis)
        return g

    def gradient(op, grad):
        return [mirror_pad(grad, op.inputs[1], op.get_attr("mode")), None]


def _paddings(value):
    return _In("paddings", value, "Tpaddings", default=dtypes.int32, allowed=_INDEX_TYPES)


def mirror_pad(input, paddings, mode, name=None):  # noqa: A002
    return _gen1("MirrorPad", name, [_T("input", input), _paddings(paddings)], {"mode": mode})


def mirror_pad_grad(input, paddings, mode, name=None):  # noqa: A002
    return _gen1("MirrorPadGrad", name, [_T("input", input), _paddings(paddings)],
                 {"mode": mode})


def pad(tensor, paddings, mode="CONSTANT", name=None, constant_values=0):
    """tf.pad: CONSTANT (Pad, or PadV2 for nonzero constant_values), REFLECT or SYMMETRIC
    (MirrorPad); `mode` is case-insensitive."""
    mode = mode.upper()
    if mode == "CONSTANT":
        if not _is_tensor_like(constant_values) and np.ndim(constant_values) == 0 and \
                constant_values == np.zeros_like(constant_values):
            return _gen1("Pad", name, [_T("input", tensor), _paddings(paddings)])
        return _gen1("PadV2", name, [_T("input", tensor), _paddings(paddings),
                                     _T("constant_values", constant_values)])
    if mode in ("REFLECT", "SYMMETRIC"):
        return mirror_pad(tensor, paddings, mode, name=name)
    raise ValueError('Value of argument `mode` expected to be one of "CONSTANT", "REFLECT", or '
                     '"SYMMETRIC". Received `mode` = %s' % mode)


# ---------------------------------------------------------------- tile, reverse

class Tile(OpDef):
    """Repeats the input `multiples[i]` times along dimension i."""
    type = "Tile"
    fold = fold_by_lowering

    def infer(op):
        x, multiples_t = op.inputs
        dt = x.dtype.base_dtype
        multiples = _shape_arg(op, multiples_t)
        if x.shape.ndims is not None:
            multiples = _with_rank(op, multiples, x.shape.ndims)
            _merge(op, multiples_t.shape, TensorShape([x.shape.ndims]))
        if multiples.ndims is None:
            return [(dt, unknown_shape())]
        dims = _with_rank(op, x.shape, multiples.ndims).as_list()
        return [(dt, TensorShape([_dim_mul(d, m) for d, m in zip(dims, multiples.as_list())]))]

    def lower(ctx, op, x, _):
        multiples = int_list(ctx.const(op, 1))
        if len(multiples) != x.rank:
            raise run_error(op, "Expected multiples argument to be a vector of length %d but "
                                "got length %d" % (x.rank, len(multiples)))
        for i, m in enumerate(multiples):
            if isinstance(m, int) and m < 0:
                raise run_error(op, "Expected multiples[%d] >= 0, but got %d" % (i, m))
        wide = []
        for m, d in zip(multiples, x.shape):
            wide += [m, d]
        y = ctx.b.broadcast_in_dim(x, wide, range(1, 2 * x.rank, 2))
        return ctx.b.reshape(y, [m * d for m, d in zip(multiples, x.shape)])

    def gradient(op, grad):
        from graphc.ops.math_ops import reduce_sum
        x, multiples = op.inputs
        if x.shape.ndims is None:
            raise NotImplementedError("%s: the gradient of Tile needs the input rank at "
                                      "graph-build time" % op.name)
        pairs = stack([multiples, shape(x, out_type=multiples.dtype.base_dtype)])
        split_shape = reshape(transpose(pairs), [-1])
        return [reduce_sum(reshape(grad, split_shape), list(range(0, 2 * x.shape.ndims, 2))),
                None]


def tile(input, multiples, name=None):  # noqa: A002
    return _gen1("Tile", name, [_T("input", input),
                                _index("multiples", multiples, "Tmultiples")])


def _reverse_axes(op, axes, rank_, error):
    seen = []
    for i, a in enumerate(axes):
        canonical = a + rank_ if a < 0 else a
        if not 0 <= canonical < rank_:
            raise error(op, "'axis'[%d] = %d is out of valid range [0, %d" % (i, a, rank_ - 1))
        if canonical in seen:
            raise error(op, "axis %d specified more than once." % canonical)
        seen.append(canonical)
    return seen


class ReverseV2(OpDef):
    """Reverses the order of elements along each dimension in `axis`."""
    type = "ReverseV2"
    fold = fold_by_lowering

    def infer(op):
        x, axis_t = op.inputs
        _with_rank(op, axis_t.shape, 1)
        axes = constant_value(axis_t)
        if axes is not None and x.shape.ndims is not None:
            _reverse_axes(op, int_list(axes), x.shape.ndims, node_error)
        return [(x.dtype.base_dtype, x.shape)]

    def lower(ctx, op, x, _):
        axes = _reverse_axes(op, int_list(ctx.const(op, 1)), x.rank, run_error)
        return ctx.b.emit1("reverse", x, axes=tuple(sorted(axes))) if axes else x

    def gradient(op, grad):
        return [reverse(grad, op.inputs[1]), None]


def reverse(tensor, axis, name=None):
    return _gen1("ReverseV2", name, [_T("tensor", tensor), _index("axis", axis, "Tidx")])


reverse_v2 = reverse


__all__ = [
    "newaxis", "identity", "stop_gradient", "shape", "rank", "size", "reshape", "fill", "zeros",
    "ones", "zeros_like", "ones_like", "expand_dims", "broadcast_to", "transpose",
    "invert_permutation", "squeeze", "concat", "split", "stack", "unstack", "strided_slice",
    "slice", "gather", "unsorted_segment_sum", "gather_nd", "scatter_nd", "one_hot", "pad",
    "tile", "reverse", "reverse_v2",
]
