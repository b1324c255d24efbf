"""Convolution on GEMM: rewrites every conv_general into dot_general, so convolutions run on
the backends' GEMM kernels and take their fused epilogues (bias add, activation).

conv_general(lhs [N, S.., C], rhs [K.., C, O]) becomes one of:

* a 1x1, stride-1, unpadded, undilated convolution: reshape(lhs) [N*S, C] x reshape(rhs)
  [C, O], reshaped to [N, S.., O] (no copy of the input at all);
* the filter gradient nn_ops builds (lhs = transpose of the input x swapping batch and
  features, rhs = transpose of the output gradient dy [N, OH.., O] putting its spatial dims
  first): the forward patches of x, P = im2col(x) [N*OH.., K..*C], contracted over their first
  axis with reshape(dy) [N*OH.., O]: dw = P^T dy [K..*C, O] (the GEMM reads P transposed, so
  neither x nor dy is transposed in memory);
* the input gradient nn_ops builds (lhs = dy [N, OH.., O] dilated by the forward strides, rhs
  = the forward filter w [K.., C, O] reversed spatially with its feature axes swapped, unit
  strides; any other unit-stride convolution with lhs dilation, w then being rhs flipped
  back): the patch gradients G = reshape(dy) [N*OH.., O] x reshape(w)^T [O, K..*C], summed
  back into dx by col2im (im2col's adjoint, with the forward geometry). This skips the
  patches of the dilated, padded dy, whose entries are mostly the padding's and (for strides
  s) the dilation's zeros;
* anything else (forward convolutions): im2col(lhs) [N*OUT.., K..*C] x reshape(rhs) [K..*C, O].

Empty convolutions become zeros. The interpreter never runs this pass: it keeps conv_general
as the oracle the rewritten forms are tested against. The patches stay an im2col in the IR;
the fusion pass may move it into the GEMMs that read it, which then gather P from the input
block by block instead of storing it (graphc/passes/fusion.py, _implicit_patches)."""

import numpy as np

from graphc.ir.builder import Builder
from graphc.ir.primitives import PRIMITIVES
from graphc.ir.shapes import SymDim, num_elements
from graphc.passes.util import freeze

name = "conv_to_dot"


def _static_zero(shape):
    return any(not isinstance(d, SymDim) and d == 0 for d in shape)


def _matmul(b, x, y, x_contract=1):
    """x [M, K] (or [K, M] with x_contract=0) times y [K, N]."""
    return b.emit1("dot_general", x, y, lhs_contract=(x_contract,), rhs_contract=(0,),
                   lhs_batch=(), rhs_batch=())


def _patches(b, cache, x, params):
    """im2col(x), made once per operand and geometry: a forward convolution and its filter
    gradient read the same patches of the input."""
    key = (x.id, freeze(params))
    if key not in cache:
        cache[key] = b.emit1("im2col", x, **params)
    return cache[key]


def _transposed_operand(v, perm):
    """The operand of `v`'s producer when `v` is a transpose by `perm`, else None."""
    p = v.producer
    if p is not None and p.op == "transpose" and tuple(p.params["perm"]) == perm:
        return p.operands[0]
    return None


def _filter_gradient(b, cache, instr):
    """dw as P^T dy (see the module docstring), or None when instr is not that form."""
    lhs, rhs = instr.operands
    p = instr.params
    n = lhs.rank - 2
    x = _transposed_operand(lhs, (n + 1,) + tuple(range(1, n + 1)) + (0,))
    dy = _transposed_operand(rhs, tuple(range(1, n + 1)) + (0, n + 1))
    if x is None or dy is None:
        return None
    # The roles of output position and window offset swap: the conv's output dims are the
    # patches' window, its stride their window dilation and its window dilation their stride.
    kernel = instr.outputs[0].shape[1:n + 1]
    params = dict(window_dimensions=tuple(kernel), window_strides=tuple(p["rhs_dilation"]),
                  padding=tuple(p["padding"]), lhs_dilation=tuple(p["lhs_dilation"]),
                  rhs_dilation=tuple(p["window_strides"]))
    _, shape = PRIMITIVES["im2col"].infer(x, **params)[0]
    if tuple(shape[1:n + 1]) != tuple(dy.shape[1:n + 1]):
        return None
    patches = _patches(b, cache, x, params)
    rows = num_elements(shape[:n + 1])
    lhs2 = b.reshape(patches, (rows, num_elements(shape[n + 1:])))
    dw = _matmul(b, lhs2, b.reshape(dy, (rows, dy.shape[-1])), x_contract=0)
    dw = b.reshape(dw, tuple(kernel) + (x.shape[-1], dy.shape[-1]))
    # Back to conv_general's [C, K.., O]; nn_ops' transpose to [K.., C, O] cancels this one.
    return b.transpose(dw, (n,) + tuple(range(n)) + (n + 1,))


def _input_gradient(b, instr):
    """dx as col2im(dy x w^T) (see the module docstring), or None when instr is not that
    form."""
    dy, rhs = instr.operands
    p = instr.params
    n = dy.rank - 2
    if any(s != 1 for s in p["window_strides"]):
        return None
    swap = tuple(range(n)) + (n + 1, n)
    flipped = _transposed_operand(rhs, swap)
    r = None if flipped is None else flipped.producer
    if r is not None and r.op == "reverse" and tuple(sorted(r.params["axes"])) == tuple(range(n)):
        w = r.operands[0]
    elif any(d > 1 for d in p["lhs_dilation"]):
        # Another stride-dilated convolution (a folded constant filter, conv2d_transpose):
        # undo the flip on the filter, which is far smaller than the patches.
        w = b.emit1("reverse", b.transpose(rhs, swap), axes=tuple(range(n)))
    else:
        return None  # a forward convolution: im2col reads its operand once per window offset
    window = tuple(w.shape[:n])
    dx = instr.outputs[0]
    # dx[q] sums dy[o] w[k] over q = o*s + k*rd - lo with lo the forward convolution's low
    # padding, (K-1)*rd minus this convolution's (negative lo just drops positions).
    low = tuple((k - 1) * rd - lo for k, rd, (lo, _) in zip(window, p["rhs_dilation"],
                                                          p["padding"]))
    c, o = w.shape[-2], w.shape[-1]
    rows = b.reshape(dy, (num_elements(dy.shape[:-1]), o))
    weights = b.reshape(w, (num_elements(window) * c, o))
    g = b.emit1("dot_general", rows, weights, lhs_contract=(1,), rhs_contract=(1,),
                lhs_batch=(), rhs_batch=())
    g = b.reshape(g, tuple(dy.shape[:-1]) + window + (c,))
    return b.emit1("col2im", g, spatial=tuple(dx.shape[1:n + 1]),
                   window_strides=tuple(p["lhs_dilation"]), padding_low=low,
                   rhs_dilation=tuple(p["rhs_dilation"]))


def _rewrite(b, cache, instr):
    lhs, rhs = instr.operands
    p = instr.params
    out = instr.outputs[0]
    n = lhs.rank - 2
    window = tuple(rhs.shape[:n])
    if _static_zero(out.shape) or _static_zero(rhs.shape):
        return b.full(0, out.dtype, out.shape)
    dw = _filter_gradient(b, cache, instr)
    if dw is not None:
        return dw
    c, o = lhs.shape[-1], rhs.shape[-1]
    pointwise = all(k == 1 for k in window) and all(s == 1 for s in p["window_strides"]) and \
        all(lo == hi == 0 for lo, hi in p["padding"]) and all(d == 1 for d in p["lhs_dilation"])
    dx = None if pointwise else _input_gradient(b, instr)
    if dx is not None:
        return dx
    if pointwise:
        rows = b.reshape(lhs, (num_elements(lhs.shape[:-1]), c))
    else:
        patches = _patches(b, cache, lhs, dict(window_dimensions=window,
                                               window_strides=tuple(p["window_strides"]),
                                               padding=tuple(p["padding"]),
                                               lhs_dilation=tuple(p["lhs_dilation"]),
                                               rhs_dilation=tuple(p["rhs_dilation"])))
        rows = b.reshape(patches, (num_elements(out.shape[:-1]),
                                   int(np.prod(window, dtype=np.int64)) * c))
    y = _matmul(b, rows, b.reshape(rhs, (num_elements(rhs.shape[:-1]), o)))
    return b.reshape(y, out.shape)


def run(fn):
    changed = False
    body, fn.body = fn.body, []
    b = Builder(fn)
    cache = {}  # im2col values by operand and geometry
    subst = {}
    for instr in body:
        instr.operands = [subst.get(o.id, o) for o in instr.operands]
        if instr.op != "conv_general":
            fn.body.append(instr)
            continue
        subst[instr.outputs[0].id] = _rewrite(b, cache, instr)
        changed = True
    fn.fetches = [subst.get(v.id, v) for v in fn.fetches]
    fn.state_out = [None if v is None else subst.get(v.id, v) for v in fn.state_out]
    return changed
