"""llvmlite plumbing: native target initialization, the host target machine, the -O3 pipeline
(new pass manager; a lighter one for the hand-vectorised libraries) and MCJIT engines, kept
alive as long as their executables.

Modules may call functions other modules define (libraries such as the GEMM variants and
their micro-kernels, built by `compile_library` and made visible with `llvm.add_symbol`):
`compile_ir` and `compile_library` remember which object defines each global function and
which objects a library links against, so an executable loaded from the disk cache can load
the objects it needs (`load_libraries`, dependencies first) without generating their IR."""

import re
import threading

import llvmlite.binding as llvm

_lock = threading.Lock()
_initialized = False
# llvmlite parses into LLVM's global context, which is not thread-safe: one compile at a time.
_compile_lock = threading.RLock()


def _init():
    global _initialized
    with _lock:
        if not _initialized:
            # llvm.initialize() is gone in LLVM 22's llvmlite: only the native target is needed.
            llvm.initialize_native_target()
            llvm.initialize_native_asmprinter()
            _initialized = True


_host = []


def host_cpu():
    """(CPU name, feature string) of the host, asked once."""
    if not _host:
        _init()
        _host.append((llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten()))
    return _host[0]


def vector_bytes(tm=None):
    """Width of the widest float vector register in bytes (16, 32 or 64) of the host, or of
    the TargetMachine `tm` (for a named CPU: what its code for a 64-byte vector add uses)."""
    if tm is not None:
        return _probe_vector_bytes(tm)
    _, features = host_cpu()
    if "+avx512f" in features.split(","):
        return 64
    if "+avx" in features.split(","):
        return 32
    return 16


_PROBE = """
define void @probe(ptr %p) {
  %x = load <16 x float>, ptr %p
  %y = fadd <16 x float> %x, %x
  store <16 x float> %y, ptr %p
  ret void
}
"""


def _probe_vector_bytes(tm):
    # A named CPU's features are implied by its name (no feature string to read), so ask
    # its code generator: x86 registers zmm (64 bytes), ymm (32) or narrower.
    with _compile_lock:
        module = llvm.parse_assembly(_PROBE)
        module.triple = tm.triple
        module.data_layout = str(tm.target_data)
        asm = tm.emit_assembly(module)
    return 64 if "zmm" in asm else 32 if "ymm" in asm else 16


def target_machine():
    """A fresh TargetMachine for the host CPU (one per engine: MCJIT takes ownership)."""
    _init()
    cpu, features = host_cpu()
    target = llvm.Target.from_default_triple()
    return target.create_target_machine(cpu=cpu, features=features, opt=3, jit=True)


def triple():
    _init()
    return llvm.get_process_triple()


def optimize(module, tm, library=False):
    """The -O3 pipeline; for a `library` (the GEMM code: vectorised and unrolled by hand as it
    is emitted) -O2 without the loop vectorizer, SLP vectorizer and unroller, which leaves its
    speed as it is at a fraction of the compile time."""
    pto = llvm.create_pipeline_tuning_options(speed_level=2 if library else 3)
    pto.loop_vectorization = not library
    pto.slp_vectorization = not library
    pto.loop_unrolling = not library
    pb = llvm.create_pass_builder(tm, pto)
    pb.getModulePassManager().run(module, pb)


class Compiled:
    """A JIT-compiled module: the engine (owns the code), its object code, entry addresses;
    `digest` is its object's disk-cache key."""

    def __init__(self, engine, tm, obj, digest=None):
        self.engine = engine
        self.tm = tm
        self.object_code = obj
        self.digest = digest

    def address(self, name):
        return self.engine.get_function_address(name)


_DEFINE = re.compile(r'^define\s+(?!(?:internal|private)\b)[^@]*@"?([-\w.$]+)"?\(', re.M)
_DECLARE = re.compile(r'^declare\s+[^@]*@"?([-\w.$]+)"?\(', re.M)
_defined_by = {}  # global function name -> digest of the object defining it (this process)
_requires = {}  # library object digest -> [(symbol, digest)] it links against
_loaded = {}  # digest -> Compiled, for objects loaded by load_libraries
_libraries = {}  # library name -> Compiled (kept alive: the code lives in its engine)


def libraries_used(text):
    """[(symbol, object digest)] for the functions `text` declares that a module compiled in
    this process defines, with what those objects link against listed before them."""
    out = []

    def add(name, digest):
        for dep in _requires.get(digest, ()):
            add(*dep)
        if (name, digest) not in out:
            out.append((name, digest))
    for name in _DECLARE.findall(text):
        if name in _defined_by:
            add(name, _defined_by[name])
    return out


def load_libraries(libraries):
    """Makes each (symbol, object digest) resolvable, loading the object from the disk cache
    where the symbol is not yet known; False when an object is missing."""
    with _compile_lock:
        for name, digest in libraries:
            if llvm.address_of_symbol(name):
                continue
            compiled = _loaded.get(digest) or load_object(digest)
            if compiled is None:
                return False
            _loaded[digest] = compiled
            llvm.add_symbol(name, compiled.address(name))
    return True


def load_object(digest):
    """The Compiled object from the disk cache entry `digest`, or None."""
    from graphc.backend.cpu import disk_cache
    with _compile_lock:
        obj = disk_cache.load(digest)
        return None if obj is None else _finalize(obj, digest)


def _finalize(obj, digest):
    _init()
    tm = target_machine()
    engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), tm)
    engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
    engine.finalize_object()
    return Compiled(engine, tm, obj, digest)


def compile_ir(text, dump=None):
    """Verifies, optimizes and JIT-compiles LLVM IR text, or loads its object code from the
    disk cache. `dump(label, text)` receives the optimized IR and the assembly (dumping always
    compiles)."""
    with _compile_lock:
        return _compile_ir(text, dump)


def _compile_ir(text, dump):
    from graphc.backend.cpu import disk_cache
    _init()
    digest = disk_cache.key(text, *host_cpu())
    obj = None if dump else disk_cache.load(digest)
    if obj is None:
        obj = _emit_object(text, dump)
        disk_cache.store(digest, obj)
    for name in _DEFINE.findall(text):
        _defined_by[name] = digest
    return _finalize(obj, digest)


def _emit_object(text, dump=None, library=False):
    tm = target_machine()
    module = llvm.parse_assembly(text)
    module.verify()
    module.triple = tm.triple
    module.data_layout = str(tm.target_data)
    optimize(module, tm, library)
    if dump:
        dump("opt.ll", str(module))
        dump("asm.s", tm.emit_assembly(module))
    return tm.emit_object(module)


def compile_library(name, build, symbols, requires=()):
    """The library module `name` (once per process), compiled from the IR text `build()`
    returns, or loaded from the disk cache, where it is keyed by its name and graphc's source
    (so a hit generates no IR); its global functions `symbols` become visible to the modules
    compiled after it. `requires`: the [(symbol, digest)] of other libraries it calls (made
    visible before)."""
    from graphc.backend.cpu import disk_cache
    with _compile_lock:
        compiled = _libraries.get(name)
        if compiled is None:
            _init()
            digest = disk_cache.library_key(name, *host_cpu())
            obj = disk_cache.load(digest)
            if obj is None:
                obj = _emit_object(build(), library=True)
                disk_cache.store(digest, obj)
            compiled = _finalize(obj, digest)
            for symbol in symbols:
                llvm.add_symbol(symbol, compiled.address(symbol))
                _defined_by[symbol] = digest
            _requires[digest] = list(requires)
            _libraries[name] = compiled
        return compiled
