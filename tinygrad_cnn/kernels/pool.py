"""Fast max pooling: the seed networks' 2x2/2 pool without a window copy.

The reference (``tinygrad_cnn.ops.pool.max_pool2d``) takes the argmax of each window of a strided
view and scatters the gradient with ``index_add``. For a 2x2/2 pool over even sizes this kernel
instead takes pairwise maxima of strided views (on channels-last memory, what conv2d produces,
one of them over whole image rows), keeps the winners as a boolean mask in the input's memory
order, and spreads each gradient over its window times the mask in one pass. Ties go to the
first maximum in row-major window order, and a window holding NaNs to its last NaN, as in the
reference and in PyTorch.

A small input (at most ``gather_max_size`` values, e.g. a batch of one) is pooled on its four
window corners gathered into one (4, windows) array by a cached index instead: each step then
runs over long contiguous rows, and the gradient goes back through the inverse permutation.
"""
import functools
import math

import numpy as np

from . import _threads
from .base import register
from ..ops import pool as reference


def _max_pool_2x2(x, out, mask):
    """2x2/2 max pool of x into ``out``; ``mask`` (N, C, OH, 2, OW, 2), if
    given, receives the winners: the first maximum in row-major window order
    (PyTorch's tie rule)."""
    n, c, h, w = x.shape
    memory = x.transpose(0, 2, 3, 1)
    out_memory = out.transpose(0, 2, 3, 1)
    mask_memory = None if mask is None else mask.transpose(0, 2, 3, 4, 5, 1)
    if (memory.flags.c_contiguous and out_memory.flags.c_contiguous
            and (mask is None or mask_memory.flags.c_contiguous)):
        _max_pool_2x2_channels_last(memory, out_memory, mask_memory)
        return
    corners = [x[:, :, i::2, j::2] for i in (0, 1) for j in (0, 1)]   # row-major window order
    np.maximum(corners[0], corners[1], out=out)
    np.maximum(out, corners[2], out=out)
    np.maximum(out, corners[3], out=out)
    if mask is None:
        return
    # if none of the first three corners holds the maximum, the fourth does
    first = np.equal(corners[0], out, out=mask[:, :, :, 0, :, 0])
    second = np.equal(corners[1], out, out=mask[:, :, :, 0, :, 1])
    second &= ~first
    taken = first | second
    third = np.equal(corners[2], out, out=mask[:, :, :, 1, :, 0])
    third &= ~taken
    taken |= third
    np.logical_not(taken, out=mask[:, :, :, 1, :, 1])


def _max_pool_2x2_grad(grad, mask):
    """Each gradient spread over its 2x2 window, kept at the winner. The
    product runs in the mask's memory order (a float times a bool, no
    casts of strided data): a gradient in the other order is copied first."""
    n, c, out_h, out_w = grad.shape
    if mask.strides[1] == 1 and c > 1:       # channels-last mask (N, OH, 2, OW, 2, C) in memory
        memory = mask.transpose(0, 2, 3, 4, 5, 1)
        rows = np.ascontiguousarray(grad.transpose(0, 2, 3, 1)).reshape(n, out_h, 1, out_w, 1, c)
        result = np.empty(memory.shape, dtype=grad.dtype)
        _threads.run(lambda start, stop: np.multiply(rows[start:stop], memory[start:stop], out=result[start:stop]),
                      n, mask.size)
        return result.transpose(0, 5, 1, 2, 3, 4)
    rows = np.ascontiguousarray(grad).reshape(n, c, out_h, 1, out_w, 1)
    result = np.empty(mask.shape, dtype=grad.dtype)
    _threads.run(lambda start, stop: np.multiply(rows[start:stop], mask[start:stop], out=result[start:stop]),
                  n, mask.size)
    return result


def _max_pool_2x2_channels_last(x, out, mask):
    """The 2x2/2 pool on channels-last memory: x (N, H, W, C), out (N, OH, OW, C),
    mask (N, OH, 2, OW, 2, C), all C-contiguous. Two pairwise maxima, one of
    them over whole image rows (long runs) instead of three over strided
    corners."""
    n, h, w, c = x.shape
    if mask is None:
        # rows first, then columns: the order does not change a maximum
        rows = x.reshape(n, h // 2, 2, w * c)
        pairs = np.maximum(rows[:, :, 0], rows[:, :, 1]).reshape(n, h // 2, w // 2, 2, c)
        np.maximum(pairs[:, :, :, 0], pairs[:, :, :, 1], out=out)
        return
    # with winners: columns first, then rows, so that ties go to the first
    # maximum in row-major window order (PyTorch's rule)
    pairs = x.reshape(n, h, w // 2, 2, c)
    left, right = pairs[:, :, :, 0], pairs[:, :, :, 1]
    right_wins = (right > left).reshape(n, h // 2, 2, w // 2, c)
    left_wins = ~right_wins
    halves = np.maximum(left, right).reshape(n, h // 2, 2, w // 2, c)
    np.maximum(halves[:, :, 0], halves[:, :, 1], out=out)
    bottom = halves[:, :, 1] > halves[:, :, 0]
    top = ~bottom
    np.logical_and(top, left_wins[:, :, 0], out=mask[:, :, 0, :, 0])
    np.logical_and(top, right_wins[:, :, 0], out=mask[:, :, 0, :, 1])
    np.logical_and(bottom, left_wins[:, :, 1], out=mask[:, :, 1, :, 0])
    np.logical_and(bottom, right_wins[:, :, 1], out=mask[:, :, 1, :, 1])


# inputs of at most this many values take the gathered path. Measured on (1, 8, 26, 26) float32
# (TinyNet's pool), forward with winners 42 against 61 us, gradient 9 against 17 us.
_GATHER_MAX_SIZE = 1 << 16


@functools.lru_cache(maxsize=32)
def _corner_index(shape):
    """For x of ``shape`` (N, C, H, W) (H, W even) flattened: the (4, N*C*H/2*W/2) indices of
    each 2x2 window's corners in row-major window order, and the inverse permutation."""
    n, c, h, w = shape
    flat = np.arange(n * c * h * w).reshape(n, c, h // 2, 2, w // 2, 2)
    index = np.ascontiguousarray(flat.transpose(3, 5, 0, 1, 2, 4)).reshape(4, -1)
    inverse = np.empty(index.size, dtype=np.intp)
    inverse[index.ravel()] = np.arange(index.size)
    index.flags.writeable = inverse.flags.writeable = False
    return index, inverse


def _gathered_max_pool_2x2(ctx, x):
    """The 2x2/2 pool of a small x from its corners (4, windows); the winners, a (4, windows)
    mask, are saved when the input needs a gradient."""
    n, c, h, w = x.shape
    index, _ = _corner_index(x.shape)
    corners = x.reshape(-1).take(index)
    out = corners.max(0)
    if ctx.needs_input_grad:
        winners = corners == out
        # a window has one winner unless it holds a tie (more) or a NaN (none). The sum is
        # finite unless a value is NaN or infinite (or the sum overflows): those take the
        # careful path, which is exact in every case
        nan_possible = out.dtype.kind == "f" and not math.isfinite(out.sum())
        if nan_possible or np.count_nonzero(winners) != out.size:
            # keep the first maximum in window order
            np.greater(winners[1], winners[0], out=winners[1])
            taken = winners[0] | winners[1]
            np.greater(winners[2], taken, out=winners[2])
            taken |= winners[2]
            np.greater(winners[3], taken, out=winners[3])
            if nan_possible:
                # a window holding NaNs (none of its corners equals its NaN maximum): its last NaN
                nans = np.isnan(out)
                held = np.isnan(corners[:, nans])
                winners[:, nans] = False
                winners[3 - held[::-1].argmax(axis=0), np.flatnonzero(nans)] = True
        ctx.save(winners=winners)
    return out.reshape(n, c, h // 2, w // 2)


def max_pool2d_forward(ctx, x, kernel_size, stride=None, padding=0):
    if (kernel_size == (2, 2) and (stride is None or stride == (2, 2)) and padding == (0, 0) and x.ndim == 4
            and x.size <= _GATHER_MAX_SIZE and x.shape[2] % 2 == 0 and x.shape[3] % 2 == 0 and x.size):
        # (what pool_geometry would check holds: even, non-empty sides fit the window)
        return _gathered_max_pool_2x2(ctx, x)
    kernel, stride, padding, out_h, out_w = reference.pool_geometry("max_pool2d", x, kernel_size, stride, padding)
    n, c, h, w = x.shape
    if not (padding == (0, 0) and kernel == stride == (2, 2) and h % 2 == 0 and w % 2 == 0):
        return NotImplemented
    if x.size <= _GATHER_MAX_SIZE:
        return _gathered_max_pool_2x2(ctx, x)
    # channels-last inputs (what conv2d produces) keep that memory order
    channels_last = x.strides[1] < x.strides[3]
    if channels_last:
        out = np.empty((n, out_h, out_w, c), dtype=x.dtype).transpose(0, 3, 1, 2)
    else:
        out = np.empty((n, c, out_h, out_w), dtype=x.dtype)
    mask = None
    if ctx.needs_input_grad:
        # winners as a 0/1 mask over x, in x's memory order
        if channels_last:
            mask = np.empty((n, out_h, 2, out_w, 2, c), dtype=bool).transpose(0, 5, 1, 2, 3, 4)
        else:
            mask = np.empty((n, c, out_h, 2, out_w, 2), dtype=bool)
        ctx.save(mask=mask)
    _threads.run(lambda start, stop: _max_pool_2x2(x[start:stop], out[start:stop],
                                                   None if mask is None else mask[start:stop]),
                 n, x.size)
    # the pairwise comparisons cannot see a NaN, which wins its window in the reference (its
    # last NaN, as in PyTorch). The sum is finite unless a value is NaN or infinite (or the sum
    # overflows): only then are the windows checked
    if mask is not None and out.dtype.kind == "f" and not math.isfinite(out.sum()):
        _nan_winners(x, out, mask)
    return out


def _nan_winners(x, out, mask):
    """In each window whose maximum is NaN, the winner is its last NaN in window order."""
    nans = np.isnan(out)
    if not nans.any():
        return
    taken = np.zeros(nans.shape, dtype=bool)
    for i, j in ((1, 1), (1, 0), (0, 1), (0, 0)):         # row-major window order, backwards
        corner = np.isnan(x[:, :, i::2, j::2])
        winners = mask[:, :, :, i, :, j]
        winners[nans] = (corner & ~taken)[nans]
        taken |= corner


def max_pool2d_vjp(ctx, grad_out):
    if not ctx.ran_kernel:
        return NotImplemented
    winners = ctx.saved.get("winners")
    if winners is not None:
        x_shape = ctx.inputs[0].data.shape
        spread = winners * grad_out.reshape(1, -1)
        return (spread.reshape(-1).take(_corner_index(x_shape)[1]).reshape(x_shape),)
    return (_max_pool_2x2_grad(grad_out, ctx.saved["mask"]).reshape(ctx.inputs[0].data.shape),)


register(reference.max_pool2d, max_pool2d_forward, max_pool2d_vjp,
         thresholds={"gather_max_size": _GATHER_MAX_SIZE, "thread_min_size": _threads.MIN_SIZE})
