"""Finite-difference checks of VJPs, in float64.

``gradcheck`` compares, for a random upstream gradient ``u``, the engine's
VJP ``J^T u`` with central differences of ``<u, f(x)>``: element by element
for small inputs, along random directions ``v`` (``<v, J^T u>`` against the
directional derivative) for large ones. ``gradgradcheck`` applies the same
check to the function ``(x, u) -> J(x)^T u`` computed with ``create_graph``,
which exercises every VJP's own derivative.
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor, grad

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck"]


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with finite differences."""


def _prepare(inputs):
    tensors, checked = [], []
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            array = np.asarray(x)
            x = Tensor(array, requires_grad=array.dtype.kind == "f")
        tensors.append(x)
        if x.requires_grad:
            if x.dtype != np.float64:
                raise ValueError(f"gradcheck: input {i} has dtype {x.dtype}; finite differences need "
                                 "float64 inputs (float32 rounding swamps the difference)")
            checked.append(i)
    if not checked:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")
    return tensors, checked


def _evaluate(fn, tensors, index, array):
    """fn(*tensors) with input ``index`` replaced by ``array``; returns the output array."""
    args = list(tensors)
    args[index] = Tensor(array, requires_grad=True)
    out = fn(*args)
    return np.asarray(out.data, dtype=np.float64)


def gradcheck(fn, inputs, *, eps: float = 1e-6, atol: float = 1e-6, rtol: float = 1e-5,
              upstream=None, max_elements: int = 300, n_directions: int = 4, seed: int = 0,
              raise_exception: bool = True, name: str | None = None) -> bool:
    """Check the gradients of ``fn(*inputs)`` against central differences.

    inputs: Tensors (those with ``requires_grad=True`` are checked; they must
    be float64) or arrays (float arrays become float64 Tensors that require grad).
    upstream: the output gradient ``u`` (default: standard normal, never all ones).
    Inputs with at most ``max_elements`` elements are checked element by
    element; larger ones along ``n_directions`` random directions.
    Returns True, or raises ``GradcheckError`` describing the worst mismatch.
    """
    label = name or getattr(fn, "__name__", "fn")
    tensors, checked = _prepare(inputs)
    rng = np.random.default_rng(seed)
    out = fn(*tensors)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: {label} must return a Tensor, got {type(out).__name__}")
    u = rng.standard_normal(out.shape) if upstream is None else np.asarray(upstream, dtype=np.float64)
    if out.requires_grad:
        analytic = grad(out, [tensors[i] for i in checked], grad_outputs=Tensor(u), allow_unused=True)
    else:
        analytic = [None] * len(checked)
    problems = []
    for position, index in enumerate(checked):
        x = tensors[index].data
        g = analytic[position]
        g = np.zeros_like(x) if g is None else np.asarray(g.data, dtype=np.float64)
        if g.shape != x.shape:
            problems.append(f"input {index}: gradient has shape {tuple(g.shape)}, input has shape {tuple(x.shape)}")
            continue
        # grad mode stays on: fn may itself differentiate (gradgradcheck)
        if x.size <= max_elements:
            numeric = np.empty(x.size)
            flat = x.reshape(-1)
            for k in range(x.size):
                plus, minus = flat.copy(), flat.copy()
                plus[k] += eps
                minus[k] -= eps
                f_plus = _evaluate(fn, tensors, index, plus.reshape(x.shape))
                f_minus = _evaluate(fn, tensors, index, minus.reshape(x.shape))
                numeric[k] = np.sum(u * (f_plus - f_minus)) / (2 * eps)
            numeric = numeric.reshape(x.shape)
            error = np.abs(g - numeric)
            bad = error > atol + rtol * np.abs(numeric)
            if bad.any():
                worst = np.unravel_index(np.argmax(error - rtol * np.abs(numeric)), x.shape)
                problems.append(
                    f"input {index} (shape {tuple(x.shape)}): {int(bad.sum())} of {x.size} elements "
                    f"differ; worst at {tuple(int(i) for i in worst)}: analytic {g[worst]:.9g}, "
                    f"numeric {numeric[worst]:.9g}")
        else:
            for _ in range(n_directions):
                v = rng.standard_normal(x.shape)
                f_plus = _evaluate(fn, tensors, index, x + eps * v)
                f_minus = _evaluate(fn, tensors, index, x - eps * v)
                numeric = np.sum(u * (f_plus - f_minus)) / (2 * eps)
                projected = np.sum(v * g)
                scale = np.sqrt(x.size)  # the projection sums x.size rounding errors
                if abs(projected - numeric) > atol * scale + rtol * abs(numeric):
                    problems.append(f"input {index} (shape {tuple(x.shape)}): along a random direction "
                                    f"analytic {projected:.9g}, numeric {numeric:.9g}")
                    break
    if problems:
        if raise_exception:
            raise GradcheckError(f"gradcheck of {label} failed:\n  " + "\n  ".join(problems))
        return False
    return True


def gradgradcheck(fn, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-4,
                  upstream=None, seed: int = 0, raise_exception: bool = True,
                  name: str | None = None, **kwargs) -> bool:
    """Check second derivatives: gradcheck of ``(x..., u) -> J(x)^T u``.

    The first-order gradients are computed with ``create_graph=True``; their
    own VJPs are compared with finite differences in every checked input and
    in the upstream gradient ``u``.
    """
    label = name or getattr(fn, "__name__", "fn")
    tensors, checked = _prepare(inputs)
    out = fn(*tensors)
    rng = np.random.default_rng(seed + 1)
    u = rng.standard_normal(out.shape) if upstream is None else np.asarray(upstream, dtype=np.float64)

    def first_order(*args):
        *xs, upstream_tensor = args
        result = fn(*xs)
        if not result.requires_grad:
            return Tensor(np.zeros(sum(xs[i].size for i in checked)))
        grads = grad(result, [xs[i] for i in checked], grad_outputs=upstream_tensor,
                     create_graph=True, allow_unused=True)
        flat = [(g if g is not None else Tensor(np.zeros(xs[i].shape))).reshape(-1)
                for g, i in zip(grads, checked)]
        from ..ops.movement import cat as concatenate
        return concatenate(flat) if len(flat) > 1 else flat[0]

    first_order.__name__ = f"first derivative of {label}"
    return gradcheck(first_order, [*tensors, Tensor(u, requires_grad=True)], eps=eps, atol=atol,
                     rtol=rtol, seed=seed, raise_exception=raise_exception,
                     name=f"first derivative of {label}", **kwargs)
