"""The AVX-512 GEMM blocking (gemm_kernel.blocking(dtype, 64)) on a host that may lack AVX-512:
(a) its kernels, built for the host (LLVM splits each 64-byte vector into two 32-byte halves:
slow but exact), against numpy in float64 over a derandomized sweep of shapes (1, primes,
sizes that are not multiples of the vector width, the 12 x 32 / 12 x 16 tiles or the cache
blocks), every transpose, epilogues and both dtypes; rectangle splits bit-identical to one
call; the same bits as the AVX2 blocking where both run the same arithmetic;
(b) their code for an AVX-512 CPU (skylake-avx512, not run): zmm FMAs and no spilled
accumulators in the k loops; the AVX2 blocking's host code has no zmm at all;
(c) which blocking graphc picks: the host's vector width for JIT code (AVX2 here), the target
CPU's for AoT libraries."""

import ctypes
import os
import re
import shutil
import subprocess

import llvmlite.binding as llvm_binding
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from llvmlite import ir

import graphc
from graphc.aot.build import target_machine
from graphc.backend.cpu import codegen, llvm
from graphc.backend.cpu import dot as dots
from graphc.backend.cpu import gemm_kernel as gk
from graphc.backend.cpu.executable import CompiledExecutable
from tests.aot.helpers import compile_lib
from tests.backend.helpers import data, function
from tests.backend.test_gemm import TRANS, assert_close, np_act, operands, rectangles, reference

DTYPES = [np.float32, np.float64]
AVX512 = {np.dtype(dt): gk.blocking(dt, 64) for dt in DTYPES}
# 1, primes and sizes around the vector widths (16 / 8 lanes), the tiles (12 x 32 / 12 x 16),
# KC (128) and MC (504 / 252).
DIMS = [1, 2, 3, 7, 11, 12, 13, 16, 17, 31, 32, 33, 47, 97, 127, 128, 129, 131, 253, 257, 509]
FULL = {act: gk.Epilogue(alpha=True, bias=True, residual=True, activation=act)
        for act in ("relu", "tanh")}
PLAIN = {trans: (trans[0], trans[1], gk.Epilogue()) for trans in TRANS}
RELU = (False, False, FULL["relu"])
TANH = (True, True, FULL["tanh"])
# One module per dtype (each costs seconds to compile): every transpose; the epilogue terms
# and relu, applied in registers by the plain kernel set; for float32 an activation applied
# as a pass over the tile (tanh: a kernel set of its own; sigmoid's shares its exp and its
# pass, and float64's is the same code).
VARIANTS = {np.dtype(np.float32): list(PLAIN.values()) + [RELU, TANH],
            np.dtype(np.float64): list(PLAIN.values()) + [RELU]}


class Gemms:
    """GEMM variants (trans_a, trans_b, epilogue) of one dtype and blocking in one module,
    compiled for the host with the pipeline graphc compiles its GEMM libraries with."""

    def __init__(self, dtype, blk, variants):
        self.dtype, self.blk = np.dtype(dtype), blk
        module = ir.Module(name="gemms")
        names = {v: "gemm%d" % i for i, v in enumerate(variants)}
        for (ta, tb, ep), name in names.items():
            gk.emit_sgemm(module, name, self.dtype, ta, tb, ep, blk=blk)
        self.tm = llvm.target_machine()
        mod = llvm_binding.parse_assembly(str(module))
        mod.triple = self.tm.triple
        mod.data_layout = str(self.tm.target_data)
        mod.verify()
        llvm.optimize(mod, self.tm, library=True)
        self.engine = llvm_binding.create_mcjit_compiler(mod, self.tm)
        self.engine.finalize_object()
        ct = ctypes.c_float if self.dtype == np.float32 else ctypes.c_double
        i64, vp = ctypes.c_int64, ctypes.c_void_p
        proto = ctypes.CFUNCTYPE(None, i64, i64, i64, vp, i64, vp, i64, vp, i64, vp, i64, i64,
                                 i64, i64, vp, vp, i64, ct)
        self.fns = {v: proto(self.engine.get_function_address(name))
                    for v, name in names.items()}

    def __call__(self, variant, a, b, c=None, bias=None, residual=None, alpha=1.0, rect=None):
        """C = the variant's GEMM of a, b (as stored) over `rect` of C, with a scratch of
        exactly scratch_bytes(blk) bytes between guard bytes that must stay untouched."""
        ta, tb, _ = variant
        la, lb = (a.T if ta else a), (b.T if tb else b)
        (m, k), n = la.shape, lb.shape[1]
        if c is None:
            c = np.empty((m, n), self.dtype)
        size = self.dtype.itemsize

        def ld(x):
            return x.strides[0] // size if x.shape[0] > 1 else max(x.shape[1], 1)
        need = gk.scratch_bytes(m, n, k, self.dtype, blk=self.blk)
        raw = np.full(need + 67, 0xAB, np.uint8)  # scratch at an odd address
        self.fns[variant](m, n, k, a.ctypes.data, ld(a), b.ctypes.data, ld(b), c.ctypes.data,
                          ld(c), raw[3:].ctypes.data, *(rect or (0, m, 0, n)),
                          None if bias is None else bias.ctypes.data,
                          None if residual is None else residual.ctypes.data,
                          0 if residual is None else ld(residual), alpha)
        assert (raw[:3] == 0xAB).all() and (raw[3 + need:] == 0xAB).all(), "scratch overrun"
        return c


_built = {}


def gemms(dtype, vector_bytes=64, variants=None):
    """The Gemms of `dtype` with the blocking of `vector_bytes` (built once)."""
    key = (np.dtype(dtype), vector_bytes)
    if key not in _built:
        _built[key] = Gemms(dtype, gk.blocking(dtype, vector_bytes),
                            variants or VARIANTS[np.dtype(dtype)])
    return _built[key]


SWEEP = settings(max_examples=25, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow])


# ---- (a) correctness of the AVX-512-shaped kernels, run on the host ---------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("trans", TRANS, ids=["nn", "tn", "nt", "tt"])
@SWEEP
@given(m=st.sampled_from(DIMS), n=st.sampled_from(DIMS), k=st.sampled_from(DIMS))
def test_avx512_blocking_shapes(dtype, trans, m, n, k):
    a, b = operands(dtype, m, n, k, *trans)
    want, bound = reference(a, b, *trans)
    got = gemms(dtype)(PLAIN[trans], a, b)
    assert got.dtype == np.dtype(dtype) and got.shape == (m, n)
    assert_close(got, want, bound, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("trans", TRANS, ids=["nn", "tn", "nt", "tt"])
@pytest.mark.parametrize("m,n,k", [
    (1, 1, 1), (1, 300, 257), (257, 1, 300),  # one row (vecmat / dot), GEMV
    (3, 8200, 5),  # more columns than one packed B block (NC = 8160 / 4080)
    (515, 70, 300),  # several MC blocks and KC chunks
    (12, 70, 129), (11, 33, 7), (5, 100, 40),  # the 12- and 6-row direct kernels, edges
    (40, 64, 131), (40, 65, 131),  # A read in place (n <= 2 NR) or packed
    (3, 1030, 1030),  # few rows but a B too big for the unpacked kernels
    (5, 6, 0), (0, 4, 3),  # empty contraction: zeros; empty output: nothing to do
])
def test_avx512_blocking_paths(dtype, trans, m, n, k):
    a, b = operands(dtype, m, n, k, *trans, seed=m + n + k)
    want, bound = reference(a, b, *trans)
    c = np.full((m, n), np.nan, dtype)
    assert_close(gemms(dtype)(PLAIN[trans], a, b, c), want, bound, dtype)


@pytest.mark.parametrize("dtype,variant", [(np.float32, RELU), (np.float32, TANH),
                                           (np.float64, RELU)],
                         ids=["f32-relu", "f32-tt-tanh", "f64-relu"])
@settings(max_examples=10, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(m=st.sampled_from(DIMS), n=st.sampled_from(DIMS), k=st.sampled_from(DIMS + [0]))
def test_avx512_blocking_epilogues(dtype, variant, m, n, k):
    trans, ep = variant[:2], variant[2]
    a, b = operands(dtype, m, n, k, *trans, seed=3)
    r = np.random.RandomState(4)
    bias = r.randn(n).astype(dtype)
    res = r.randn(m, n + 3).astype(dtype)[:, :n]  # its own leading dimension, not C's
    alpha = 0.75
    acc, bound = reference(a, b, *trans)
    scaled = alpha * acc
    want = np_act(ep.activation, scaled + bias + res)
    got = gemms(dtype)(variant, a, b, bias=bias, residual=res, alpha=alpha)
    # Each addition rounds at the scale of its terms; the activations have |f'| <= 1.
    assert_close(got, want, bound + np.abs(scaled) + np.abs(bias) + np.abs(res), dtype)


@pytest.mark.parametrize("dtype,variant", [
    (np.float32, PLAIN[(False, False)]), (np.float32, PLAIN[(True, False)]),
    (np.float32, TANH), (np.float64, PLAIN[(False, True)]), (np.float64, RELU)],
    ids=["f32-nn", "f32-tn", "f32-tt-tanh", "f64-nt", "f64-relu"])
@pytest.mark.parametrize("m,n,k", [(515, 300, 260), (151, 290, 97), (9, 300, 300),
                                   (257, 1, 300), (1, 130, 70), (40, 40, 40)])
def test_avx512_split_is_bit_identical(dtype, variant, m, n, k):
    """Any split of C into rectangles (split() at the AVX-512 tiles, or arbitrary cuts)
    gives the bits of one call; nothing outside a rectangle is written."""
    g = gemms(dtype)
    a, b = operands(dtype, m, n, k, *variant[:2], seed=7)
    bias = np.linspace(-1, 1, n).astype(dtype)
    res = np.linspace(-2, 2, m * n).astype(dtype).reshape(m, n)
    whole = g(variant, a, b, bias=bias, residual=res, alpha=0.5)
    splits = [gk.split(m, n, parts, dtype, blk=g.blk) for parts in (2, 3, 7)]
    splits.append(rectangles(m, n, np.random.RandomState(m * n)))
    for rects in splits:
        c = np.full((m, n), np.nan, dtype)
        for rect in rects:
            g(variant, a, b, c, bias=bias, residual=res, alpha=0.5, rect=rect)
        assert np.array_equal(c, whole), rects
    r0, r1, c0, c1 = rects[len(rects) // 2]
    c = np.full((m, n), -7.0, dtype)
    g(variant, a, b, c, bias=bias, residual=res, alpha=0.5, rect=(r0, r1, c0, c1))
    outside = np.ones((m, n), bool)
    outside[r0:r1, c0:c1] = False
    assert (c[outside] == -7.0).all()


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_split_follows_the_blocking(dtype):
    """split() cuts at the given blocking's tiles (NR columns, MR rows) and covers C."""
    for blk in (AVX512[np.dtype(dtype)], gk.blocking(dtype)):
        for m, n, parts in [(40, 100, 2), (40, 1000, 3), (200, 40, 3), (1000, 7, 4)]:
            rects = gk.split(m, n, parts, dtype, blk=blk)
            cover = np.zeros((m, n), int)
            for r0, r1, c0, c1 in rects:
                cover[r0:r1, c0:c1] += 1
                assert r0 % blk.mr == 0 and c0 % blk.nr == 0
                assert (r1 == m or r1 % blk.mr == 0) and (c1 == n or c1 % blk.nr == 0)
            assert (cover == 1).all() and len(rects) == parts
    # The two blockings' tiles differ, and so do the cuts.
    assert gk.split(200, 40, 3, dtype, blk=AVX512[np.dtype(dtype)]) != gk.split(200, 40, 3, dtype)


@pytest.mark.parametrize("m,n,k", [(515, 70, 128), (40, 64, 100), (12, 300, 77), (5, 33, 9),
                                   (1, 200, 128), (300, 257, 1)])
def test_avx512_and_avx2_blockings_agree_bit_for_bit(m, n, k):
    """With k <= KC of both (one chunk) and n > 1 with B not transposed (no dot kernel, whose
    pairwise sums depend on the vector width), every element is the same fma chain whatever
    the tile it sits in: the two blockings give the same bits."""
    avx2 = gemms(np.float32, 32, [PLAIN[(False, False)], PLAIN[(True, False)], RELU])
    avx512 = gemms(np.float32)
    for variant in (PLAIN[(False, False)], PLAIN[(True, False)], RELU):
        a, b = operands(np.float32, m, n, k, *variant[:2], seed=k)
        bias = np.linspace(-1, 1, n).astype(np.float32)
        res = np.linspace(-2, 2, m * n).astype(np.float32).reshape(m, n)
        one = avx2(variant, a, b, bias=bias, residual=res, alpha=0.5)
        assert np.array_equal(one, avx512(variant, a, b, bias=bias, residual=res, alpha=0.5))


# ---- (b) code generation for an AVX-512 CPU ---------------------------------------------------

def _assembly(dtype, blk, cpu):
    """The kernel set of `blk` plus one variant, through graphc's library pipeline, as
    assembly for `cpu` ("native": the host)."""
    module = ir.Module(name="kernels")
    gk.emit_kernels(module, dtype, None, blk)
    gk.emit_sgemm(module, "variant", dtype, False, False, None, extern_kernels=True, blk=blk)
    tm = target_machine(cpu)
    mod = llvm_binding.parse_assembly(str(module))
    mod.triple = tm.triple
    mod.data_layout = str(tm.target_data)
    llvm.optimize(mod, tm, library=True)
    return tm.emit_assembly(mod)


def _functions(asm):
    """{function name: its lines} of an x86 assembly listing."""
    out, cur = {}, None
    for line in asm.splitlines():
        head = re.match(r'^"?([\w.$-]+)"?:', line)
        if head and not line.startswith(".L"):
            cur = out.setdefault(head.group(1), [])
        elif cur is not None:
            cur.append(line)
    return out


def _innermost_loops(lines):
    """The bodies of the function's innermost loops: from a label to the branch back to it,
    with no other label in between."""
    loops = []
    for i, line in enumerate(lines):
        label = re.match(r"^(\.LBB\w+):", line)
        if not label:
            continue
        for j in range(i + 1, len(lines)):
            if re.match(r"^\.LBB\w+:", lines[j]):
                break
            if re.search(r"\bj\w+\s+%s$" % re.escape(label.group(1)), lines[j]):
                loops.append(lines[i + 1:j + 1])
                break
    return loops


# A store of a vector register: in a k loop (which stores nothing) that is a spill.
_VECTOR_STORE = re.compile(r"^\s*v\w*mov\w*\s+%[xyz]mm\d+,\s*[-\w]*\(")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_avx512_kernels_use_zmm_fmas_without_spills(dtype):
    blk = AVX512[np.dtype(dtype)]
    fma = "vfmadd231p" + ("s" if dtype == np.float32 else "d")
    functions = _functions(_assembly(dtype, blk, "skylake-avx512"))
    kset = gk.kernel_set(dtype, None, blk)
    nv = blk.nr // blk.w
    edges = {gk.tile_suffix(shape): shape for shape in gk.edge_tiles(blk)}
    for kernel in [".tile", ".tile_sa"] + list(edges) + [".direct%d" % r for r in blk.direct]:
        loops = [body for body in _innermost_loops(functions[kset + kernel])
                 if any(fma in line for line in body)]
        assert loops, kernel
        for body in loops:
            fmas = [line for line in body if fma in line]
            assert all("%zmm" in line for line in fmas), (kernel, fmas[:3])
            spills = [line for line in body
                      if _VECTOR_STORE.match(line) or ("(%rsp)" in line and "mm" in line)]
            assert not spills, (kernel, spills[:4])
        if kernel.startswith(".tile"):
            # The unrolled main k loop: MR x NR/W FMAs per step (an edge tile's rows x
            # vectors), 4 steps.
            rows, vectors = edges.get(kernel, (blk.mr, nv))
            assert max(sum(fma in line for line in body) for body in loops) == \
                4 * rows * vectors, kernel
    # The packed micro-kernel's k loops touch no stack slot at all (the in-place A tile's
    # edge variant reloads row offsets, general registers, from the stack).
    tile = _innermost_loops(functions[kset + ".tile"])
    assert not [line for body in tile for line in body if "%rsp" in line]


def test_avx2_kernels_have_no_zmm():
    dtype = np.float32
    blk = gk.blocking(dtype)
    asm = _assembly(dtype, blk, "native")
    assert "zmm" not in asm
    tile = _functions(asm)[gk.kernel_set(dtype, None, blk) + ".tile"]
    fma = "vfmadd231p" + ("s" if dtype == np.float32 else "d")
    assert max(sum(fma in line and "%ymm" in line for line in body)
               for body in _innermost_loops(tile)) == 4 * blk.mr * blk.nr // blk.w


# ---- (c) which blocking graphc picks -----------------------------------------------------------

def _host_has_avx512():
    return "+avx512f" in llvm_binding.get_host_cpu_features().flatten().split(",")


def _dot_fn(m=37, k=50, n=45):
    """x . w + bias, relu: one dot fusion with an epilogue."""
    def build(b, x, w, bias):
        y = b.emit1("dot_general", x, w, lhs_contract=(1,), rhs_contract=(0,), lhs_batch=(),
                    rhs_batch=())
        y = b.emit1("add", y, b.broadcast_in_dim(bias, y.shape, (1,)))
        return b.emit1("max", y, b.full(0.0, np.float32, y.shape))
    feeds = [data(np.float32, (m, k), 1), data(np.float32, (k, n), 2),
             data(np.float32, (n,), 3)]
    return function(build, feeds), feeds


def _dots(fn):
    return [i for i in fn.body if i.op == "fusion" and i.params["body"].kind == "dot"]


def test_host_choice_is_the_hosts_vector_width():
    """JIT code gets the blocking of the host's vector width: AVX2 on a host without
    AVX-512 (this one), AVX-512 on one with it; the kernels' names say which."""
    width = 64 if _host_has_avx512() else 32
    assert llvm.vector_bytes() == width
    assert llvm.vector_bytes(llvm.target_machine()) == width
    for dt in DTYPES:
        assert gk.blocking(dt) is gk.BLOCKINGS[32][np.dtype(dt)]  # the library default
        assert gk.kernel_set(dt, None, gk.blocking(dt)) != gk.kernel_set(dt, None, AVX512[
            np.dtype(dt)])
    fn, feeds = _dot_fn()
    exe = CompiledExecutable(fn)
    fusion, = _dots(exe.optimized)
    layout = dots.Layout(dots.fusion_parts(fusion.params["body"].fn)[0])
    assert layout.blk is gk.blocking(np.float32, width)
    text, _, _ = codegen.build_module(exe.optimized)
    assert "_" + layout.blk.tag + '"(' in text
    if not _host_has_avx512():
        assert layout.blk == gk.blocking(np.float32) and layout.blk.mr == 6
        assert "_" + AVX512[np.dtype(np.float32)].tag not in text


def test_an_avx512_host_gets_the_avx512_blocking(monkeypatch, tmp_path):
    """With the host's vector width reported as 64 bytes, the backend plans scratch for, names
    and runs the AVX-512 kernels (here legalized to the host's vectors), with numpy's results
    in float64."""
    monkeypatch.setattr(llvm, "vector_bytes", lambda tm=None: 64)
    for m, k, n in [(37, 50, 45), (300, 140, 70)]:
        fn, feeds = _dot_fn(m, k, n)
        # dump_dir: never an executable from the disk cache (its key is the host CPU's).
        exe = CompiledExecutable(fn, dump_dir=str(tmp_path / ("%d" % m)))
        fusion, = _dots(exe.optimized)
        dot = dots.fusion_parts(fusion.params["body"].fn)[0]
        assert codegen.scratch(fusion) == dots.scratch_bytes(dot, vector_bytes=64) != \
            dots.scratch_bytes(dot, vector_bytes=32)
        text, _, _ = codegen.build_module(exe.optimized)
        assert "_" + AVX512[np.dtype(np.float32)].tag + '"(' in text
        x, w, bias = feeds
        acc, bound = reference(x, w, False, False)
        got, = exe.run(feeds, [])
        assert_close(got, np.maximum(acc + bias, 0), bound + np.abs(acc) + np.abs(bias),
                     np.float32)


def test_aot_target_cpu_picks_the_blocking(tmp_path):
    """`--target-cpu` names the CPU whose vector width picks the blocking: an AVX-512 CPU's
    library holds the AVX-512 kernels (zmm FMAs), an AVX2 CPU's has no zmm at all."""
    assert llvm.vector_bytes(target_machine("skylake-avx512")) == 64
    assert llvm.vector_bytes(target_machine("haswell")) == 32
    assert llvm.vector_bytes(target_machine("native")) == llvm.vector_bytes()
    objdump = shutil.which("objdump")
    if objdump is None:
        pytest.skip("no objdump to disassemble the library")
    graph = graphc.Graph()
    with graph.as_default():
        x = graphc.placeholder(graphc.float32, [None, 64], name="x")
        w = graphc.constant(np.linspace(-1, 1, 64 * 48, dtype=np.float32).reshape(64, 48))
        graphc.nn.relu(graphc.matmul(x, w), name="y")
    model = graphc.train.write_graph(graph, str(tmp_path), "m.graph", as_text=False)
    for cpu, blk in [("skylake-avx512", AVX512[np.dtype(np.float32)]),
                     ("haswell", gk.blocking(np.float32))]:
        out = tmp_path / cpu
        os.makedirs(out)
        compile_lib(out, model, "--feed", "x", "--fetch", "y", "--target-cpu", cpu)
        asm = subprocess.run([objdump, "-d", "--no-show-raw-insn", str(out / "libmodel.so")],
                             capture_output=True, text=True, check=True).stdout
        assert "<graphc_gemm_kernels_float32_%s." % blk.tag in asm, cpu
        assert ("vfmadd231ps %zmm" in asm) == (cpu == "skylake-avx512"), cpu
        assert ("zmm" in asm) == (cpu == "skylake-avx512"), cpu
