"""Optional peer frameworks: each loader returns the module or None when not installed."""

import importlib
import os


def load(name):
    try:
        if name == "tensorflow":
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
            tf = importlib.import_module("tensorflow")
            v1 = tf.compat.v1
            v1.disable_v2_behavior()
            return v1
        if name == "jax":
            os.environ.setdefault("JAX_PLATFORMS", "cpu")  # CPU against CPU, even beside a GPU
        return importlib.import_module(name)
    except ImportError:
        return None


def graphc_backends():
    """The graphc executors available in this build (the interpreter always is)."""
    import graphc.config as config
    from graphc.ir import Function
    out = ["interpreter"]
    for name in ("cpu",):
        try:
            config.make_executable(Function(), name)
            out.append(name)
        except (NotImplementedError, ImportError):
            pass
    return out
