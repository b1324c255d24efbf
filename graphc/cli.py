"""The `graphc` command line.

    graphc inspect MODEL      what a GraphDef or MetaGraphDef file holds
    graphc compile MODEL      a C library (.so/.a and header) built ahead of time
    graphc run MODEL          the model run by the JIT on .npy feeds

Each subcommand is one function registered with `@command`: its name, help text and
arguments, and the function itself, which gets the parsed arguments and returns the exit
status. `main` builds the argparse parser from the registered commands."""

import argparse
import json
import sys

import numpy as np

_COMMANDS = []


def arg(*names, **options):
    """One argument of a subcommand, as `argparse.ArgumentParser.add_argument` takes it."""
    return names, options


def command(name, help, arguments=(), description=None):  # noqa: A002 - argparse's word
    """Registers the decorated function `fn(args) -> exit status` as subcommand `name`."""
    def register(fn):
        _COMMANDS.append((name, help, description or help, arguments, fn))
        return fn
    return register


class CommandError(Exception):
    """A failure to report as `graphc <command>: error: <message>` with exit status 1."""


# ---------------------------------------------------------------- inspect

_VARIABLE_OPS = ("VariableV2", "Variable", "VarHandleOp")


def _shape_text(shape):
    if shape is None or shape.rank is None:
        return "<unknown>"
    return "[%s]" % ",".join("?" if d is None else str(d) for d in shape.as_list())


def _attr(node, name):
    from graphc.framework.graph_io import attr_from_proto
    return attr_from_proto(node.attr[name]) if name in node.attr else None


def _dtype_name(value):
    return value.name if value is not None else "?"


def _import_for_shapes(graph_def):
    """A graphc Graph of `graph_def` (for inferred shapes), or (None, why not)."""
    import graphc
    from graphc.framework.importer import import_graph_def
    graph = graphc.Graph()
    try:
        with graph.as_default():
            import_graph_def(graph_def, name="")
    except (ValueError, TypeError) as e:
        return None, str(e)
    return graph, None


def inspect_model(path):
    """What `graphc inspect` reports about the model file `path`, as a dict."""
    from graphc.framework.importer import unsupported_ops
    from graphc.framework.model_files import load_model
    from graphc.proto import MetaGraphDef

    model = load_model(path)
    is_meta = isinstance(model, MetaGraphDef)
    graph_def = model.graph_def if is_meta else model
    graph, import_error = _import_for_shapes(graph_def)

    def shape_of(name, index=0):
        if graph is not None:
            return _shape_text(graph.get_operation_by_name(name).outputs[index].shape)
        shapes = _attr(nodes[name], "_output_shapes")
        return _shape_text(shapes[index]) if shapes and len(shapes) > index else "<unknown>"

    nodes = {node.name: node for node in graph_def.node}
    consumed = set()
    for node in graph_def.node:
        for text in node.input:
            consumed.add(text.lstrip("^").split(":")[0])
    counts = {}
    for node in graph_def.node:
        counts[node.op] = counts.get(node.op, 0) + 1
    placeholders = [{"name": node.name, "dtype": _dtype_name(_attr(node, "dtype")),
                     "shape": shape_of(node.name) if graph is not None else
                     _shape_text(_attr(node, "shape"))}
                    for node in graph_def.node
                    if node.op in ("Placeholder", "PlaceholderWithDefault")]
    fetches = []
    for node in graph_def.node:
        if node.name in consumed or node.op in ("Placeholder", "Const"):
            continue
        entry = {"name": node.name, "op": node.op}
        if graph is not None:
            outputs = graph.get_operation_by_name(node.name).outputs
            entry["outputs"] = ["%s %s" % (t.dtype.base_dtype.name, _shape_text(t.shape))
                                for t in outputs]
        fetches.append(entry)
    variables = []
    for node in graph_def.node:
        if node.op in _VARIABLE_OPS:
            shape = _attr(node, "shape")
            size = (int(np.prod(shape.as_list(), dtype=np.int64))
                    if shape is not None and shape.is_fully_defined() else None)
            variables.append({"name": node.name, "dtype": _dtype_name(_attr(node, "dtype")),
                              "shape": _shape_text(shape), "parameters": size})
    if is_meta and "trainable_variables" in model.collection_def:
        from graphc.proto import VariableDef
        trainable = {VariableDef.FromString(data).variable_name.split(":")[0] for data in
                     model.collection_def["trainable_variables"].bytes_list.value}
        for v in variables:
            v["trainable"] = v["name"] in trainable
    constants = [node for node in graph_def.node if node.op == "Const"]
    const_elements = 0
    for node in constants:
        tensor = node.attr["value"].tensor
        const_elements += int(np.prod([d.size for d in tensor.tensor_shape.dim],
                                      dtype=np.int64))
    report = {
        "file": str(path),
        "format": "MetaGraphDef" if is_meta else "GraphDef",
        "nodes": len(graph_def.node),
        "producer": graph_def.versions.producer,
        "ops_by_type": dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        "placeholders": placeholders,
        "likely_fetches": fetches,
        "variables": variables,
        "parameters": sum(v["parameters"] or 0 for v in variables),
        "trainable_parameters": sum(v["parameters"] or 0 for v in variables
                                    if v.get("trainable")),
        "constants": {"nodes": len(constants), "elements": const_elements},
        "unsupported_ops": unsupported_ops(graph_def),
    }
    if import_error and not report["unsupported_ops"]:
        report["import_error"] = import_error
    if is_meta:
        report["collections"] = {key: len(getattr(col, col.WhichOneof("kind")).value)
                                 if col.WhichOneof("kind") else 0
                                 for key, col in sorted(model.collection_def.items())}
        if model.HasField("saver_def"):
            report["saver"] = {"restore_op": model.saver_def.restore_op_name,
                               "filename_tensor": model.saver_def.filename_tensor_name}
        report["signatures"] = sorted(model.signature_def)
    return report


def _print_report(report, out):
    w = out.write
    w("%s: %s, %d nodes (GraphDef version %d)\n" % (
        report["file"], report["format"], report["nodes"], report["producer"]))
    w("\nOps by type (%d types):\n" % len(report["ops_by_type"]))
    for op_type, count in report["ops_by_type"].items():
        w("  %-40s %6d\n" % (op_type, count))
    w("\nPlaceholders (%d):\n" % len(report["placeholders"]))
    for p in report["placeholders"]:
        w("  %-40s %-8s %s\n" % (p["name"], p["dtype"], p["shape"]))
    w("\nLikely fetches (consumed by no node) (%d):\n" % len(report["likely_fetches"]))
    for f in report["likely_fetches"]:
        outputs = ", ".join(f.get("outputs", [])) or ("no outputs" if "outputs" in f else "")
        w("  %-40s %-20s %s\n" % (f["name"], f["op"], outputs))
    w("\nVariables (%d, %s parameters" % (len(report["variables"]),
                                          "{:,}".format(report["parameters"])))
    if any("trainable" in v for v in report["variables"]):
        w(", %s trainable" % "{:,}".format(report["trainable_parameters"]))
    w("):\n")
    for v in report["variables"]:
        size = "?" if v["parameters"] is None else "{:,}".format(v["parameters"])
        mark = "  trainable" if v.get("trainable") else ""
        w("  %-40s %-8s %-16s %12s%s\n" % (v["name"], v["dtype"], v["shape"], size, mark))
    w("\nConstants: %d nodes, %s elements\n" % (
        report["constants"]["nodes"], "{:,}".format(report["constants"]["elements"])))
    if "collections" in report:
        w("\nCollections (%d):\n" % len(report["collections"]))
        for key, count in report["collections"].items():
            w("  %-40s %6d\n" % (key, count))
        if "saver" in report:
            w("\nSaver: restore op %s, filename tensor %s\n" % (
                report["saver"]["restore_op"], report["saver"]["filename_tensor"]))
        if report["signatures"]:
            w("\nSignatures: %s\n" % ", ".join(report["signatures"]))
    unsupported = report["unsupported_ops"]
    if unsupported:
        w("\nUnsupported ops (%d types, graphc cannot import this graph):\n" % len(unsupported))
        for op_type, names in sorted(unsupported.items()):
            listed = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
            w("  %-40s %6d  (%s)\n" % (op_type, len(names), listed))
    else:
        w("\nUnsupported ops: none\n")
    if "import_error" in report:
        w("\ngraphc cannot import this graph: %s\n" % report["import_error"])


@command("inspect", "summarize a GraphDef or MetaGraphDef file",
         description="Summarize a TensorFlow model file (GraphDef .pb/.graph/.pbtxt or "
                     "MetaGraphDef .meta, binary or text): ops by type, placeholders and "
                     "their shapes, likely fetches (nodes nobody consumes), variables and "
                     "their parameter count, and the op types graphc does not support.",
         arguments=[arg("model", help="the model file"),
                    arg("--json", action="store_true",
                        help="print the report as JSON")])
def inspect_command(args):
    from graphc.framework.model_files import ModelFileError
    try:
        report = inspect_model(args.model)
    except (OSError, ModelFileError) as e:
        raise CommandError(str(e)) from None
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_report(report, sys.stdout)
    return 0


# ---------------------------------------------------------------- compile and run

class _Ordered(argparse.Action):
    """Records (option, value) in command-line order in `namespace.ordered`: the entry each
    --feed/--fetch/--train-op belongs to is the last --entry before it."""

    def __call__(self, parser, namespace, values, option_string=None):
        items = list(getattr(namespace, "ordered", None) or [])
        items.append((self.dest, values))
        namespace.ordered = items


@command("compile", "compile a model to a C library (.so and header)",
         description="Compile a GraphDef (.graph/.pb/.pbtxt) or MetaGraphDef (.meta) ahead of "
                     "time into a self-contained shared library with a C API (NAME_create, "
                     "NAME_run, ...; see the generated header). Feeds and fetches are positional "
                     "in command-line order; `?` in a feed shape is the batch, set at run time "
                     "with NAME_set_batch. --entry ENTRY starts a named entry point "
                     "(NAME_ENTRY_run); all entries share the variables.",
         arguments=[arg("model", help="the model file"),
                    arg("-o", "--output", required=True, metavar="libNAME.so",
                        help="the shared library to write"),
                    arg("--name", help="the C prefix of the API (default: from the output "
                                       "file name)"),
                    arg("--header", metavar="NAME.h", help="the header to write (default: "
                                                           "NAME.h beside the library)"),
                    arg("--static", metavar="libNAME.a", help="also write a static library"),
                    arg("--feed", action=_Ordered, metavar="NAME[=SHAPE]",
                        help="a feed (op or tensor name), optionally its shape: comma-separated "
                             "sizes, `?` for the batch (e.g. x=?,784)"),
                    arg("--fetch", action=_Ordered, metavar="NAME", help="a fetched tensor"),
                    arg("--train-op", action=_Ordered, dest="train_op", metavar="NAME",
                        help="an op each run applies (e.g. the optimizer's update)"),
                    arg("--entry", action=_Ordered, metavar="ENTRY",
                        help="start entry point ENTRY: the feeds, fetches and train op that "
                             "follow belong to it"),
                    arg("--checkpoint", metavar="PATH",
                        help="initialize the variables from this checkpoint"),
                    arg("--freeze", action="store_true",
                        help="bake the variables in as constants"),
                    arg("--target-cpu", default="native", metavar="CPU",
                        help="native (default), generic, or an LLVM CPU name"),
                    arg("--target-triple", metavar="TRIPLE",
                        help="the target triple (default: the host's)")])
def compile_command(args):
    from graphc.aot import AotError, compile_library, split_entries
    try:
        specs = split_entries(getattr(args, "ordered", None) or [])
        lib = compile_library(args.model, specs, args.output, name=args.name,
                              header=args.header, static=args.static,
                              checkpoint=args.checkpoint, frozen=args.freeze,
                              target_cpu=args.target_cpu, target_triple=args.target_triple)
    except (OSError, AotError) as e:
        raise CommandError(str(e).strip()) from None
    sys.stdout.write("wrote %s and %s%s (%d %s; %s bytes of state, %s bytes of constants)\n"
                     % (lib.output, lib.header, " and %s" % lib.static if lib.static else "",
                        len(lib.entries), "entry" if len(lib.entries) == 1 else "entries",
                        "{:,}".format(lib.state_bytes), "{:,}".format(lib.constant_bytes)))
    return 0


@command("run", "run a model on .npy inputs (JIT) and print or save the outputs",
         description="Run a GraphDef or MetaGraphDef with graphc's JIT: feeds come from .npy "
                     "files, variables from their initializers or --checkpoint; the fetched "
                     "values are printed, or saved to an .npz with --output.",
         arguments=[arg("model", help="the model file"),
                    arg("--feed", action="append", default=[], metavar="NAME=FILE.npy",
                        help="a feed and the .npy file holding its value"),
                    arg("--fetch", action="append", default=[], metavar="NAME",
                        help="a tensor to fetch"),
                    arg("--checkpoint", metavar="PATH",
                        help="initialize the variables from this checkpoint"),
                    arg("--output", metavar="FILE.npz",
                        help="save the fetched values here instead of printing them")])
def run_command(args):
    import graphc
    from graphc.aot.entries import AotError, load_graph, variable_values
    if not args.fetch:
        raise CommandError("give at least one --fetch")
    try:
        graph, meta = load_graph(args.model)
        feeds = {}
        for item in args.feed:
            name, sep, path = item.partition("=")
            if not sep:
                raise CommandError("--feed %s: expected NAME=FILE.npy" % item)
            feeds[name if ":" in name else name + ":0"] = np.load(path, allow_pickle=False)
        sess = graphc.Session(graph=graph)
        fetches = [f if ":" in f else f + ":0" for f in args.fetch]
        names = [op.name for op in graph.get_operations()
                 if op.type in ("VariableV2", "Variable")]
        if names:
            sess._assign_variable_values(variable_values(graph, meta, names, args.checkpoint))
        values = sess.run(fetches, feeds)
    except CommandError:
        raise
    except (OSError, ValueError, TypeError, KeyError, AotError) as e:
        raise CommandError(str(e).strip()) from None
    except graphc.errors.OpError as e:
        raise CommandError(e.message) from None
    if args.output:
        np.savez(args.output, **{name: np.asarray(v) for name, v in zip(fetches, values)})
        return 0
    for name, value in zip(fetches, values):
        value = np.asarray(value)
        sys.stdout.write("%s %s%s\n%s\n" % (name, value.dtype, list(value.shape),
                                            np.array2string(value, threshold=10000)))
    return 0


# ---------------------------------------------------------------- main

def build_parser():
    parser = argparse.ArgumentParser(
        prog="graphc", description="graphc: a compiler for TensorFlow-1-style graphs.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name, help_text, description, arguments, fn in _COMMANDS:
        sub = subparsers.add_parser(name, help=help_text, description=description)
        for names, options in arguments:
            sub.add_argument(*names, **options)
        sub.set_defaults(run=fn)
    return parser


def main(argv=None):
    """Runs the `graphc` command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except CommandError as e:
        sys.stderr.write("graphc %s: error: %s\n" % (args.command, e))
        return 1


if __name__ == "__main__":
    sys.exit(main())
