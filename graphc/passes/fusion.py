"""Fusion: groups instructions into kernels, deciding only from the primitives' fusion kinds.

* Elementwise, broadcast and injective instructions whose every use is inside one group join
  it: a chain becomes one loop kernel ("loop"), a producer of a reduction joins the reduction
  ("reduce").
* A broadcast_in_dim or iota used by several groups (and by nothing else) is duplicated into
  each: recomputing it is cheaper than storing it.
* A loop kernel whose only input path from a dot_general is elementwise (bias add,
  activation) becomes the dot's epilogue ("dot").
* A gather's indices are never fused (kernels check them before the loop runs); constants,
  opaque instructions and lone reshapes (a reshape of a stored buffer is a view) stay as they
  are.

Each group becomes one `fusion` instruction holding its members as a sub-function (see
graphc.ir.primitives.FusedComputation) whose fetch is the group's root.

Two rewrites around that grouping:

* Before it, a large reduction over a suffix of its operand's dims with few outputs is split
  in two at a fixed point (`reduce(x)` over R elements becomes a reduction of P parts of R / P
  elements, then of the P partial results), so the first, costly stage runs in parallel over
  outputs x parts; the split depends only on the shapes, never on the thread count. A
  reduction that keeps the last axis (x [A, R, C] -> [A, C], a bias gradient) and has little
  outer parallelism is split the same way along R.
* After it, fusions with the same iteration space become one multi-output fusion where that
  saves memory traffic: siblings reading a common input (x*2 and x+1; the reductions of a
  softmax and its gradient), and a loop fusion with one of its consumers (its result is then
  stored by the consumer's kernel instead of being re-read). A loop kernel stores all its
  outputs at each index of their common shape; a reduction kernel runs reductions over the
  same axes side by side and stores element-wise outputs of the reduced operand's shape as it
  visits them. Reduction outputs are never read inside the same fusion, and merging never
  creates a cycle through instructions outside the fusion."""

import numpy as np

from graphc.ir.core import Function, Instr, Value
from graphc.ir.primitives import (BROADCAST, ELEMENTWISE, INJECTIVE, PRIMITIVES, REDUCTION,
                                  FusedComputation)
from graphc.ir.shapes import SymDim, num_elements
from graphc.passes.util import replace_uses, result_ids, users

name = "fusion"

LOOP_KINDS = (ELEMENTWISE, BROADCAST, INJECTIVE)
DUPLICATED = ("broadcast_in_dim", "iota")
# Reduction split: reductions with fewer outputs than SPLIT_MAX_OUTPUTS over at least
# SPLIT_MIN_ELEMENTS elements are cut into at most SPLIT_PARTS parts of SPLIT_MIN_PART or more.
SPLIT_MAX_OUTPUTS = 16
SPLIT_MIN_ELEMENTS = 1 << 16
SPLIT_PARTS = 64
SPLIT_MIN_PART = 1 << 12
# An im2col is gathered by its GEMMs when each of its contiguous runs (a window row of the
# input's channels, or one window offset's channels when the window is dilated along the last
# spatial dim) has at least this many elements. Shorter runs (the MNIST CNN's conv1: 5) cost
# more per run to gather than the patches cost to store and re-read once (measured on 2 AVX2
# cores, forward + filter gradient at batch 64: runs of 5 and 10 slower gathered, 12 and 15
# faster, 160, conv2's, twice as fast).
MIN_GATHER_RUN = 12
# A reduction that keeps the last axis (bias gradients: [rows, C] -> [C]) runs in parallel over
# its kept axes before the first reduced one and over blocks of the columns; with fewer than
# SPLIT_MIN_TASKS such outer indices and fewer than SPLIT_MAX_KEPT outputs, its reduced axes
# are split the same way, in parts of at least SPLIT_MIN_ROWS rows (the partial results are
# then at most 1 / SPLIT_MIN_ROWS of the operand); a symbolic size there counts as SYMBOLIC_ROWS.
SPLIT_MIN_TASKS = 8
SPLIT_MAX_KEPT = 256
SPLIT_MIN_ROWS = 8
SYMBOLIC_ROWS = 64


class _Group:
    def __init__(self, root, kind):
        self.root = root
        self.kind = kind
        self.members = [root]

    def accepts(self, instr, uses):
        """Whether every use of instr's output in this group may read a fused value."""
        return all(not (u.op == "gather" and u.operands[1] is instr.outputs[0]) for u in uses)


def _kind(instr):
    return PRIMITIVES[instr.op].kind


def _groups(fn):
    use = users(fn)
    results = result_ids(fn)
    member_of = {}  # id(instr) -> list of groups
    groups = []
    for instr in reversed(fn.body):
        kind = _kind(instr)
        if instr.op in ("constant", "fusion") or kind not in LOOP_KINDS + (REDUCTION,):
            continue
        out = instr.outputs[0]
        uses = use.get(out.id, [])
        consumer_groups = []
        for u in uses:
            for g in member_of.get(id(u), [None]):
                if g not in consumer_groups:
                    consumer_groups.append(g)
        fusible = kind in LOOP_KINDS and out.id not in results and uses and \
            None not in consumer_groups and all(
                g.accepts(instr, [u for u in uses if id(u) in map(id, g.members)])
                for g in consumer_groups)
        if fusible and (len(consumer_groups) == 1 or instr.op in DUPLICATED):
            for g in consumer_groups:
                g.members.append(instr)
            member_of[id(instr)] = consumer_groups
            continue
        g = _Group(instr, "reduce" if kind == REDUCTION else "loop")
        groups.append(g)
        member_of[id(instr)] = [g]
    return groups


def _epilogue_dot(group):
    """The dot_general whose output the loop group reads only elementwise, or None."""
    members = {id(m) for m in group.members}
    dots = []
    for m in group.members:
        for o in m.operands:
            p = o.producer
            if p is not None and p.op == "dot_general" and id(p) not in members:
                dots.append((m, o))
    if len({o.id for _, o in dots}) != 1:
        return None
    if group.root.outputs[0].dtype != dots[0][1].dtype:
        return None  # the epilogue runs in place over the dot's output
    # Every path from the dot value to the root must read the same (linear) index.
    reach = {dots[0][1].id}
    for m in reversed(group.members):  # members are stored root first
        if any(o.id in reach for o in m.operands):
            if m.op == "iota" or (_kind(m) != ELEMENTWISE and m.op != "reshape"):
                return None
            reach.add(m.outputs[0].id)
    return dots[0][1].producer


def _make_fusion(group, kind, order, extra_first=None):
    """A fusion instruction for the group (members in program order)."""
    members = sorted(group.members, key=lambda m: order[id(m)])
    if extra_first is not None:
        members.insert(0, extra_first)
    inside = {id(m) for m in members}
    sub = Function("fused_" + group.root.op)
    vmap = {}
    operands = []
    for m in members:
        for o in m.operands:
            if o.id in vmap or (o.producer is not None and id(o.producer) in inside):
                continue
            vmap[o.id] = sub.add_feed("in%d" % len(operands), o.dtype, o.shape)
            operands.append(o)
        copy = Instr(m.op, [vmap[o.id] for o in m.operands], m.params, [])
        copy.outputs = [Value(v.dtype, v.shape, producer=copy, hint=v.hint) for v in m.outputs]
        vmap.update((old.id, new) for old, new in zip(m.outputs, copy.outputs))
        sub.body.append(copy)
    sub.add_fetch("out", vmap[group.root.outputs[0].id])
    fusion = Instr("fusion", operands, {"body": FusedComputation(kind, sub)}, [])
    out = group.root.outputs[0]
    out.producer = fusion
    fusion.outputs = [out]
    return fusion


def _raw(op, operands, **params):
    """A new instruction (not yet in any body) with outputs typed by the shape rule."""
    instr = Instr(op, operands, params, [])
    instr.outputs = [Value(dt, shape, producer=instr)
                     for dt, shape in PRIMITIVES[op].infer(*operands, **params)]
    return instr


def _split_parts(outputs, reduced):
    """How many parts to split a reduction of `reduced` elements per output into (1: none)."""
    if outputs >= SPLIT_MAX_OUTPUTS or reduced < SPLIT_MIN_ELEMENTS:
        return 1
    for parts in range(min(SPLIT_PARTS, reduced // SPLIT_MIN_PART), 1, -1):
        if reduced % parts == 0:
            return parts
    return 1


def _split_kept_last(instr):
    """The instructions splitting a large reduction over contiguous axes that keeps the last
    axis and has little outer parallelism (x [A, R, C] -> [A, P, R / P, C] -> partial sums
    [A, P, C] -> [A, C]), or None. With a symbolic size among the reduced axes (a batch), P
    divides the static axes after the last symbolic one, and a transpose brings the parts
    first: [A, N, T, C] -> [A, N, P, T / P, C] -> [A, P, N, T / P, C] -> [A, P, C]."""
    x = instr.operands[0]
    axes = sorted(instr.params["axes"])
    if not axes or axes != list(range(axes[0], axes[-1] + 1)) or axes[-1] == x.rank - 1:
        return None
    first, last = axes[0], axes[-1]
    kept = x.shape[:first] + x.shape[last + 1:]
    if any(isinstance(d, SymDim) for d in kept):
        return None
    block = x.shape[first:last + 1]
    lead = max((i + 1 for i, d in enumerate(block) if isinstance(d, SymDim)), default=0)
    outer = int(np.prod(x.shape[:first], dtype=np.int64))
    rows = int(np.prod(block[lead:], dtype=np.int64))  # the static rows the parts divide
    cols = int(np.prod(x.shape[last + 1:], dtype=np.int64))
    total = outer * rows * cols * (SYMBOLIC_ROWS if lead else 1)
    if outer >= SPLIT_MIN_TASKS or outer * cols >= SPLIT_MAX_KEPT or total < SPLIT_MIN_ELEMENTS:
        return None
    most = min(SPLIT_PARTS, total // outer // SPLIT_MIN_PART, rows // SPLIT_MIN_ROWS)
    parts = next((p for p in range(most, 1, -1) if rows % p == 0), 1)
    if parts == 1:
        return None
    kind = instr.params["kind"]
    split = [_raw("reshape", [x], shape=tuple(x.shape[:first + lead]) +
                  (parts, rows // parts) + tuple(x.shape[last + 1:]))]
    at = first + lead  # the parts' axis
    if lead:
        perm = tuple(range(first)) + (at,) + tuple(range(first, at)) + \
            tuple(range(at + 1, split[0].outputs[0].rank))
        split.append(_raw("transpose", split[-1].outputs, perm=perm))
    split.append(_raw("reduce", split[-1].outputs, axes=tuple(range(first + 1, at + 2)),
                      kind=kind))
    split.append(_raw("reduce", split[-1].outputs, axes=(first,), kind=kind))
    split[-1].outputs[0].hint = instr.outputs[0].hint
    return split


def _split_reductions(fn):
    """Splits large few-output reductions over a suffix of the dims, or over contiguous
    axes before a kept last axis (see the docstring)."""
    body = []
    replaced = []
    for instr in fn.body:
        x = instr.operands[0] if instr.op == "reduce" else None
        split = _split_kept_last(instr) if x is not None else None
        if split is not None:
            body += split
            replaced.append((instr.outputs[0], split[-1].outputs[0]))
            continue
        axes = tuple(instr.params["axes"]) if x is not None else ()
        if x is None or any(isinstance(d, SymDim) for d in x.shape) or not axes or \
                axes != tuple(range(x.rank - len(axes), x.rank)):
            body.append(instr)
            continue
        kept = tuple(x.shape[:x.rank - len(axes)])
        reduced = int(np.prod(x.shape[len(kept):], dtype=np.int64))
        parts = _split_parts(int(np.prod(kept, dtype=np.int64)), reduced)
        if parts == 1:
            body.append(instr)
            continue
        kind = instr.params["kind"]
        reshape = _raw("reshape", [x], shape=kept + (parts, reduced // parts))
        partial = _raw("reduce", reshape.outputs, axes=(len(kept) + 1,), kind=kind)
        total = _raw("reduce", partial.outputs, axes=(len(kept),), kind=kind)
        total.outputs[0].hint = instr.outputs[0].hint
        body += [reshape, partial, total]
        replaced.append((instr.outputs[0], total.outputs[0]))
    fn.body = body
    for old, new in replaced:
        replace_uses(fn, old, new)
    return bool(replaced)


def run(fn):
    split = _split_reductions(fn)
    order = {id(instr): i for i, instr in enumerate(fn.body)}
    groups = [g for g in _groups(fn) if not (
        g.kind == "loop" and len(g.members) == 1 and g.root.op == "reshape")]
    if not groups:
        return _implicit_patches(fn) or split
    fused_root = {}
    absorbed = set()
    for g in groups:
        dot = _epilogue_dot(g) if g.kind == "loop" else None
        if dot is not None and len(users(fn).get(dot.outputs[0].id, [])) == \
                sum(o is dot.outputs[0] for m in g.members for o in m.operands) and \
                dot.outputs[0].id not in result_ids(fn) and id(dot) not in absorbed:
            absorbed.add(id(dot))
            fused_root[id(g.root)] = _make_fusion(g, "dot", order, extra_first=dot)
        else:
            fused_root[id(g.root)] = _make_fusion(g, g.kind, order)
    members = {id(m) for g in groups for m in g.members} | absorbed
    body = []
    for instr in fn.body:
        if id(instr) in fused_root:
            body.append(fused_root[id(instr)])
        elif id(instr) not in members:
            body.append(instr)
    fn.body = body
    _implicit_patches(fn)
    _merge_multi_output(fn)
    return True


# ---------------------------------------------------------------- multi-output fusion

def _space(instr):
    """The iteration space of a fusion that may merge: ("loop", shape, None) or ("reduce",
    operand shape, axes); None for anything else."""
    if instr.op != "fusion":
        return None
    body = instr.params["body"]
    if body.kind == "loop":
        return ("loop", tuple(instr.outputs[0].shape), None)
    root = body.fn.fetches[0].producer
    if body.kind != "reduce" or root.op != "reduce":
        return None
    return ("reduce", tuple(root.operands[0].shape), tuple(root.params["axes"]))


def _merged_space(a, b):
    """The space of a kernel doing both spaces' work, or None when they differ. Element-wise
    work joins only output-stationary reductions (the last axis reduced), which run in
    parallel."""
    if a[0] == b[0]:
        return a if a == b else None
    loop, red = (a, b) if a[0] == "loop" else (b, a)
    if loop[1] == red[1] and len(red[1]) - 1 in red[2]:
        return red
    return None


class _Cluster:
    def __init__(self, instr, space, index):
        self.members = [instr]
        self.space = space
        self.index = index  # position of the first member (for the final order)
        # Outputs other fusions may read inside the cluster: the element-wise ones.
        self.elementwise = set(_elementwise_outputs(instr))
        self.reductions = {v.id for v in instr.outputs} - self.elementwise
        self.epilogue = set()  # outputs computed from finished reductions
        self.outputs = {v.id for v in instr.outputs}


def _elementwise_outputs(instr):
    body = instr.params["body"]
    return [o.id for o, f in zip(instr.outputs, body.fn.fetches)
            if body.kind == "loop" or f.producer.op != "reduce"]


def _is_epilogue(instr, cluster, reads):
    """Whether loop fusion `instr` can run as the epilogue of the cluster's output-stationary
    reductions: it has their output shape and reads the reductions it uses (`reads`, all
    outputs of the cluster) only element-wise at its own index."""
    space = cluster.space
    if space[0] != "reduce" or len(space[1]) - 1 not in space[2] or \
            instr.params["body"].kind != "loop" or reads & cluster.elementwise:
        return False
    shape = tuple(d for i, d in enumerate(space[1]) if i not in space[2])
    if tuple(instr.outputs[0].shape) != shape:
        return False
    sub = instr.params["body"].fn
    reach = {f.id for f, o in zip(sub.feeds, instr.operands) if o.id in reads}
    for m in sub.body:
        if any(o.id in reach for o in m.operands):
            if _kind(m) != ELEMENTWISE or m.op == "iota" or m.outputs[0].shape != shape:
                return False
            reach.add(m.outputs[0].id)
    return True


def _gather_index_feeds(instr):
    sub = instr.params["body"].fn
    inner = {f.id: o.id for f, o in zip(sub.feeds, instr.operands)}
    return {inner[m.operands[1].id] for m in sub.body
            if m.op == "gather" and m.operands[1].id in inner}


def _shared_input(a_operands, instr):
    return any(o.id in a_operands and not o.is_constant and
               not all(isinstance(d, int) and d == 1 for d in o.shape)
               for o in instr.operands)


def _merge_multi_output(fn):
    """Merges fusions into multi-output fusions (see the module docstring)."""
    body = fn.body
    consumers = {}
    producer = {}
    for instr in body:
        for v in instr.outputs:
            producer[v.id] = instr
        for o in instr.operands:
            if o.id in producer:
                consumers.setdefault(id(producer[o.id]), []).append(instr)
    node = {id(instr): id(instr) for instr in body}  # instr -> id of its cluster's first
    clusters = {}

    def succs(key):
        members = clusters[key].members if key in clusters else [by_id[key]]
        return {node[id(c)] for m in members for c in consumers.get(id(m), ())} - {key}

    def reaches(src, dst, direct_ok):
        """Whether a path src -> ... -> dst exists (one of length >= 2 if direct_ok)."""
        stack = [n for n in succs(src) if not (direct_ok and n == dst)]
        seen = set(stack)
        while stack:
            n = stack.pop()
            if n == dst:
                return True
            for s in succs(n):
                if s not in seen:
                    seen.add(s)
                    stack.append(s)
        return False

    by_id = {id(instr): instr for instr in body}
    merged = False
    for index, instr in enumerate(body):
        space = _space(instr)
        if space is None:
            continue
        gather_feeds = _gather_index_feeds(instr)
        target = None
        for key, c in clusters.items():
            reads = {o.id for o in instr.operands if o.id in c.outputs}
            epilogue = bool(reads - c.elementwise)
            if reads & gather_feeds:
                continue  # gather indices are checked before the kernel runs
            if epilogue:
                joint = c.space if _is_epilogue(instr, c, reads) else None
            else:
                joint = _merged_space(c.space, space)
            if joint is None:
                continue
            operands = {o.id for m in c.members for o in m.operands}
            if not reads and not _shared_input(operands, instr):
                continue
            if reaches(key, id(instr), True) or reaches(id(instr), key, True):
                continue
            target = key
            break
        if target is None:
            clusters[id(instr)] = _Cluster(instr, space, index)
            continue
        c = clusters[target]
        c.members.append(instr)
        c.space = joint
        if epilogue:
            c.epilogue |= {v.id for v in instr.outputs}
        else:
            c.elementwise |= set(_elementwise_outputs(instr))
            c.reductions |= {v.id for v in instr.outputs} - c.elementwise
        c.outputs |= {v.id for v in instr.outputs}
        node[id(instr)] = target
        merged = True
    if not merged:
        return False
    results = result_ids(fn)
    replacement = {}
    for key, c in clusters.items():
        if len(c.members) > 1:
            inside = {id(m) for m in c.members}
            # Reductions are always stored: the first one is the kernel's root.
            needed = c.reductions | {v.id for m in c.members for v in m.outputs
                                     if v.id in results or any(
                                         id(u) not in inside
                                         for u in consumers.get(id(m), ())
                                         if v in u.operands)}
            replacement[key] = _combine(c, needed)
    # Stable topological order of the clusters and the remaining instructions.
    order = []
    for instr in body:
        key = node[id(instr)]
        if key == id(instr):
            order.append(key)
    position = {key: i for i, key in enumerate(order)}
    preds = {key: set() for key in order}
    for key in order:
        for s in succs(key):
            preds[s].add(key)
    done = set()
    new_body = []
    while len(new_body) < len(order):
        key = min((k for k in order if k not in done and preds[k] <= done),
                  key=position.__getitem__)
        done.add(key)
        new_body.append(replacement.get(key) or by_id[key])
    fn.body = new_body
    return True


def _combine(cluster, needed):
    """One fusion instruction doing the work of the cluster's fusions; its outputs are the
    members' outputs in `needed` (value ids), reductions first."""
    kind = "reduce" if cluster.space[0] == "reduce" else "loop"
    sub = Function("fused_multi")
    operands = []
    outer_to_new = {}  # outer operand id -> feed; outer output id -> inner value
    fetched = []
    for m in cluster.members:
        mfn = m.params["body"].fn
        local = {}
        for f, o in zip(mfn.feeds, m.operands):
            if o.id not in outer_to_new:
                outer_to_new[o.id] = sub.add_feed("in%d" % len(operands), o.dtype, o.shape)
                operands.append(o)
            local[f.id] = outer_to_new[o.id]
        for instr in mfn.body:
            copy = Instr(instr.op, [local[o.id] for o in instr.operands], instr.params, [])
            copy.outputs = [Value(v.dtype, v.shape, producer=copy, hint=v.hint)
                            for v in instr.outputs]
            local.update((old.id, new) for old, new in zip(instr.outputs, copy.outputs))
            sub.body.append(copy)
        for f, out in zip(mfn.fetches, m.outputs):
            outer_to_new[out.id] = local[f.id]
            if out.id in needed:
                fetched.append((local[f.id].producer.op != "reduce", out, local[f.id]))
    fetched.sort(key=lambda t: t[0])  # reductions first: the first one is the kernel's root
    outs = []
    for i, (_, out, inner) in enumerate(fetched):
        sub.add_fetch("out%d" % i, inner)
        outs.append(out)
    fusion = Instr("fusion", operands, {"body": FusedComputation(kind, sub)}, outs)
    for out in outs:
        out.producer = fusion
    return fusion


# ---------------------------------------------------------------- implicit im2col operands

def _gatherable(im):
    """Whether the GEMM can gather this im2col's patches itself (see _implicit_patches)."""
    x, p = im.operands[0], im.params
    c = x.shape[-1]
    run = c * (p["window_dimensions"][-1] if p["rhs_dilation"][-1] == 1 else 1)
    return x.dtype in (np.float32, np.float64) and 1 <= x.rank - 2 <= 3 and \
        all(d == 1 for d in p["lhs_dilation"]) and not isinstance(c, SymDim) and \
        run >= MIN_GATHER_RUN


def _reads_patches(consumer, value, patches):
    """The dot (with its fusion body, or None for a bare dot_general) of a consumer that reads
    `value`, a [rows, cols, 1] regrouping of the im2col output `patches`, only as its dot's
    lhs with P's rows or columns as the contraction; else None."""
    n = patches.rank // 2 - 1
    rows, cols = num_elements(patches.shape[:n + 1]), num_elements(patches.shape[n + 1:])
    if sum(o is value for o in consumer.operands) != 1:
        return None
    if consumer.op == "dot_general":
        dot, body, lhs = consumer, None, value
    elif consumer.op == "fusion" and consumer.params["body"].kind == "dot":
        body = consumer.params["body"].fn
        dot = body.body[0]
        lhs = body.feeds[consumer.operands.index(value)]
        if sum(o is lhs for m in body.body for o in m.operands) != 1 or \
                any(f is lhs for f in body.fetches):
            return None
    else:
        return None
    p = dot.params
    if dot.operands[0] is not lhs or tuple(lhs.shape) != (rows, cols, 1) or \
            tuple(p["lhs_batch"]) != (2,) or tuple(p["rhs_batch"]) != (2,) or \
            tuple(p["lhs_contract"]) not in ((0,), (1,)):
        return None
    return dot, body


def _patch_readers(im, use, results):
    """[(consumer, reshape chain)] when every use of the im2col's output, through reshapes,
    is a dot's lhs _reads_patches accepts; else []."""
    found = []
    pending = [(im.outputs[0], [])]
    while pending:
        v, chain = pending.pop()
        if v.id in results:
            return []
        for u in use.get(v.id, []):
            if u.op == "reshape":
                pending.append((u.outputs[0], chain + [u]))
            elif _reads_patches(u, v, im.outputs[0]) is not None:
                found.append((u, chain))
            else:
                return []
    return found


def _absorb_patches(consumer, im, chain):
    """A dot fusion computing `consumer` with the im2col and the reshape chain as the first
    instructions of its body (reading the im2col's operand instead of the patches)."""
    value = chain[-1].outputs[0] if chain else im.outputs[0]
    dot, body = _reads_patches(consumer, value, im.outputs[0])
    sub = Function("fused_" + ("dot_general" if body is None else
                               body.fetches[0].producer.op))
    x = im.operands[0]
    feeds = {}  # outer value id -> feed
    for o in [x] + [o for o in consumer.operands if o is not value]:
        if o.id not in feeds:
            feeds[o.id] = sub.add_feed("in%d" % len(feeds), o.dtype, o.shape)
    prologue, cur = [], feeds[x.id]
    for m in [im] + chain:
        copy = Instr(m.op, [cur], m.params, [])
        copy.outputs = [Value(v.dtype, v.shape, producer=copy, hint=v.hint) for v in m.outputs]
        prologue.append(copy)
        cur = copy.outputs[0]
    if body is None:
        rest = [Instr("dot_general", [cur, feeds[dot.operands[1].id]], dot.params, [])]
        rest[0].outputs = [Value(v.dtype, v.shape, producer=rest[0], hint=v.hint)
                           for v in dot.outputs]
        fetches = [("out", rest[0].outputs[0])]
    else:
        inner = {f.id: feeds[o.id] for f, o in zip(body.feeds, consumer.operands)
                 if o is not value}
        inner[body.feeds[consumer.operands.index(value)].id] = cur
        rest = body.body
        for m in rest:
            m.operands = [inner.get(o.id, o) for o in m.operands]
        fetches = list(zip(body.fetch_names, body.fetches))
    sub.body = prologue + rest
    for label, fetched in fetches:
        sub.add_fetch(label, fetched)
    operands = [x] + [o for o in consumer.operands if o is not value and o is not x]
    fused = Instr("fusion", _unique(operands), {"body": FusedComputation("dot", sub)}, [])
    for v in consumer.outputs:
        v.producer = fused
    fused.outputs = consumer.outputs
    return fused


def _unique(values):
    """values without repeats (by identity), in order."""
    out = []
    for v in values:
        if all(v is not o for o in out):
            out.append(v)
    return out


def _implicit_patches(fn):
    """Moves each im2col whose patches only feed dots' lhs (a forward convolution's P, a
    filter gradient's P^T) into those dots' fusions as operand producers, so the GEMM gathers
    the patches from the im2col's operand as it packs them and P is never stored (one copy
    per dot: a training step's forward and filter-gradient GEMMs both gather)."""
    use = users(fn)
    results = result_ids(fn)
    new = {}
    dropped = set()
    for im in fn.body:
        if im.op != "im2col" or not _gatherable(im):
            continue
        found = _patch_readers(im, use, results)
        for consumer, chain in found:
            new[id(consumer)] = _absorb_patches(consumer, im, chain)
            dropped.update(id(m) for m in [im] + chain)
    fn.body = [new.get(id(m), m) for m in fn.body if id(m) not in dropped]
    return bool(new)
