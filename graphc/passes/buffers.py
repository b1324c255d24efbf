"""Buffer assignment: where every value of the (fused) function lives while the entry runs.

Parameters stay in the caller's feed and state buffers and constants in the module's data. A
fetched value is computed straight into its fetch buffer; a new variable value straight into
its state buffer when nothing reads the old value afterwards; everything else lives in one
temp arena, where a buffer is reused once the values stored in it are dead (liveness over the
instruction order). A lone reshape is a view of its operand's buffer. Offsets and sizes are
linear in the symbolic dims (`Size`) and multiples of 64 bytes, so every buffer is 64-byte
aligned for any binding. Results not computed in place are copied at the end (fetches first,
then state updates, so a fetched old value is read before it is overwritten).

The plan is stored as `fn.buffer_plan`; `scratch(instr) -> bytes` lets a backend reserve
kernel-private scratch space (GEMM packing) for the duration of one instruction, and
`in_place(instr, value) -> bool` says which non-loop instructions it computes safely over
their operand `value` (a GEMM epilogue adding `value` as it stores each element)."""

from graphc.ir.primitives import ELEMENTWISE, PRIMITIVES
from graphc.ir.shapes import SymDim

name = "buffers"
ALIGN = 64


class Size:
    """`const + sum(coeff * dims[symbol])` bytes."""

    def __init__(self, const=0, coeffs=None):
        self.const = const
        self.coeffs = dict(coeffs or {})

    @classmethod
    def of(cls, value):
        size = Size(value.dtype.itemsize)
        for d in value.shape:
            size = size.scaled(d)
        return size

    def scaled(self, dim):
        if isinstance(dim, SymDim):
            if self.coeffs:
                raise ValueError("buffer size is not linear in the symbolic dims")
            return Size(0, {dim.name: self.const * dim.coeff})
        return Size(self.const * dim, {k: c * dim for k, c in self.coeffs.items()})

    def aligned(self):
        up = lambda n: -(-n // ALIGN) * ALIGN  # noqa: E731
        return Size(up(self.const), {k: up(c) for k, c in self.coeffs.items()})

    def __add__(self, other):
        coeffs = dict(self.coeffs)
        for k, c in other.coeffs.items():
            coeffs[k] = coeffs.get(k, 0) + c
        return Size(self.const + other.const, coeffs)

    def covers(self, other):
        """self >= other for every binding of the dims."""
        return self.const >= other.const and all(
            self.coeffs.get(k, 0) >= c for k, c in other.coeffs.items())

    def evaluate(self, dims):
        return self.const + sum(c * dims[k] for k, c in self.coeffs.items())

    def __eq__(self, other):
        return isinstance(other, Size) and (self.const, self.coeffs) == (other.const,
                                                                         other.coeffs)

    def __repr__(self):
        terms = ["%d*%s" % (c, k) for k, c in sorted(self.coeffs.items()) if c]
        return " + ".join([str(self.const)] + terms) if terms else str(self.const)


class Location:
    """Where a value lives: kind in feed/state/fetch (index), temp (offset), const, view."""

    __slots__ = ("kind", "index", "offset", "base", "size_hint")

    def __init__(self, kind, index=None, offset=None, base=None):
        self.size_hint = None  # for "temp": the size of the slot it occupies
        self.kind = kind
        self.index = index
        self.offset = offset
        self.base = base  # for "view": the value whose storage this one shares

    def __repr__(self):
        if self.kind == "temp":
            return "temp+%r" % self.offset
        if self.kind == "view":
            return "view(%r)" % self.base
        return self.kind if self.index is None else "%s[%d]" % (self.kind, self.index)


class BufferPlan:
    def __init__(self):
        self.locations = {}  # value id -> Location
        self.scratch = {}  # id(instr) -> offset (Size) of its scratch space
        self.temp_size = Size()
        self.copies = []  # (destination kind, index, value) after the last instruction

    def root(self, value):
        """The value whose storage `value` uses (following views)."""
        loc = self.locations[value.id]
        while loc.kind == "view":
            value = loc.base
            loc = self.locations[value.id]
        return value

    def __str__(self):
        lines = ["temp arena: %r bytes" % self.temp_size]
        lines += ["%%%d: %r" % (vid, loc) for vid, loc in self.locations.items()]
        lines += ["copy %s[%d] <- %r" % c for c in self.copies]
        return "\n".join(lines)


def plan(fn, scratch=None, reuse=True, in_place=None):
    """The buffer plan of `fn` (see the module docstring)."""
    p = BufferPlan()
    for i, v in enumerate(fn.feeds):
        p.locations[v.id] = Location("feed", i)
    for i, v in enumerate(fn.state_in):
        p.locations[v.id] = Location("state", i)
    end = len(fn.body)
    last_use = {}
    for pos, instr in enumerate(fn.body):
        for o in instr.operands:
            last_use[o.id] = pos
    for v in fn.results:
        last_use[v.id] = end

    # Views: a lone reshape shares its operand's storage, so the base stays live as long.
    for pos, instr in enumerate(fn.body):
        if instr.op == "constant":
            p.locations[instr.outputs[0].id] = Location("const")
        elif instr.op == "reshape":
            p.locations[instr.outputs[0].id] = Location("view", base=instr.operands[0])
    for pos in range(end - 1, -1, -1):
        instr = fn.body[pos]
        if instr.op == "reshape":
            out, base = instr.outputs[0], instr.operands[0]
            last_use[base.id] = max(last_use.get(base.id, pos), last_use.get(out.id, pos))

    produced_by = {}
    for pos, instr in enumerate(fn.body):
        for v in instr.outputs:
            produced_by[v.id] = pos

    # Direct destinations for fetched values and new state values.
    direct = {}
    for i, v in enumerate(fn.fetches):
        if v.id in produced_by and v.id not in p.locations and v.id not in direct:
            direct[v.id] = Location("fetch", i)
    for k, v in enumerate(fn.state_out):
        if v is None or v.id not in produced_by or v.id in p.locations or v.id in direct:
            continue
        old = fn.state_in[k]
        readers = [u for u, loc in p.locations.items() if loc.kind == "view"
                   and _root_id(p, u) == old.id] + [old.id]
        pos = produced_by[v.id]
        writer = fn.body[pos]
        if all(last_use.get(r, -1) < pos or (r == old.id and (
                _reads_in_step(writer, old) or (in_place is not None and in_place(writer, old))))
               for r in readers):
            direct[v.id] = Location("state", k)

    free = []  # (offset, size) of released temp slots
    top = Size()
    release_at = {}
    for pos, instr in enumerate(fn.body):
        if instr.op in ("constant", "reshape"):
            continue
        for v in instr.outputs:
            if v.id in direct:
                p.locations[v.id] = direct[v.id]
                continue
            top = _allocate(p, v.id, Size.of(v).aligned(), free, top, reuse)
            release_at.setdefault(last_use.get(v.id, pos), []).append(v.id)
        need = scratch(instr) if scratch else 0
        if need:
            key = "scratch%d" % id(instr)
            top = _allocate(p, key, Size(need).aligned(), free, top, reuse)
            p.scratch[id(instr)] = p.locations.pop(key).offset
            free.append((p.scratch[id(instr)], Size(need).aligned()))
        for vid in release_at.pop(pos, []):
            loc = p.locations[vid]
            free.append((loc.offset, loc.size_hint))
    p.temp_size = top

    for i, v in enumerate(fn.fetches):
        loc = p.locations[p.root(v).id]
        if not (loc.kind == "fetch" and loc.index == i):
            p.copies.append(("fetch", i, v))
    for k, v in enumerate(fn.state_out):
        if v is not None:
            loc = p.locations[p.root(v).id]
            if not (loc.kind == "state" and loc.index == k):
                p.copies.append(("state", k, v))
    return p


def _reads_in_step(instr, value):
    """Whether loop fusion `instr` reads `value` only at the index it writes (element-wise
    paths of the same shape), so its output may overwrite value's buffer in place."""
    if instr.op != "fusion" or instr.params["body"].kind != "loop":
        return False
    sub = instr.params["body"].fn
    root = sub.fetches[0]
    if root.shape != value.shape:
        return False
    reach = {f.id for f, o in zip(sub.feeds, instr.operands) if o is value}
    for m in sub.body:
        if any(o.id in reach for o in m.operands):
            if PRIMITIVES[m.op].kind != ELEMENTWISE or m.op == "iota" or \
                    m.outputs[0].shape != root.shape:
                return False
            reach.add(m.outputs[0].id)
    return True


def _root_id(p, vid):
    loc = p.locations.get(vid)
    while loc is not None and loc.kind == "view":
        vid = loc.base.id
        loc = p.locations.get(vid)
    return vid


def _allocate(p, key, size, free, top, reuse):
    best = None
    if reuse:
        for i, (offset, slot) in enumerate(free):
            if slot.covers(size) and (best is None or free[best][1].covers(slot)):
                best = i
    if best is not None:
        offset, slot = free.pop(best)
    else:
        offset, slot = top, size
        top = top + size
    loc = Location("temp", offset=offset)
    loc.size_hint = slot
    p.locations[key] = loc
    return top


def run(fn, scratch=None, in_place=None):
    fn.buffer_plan = plan(fn, scratch, in_place=in_place)
    return True
