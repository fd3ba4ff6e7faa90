"""Every kernel tested against its reference.

``check_kernel(op, case)`` runs one drawn case through the op twice, with the fast kernels and
with the reference (``tinygrad_cnn.kernels.use``), and asserts that the two agree:

1. the forward values and dtype (float32 in, float32 out), on inputs in either memory order;
2. the first derivatives: the kernel's array-level VJP (a plain backward) against the
   reference VJP, for a random upstream gradient;
3. the second derivatives through ``create_graph=True``, where the fast forward's saved values
   are replaced by the reference's (the engine replays the reference forward) and the VJPs are
   the reference's.

Values are compared in float64, where the kernels' other summation orders change only the last
few bits: ``rtol=1e-9`` relative to the largest magnitude of each result. ``kernel_cases(op)``
draws inputs on both sides of every size threshold the kernel declares (``Kernel.thresholds``).
"""
from __future__ import annotations

import numpy as np
from hypothesis import given

from .. import kernels
from ..engine import grad as autograd_grad
from ..tensor import Tensor
from . import kernel_cases
from .resolve import resolve as _resolve
from .strategies import Case

__all__ = ["check_kernel", "kernel_cases_for", "kernel_test", "RTOL"]

RTOL = 1e-9


def kernel_cases_for(op, **regime):
    """The strategy of Cases that reaches every threshold of ``op``'s kernel; ``regime`` pins
    a side of some thresholds (e.g. ``size_class='chunked'`` for the convolutions)."""
    op = _resolve(op)
    factory = getattr(kernel_cases, op.name + "_cases", None)
    if factory is None:
        raise ValueError(f"kernel of {op.name!r} has no case strategy in tinygrad_cnn.testing.kernel_cases")
    return factory(kernels.registered()[op].thresholds, **regime)


def _close(got, expected, what):
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, f"{what}: shape {got.shape}, reference {expected.shape}"
    finite = np.abs(expected[np.isfinite(expected)]) if expected.dtype.kind in "fc" else np.abs(expected)
    scale = float(np.max(finite)) if finite.size else 0.0      # (NaNs must match as NaNs)
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=RTOL * max(scale, 1e-300), err_msg=what)


def _run(op, case: Case, float_positions, upstream, second: bool):
    tensors = [Tensor(a, requires_grad=i in float_positions) for i, a in enumerate(case.args)]
    out = op(*tensors, **case.kwargs)
    inputs = [tensors[i] for i in float_positions]
    if not inputs:
        return out.data, [], []
    grads = autograd_grad(out, inputs, Tensor(upstream), retain_graph=second, create_graph=second,
                          allow_unused=True)
    grads = [g if g is not None else Tensor(np.zeros_like(t.data)) for g, t in zip(grads, inputs)]
    second_grads = []
    if second:
        rng = np.random.default_rng(1)
        total = None
        for g in grads:
            if g.requires_grad:
                term = (g * Tensor(rng.standard_normal(g.shape))).sum()
                total = term if total is None else total + term
        if total is not None:
            found = autograd_grad(total, inputs, allow_unused=True)
            second_grads = [np.zeros_like(t.data) if s is None else s.data for s, t in zip(found, inputs)]
    return out.data, [g.data for g in grads], second_grads


# second derivatives are compared on cases up to this many input values: the replay of the
# reference forward that they test does not depend on size, and big cases are slow to differentiate twice
SECOND_ORDER_SIZE = 20_000


def check_kernel(op, case: Case, *, second_order: bool = True, seed: int = 0) -> None:
    """Assert that ``op``'s kernel and its reference agree on ``case`` (see the module doc)."""
    op = _resolve(op)
    second_order = second_order and sum(np.size(a) for a in case.args) <= SECOND_ORDER_SIZE
    float_positions = [i for i, a in enumerate(case.args)
                       if np.asarray(a).dtype.kind == "f" and i not in case.constant]
    with kernels.use("reference"):
        probe = op(*[Tensor(a) for a in case.args], **case.kwargs)
    upstream = np.random.default_rng(seed).standard_normal(probe.shape).astype(probe.dtype)
    results = {}
    for name in ("reference", "fast"):
        with kernels.use(name):
            results[name] = _run(op, case, float_positions, upstream, second=False)
    (out_ref, grads_ref, _), (out_fast, grads_fast, _) = results["reference"], results["fast"]
    _close(out_fast, out_ref, f"{op.name}: the kernel's forward differs from the reference")
    for i, g_fast, g_ref in zip(float_positions, grads_fast, grads_ref):
        _close(g_fast, g_ref, f"{op.name}: the kernel's gradient of input {i} differs from the reference")

    # float32 stays float32 on the fast path
    as32 = [np.asarray(a, dtype=np.float32) if i in float_positions else a for i, a in enumerate(case.args)]
    with kernels.use("fast"):
        out32 = op(*[Tensor(a) for a in as32], **case.kwargs)
    if float_positions and out32.dtype.kind == "f":
        assert out32.dtype == np.float32, f"{op.name}: float32 inputs gave a {out32.dtype} output from the kernel"

    if second_order and float_positions:
        second = {}
        for name in ("reference", "fast"):
            with kernels.use(name):
                second[name] = _run(op, case, float_positions, upstream, second=True)[2]
        for i, s_fast, s_ref in zip(float_positions, second["fast"], second["reference"]):
            _close(s_fast, s_ref, f"{op.name}: second derivative of input {i} after the kernel's "
                                  "forward differs from the reference")


def kernel_test(op, cases=None, second_order: bool = True):
    """A ready Hypothesis test comparing ``op``'s kernel with its reference."""
    name = op if isinstance(op, str) else _resolve(op).name

    def test(case):
        check_kernel(name, case, second_order=second_order)

    strategy = cases if cases is not None else kernel_cases_for(name)
    test.__name__ = "test_kernel_" + "".join(c if c.isalnum() else "_" for c in name)
    test.__qualname__ = test.__name__
    return given(case=strategy)(test)
