"""Matrix products, with numpy's ``matmul`` semantics (1-D operands are
promoted and the added axis removed again; leading axes broadcast)."""
import numpy as np

from ..engine import defop, is_grad_enabled
from ..tensor import Tensor


@defop("matmul", saves=(0, 1), method=True, function=True)
def matmul(ctx, a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dimension, got {a.shape} @ {b.shape} "
                         "(use * to multiply by a scalar)")
    if a.ndim == 2 and b.ndim == 2 and a.shape[1] == 1 and b.shape[0] == 1:
        # an outer product (a linear layer's weight gradient at batch 1):
        # broadcasting is ~4x faster than BLAS with an inner dimension of 1
        return np.multiply(a, b)
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
    return t.transpose(-1, -2)


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


@defop("linear", saves=(0, 1))
def linear(ctx, x, weight, bias=None):
    """x (..., in) @ weight (out, in).T + bias (out,)."""
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape {weight.shape}")
    if x.ndim < 1 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input has {x.shape[-1] if x.ndim else 0} features (shape {x.shape}) "
                         f"but weight expects {weight.shape[1]} (weight shape {weight.shape})")
    out = x @ weight.T
    if bias is not None:
        if bias.shape != (weight.shape[0],):
            raise ValueError(f"linear: bias has shape {bias.shape}, expected ({weight.shape[0]},)")
        out += bias
    return out


@linear.defvjp
def linear_vjp(ctx, grad_out):
    x, weight = ctx.inputs[0], ctx.inputs[1]
    needs = ctx.needs_input_grad
    if not is_grad_enabled():     # not differentiated again: numpy directly, no recorded ops
        return _linear_grads(x.data, weight.data, grad_out.data, needs)
    grad_x = grad_out @ weight if needs[0] else None
    grad_w = grad_b = None
    if needs[1] or (len(needs) > 2 and needs[2]):
        rows = grad_out.reshape(-1, weight.shape[0])
        if needs[1]:
            grad_w = rows.T @ x.reshape(-1, weight.shape[1])
        if len(needs) > 2 and needs[2]:
            grad_b = rows.sum(0)
    return grad_x, grad_w, grad_b


def _linear_grads(x, weight, grad_out, needs):
    """linear's three gradients on arrays (the numpy twin of linear_vjp)."""
    grad_x = grad_w = grad_b = None
    if needs[0]:
        grad_x = Tensor(grad_out @ weight)
    rows = grad_out.reshape(-1, weight.shape[0])
    if needs[1]:
        flat_x = x.reshape(-1, weight.shape[1])
        # one row: an outer product, which broadcasting does ~4x faster than BLAS
        grad_w = Tensor(np.multiply(rows.T, flat_x) if rows.shape[0] == 1 else rows.T @ flat_x)
    if len(needs) > 2 and needs[2]:
        grad_b = Tensor(rows.sum(0))
    return grad_x, grad_w, grad_b


@matmul.variant(name="mm")
def mm(input, mat2):
    """The product of two matrices."""
    if input.ndim != 2 or mat2.ndim != 2:
        raise ValueError(f"mm: expects two matrices, got shapes {tuple(input.shape)} and {tuple(mat2.shape)}")
    return matmul(input, mat2)


@matmul.variant(name="bmm")
def bmm(input, mat2):
    """Batched matrix products: (b, n, m) @ (b, m, p) -> (b, n, p)."""
    if input.ndim != 3 or mat2.ndim != 3 or input.shape[0] != mat2.shape[0]:
        raise ValueError(f"bmm: expects two 3-D tensors with the same batch size, got shapes "
                         f"{tuple(input.shape)} and {tuple(mat2.shape)}")
    return matmul(input, mat2)


@matmul.variant(name="dot")
def dot(input, other):
    """The inner product of two vectors."""
    if input.ndim != 1 or other.ndim != 1:
        raise ValueError(f"dot: expects two 1-D tensors, got shapes {tuple(input.shape)} and {tuple(other.shape)}")
    return matmul(input, other)
