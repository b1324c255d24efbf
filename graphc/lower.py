"""Layer 2: lowering. Turns the pruned subgraph of one (feeds, fetches, targets) set, with the
concrete feed shapes, into one core-IR function following the calling convention: feeds, then
the state vector (variables read or written, random counters), fetches and new state values.

Variables. A VariableV2 output is a reference; Identity forwards it (its output aliases the
variable), and an op that consumes it reads the variable *when that op runs*: it sees the value
of the latest Assign-like op among its ancestors (data or control), or the value on entry when
no write is ordered before it. So unordered reads see the old value and ordered reads the new
one, and the function stores the last write of each variable. Read-modify-write ops
(AssignAdd, AssignSub) apply in creation order, so two unordered `assign_add`s both count, as
they do in TF. A fetched reference gives the variable's value at the end of the run, as TF's
aliased fetch does.

TF1 control flow with a predicate known at compile time (`IsVariableInitialized`, which the
session answers from its state, feeding `Switch`/`Merge` as in `Variable.initialized_value()`):
the untaken branch is dead, as in TF's executor: an op with a dead input or control input does
not run (it neither reads nor writes) and its outputs are dead; `Merge` forwards its live
input."""

import numpy as np

from graphc import errors
from graphc.graph import op_registry
from graphc.ir.builder import Builder
from graphc.ir.core import Function, Instr, StateSlot, Value
from graphc.ir.primitives import PRIMITIVES
from graphc.ir.shapes import SymDim, num_elements


class _Dead:
    """The value of a tensor on an untaken control-flow branch."""

    def __repr__(self):
        return "DEAD"


DEAD = _Dead()


class VarRef:
    """Marks a tensor whose value is a variable reference, resolved at each consumer."""

    __slots__ = ("var_op",)

    def __init__(self, var_op):
        self.var_op = var_op


class LoweringContext:
    """What a lowering rule sees: the builder `b`, compile-time inputs, state access."""

    def __init__(self, fn, ops, is_initialized=None):
        self.fn = fn
        self.b = Builder(fn)
        self._ops = ops
        self._values = {}
        self._slots = {}
        self._writes = {}  # var op -> [(assign op, value)] in program order
        self._ancestors = {}
        self._read_before_write = set()
        self._dead_ops = set()
        self._is_initialized = is_initialized
        self.init_queries = {}  # variable name -> initialized at entry, as asked by the graph
        self._symbolic = {}  # value id -> its shape value (object array of ints and SymDims)

    # ---- rule helpers
    def const(self, op, index):
        """The value of input `index` of `op` known at compile time (numpy), or an error naming
        the node: shape arguments must be computable from constants and static shapes."""
        v = self._input_value(op, index)
        if v.id in self._symbolic:
            return self._symbolic[v.id]
        if not v.is_constant:
            raise ValueError("%s (%s): input %d (%s) must be a compile-time constant" % (
                op.name, op.type, index, op.inputs[index].name))
        return v.constant_value

    def dim_value(self, dim, dtype):
        """Dimension `dim` (int or SymDim) as an IR scalar of `dtype`: a constant, or the
        symbol's run-time value (`dim_size`) times its coefficient."""
        dtype = np.dtype(dtype)
        if not isinstance(dim, SymDim):
            return self.b.constant(np.asarray(dim, dtype=dtype))
        size = self.b.emit1("dim_size", dim=SymDim(dim.name), dtype=dtype)
        if dim.coeff == 1:
            return size
        return self.b.emit1("mul", size, self.b.constant(np.asarray(dim.coeff, dtype=dtype)))

    def shape_value(self, shape, dtype):
        """`shape` as a 1-D IR value of `dtype` (TF's `Shape`): a constant when static, else
        built from `dim_size`s. Its symbolic value (ints and SymDims) stays known to `const`,
        so a consumer needing the shape at compile time (Reshape, Fill...) still gets it."""
        dtype = np.dtype(dtype)
        if not any(isinstance(d, SymDim) for d in shape):
            return self.b.constant(np.array(shape, dtype=dtype))
        parts = [self.b.reshape(self.dim_value(d, dtype), (1,)) for d in shape]
        value = self.b.emit1("concatenate", *parts, axis=0)
        self._symbolic[value.id] = np.array(shape, dtype=object)
        return value

    def size_value(self, shape, dtype):
        """The element count of `shape` as an IR scalar of `dtype` (TF's `Size`)."""
        return self.dim_value(num_elements(shape), dtype)

    def maybe_const(self, op, index):
        v = self._input_value(op, index)
        return v.constant_value if v.is_constant else None

    def state(self, name, dtype, shape, kind):
        """The value on entry of state slot `name` (created on first use)."""
        if name not in self._slots:
            slot = StateSlot(name, dtype, shape, kind, read_before_write=False)
            self._slots[name] = (len(self.fn.state), self.fn.add_state(slot))
        return self._slots[name][1]

    def set_state(self, name, value):
        index, _ = self._slots[name]
        self.fn.state_out[index] = value

    # ---- variables
    def _var_slot(self, var_op):
        shape = var_op.get_attr("shape")
        if not shape.is_fully_defined():
            raise ValueError("Variable %s has a shape that is not fully defined: %s" % (
                var_op.name, shape))
        return self.state(var_op.name, var_op.get_attr("dtype").np, tuple(shape.as_list()),
                          "variable")

    def _ancestor_ids(self, op):
        if op not in self._ancestors:
            out = set()
            stack = [p.op for p in op.inputs] + list(op.control_inputs)
            while stack:
                p = stack.pop()
                if p._id in out or p not in self._ops:
                    continue
                out.add(p._id)
                if p in self._ancestors:
                    out |= self._ancestors[p]
                    continue
                stack.extend(t.op for t in p.inputs)
                stack.extend(p.control_inputs)
            self._ancestors[op] = out
        return self._ancestors[op]

    def _read_variable(self, var_op, at_op, latest=False):
        """The value `at_op` reads: the latest write ordered before it (any earlier write when
        `latest`, for read-modify-write ops), else the value on entry."""
        writes = self._writes.get(var_op, [])
        if writes:
            if latest:
                return writes[-1][1]
            ancestors = self._ancestor_ids(at_op)
            for w_op, value in reversed(writes):
                if w_op._id in ancestors:
                    return value
        self._read_before_write.add(var_op.name)
        return self._var_slot(var_op)

    def _resolve(self, value, at_op, index):
        if isinstance(value, VarRef):
            opdef = at_op.op_def
            writes_input = getattr(opdef, "writes_ref", False) and \
                index in getattr(opdef, "written_inputs", (0,))
            if writes_input and not getattr(opdef, "reads_ref", True):
                return None  # Assign replaces the value without reading it
            return self._read_variable(value.var_op, at_op, latest=writes_input)
        return value

    def is_initialized(self, var_op, at_op):
        """Whether variable `var_op` holds a value when `at_op` runs: written by an op ordered
        before it, or initialized in the session on entry (recorded for the cache key)."""
        ancestors = self._ancestor_ids(at_op)
        if any(w_op._id in ancestors for w_op, _ in self._writes.get(var_op, [])):
            return True
        if var_op.name not in self.init_queries:
            known = self._is_initialized(var_op.name) if self._is_initialized else False
            self.init_queries[var_op.name] = bool(known)
        return self.init_queries[var_op.name]

    def _input_value(self, op, index):
        return self._resolve(self._values[op.inputs[index]], op, index)

    # ---- driver
    def bind(self, tensor, value):
        self._values[tensor] = value

    def lower_op(self, op):
        opdef = op_registry.get(op.type)
        if opdef.lower is None:
            raise NotImplementedError("%s (%s): graphc cannot lower this op type" % (
                op.name, op.type))
        if all(t in self._values for t in op.outputs) and op.outputs:
            return  # every output is fed
        raw = [self._values[t] for t in op.inputs]
        if not getattr(opdef, "accepts_dead", False) and (
                any(v is DEAD for v in raw) or any(c in self._dead_ops for c in
                                                   op.control_inputs)):
            self._dead_ops.add(op)
            for t in op.outputs:
                self._values.setdefault(t, DEAD)
            return
        if getattr(opdef, "writes_ref", False):
            _check_written_refs(op, opdef, raw)
        if opdef.forwards_ref:
            outs = opdef.lower(self, op, *raw)
        else:
            args = [self._resolve(v, op, i) for i, v in enumerate(raw)]
            try:
                outs = opdef.lower(self, op, *args)
            except (ValueError, TypeError) as e:
                if op.name in str(e):
                    raise
                raise type(e)("%s (%s): %s" % (op.name, op.type, e)) from e
            if getattr(opdef, "writes_ref", False):
                outs = self._record_writes(op, opdef, raw, outs)
            elif any(a.id in self._symbolic for a in args if a is not None):
                outs = self._shape_arithmetic(op, opdef, args, outs)
        if not isinstance(outs, (list, tuple)):
            outs = [outs]
        if len(outs) != len(op.outputs):
            raise AssertionError("%s lowered to %d values for %d outputs" % (
                op.name, len(outs), len(op.outputs)))
        for t, v in zip(op.outputs, outs):
            if t in self._values:
                continue  # fed
            if not isinstance(v, VarRef) and v is not DEAD:
                _check_lowered(t, v)
            self._values[t] = v

    def _shape_arithmetic(self, op, opdef, args, outs):
        """Lowers `op` again on the compile-time values of its inputs when they are shape
        values or constants (Slice, ConcatV2, Pack... of a Shape), so its result stays known:
        a constant when no symbolic dim remains, else a shape value for `const`. An op that
        cannot compute on SymDims keeps only its run-time value."""
        if not all(a.is_constant or a.id in self._symbolic for a in args):
            return outs
        scratch = _ShapeContext([self._symbolic.get(a.id, a.constant_value) for a in args])
        try:
            known = opdef.lower(scratch, op, *[_shape_constant(a.dtype, v)
                                               for a, v in zip(args, scratch.values)])
        except Exception:  # noqa: BLE001 - not shape arithmetic: the run-time value serves
            return outs
        known = known if isinstance(known, (list, tuple)) else [known]
        outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
        for i, (out, k) in enumerate(zip(outs, known)):
            if not k.is_constant:
                continue
            value = np.asarray(k.constant_value)
            if any(isinstance(d, SymDim) for d in value.reshape(-1)):
                self._symbolic[out.id] = value
            else:
                outs[i] = self.b.constant(value.astype(out.dtype))
        return outs

    def _record_writes(self, op, opdef, raw, outs):
        """Records the variables `op` writes. Its rule returns one new value per index in
        `opdef.written_inputs` (default `(0,)`: Assign-like ops), in that order; optimizer
        updates such as ApplyAdam write the variable and its slots. The op's output is the
        reference of the first written input (its new value when that input was fed)."""
        written = getattr(opdef, "written_inputs", (0,))
        news = list(outs) if isinstance(outs, (list, tuple)) else [outs]
        for index, new in zip(written, news):
            ref = raw[index]
            if isinstance(ref, VarRef):
                self._var_slot(ref.var_op)
                self._writes.setdefault(ref.var_op, []).append((op, new))
        first = raw[written[0]]
        return VarRef(first.var_op) if isinstance(first, VarRef) else news[0]

    def fetch(self, tensor):
        """A fetched variable reference is read when the run ends, as TF copies the aliased
        buffer after the step: it gives the variable's final value."""
        value = self._values[tensor]
        if value is DEAD:
            raise errors.InvalidArgumentError(
                None, tensor.op, "Retval[%d] does not have value: %s is on an untaken branch"
                % (len(self.fn.fetches), tensor.name))
        if isinstance(value, VarRef):
            writes = self._writes.get(value.var_op)
            if writes:
                return writes[-1][1]
            return self._read_variable(value.var_op, tensor.op)
        return value

    def finish(self):
        for var_op, writes in self._writes.items():
            self.set_state(var_op.name, writes[-1][1])
        for slot in self.fn.state:
            if slot.kind != "variable" or slot.name in self._read_before_write:
                slot.read_before_write = True


def _shape_constant(dtype, value):
    """A constant IR value of `dtype` whose elements may be SymDims (a shape value)."""
    value = np.asarray(value)
    return Value(dtype, value.shape, producer=Instr("constant", [], {"value": value}, []))


class _ShapeBuilder(Builder):
    """Evaluates each primitive at once on constants that may hold SymDims (object arrays)."""

    def emit(self, op, operands, **params):
        if op == "constant":
            return super().emit(op, operands, **params)
        if not all(o.is_constant for o in operands):
            raise ValueError("not a shape computation")
        prim = PRIMITIVES[op]
        types = prim.infer(*operands, **params)
        outs = prim.reference(*[o.constant_value for o in operands], **params)
        outs = outs if prim.num_outputs > 1 else [outs]
        return [_shape_constant(t, o) for o, (t, _) in zip(outs, types)]


class _ShapeContext:
    """The lowering context of `LoweringContext._shape_arithmetic`: inputs are known values."""

    def __init__(self, values):
        self.values = values
        self.b = _ShapeBuilder(Function("shape_arithmetic"))

    def const(self, op, index):
        return self.values[index]

    maybe_const = const


def _check_written_refs(op, opdef, raw):
    """A write needs the variable itself: feeding the reference it writes is TF's error."""
    for index in getattr(opdef, "written_inputs", (0,)):
        if not isinstance(raw[index], VarRef):
            t = op.inputs[index]
            name = _TF_TYPE_NAMES.get(t.dtype.base_dtype.name, t.dtype.base_dtype.name)
            raise errors.InvalidArgumentError(
                None, op, "Input %d of node %s was passed %s from %s incompatible with expected "
                "%s_ref." % (index, op.name, name, t.name, name))


def _check_lowered(tensor, value):
    want = tensor.dtype.base_dtype.np
    if value.dtype != want:
        raise AssertionError("%s lowered to dtype %s, expected %s" % (tensor.name, value.dtype,
                                                                     want))
    static = tensor.shape
    if static.ndims is not None:
        ok = len(value.shape) == static.ndims and all(
            s is None or not isinstance(d, int) or d == s
            for d, s in zip(value.shape, static.as_list()))
        if not ok:
            raise AssertionError("%s lowered to shape %s, static shape is %s" % (
                tensor.name, value.shape, static))


def prune(fetch_ops, fed_tensors):
    """The ops needed to compute `fetch_ops`, walking inputs (except fed tensors) and control
    inputs. Returned in creation order, which is a topological order."""
    needed = set()
    stack = list(fetch_ops)
    while stack:
        op = stack.pop()
        if op in needed:
            continue
        needed.add(op)
        stack.extend(t.op for t in op.inputs if t not in fed_tensors)
        stack.extend(op.control_inputs)
    return sorted(needed, key=lambda op: op._id)


def lower(fetches, targets, feeds, name="main", is_initialized=None, init_queries=None):
    """Lowers the subgraph computing `fetches` (Tensors) and running `targets` (Operations),
    given `feeds`: {Tensor: (numpy dtype, shape)}. Returns the IR Function; its state slots name
    the variables and random ops used. `is_initialized(variable name)` answers
    IsVariableInitialized ops; the answers used are stored in the dict `init_queries`."""
    fed = set(feeds)
    ops = prune([t.op for t in fetches] + list(targets), fed)
    fn = Function(name)
    ctx = LoweringContext(fn, set(ops), is_initialized)
    for t, (dtype, shape) in feeds.items():
        ctx.bind(t, fn.add_feed(t.name, dtype, shape))
    for op in ops:
        ctx.lower_op(op)
    for t in fetches:
        fn.add_fetch(t.name, ctx.fetch(t))
    ctx.finish()
    if init_queries is not None:
        init_queries.update(ctx.init_queries)
    return fn


_TF_TYPE_NAMES = {"float32": "float", "float64": "double", "float16": "half"}


def missing_feed_error(op):
    """The error TF raises when a Placeholder is not fed (with the shape only when its rank is
    known and nonzero, as TF prints it)."""
    shape = op.get_attr("shape")
    dtype = op.get_attr("dtype").base_dtype
    message = "You must feed a value for placeholder tensor '%s' with dtype %s" % (
        op.name, _TF_TYPE_NAMES.get(dtype.name, dtype.name))
    if shape.ndims:
        message += " and shape [%s]" % ",".join("?" if d is None else str(d)
                                                for d in shape.as_list())
    return errors.InvalidArgumentError(None, op, message)

