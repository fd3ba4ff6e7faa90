"""Which op a test means, and the strategy that draws its inputs (from its Spec)."""
from __future__ import annotations

import importlib

from ..tensor import Op, get_op
from .strategies import cases_from_spec


def resolve(op) -> Op:
    """A registered op from its name, an Op, or an ``autograd.Function`` subclass."""
    if isinstance(op, str):
        return get_op(op)
    return getattr(op, "_op", None) or op


def cases_for(op):
    """The Hypothesis strategy of ``Case``s for a registered op, from its Spec."""
    op = resolve(op)
    spec = op.spec
    if spec is None:
        raise ValueError(f"op {op.name!r} has no Spec, so it cannot be property-tested; "
                         "register it with defop(name, spec=Spec(...)) (a built-in op: add "
                         "its row to tinygrad_cnn/testing/op_db.py)")
    if spec.cases is None:
        return cases_from_spec(spec)
    factory = spec.cases
    if isinstance(factory, str):
        module_name, _, attr = factory.partition(":")
        factory = getattr(importlib.import_module(module_name), attr)
    return factory(spec)
