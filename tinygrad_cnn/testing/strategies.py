"""Hypothesis strategies for property-testing ops: shapes, float64 arrays kept
away from kinks, tie-free arrays, and ``Case``s built from an op's ``Spec``."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = [
    "Case", "shapes", "broadcastable_shapes", "arrays", "distinct_arrays", "tensors",
    "away_from", "cases_from_spec",
]


@dataclass
class Case:
    """One drawn input for an op: positional arrays and keyword parameters.

    Float arrays in ``args`` are differentiated unless listed in ``constant``.
    """
    args: tuple
    kwargs: dict = field(default_factory=dict)
    constant: tuple = ()

    def __repr__(self):
        shapes = ", ".join(str(np.shape(a)) for a in self.args)
        if sum(np.size(a) for a in self.args) > 1000:      # large cases: the values would be noise
            return f"Case(shapes=[{shapes}], kwargs={self.kwargs!r})"
        return f"Case(shapes=[{shapes}], kwargs={self.kwargs!r}, args={list(self.args)!r})"


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4):
    """Array shapes (tuples of ints)."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_shapes(num_shapes: int, min_dims: int = 0, max_dims: int = 3,
                         min_side: int = 1, max_side: int = 4):
    """``num_shapes`` shapes that broadcast together (a tuple of shapes)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=min_side,
        max_side=max_side).map(lambda result: result.input_shapes)


def away_from(array: np.ndarray, kinks=(), gap: float = 0.05) -> np.ndarray:
    """Move values within ``gap`` of a kink to ``kink +- gap`` (finite
    differences straddling a kink would measure the wrong slope)."""
    array = np.array(array, dtype=np.float64, copy=True)
    for kink in kinks:
        near = np.abs(array - kink) < gap
        array[near] = kink + np.where(array[near] >= kink, gap, -gap)
    return array


@st.composite
def arrays(draw, shape, low: float = -3.0, high: float = 3.0, avoid=(), gap: float = 0.05,
           dtype=np.float64):
    """Float arrays of ``shape`` (a shape or a strategy of shapes) with values
    in [low, high], kept ``gap`` away from each value in ``avoid``."""
    if not isinstance(shape, tuple):
        shape = draw(shape)
    elements = st.floats(low, high, allow_nan=False, allow_infinity=False, width=64)
    array = draw(hnp.arrays(np.float64, shape, elements=elements))
    return away_from(array, avoid, gap).astype(dtype)


@st.composite
def distinct_arrays(draw, shapes_, low: float = -3.0, high: float = 3.0, dtype=np.float64):
    """Arrays for several shapes whose values are all different from each
    other, at least (high - low) / total_size apart: no ties anywhere, so
    max, maximum and pooling have a unique winner well beyond eps."""
    single = isinstance(shapes_, tuple) and all(isinstance(s, int) for s in shapes_)
    shape_list = [shapes_] if single else list(shapes_)
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shape_list]
    total = max(sum(sizes), 1)
    order = np.array(draw(st.permutations(range(total))), dtype=np.float64)
    values = low + (high - low) * (order + 0.5) / total
    out, start = [], 0
    for shape, size in zip(shape_list, sizes):
        out.append(values[start:start + size].reshape(shape).astype(dtype))
        start += size
    return out[0] if single else tuple(out)


def tensors(shape, low=-3.0, high=3.0, avoid=(), requires_grad=True, dtype=np.float64):
    """Tensors with values drawn as by ``arrays``."""
    from ..tensor import Tensor
    return arrays(shape, low, high, avoid, dtype=dtype).map(
        lambda a: Tensor(a, requires_grad=requires_grad))


def _domains(spec):
    if isinstance(spec.domain, list):
        if len(spec.domain) != spec.nargs:
            raise ValueError(f"Spec: {len(spec.domain)} domains for {spec.nargs} inputs")
        return spec.domain
    return [spec.domain] * spec.nargs


@st.composite
def cases_from_spec(draw, spec):
    """Cases for a plain elementwise-style op described by a ``Spec``."""
    if spec.broadcast:
        shape_list = draw(broadcastable_shapes(spec.nargs, spec.min_dims, spec.max_dims,
                                               max_side=spec.max_side))
    else:
        shape = draw(shapes(spec.min_dims, spec.max_dims, max_side=spec.max_side))
        shape_list = (shape,) * spec.nargs
    domains = _domains(spec)
    if spec.distinct:
        low = min(d[0] for d in domains)
        high = max(d[1] for d in domains)
        args = draw(distinct_arrays(tuple(shape_list), low, high))
        args = tuple(away_from(a, spec.avoid, spec.gap) for a in args)
    else:
        args = tuple(draw(arrays(shape, low, high, spec.avoid, spec.gap))
                     for shape, (low, high) in zip(shape_list, domains))
    return Case(args=args)
