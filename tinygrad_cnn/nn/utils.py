"""Gradient clipping and flat parameter vectors, as ``torch.nn.utils``."""
import math

import numpy as np

from ..grad_mode import no_grad
from ..tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector", "vector_to_parameters"]


def _as_list(parameters) -> list:
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach=None) -> Tensor:
    """Scale the gradients of ``parameters`` in place so that their joint
    norm (the norm of all gradients as one vector) is at most ``max_norm``.

    Returns the joint norm before clipping, as a 0-d tensor. The scale is
    ``max_norm / (norm + 1e-6)``, applied only when below 1 (PyTorch's rule).
    ``norm_type`` may be ``inf``. A non-finite norm raises RuntimeError when
    ``error_if_nonfinite``."""
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    norm_type = float(norm_type)
    if not grads:
        return Tensor(np.array(0.0, dtype=np.float32))
    dtype = grads[0].data.dtype
    if math.isinf(norm_type):
        norms = [np.abs(g.data).max(initial=0) for g in grads]
        total = max(norms)
    else:
        total = sum(float(np.sum(np.abs(g.data, dtype=np.float64) ** norm_type)) for g in grads) ** (1 / norm_type)
    total = dtype.type(total)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is non-finite "
                           f"({total}), so it cannot be clipped; pass error_if_nonfinite=False to clip anyway")
    coefficient = min(float(max_norm) / (float(total) + 1e-6), 1.0)
    with no_grad():
        for g in grads:
            g.mul_(g.data.dtype.type(coefficient))
    return Tensor(np.array(total, dtype=dtype))


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient of ``parameters`` to [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    with no_grad():
        for p in _as_list(parameters):
            if p.grad is not None:
                p.grad.clamp_(-clip_value, clip_value)


def parameters_to_vector(parameters) -> Tensor:
    """All parameters, flattened and concatenated in order, as one 1-D tensor (a copy)."""
    arrays = [p.data.reshape(-1) for p in _as_list(parameters)]
    return Tensor(np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.float32))


def vector_to_parameters(vec, parameters) -> None:
    """Copy consecutive slices of the 1-D ``vec`` into ``parameters``, in place."""
    values = vec.data if isinstance(vec, Tensor) else np.asarray(vec)
    if values.ndim != 1:
        raise TypeError(f"vector_to_parameters: expected a 1-D vector, got shape {tuple(values.shape)}")
    params = _as_list(parameters)
    needed = sum(p.data.size for p in params)
    if values.size != needed:
        raise ValueError(f"vector_to_parameters: the vector has {values.size} values, the parameters {needed}")
    start = 0
    with no_grad():
        for p in params:
            p.copy_(values[start:start + p.data.size].reshape(p.shape))
            start += p.data.size
