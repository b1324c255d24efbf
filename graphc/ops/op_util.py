"""Shared pieces of op definitions: creating ops with TF's naming, partial-shape broadcasting,
dtype checks, and the lowering helpers many rules use."""

import numpy as np

from graphc import dtypes
from graphc.graph.graph import Tensor, get_default_graph
from graphc.graph.tensor_shape import TensorShape, unknown_shape
from graphc.ir.shapes import SymDim


def graph_of(values):
    for v in values:
        if isinstance(v, Tensor):
            return v.graph
        if hasattr(v, "graph") and hasattr(v, "_as_graph_element"):
            return v.graph
    return get_default_graph()


def apply_op(op_type, inputs, attrs=None, name=None, default_name=None):
    """Creates `op_type` in the graph of its inputs; returns the Operation."""
    graph = graph_of(inputs)
    return graph.create_op(op_type, list(inputs), attrs or {},
                           name=name if name is not None else (default_name or op_type))


def apply_op1(op_type, inputs, attrs=None, name=None, default_name=None):
    """`apply_op` for single-output ops: returns the output Tensor."""
    return apply_op(op_type, inputs, attrs, name, default_name).outputs[0]


def shape_str(shape):
    if shape.ndims is None:
        return "?"
    return "[%s]" % ",".join("?" if d is None else str(d) for d in shape.as_list())


def broadcast_shapes(op, a, b):
    """Static broadcast of two partial shapes; raises TF's build-time ValueError."""
    if a.ndims is None or b.ndims is None:
        return unknown_shape()
    da, db = a.as_list()[::-1], b.as_list()[::-1]
    out = []
    for i in range(max(len(da), len(db))):
        x = da[i] if i < len(da) else 1
        y = db[i] if i < len(db) else 1
        if x == 1:
            out.append(y)
        elif y == 1:
            out.append(x)
        elif x is None or y is None:
            out.append(x if y is None else y)
        elif x == y:
            out.append(x)
        else:
            raise ValueError(
                "Dimensions must be equal, but are %d and %d for '{{node %s}} = %s' with input "
                "shapes: %s, %s." % (x, y, op.name, op.type, shape_str(a), shape_str(b)))
    return TensorShape(out[::-1])


def check_dtype(op, tensor, allowed, what="T"):
    dt = tensor.dtype.base_dtype
    if dt not in allowed:
        raise TypeError("Value passed to parameter '%s' of op '%s' has DataType %s not in list "
                        "of allowed values: %s" % (what, op.name, dt.name,
                                                   ", ".join(d.name for d in allowed)))
    return dt


FLOATS = (dtypes.float16, dtypes.float32, dtypes.float64)
INTS = (dtypes.int8, dtypes.int16, dtypes.int32, dtypes.int64, dtypes.uint8, dtypes.uint16,
        dtypes.uint32, dtypes.uint64)
NUMERIC = FLOATS + INTS


def lower_broadcast(ctx, x, y):
    """Broadcasts two IR values to their numpy-broadcast shape."""
    rank = max(x.rank, y.rank)
    xs = (1,) * (rank - x.rank) + x.shape
    ys = (1,) * (rank - y.rank) + y.shape
    shape = []
    for a, b in zip(xs, ys):
        if a == 1:
            shape.append(b)
        elif b == 1 or a == b:
            shape.append(a)
        else:
            raise ValueError("Incompatible shapes: %s vs. %s" % (list(x.shape), list(y.shape)))
    return ctx.b.broadcast_to(x, shape), ctx.b.broadcast_to(y, shape)


def int_list(value):
    """A compile-time int vector as a list; a shape value's symbolic dims stay SymDims."""
    return [v if isinstance(v, SymDim) else int(v) for v in np.asarray(value).reshape(-1)]
