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
  outputs x parts; the split depends only on the shapes, never on the thread count.
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
from graphc.ir.shapes import SymDim
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


def _split_reductions(fn):
    """Splits large few-output reductions over a suffix of the dims (see the docstring)."""
    body = []
    replaced = []
    for instr in fn.body:
        x = instr.operands[0] if instr.op == "reduce" else None
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
        return split
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
