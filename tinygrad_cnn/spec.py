"""How the property tests draw valid inputs for an op: plain data, turned into
Hypothesis strategies by ``tinygrad_cnn.testing``. A user's op takes its Spec
at registration (``defop(name, spec=Spec(...))``); the built-in ops' Specs
are a table on the testing side (``tinygrad_cnn/testing/op_db.py``)."""
from __future__ import annotations

from typing import Callable, Sequence


class Spec:
    """How the generic property tests draw valid inputs for an op.

    Plain data, so that ``import tinygrad_cnn`` needs numpy only; the testing
    kit turns it into Hypothesis strategies.

    nargs      number of Tensor inputs
    broadcast  inputs get mutually broadcastable shapes (else the same shape)
    domain     (low, high) for every input, or one pair per input
    avoid      values to stay away from (kinks such as 0 for relu/abs), with
               margin ``gap``
    distinct   all values of all inputs distinct (no ties for max/maximum)
    cases      a function ``cases(spec)`` that returns a Hypothesis strategy of
               ``testing.Case`` (or "module:function" naming one); overrides
               the above
    second_order  whether gradgradcheck applies
    keeps_dtype  float32 inputs give a float32 output (False for casts)
    reference  optional plain-numpy forward to compare values against
    """

    def __init__(self, nargs: int = 1, broadcast: bool = False, domain=(-3.0, 3.0),
                 avoid: Sequence[float] = (), gap: float = 0.05, distinct: bool = False,
                 min_dims: int = 0, max_dims: int = 3, max_side: int = 4,
                 cases: str | Callable | None = None, second_order: bool = True,
                 reference: Callable | None = None, keeps_dtype: bool = True):
        self.nargs = nargs
        self.broadcast = broadcast
        self.domain = domain
        self.avoid = tuple(avoid)
        self.gap = gap
        self.distinct = distinct
        self.min_dims = min_dims
        self.max_dims = max_dims
        self.max_side = max_side
        self.cases = cases
        self.second_order = second_order
        self.reference = reference
        self.keeps_dtype = keeps_dtype


