"""Property-testing kit for ops (needs the ``testing`` extra: hypothesis).

The built-in ops are tested with exactly these tools. For your own op::

    import tinygrad_cnn as tc
    from tinygrad_cnn.testing import op_test

    @tc.defop("softplus", spec=tc.Spec(domain=(-4, 4)))
    def softplus(ctx, x):
        return np.logaddexp(0, x)

    @softplus.defvjp
    def softplus_vjp(ctx, grad_out):
        return (grad_out * ctx.inputs[0].sigmoid(),)

    test_softplus = op_test("softplus")   # a Hypothesis test pytest collects

``op_test`` draws inputs from the op's Spec and runs ``check_op``: forward
values (against ``Spec.reference`` when given) and dtype, first derivatives
and second derivatives against central differences in float64, and the
invariants every op must keep (inputs not mutated, gradients not aliased,
graph freed after backward).
"""
from __future__ import annotations

import numpy as np
from hypothesis import given

from ..tensor import Op, Tensor, get_op
from . import op_db
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .strategies import (Case, arrays, away_from, broadcastable_shapes, cases_from_spec,
                         distinct_arrays, shapes, tensors)
from .kernels import check_kernel, kernel_test  # noqa: E402
from .resolve import cases_for, resolve as _resolve  # noqa: F401

op_db.attach()     # the built-in ops' Specs live on this side

__all__ = [
    "Case", "GradcheckError", "gradcheck", "gradgradcheck", "check_op", "cases_for", "op_test",
    "check_kernel", "kernel_test",
    "arrays", "distinct_arrays", "shapes", "broadcastable_shapes", "tensors", "away_from",
]


def _float_positions(case: Case):
    return [i for i, a in enumerate(case.args)
            if np.asarray(a).dtype.kind == "f" and i not in case.constant]


def check_op(op, case: Case, *, second_order: bool | None = None, seed: int = 0) -> None:
    """Run every property check on one drawn case; raises AssertionError."""
    op = _resolve(op)
    spec = op.spec
    kwargs = case.kwargs
    args = [np.array(a, copy=True) for a in case.args]
    originals = [a.copy() for a in args]
    float_positions = _float_positions(case)

    def fn(*tensors):
        return op(*tensors, **kwargs)
    fn.__name__ = op.name

    # 1. forward: float32 stays float32, and values match the reference
    as32 = [a.astype(np.float32) if i in float_positions else a for i, a in enumerate(args)]
    out32 = op(*[Tensor(a) for a in as32], **kwargs)
    if float_positions and out32.dtype.kind == "f" and (spec is None or spec.keeps_dtype):
        assert out32.dtype == np.float32, f"{op.name}: float32 inputs gave a {out32.dtype} output"
    if spec is not None and spec.reference is not None:
        expected = spec.reference(*args, **kwargs)
        got = op(*[Tensor(a) for a in args], **kwargs).data
        assert got.shape == np.shape(expected), f"{op.name}: shape {tuple(got.shape)}, reference {np.shape(expected)}"
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9,
                                   err_msg=f"{op.name}: forward differs from its reference")

    if not float_positions:
        return
    tensors = [Tensor(a, requires_grad=i in float_positions) for i, a in enumerate(args)]

    # 2. first derivatives (with the op's fast kernel, if it has one, and with its reference)
    gradcheck(fn, tensors, seed=seed, name=op.name)
    if op.kernel is not None:
        from .. import kernels
        with kernels.use("reference"):
            gradcheck(fn, [Tensor(a, requires_grad=i in float_positions) for i, a in enumerate(args)],
                      seed=seed, name=op.name + " (reference)")

    # 3. invariants of one backward pass
    out = fn(*tensors)
    upstream = Tensor(np.random.default_rng(seed).standard_normal(out.shape))
    out.backward(upstream)
    for i, (a, original) in enumerate(zip(args, originals)):
        assert np.array_equal(a, original, equal_nan=True), f"{op.name}: input {i} was mutated"
    grads = [tensors[i].grad for i in float_positions]
    for i, g in zip(float_positions, grads):
        assert g is not None, f"{op.name}: input {i} got no gradient"
        assert g.shape == args[i].shape, f"{op.name}: gradient {i} has shape {tuple(g.shape)}, input {tuple(args[i].shape)}"
        assert g._ctx is None and not g.requires_grad, \
            f"{op.name}: backward without create_graph built a graph"
    arrays_seen = [g.data for g in grads] + args + [upstream.data, out.data]
    for j, g in enumerate(grads):
        for k, other in enumerate(arrays_seen):
            if k != j and g.data.size and np.shares_memory(g.data, other):
                raise AssertionError(f"{op.name}: gradient of input {float_positions[j]} shares memory "
                                     "with another gradient, an input or the output")
    assert out._ctx is not None and out._ctx.inputs is None, \
        f"{op.name}: the graph was not freed after backward"
    try:
        out.backward(upstream)
    except RuntimeError as err:
        assert "retain_graph" in str(err), f"{op.name}: second backward error does not mention retain_graph"
    else:
        raise AssertionError(f"{op.name}: a second backward through a freed graph did not raise")

    # 4. second derivatives
    if second_order if second_order is not None else (spec is None or spec.second_order):
        fresh = [Tensor(a, requires_grad=i in float_positions) for i, a in enumerate(args)]
        gradgradcheck(fn, fresh, seed=seed, name=op.name)


def op_test(op, cases=None):
    """A ready Hypothesis test for ``op`` (a name or an Op): assign it to a
    ``test_*`` name in a test module and pytest runs it. Example counts come
    from the active Hypothesis settings profile."""
    name = op if isinstance(op, str) else _resolve(op).name

    def test(case):
        check_op(_resolve(name), case)

    strategy = cases if cases is not None else cases_for(name)
    test.__name__ = "test_op_" + "".join(c if c.isalnum() else "_" for c in name)
    test.__qualname__ = test.__name__
    return given(case=strategy)(test)
