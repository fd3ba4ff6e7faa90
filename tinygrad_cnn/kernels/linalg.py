"""Matrix products on arrays: an outer product by broadcasting (inner dimension 1, a linear
layer's weight gradient at batch 1: ~4x faster than BLAS), and linear's forward and three
gradients in numpy, with no recorded ops. Large products split their result's rows across
threads (``_threads.map_parts``: BLAS on one thread per part)."""
import numpy as np

from . import _threads
from .base import register
from ..ops import linalg

# a product of at least this many multiply-adds is split across threads (a linear layer of
# 3136 -> 1000 features at batch 100 has 313M; TinyNet's at batch 1, 14k)
_PARALLEL_MIN_MACS = 1 << 23


def _parts(m, k, n) -> int:
    if m < 2 or m * k * n < _PARALLEL_MIN_MACS or _threads.inside_part():
        return 1
    return min(m, _threads.get_num_threads())


def _matmul_rows(a, b, parts, out=None):
    """a (M, K) @ b (K, N) with M's rows split into ``parts``, written into ``out`` (M, N)."""
    if out is None:
        out = np.empty((a.shape[0], b.shape[1]), dtype=np.result_type(a.dtype, b.dtype))
    _threads.map_parts(lambda start, stop: np.matmul(a[start:stop], b, out=out[start:stop]), a.shape[0], parts)
    return out


def matmul_forward(ctx, a, b):
    if a.ndim == 2 and b.ndim == 2 and a.shape[1] == 1 and b.shape[0] == 1:
        return np.multiply(a, b)
    return NotImplemented


def linear_forward(ctx, x, weight, bias=None):
    if (weight.ndim != 2 or x.ndim < 1 or x.shape[-1] != weight.shape[1]
            or (bias is not None and bias.shape != (weight.shape[0],))):
        return NotImplemented            # the reference says what is wrong
    rows = x if x.ndim == 2 else x.reshape(-1, weight.shape[1])
    macs = rows.shape[0] * weight.shape[1] * weight.shape[0]
    if macs < _threads.BLAS_THREADED_MACS:      # one thread either way: no hold, no parts
        out = rows @ weight.T
    else:
        parts = _parts(rows.shape[0], weight.shape[1], weight.shape[0])
        with _threads.for_products(macs):
            out = _matmul_rows(rows, weight.T, parts) if parts > 1 else rows @ weight.T
    if bias is None:
        ctx.node_name = "MmBackward0"       # PyTorch's node without a bias
    else:
        out += bias
    return out if x.ndim == 2 else out.reshape(x.shape[:-1] + (weight.shape[0],))


def linear_vjp(ctx, grad_out):
    x, weight = ctx.inputs[0].data, ctx.inputs[1].data
    needs = ctx.needs_input_grad
    rows = grad_out if grad_out.ndim == 2 else grad_out.reshape(-1, weight.shape[0])
    flat_x = x if x.ndim == 2 else x.reshape(-1, weight.shape[1])
    grad_x = grad_w = grad_b = None
    macs = 2 * rows.shape[0] * weight.shape[0] * weight.shape[1]
    small = macs < _threads.BLAS_THREADED_MACS      # one thread either way: no hold, no parts
    parts = 1 if small else _parts(rows.shape[0], weight.shape[0], weight.shape[1])
    with _threads.NO_HOLD if small else _threads.for_products(macs):
        if needs[0]:
            grad_x = _matmul_rows(rows, weight, parts) if parts > 1 else rows @ weight
            if x.ndim != 2:
                grad_x = grad_x.reshape(x.shape)
        if needs[1]:
            if rows.shape[0] == 1:
                grad_w = np.multiply(rows.T, flat_x)
            elif parts > 1:
                grad_w = _matmul_rows(rows.T, flat_x, min(weight.shape[0], parts))
            else:
                grad_w = rows.T @ flat_x
    if len(needs) > 2 and needs[2]:
        grad_b = rows.sum(0)
    return grad_x, grad_w, grad_b


register(linalg.matmul, matmul_forward)
register(linalg.linear, linear_forward, linear_vjp, thresholds={"parallel_min_macs": _PARALLEL_MIN_MACS})
