"""The compiled `rng` kernel gives the interpreter's bits (which reproduce TensorFlow's) for every
kind and dtype, for any thread count, and advances the counter offset as the interpreter does."""

import numpy as np
import pytest

from graphc.backend.cpu.executable import CompiledExecutable
from graphc.ir import Builder, Function, StateSlot, interpret

# (kind, shape, dtype, params): shapes that fill and that do not fill the last group, and one
# large enough to run in several parallel chunks.
DRAWS = [(kind, shape, dtype, {}) for kind in ("uniform", "normal", "truncated_normal")
         for dtype in (np.float16, np.float32, np.float64)
         for shape in [(7,), (3, 4), (20001,)]] + [
    ("uniform_int", (13,), np.int32, {"minval": -5, "maxval": 9}),
    ("uniform_int", (20003,), np.int64, {"minval": -5, "maxval": 1 << 40}),
    ("uniform_int", (11,), np.int32, {"minval": -2 ** 31, "maxval": 2 ** 31 - 1}),
    ("uniform_int", (6,), np.int64, {"minval": -2 ** 63, "maxval": 2 ** 63 - 1}),
    ("permutation", (10,), np.int64, {}),
    ("permutation", (1001,), np.int32, {}),
]


def _function(draws):
    """One rng per draw, each with its own state slot (values fetched, new state stored)."""
    fn = Function("rng")
    b = Builder(fn)
    for i, (kind, shape, dtype, params) in enumerate(draws):
        state = fn.add_state(StateSlot("s%d" % i, np.int64, (3,), "rng"))
        values, new = b.emit("rng", [state], kind=kind, shape=shape, dtype=np.dtype(dtype),
                             **params)
        fn.add_fetch("v%d" % i, values)
        fn.state_out[i] = new
    return fn


def _states(draws, seeds, offset):
    return [np.array([seeds[0] + i, seeds[1], offset], np.int64) for i in range(len(draws))]


@pytest.mark.parametrize("seeds,offset", [((12345, 678), 0), ((0, 2 ** 31 - 1), 999),
                                          ((2 ** 62 + 5, -7), -5),
                                          ((-3, 2 ** 63 - 1), 2 ** 64 // 4)],
                         ids=["small", "zero-seed", "borrow", "large"])
def test_compiled_rng_matches_interpreter_bits_for_any_thread_count(seeds, offset):
    fn = _function(DRAWS)
    exe = CompiledExecutable(fn)
    start = _states(DRAWS, seeds, offset)
    for _ in range(2):  # the second run starts from the advanced offsets
        want, after = interpret(fn, [], [s.copy() for s in start])
        for threads in (1, 2, 3):
            state = [s.copy() for s in start]
            got = exe.run([], state, num_threads=threads)
            for (kind, shape, dtype, _), g, w in zip(DRAWS, got, want):
                assert g.dtype == w.dtype and g.shape == w.shape, (kind, shape, dtype)
                assert g.tobytes() == w.tobytes(), (kind, shape, np.dtype(dtype).name, threads)
            for s, w in zip(state, after):
                np.testing.assert_array_equal(s, w)
        start = after


def test_permutation_is_a_permutation_and_values_are_in_range():
    draws = [("permutation", (257,), np.int64, {}),
             ("uniform_int", (4000,), np.int32, {"minval": 3, "maxval": 9}),
             ("truncated_normal", (4000,), np.float32, {})]
    exe = CompiledExecutable(_function(draws))
    perm, ints, normals = exe.run([], _states(draws, (5, 6), 0))
    np.testing.assert_array_equal(np.sort(perm), np.arange(257))
    assert ints.min() == 3 and ints.max() == 8
    assert np.abs(normals).max() < 2 and abs(normals.mean()) < 0.1
