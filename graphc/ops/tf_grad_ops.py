"""Op types that TensorFlow's own gradient code writes into training graphs and graphc's
gradients do not use, so that TF-built training graphs import and run: `ShapeN` (Conv2D and
concat gradients), `DynamicStitch` and `ListDiff` (the reduced shapes of Prod/Min/Max
gradients).

In those graphs they compute shapes, which are known when the graph is compiled: DynamicStitch
and ListDiff are lowered when their inputs are compile-time constants (their output sizes
depend on the values), and are an error naming the node otherwise."""

import numpy as np

from graphc.graph.op_registry import OpDef
from graphc.graph.tensor_shape import TensorShape, unknown_shape
from graphc.ops.array_ops import constant_value


def _constant_inputs(ctx, op):
    """Every input of `op` as a numpy value known at compile time."""
    return [ctx.const(op, i) for i in range(len(op.inputs))]


class ShapeN(OpDef):
    """The shapes of its N inputs, as N 1-D int tensors (`out_type`)."""
    type = "ShapeN"
    not_differentiable = True

    def infer(op):
        out_type = op.get_attr("out_type")
        return [(out_type, TensorShape([x.shape.ndims])) for x in op.inputs]

    def lower(ctx, op, *xs):
        out_type = op.get_attr("out_type").np
        return [ctx.shape_value(x.shape, out_type) for x in xs]


def _stitch(indices, data):
    """TF's DynamicStitch on numpy values: merged[indices[i][j]] = data[i][j], later writes
    winning; ValueError for an index past the values given."""
    size = max((int(np.max(i)) + 1 for i in indices if np.size(i)), default=0)
    first = np.asarray(data[0])
    inner = first.shape[np.ndim(indices[0]):]
    merged = np.zeros((size,) + inner, dtype=first.dtype)
    written = np.zeros(size, dtype=bool)
    for idx, values in zip(indices, data):
        idx = np.asarray(idx).reshape(-1)
        if np.any(idx < 0):
            raise ValueError("DynamicStitch: negative index %d" % idx.min())
        merged[idx] = np.asarray(values).reshape((idx.size,) + inner)
        written[idx] = True
    if not written.all():
        raise ValueError("DynamicStitch: indices leave position %d unset" %
                         int(np.argmin(written)))
    return merged


class DynamicStitch(OpDef):
    """Interleaves N data tensors into one: merged[indices[i][j]] = data[i][j]. graphc needs
    the indices and data known at compile time (shape computations in TF's gradients)."""
    type = "DynamicStitch"
    aliases = ("ParallelDynamicStitch",)
    not_differentiable = True

    def infer(op):
        n = len(op.inputs) // 2
        indices, data = op.inputs[:n], op.inputs[n:]
        folded = DynamicStitch.fold(op)
        if folded is not None:
            return [(data[0].dtype.base_dtype, TensorShape(list(folded.shape)))]
        if indices[0].shape.ndims is None or data[0].shape.ndims is None:
            return [(data[0].dtype.base_dtype, unknown_shape())]
        inner = data[0].shape.as_list()[indices[0].shape.ndims:]
        return [(data[0].dtype.base_dtype, TensorShape([None] + inner))]

    def fold(op):
        values = [constant_value(t) for t in op.inputs]
        if any(v is None for v in values):
            return None
        n = len(values) // 2
        return _stitch(values[:n], values[n:])

    def lower(ctx, op, *args):
        values = _constant_inputs(ctx, op)
        n = len(values) // 2
        merged = _stitch(values[:n], values[n:])
        return [ctx.b.constant(merged.astype(op.inputs[n].dtype.base_dtype.np))]


def _list_diff(x, y):
    keep = ~np.isin(x, y)
    return x[keep], np.nonzero(keep)[0]


class ListDiff(OpDef):
    """The values of 1-D `x` not in `y`, in order, and their positions in `x` (`out_idx`).
    graphc needs both known at compile time (shape computations in TF's gradients)."""
    type = "ListDiff"
    not_differentiable = True

    def infer(op):
        x, y = op.inputs
        for t in (x, y):
            if t.shape.ndims not in (None, 1):
                raise ValueError("Shape must be rank 1 but is rank %d for '%s'" % (
                    t.shape.ndims, op.name))
        out_idx = op.get_attr("out_idx")
        values = [constant_value(t) for t in op.inputs]
        size = None
        if all(v is not None for v in values):
            size = len(_list_diff(np.asarray(values[0]), np.asarray(values[1]))[0])
        return [(x.dtype.base_dtype, TensorShape([size])), (out_idx, TensorShape([size]))]

    def lower(ctx, op, x, y):
        xv, yv = _constant_inputs(ctx, op)
        out, idx = _list_diff(np.asarray(xv), np.asarray(yv))
        out_idx = op.get_attr("out_idx").np
        return [ctx.b.constant(out.astype(op.inputs[0].dtype.base_dtype.np)),
                ctx.b.constant(idx.astype(out_idx))]


__all__ = []
