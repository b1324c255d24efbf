"""From `graphc compile`'s arguments to lowered IR functions: the model file imported into a
graphc Graph, one IR function per entry point (its feeds, fetches and train op), the state
layout the entries share (every variable and random counter any entry uses, in first-use
order), and the initial state values (the graph's initializers run in a Session, or a
checkpoint). With `freeze`, variables become constants before lowering.

A `?` in a feed shape is the symbolic batch `N` (graphc.ir.shapes.SymDim): the library takes
its value at run time, training entries included (graphc.lower keeps the shapes of
batch-sized tensors symbolic). An entry whose shape arithmetic cannot stay symbolic (e.g. a
shape value computed on in a way other than slicing, concatenating and packing) needs a fixed
batch, and the error says so, naming the node."""

import os

import numpy as np

from graphc import errors
from graphc.ir.shapes import SymDim

BATCH = "N"
_VARIABLE_OPS = ("VariableV2", "Variable")


class AotError(ValueError):
    """Bad arguments or a model the AoT compiler cannot build: one clear line."""


class EntrySpec:
    """One entry point as given on the command line: feeds [(name, shape text or None)],
    fetch names, and the train op name (or None). `name` is None for the library's own."""

    def __init__(self, name=None):
        self.name = name
        self.feeds = []
        self.fetches = []
        self.train_op = None


def split_entries(items):
    """EntrySpecs from the ordered (option, value) pairs of --entry/--feed/--fetch/--train-op:
    options before the first --entry belong to the library's unnamed entry."""
    entries = [EntrySpec()]
    for option, value in items:
        current = entries[-1]
        if option == "entry":
            if not value.isidentifier():
                raise AotError("--entry %s: an entry name must be a C identifier" % value)
            if any(e.name == value for e in entries):
                raise AotError("--entry %s is given twice" % value)
            entries.append(EntrySpec(value))
        elif option == "feed":
            name, _, shape = value.partition("=")
            current.feeds.append((name, shape if "=" in value else None))
        elif option == "fetch":
            current.fetches.append(value)
        elif option == "train_op":
            if current.train_op is not None:
                raise AotError("entry %s has two --train-op" % (current.name or "(default)"))
            current.train_op = value
    first = entries[0]
    if len(entries) > 1:
        if first.feeds or first.fetches or first.train_op:
            raise AotError("--feed/--fetch/--train-op given before the first --entry: with "
                           "--entry, every feed and fetch belongs to a named entry")
        entries = entries[1:]
    for e in entries:
        if not e.fetches and e.train_op is None:
            raise AotError("entry %s has no --fetch and no --train-op" % (e.name or
                                                                         "(default)"))
    return entries


def load_graph(path):
    """(graphc Graph, MetaGraphDef or None) of the model file `path`."""
    import graphc
    from graphc.framework.model_files import load_model
    from graphc.proto import MetaGraphDef
    model = load_model(path)
    graph = graphc.Graph()
    with graph.as_default():
        if isinstance(model, MetaGraphDef):
            graphc.train.import_meta_graph(model)
            return graph, model
        graphc.import_graph_def(model, name="")
    return graph, None


def _tensor(graph, name, what):
    try:
        element = graph.as_graph_element(name if ":" in name else name + ":0",
                                         allow_tensor=True, allow_operation=False)
    except (KeyError, ValueError, TypeError):
        raise AotError("%s %s: the graph has no such tensor" % (what, name)) from None
    return element


def parse_shape(text, tensor):
    """The feed shape of `tensor` given as `text` ("?,784"; None: the placeholder's own, an
    unknown leading dimension becoming the batch)."""
    static = tensor.shape
    if text is None:
        if static.ndims is None:
            raise AotError("--feed %s: the placeholder's rank is unknown; give its shape "
                           "(--feed %s=?,...)" % (tensor.op.name, tensor.op.name))
        dims = static.as_list()
        shape = []
        for i, d in enumerate(dims):
            if d is None and i == 0:
                shape.append(SymDim(BATCH))
            elif d is None:
                raise AotError("--feed %s: dimension %d of its shape %s is unknown; give the "
                               "shape (--feed %s=...)" % (tensor.op.name, i, static,
                                                          tensor.op.name))
            else:
                shape.append(d)
        return tuple(shape)
    shape = []
    for part in text.split(",") if text.strip() else []:
        part = part.strip()
        if part == "?":
            shape.append(SymDim(BATCH))
        elif part.isdigit():
            shape.append(int(part))
        else:
            raise AotError("--feed %s=%s: a shape is comma-separated sizes, `?` for the batch"
                           % (tensor.op.name, text))
    if not tensor.shape.is_compatible_with([None if isinstance(d, SymDim) else d
                                            for d in shape]):
        raise AotError("--feed %s=%s: the shape is not compatible with the tensor's %s" % (
            tensor.op.name, text, tensor.shape))
    return tuple(shape)


class Lowered:
    """One entry point lowered: its spec, IR function and the state index of each slot."""

    def __init__(self, spec, fn, state_index):
        self.spec = spec
        self.fn = fn
        self.state_index = state_index


def lower_entries(graph, specs):
    """[Lowered] and the shared state layout [StateSlot]."""
    layout, by_name, out = [], {}, []
    for spec in specs:
        label = "entry %s" % spec.name if spec.name else "the library"
        feeds = {}
        for name, text in spec.feeds:
            t = _tensor(graph, name, "--feed")
            if t in feeds:
                raise AotError("--feed %s is given twice in %s" % (name, label))
            shape = parse_shape(text, t)
            feeds[t] = (np.dtype(t.dtype.base_dtype.as_numpy_dtype), shape)
            if feeds[t][0] == object:
                raise AotError("--feed %s: string tensors cannot be fed to a C library" % name)
        fetches = [_tensor(graph, name, "--fetch") for name in spec.fetches]
        targets = []
        if spec.train_op is not None:
            try:
                targets.append(graph.get_operation_by_name(spec.train_op.split(":")[0]))
            except (KeyError, ValueError):
                raise AotError("--train-op %s: the graph has no such op" % spec.train_op) \
                    from None
        symbolic = any(isinstance(d, SymDim) for _, shape in feeds.values() for d in shape)
        try:
            fn = _lower(fetches, targets, feeds, spec, label)
        except AotError as e:
            if not symbolic:
                raise
            # A failure that a fixed batch does not have is the `?`'s: say so.
            _lower(fetches, targets, {t: (dt, tuple(2 if isinstance(d, SymDim) else d
                                                    for d in shape))
                                      for t, (dt, shape) in feeds.items()}, spec, label)
            raise AotError("%s cannot take a `?` batch: %s. Give its feeds a fixed batch "
                           "(e.g. --feed x=32,...)" % (label, e.cause)) from None
        for t, v in zip(fetches, fn.fetches):
            if v.dtype == object:
                raise AotError("--fetch %s: string tensors cannot be fetched by a C library"
                               % t.name)
        if symbolic:
            fn.dims = [BATCH]
        index = []
        for slot in fn.state:
            if slot.name not in by_name:
                by_name[slot.name] = len(layout)
                layout.append(slot)
            shared = layout[by_name[slot.name]]
            if (shared.dtype, shared.shape, shared.kind) != (slot.dtype, slot.shape, slot.kind):
                raise AotError("state %s differs between entries" % slot.name)
            index.append(by_name[slot.name])
        out.append(Lowered(spec, fn, index))
    return out, layout


def _lower(fetches, targets, feeds, spec, label):
    from graphc.lower import lower
    try:
        return lower(fetches, targets, feeds, name=spec.name or "main",
                     is_initialized=lambda name: True)
    except (ValueError, TypeError, NotImplementedError) as e:
        cause = str(e)
    except errors.OpError as e:  # TF's run-time errors (an unfed placeholder...)
        cause = e.message
    error = AotError("%s: %s" % (label, cause))
    error.cause = cause
    raise error


# ---------------------------------------------------------------- initial values

def _initializers(graph, meta):
    """{variable op name: its initializer op}: the meta graph's VariableDefs, else TF's
    `<variable>/Assign` convention."""
    inits = {}
    if meta is not None and "variables" in meta.collection_def:
        from graphc.proto import VariableDef
        for data in meta.collection_def["variables"].bytes_list.value:
            vdef = VariableDef.FromString(data)
            try:
                inits[vdef.variable_name.split(":")[0]] = graph.get_operation_by_name(
                    vdef.initializer_name)
            except (KeyError, ValueError):
                pass
    for op in graph.get_operations():
        if op.type in _VARIABLE_OPS and op.name not in inits:
            try:
                init = graph.get_operation_by_name(op.name + "/Assign")
            except (KeyError, ValueError):
                continue
            if init.type == "Assign" and init.inputs[0].op is op:
                inits[op.name] = init
    return inits


def _read_checkpoint(path, graph, meta):
    """{variable op name: value} from graphc's checkpoint `path` (the prefix, or the .npz)."""
    from graphc.train.checkpoint_management import CHECKPOINT_SUFFIX
    from graphc.train.saver import _restore_keys
    file = path if path.endswith(CHECKPOINT_SUFFIX) else path + CHECKPOINT_SUFFIX
    if not os.path.exists(file):
        raise AotError("--checkpoint %s: no such checkpoint (%s)" % (path, file))
    keys = {}
    if meta is not None and meta.HasField("saver_def"):
        keys = {k: op.name for k, op in
                _restore_keys(graph, meta.saver_def.restore_op_name).items()}
    try:
        with np.load(file, allow_pickle=False) as data:
            return {keys.get(k, k): data[k] for k in data.files}
    except (OSError, ValueError) as e:
        raise AotError("--checkpoint %s: cannot read %s: %s" % (path, file, e)) from None


def variable_values(graph, meta, names, checkpoint=None):
    """{name: initial value} for the variables `names`: from the checkpoint where it has them,
    else from running the graph's initializers (in an interpreter Session)."""
    import graphc
    values = _read_checkpoint(checkpoint, graph, meta) if checkpoint else {}
    missing = [n for n in names if n not in values]
    if missing:
        inits = _initializers(graph, meta)
        lacking = [n for n in missing if n not in inits]
        if lacking:
            raise AotError("variable %s has no initializer in the graph%s; pass --checkpoint"
                           % (lacking[0], " nor in the checkpoint" if checkpoint else ""))
        previous = graphc.config.get_backend()
        graphc.config.set_backend("interpreter")
        try:
            sess = graphc.Session(graph=graph)
        finally:
            graphc.config.set_backend(previous)
        with sess:
            try:
                sess.run([inits[n] for n in missing])
                values.update(sess._variable_values(missing))
            except errors.OpError as e:
                raise AotError("running the variables' initializers failed: %s" % e.message) \
                    from None
    out = {}
    for name in names:
        op = graph.get_operation_by_name(name)
        want = np.dtype(op.get_attr("dtype").base_dtype.as_numpy_dtype)
        shape = tuple(op.get_attr("shape").as_list())
        value = np.asarray(values[name])
        if value.dtype != want or value.shape != shape:
            raise AotError("variable %s is %s%s but its initial value is %s%s" % (
                name, want, list(shape), value.dtype, list(value.shape)))
        out[name] = np.ascontiguousarray(value)
    return out


def freeze(graph, meta, specs, checkpoint=None):
    """A new Graph with every variable the entries need replaced by a Const of its initial
    value (graph_util.convert_variables_to_constants)."""
    import graphc
    from graphc.framework.graph_util import convert_variables_to_constants, extract_sub_graph
    if any(s.train_op for s in specs):
        raise AotError("--freeze bakes variables in as constants: it cannot be used with "
                       "--train-op")
    outputs = sorted({name.split(":")[0] for s in specs for name in s.fetches} |
                     {name.split(":")[0] for s in specs for name, _ in s.feeds})
    for s in specs:
        for name in s.fetches:
            _tensor(graph, name, "--fetch")
        for name, _ in s.feeds:
            _tensor(graph, name, "--feed")
    graph_def = graph.as_graph_def()
    sub = extract_sub_graph(graph_def, outputs)
    names = [n.name for n in sub.node if n.op in _VARIABLE_OPS]
    values = variable_values(graph, meta, names, checkpoint)

    class _Values:  # what convert_variables_to_constants reads: the values by tensor name
        def run(self, fetches):
            return [values[f.split(":")[0]] for f in fetches]

    frozen = convert_variables_to_constants(_Values(), graph_def, outputs)
    out = graphc.Graph()
    with out.as_default():
        graphc.import_graph_def(frozen, name="")
    return out
