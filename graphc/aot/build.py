"""`graphc compile`: a model file and entry specs to a self-contained shared (or static) library
and its C header.

Each entry's IR function goes through the pass pipeline and the CPU backend with its library
code in the module (`build_module(standalone=True)`); the module is compiled to an object file
for the requested target (position-independent), its entry function renamed to a hidden
`NAME_..._graph` symbol and every other function made internal, so several entries (and
several graphc libraries) link side by side. The API source (graphc/aot/cgen.py, which includes
runtime/graphc_rt.c) is compiled with the system C compiler (`$CC`, default `cc`) with hidden
visibility, and everything is linked with `-shared` (or archived with `ar` after a relocatable
link that localizes the hidden symbols, for `--static`). The GEMM code follows the target
CPU's vector width (`llvm.vector_bytes(tm)`): an AVX-512 CPU gets the AVX-512 blocking, in
its kernels and in the scratch space the buffer plan reserves for them."""

import os
import shutil
import subprocess
import tempfile

import llvmlite.binding as llvm_binding
import numpy as np

from graphc.aot import cgen
from graphc.aot.entries import (BATCH, AotError, freeze, load_graph, lower_entries,
                                variable_values)

RUNTIME_DIR = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "runtime"))


def target_machine(cpu="native", triple=None):
    """An LLVM TargetMachine for AoT objects: PIC, -O3, for `cpu` ("native": the host's CPU
    and features, "generic", or an LLVM CPU name) and `triple` (default: the host's)."""
    from graphc.backend.cpu import llvm
    llvm.host_cpu()  # initializes the native target
    host_triple = llvm.triple()
    triple = triple or host_triple
    try:
        target = llvm_binding.Target.from_triple(triple)
    except RuntimeError as e:
        raise AotError("--target-triple %s: %s" % (triple, e)) from None
    features = ""
    if cpu == "native":
        if triple != host_triple:
            raise AotError("--target-cpu native needs the host's triple; name a CPU for %s"
                           % triple)
        cpu, features = llvm.host_cpu()
    return target.create_target_machine(cpu=cpu, features=features, opt=3, reloc="pic",
                                        codemodel="default")


def _object(text, entry, symbol, tm):
    """Object code of one entry module, its entry renamed to `symbol` (hidden) and every other
    defined function internal."""
    from graphc.backend.cpu import llvm
    with llvm._compile_lock:
        module = llvm_binding.parse_assembly(text)
        module.verify()
        module.triple = tm.triple
        module.data_layout = str(tm.target_data)
        for fn in module.functions:
            if fn.is_declaration:
                continue
            if fn.name == entry:
                fn.name = symbol
                fn.visibility = "hidden"
            else:
                fn.linkage = "internal"
        llvm.optimize(module, tm)
        return tm.emit_object(module)


def _run(cmd, what):
    try:
        subprocess.run(cmd, check=True, capture_output=True)
    except FileNotFoundError:
        raise AotError("%s: %s not found (set $CC)" % (what, cmd[0])) from None
    except subprocess.CalledProcessError as e:
        raise AotError("%s failed: %s\n%s" % (what, " ".join(cmd), e.stderr.decode(
            errors="replace"))) from None


class Library:
    """What `compile_library` built: paths and, for reports, the entries and sizes."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def compile_library(model, specs, output, name=None, header=None, static=None,
                    checkpoint=None, frozen=False, target_cpu="native", target_triple=None,
                    keep_dir=None):
    """Builds lib`name`.so at `output` (and `header`, default NAME.h beside it; `static`: also a
    .a archive). Returns a Library."""
    from graphc.backend.cpu import codegen, llvm
    from graphc.passes.pipeline import run_pipeline
    given = name is not None
    if not given:
        base = os.path.basename(output)
        base = base[3:] if base.startswith("lib") else base
        name = base.split(".")[0]
    if not name.isidentifier():
        raise AotError("%s: the library name must be a C identifier (it prefixes the C API)"
                       % ("--name " + name if given else "the name %r from %s" % (name, output)))
    header = header or os.path.join(os.path.dirname(output) or ".", name + ".h")
    tm = target_machine(target_cpu, target_triple)
    # The GEMM blocking follows the target's vector width (AVX-512 CPUs get its tiles).
    vector_bytes = llvm.vector_bytes(tm)
    try:
        graph, meta = load_graph(model)
    except (OSError, ValueError, TypeError) as e:
        raise AotError(str(e)) from None
    if frozen:
        graph = freeze(graph, meta, specs, checkpoint)
    lowered, slots = lower_entries(graph, specs)
    layout = cgen.StateLayout(slots)
    var_names = [s.name for s in slots if s.kind == "variable"]
    values = variable_values(graph, meta, var_names, checkpoint) if var_names else {}
    unseeded = set()
    for slot in slots:
        if slot.kind == "rng":
            op = graph.get_operation_by_name(slot.name)
            seed, seed2 = op.get_attr("seed"), op.get_attr("seed2")
            if seed == 0 and seed2 == 0:
                unseeded.add(slot.name)
            values[slot.name] = np.array([seed, seed2, 0], dtype=slot.dtype)
    work = keep_dir or tempfile.mkdtemp(prefix="graphc-aot-")
    os.makedirs(work, exist_ok=True)
    try:
        objects, infos, constant_bytes = [], [], 0
        for i, low in enumerate(lowered):
            spec = low.spec
            prefix = "%s_%s_" % (name, spec.name) if spec.name else name + "_"
            symbol = prefix + "graph"
            opt = run_pipeline(low.fn, scratch=lambda i: codegen.scratch(i, vector_bytes),
                               in_place=lambda i, v: codegen.in_place(i, v, vector_bytes))
            constant_bytes += _constant_bytes(opt)
            try:
                text, entry, _ = codegen.build_module(opt, standalone=True,
                                                      vector_bytes=vector_bytes)
            except Exception as e:
                raise AotError("%s: %s" % ("entry " + spec.name if spec.name else
                                           "the library", e)) from None
            path = os.path.join(work, "entry%d.o" % i)
            with open(path, "wb") as f:
                f.write(_object(text, entry, symbol, tm))
            objects.append(path)
            size = opt.buffer_plan.temp_size
            extra = set(size.coeffs) - {BATCH}
            if extra:
                raise AotError("symbolic dimensions %s are not supported" % sorted(extra))
            temp = (size.const, size.coeffs.get(BATCH, 0))
            fn = low.fn
            infos.append(cgen.EntryInfo(
                prefix, symbol,
                [(n, v.dtype, v.shape) for n, v in zip(fn.feed_names, fn.feeds)],
                [(n, v.dtype, v.shape) for n, v in zip(fn.fetch_names, fn.fetches)],
                low.state_index, temp, BATCH in fn.dims))
        blob = os.path.join(work, "state.bin")
        with open(blob, "wb") as f:
            f.write(layout.blob(values))
        api_c = os.path.join(work, name + "_api.c")
        with open(api_c, "w") as f:
            f.write(cgen.source(name, infos, layout, blob, unseeded,
                                os.path.basename(header)))
        with open(header, "w") as f:
            f.write(cgen.header(name, infos, layout))
        cc = os.environ.get("CC", "cc")
        api_o = os.path.join(work, name + "_api.o")
        _run([cc, "-O2", "-fPIC", "-pthread", "-fvisibility=hidden", "-I", RUNTIME_DIR,
              "-I", os.path.dirname(os.path.abspath(header)), "-c", api_c, "-o", api_o],
             "compiling the C API")
        objects.append(api_o)
        _run([cc, "-shared", "-pthread", "-Wl,-z,noexecstack", "-o", output] + objects +
             ["-lm"], "linking " + output)
        if static:
            combined = os.path.join(work, name + "_all.o")
            _run([cc, "-r", "-nostdlib", "-o", combined] + objects, "linking " + static)
            _run([os.environ.get("OBJCOPY", "objcopy"), "--localize-hidden", combined],
                 "localizing hidden symbols")
            if os.path.exists(static):
                os.remove(static)
            _run([os.environ.get("AR", "ar"), "rcs", static, combined], "archiving " + static)
        return Library(name=name, output=output, header=header, static=static,
                       entries=infos, state_bytes=layout.size,
                       constant_bytes=constant_bytes)
    finally:
        if keep_dir is None:
            shutil.rmtree(work, ignore_errors=True)


def _constant_bytes(fn):
    """Bytes of the function's non-scalar constants (frozen weights...), for the report."""
    return sum(i.params["value"].nbytes for i in fn.body
               if i.op == "constant" and i.params["value"].size > 1)
