"""Matrix products, with numpy's ``matmul`` semantics (1-D operands are
promoted and the added axis removed again; leading axes broadcast)."""
import numpy as np

from ..tensor import Spec, defop


@defop("matmul", spec=Spec(cases="tinygrad_cnn.testing.cases:matmul_cases"))
def matmul(ctx, a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dimension, got {a.shape} @ {b.shape} "
                         "(use * to multiply by a scalar)")
    try:
        return np.matmul(a, b)
    except ValueError:
        pass
    # diagnose only on failure, to keep the common path cheap
    inner_a = a.shape[-1]
    inner_b = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if inner_a != inner_b:
        raise ValueError(f"matmul: {a.shape} @ {b.shape}: inner dimensions {inner_a} and {inner_b} differ")
    raise ValueError(f"matmul: {a.shape} @ {b.shape}: batch dimensions {a.shape[:-2]} and "
                     f"{b.shape[:-2]} do not broadcast")


def _swap_last(t):
    return t.swapaxes(-1, -2)


@matmul.defvjp
def matmul_vjp(ctx, grad_out):
    a, b = ctx.inputs
    need_a, need_b = ctx.needs_input_grad
    grad_a = grad_b = None
    if a.ndim == 1 and b.ndim == 1:                        # inner product -> scalar
        grad_a = grad_out * b if need_a else None
        grad_b = grad_out * a if need_b else None
    elif a.ndim == 1:                                      # (k) @ (..., k, n) -> (..., n)
        g = grad_out.unsqueeze(-2)                         # (..., 1, n)
        if need_a:
            grad_a = (g @ _swap_last(b)).reshape(g.shape[:-2] + (a.shape[0],))
        if need_b:
            grad_b = a.reshape((a.shape[0], 1)) @ g
    elif b.ndim == 1:                                      # (..., m, k) @ (k) -> (..., m)
        g = grad_out.unsqueeze(-1)                         # (..., m, 1)
        if need_a:
            grad_a = g @ b.reshape((1, b.shape[0]))
        if need_b:
            grad_b = (_swap_last(a) @ g).reshape(g.shape[:-2] + (b.shape[0],))
    else:
        grad_a = grad_out @ _swap_last(b) if need_a else None
        grad_b = _swap_last(a) @ grad_out if need_b else None
    return grad_a, grad_b
