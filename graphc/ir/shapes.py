"""Dimensions of core-IR shapes: an int, or a symbolic `SymDim` (coefficient x named symbol,
e.g. the batch `N` or `784*N` after a flattening reshape). Shape rules, buffer sizes and loop
bounds go through these helpers so a function can be specialized (bind `N`) or kept symbolic."""

import math


class SymDim:
    """`coeff * name`: the only symbolic form graphc needs (one batch symbol, scaled)."""

    __slots__ = ("name", "coeff")

    def __init__(self, name, coeff=1):
        self.name = name
        self.coeff = coeff

    def __mul__(self, other):
        if isinstance(other, int):
            return SymDim(self.name, self.coeff * other) if other else 0
        return NotImplemented

    __rmul__ = __mul__

    def __floordiv__(self, other):
        if isinstance(other, int) and other and self.coeff % other == 0:
            return SymDim(self.name, self.coeff // other)
        if isinstance(other, SymDim) and other.name == self.name and \
                self.coeff % other.coeff == 0:
            return self.coeff // other.coeff
        raise ValueError("cannot divide symbolic dimension %s by %r" % (self, other))

    def __add__(self, other):
        if isinstance(other, SymDim) and other.name == self.name:
            return SymDim(self.name, self.coeff + other.coeff)
        if other == 0:
            return self
        raise ValueError("cannot add %s and %s" % (self, other))

    __radd__ = __add__

    def __eq__(self, other):
        return isinstance(other, SymDim) and (self.name, self.coeff) == (other.name, other.coeff)

    def __hash__(self):
        return hash((self.name, self.coeff))

    def __repr__(self):
        return self.name if self.coeff == 1 else "%d*%s" % (self.coeff, self.name)


def is_symbolic(dim):
    return isinstance(dim, SymDim)


def evaluate(dim, env):
    """The int value of a dimension given `env` (symbol name -> int)."""
    if isinstance(dim, SymDim):
        if dim.name not in env:
            raise KeyError("symbolic dimension %s is not bound" % dim.name)
        return dim.coeff * env[dim.name]
    return dim


def evaluate_shape(shape, env):
    return tuple(evaluate(d, env) for d in shape)


def bind(obj, env):
    """`obj` (a dim, or nested tuples/lists of them) with every SymDim replaced by its value."""
    if isinstance(obj, SymDim):
        return evaluate(obj, env)
    if isinstance(obj, tuple):
        return tuple(bind(o, env) for o in obj)
    if isinstance(obj, list):
        return [bind(o, env) for o in obj]
    return obj


def num_elements(shape):
    """Product of the dims (may be a SymDim when exactly one factor is symbolic)."""
    out = 1
    for d in shape:
        out = d * out if isinstance(d, SymDim) else out * d
    return out


def symbols(shape):
    return {d.name for d in shape if isinstance(d, SymDim)}


def static_size(shape):
    """Element count when all dims are ints, else None."""
    if any(isinstance(d, SymDim) for d in shape):
        return None
    return math.prod(shape)
