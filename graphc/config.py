"""graphc's one configuration module: the executor backend and compile policy knobs, read from
the environment once and settable from Python."""

import os

_BACKENDS = ("interpreter", "cpu", "cuda")
_settings = {"backend": os.environ.get("GRAPHC_BACKEND", "cpu"),
             "compile_after_runs": (int(os.environ["GRAPHC_COMPILE_AFTER_RUNS"])
                                    if os.environ.get("GRAPHC_COMPILE_AFTER_RUNS") else None)}
# The adaptive policy's estimate of a compile: BASE + per_instr * (core-IR instructions),
# re-fitted after each real compile of this process (the first guess fits this machine's
# measurements: about 0.8 s for the 140-instruction MLP training step).
_BASE_COMPILE_SECONDS = 0.02
_compile_cost = {"per_instr": 0.005}


def get_backend():
    return _settings["backend"]


def set_backend(name):
    """Selects the executor for Sessions created afterwards (and `graphc.jit`)."""
    if name not in _BACKENDS:
        raise ValueError("unknown backend %r; choose one of %s" % (name, ", ".join(_BACKENDS)))
    _settings["backend"] = name


def compile_after_runs():
    """The compile policy of a compiling backend for each Session signature (pruned subgraph,
    feed types): None (the default) is adaptive, an integer n compiles after n interpreted runs
    (0: at the first run; `GRAPHC_COMPILE_AFTER_RUNS` sets it from the environment).

    Adaptive: the first run is always interpreted, so one-off runs (initializers, a single
    evaluation) never pay for LLVM. A later run compiles when the executable is already in the
    disk cache (loading it costs milliseconds), or once the time the interpreter has spent on
    the signature reaches the estimated compile time (`estimated_compile_seconds`): a loop
    that repeats a step compiles after at most about its compile time in interpreted runs,
    so no run sequence costs much more than twice what the best choice would have, while short
    sequences of cheap runs (tests, small evaluations) never compile."""
    return _settings["compile_after_runs"]


def set_compile_after_runs(n):
    """Sets the compile policy: an integer count of interpreted runs, or None (adaptive)."""
    if n is not None and n < 0:
        raise ValueError("compile_after_runs must be >= 0 or None, got %r" % (n,))
    _settings["compile_after_runs"] = None if n is None else int(n)


def estimated_compile_seconds(fn):
    """The adaptive policy's guess of the time to compile IR function `fn`."""
    return _BASE_COMPILE_SECONDS + _compile_cost["per_instr"] * len(fn.body)


def record_compile_seconds(fn, seconds):
    """Re-fits the estimate to a measured compile of `fn` (not one loaded from the cache)."""
    per_instr = max(seconds - _BASE_COMPILE_SECONDS, 0.0) / max(len(fn.body), 1)
    _compile_cost["per_instr"] = 0.5 * (_compile_cost["per_instr"] + per_instr)


def executable_cached(fn, backend=None):
    """Whether `backend` has the executable of `fn` in its disk cache (cheap to load)."""
    if (backend or get_backend()) != "cpu":
        return False
    from graphc.backend.cpu.executable import CompiledExecutable
    return CompiledExecutable.is_cached(fn)


def make_executable(fn, backend=None):
    """An executable for IR function `fn` on `backend` (default: the configured one)."""
    backend = backend or get_backend()
    if backend == "interpreter":
        from graphc.runtime.executable import InterpretedExecutable
        return InterpretedExecutable(fn)
    if backend == "cpu":
        from graphc.backend.cpu.executable import CompiledExecutable
        return CompiledExecutable(fn)
    raise NotImplementedError("backend %r is not available in this build of graphc" % backend)
