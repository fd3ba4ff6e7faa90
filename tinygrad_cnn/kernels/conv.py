"""Fast convolution: im2col matrices in channels-last memory and one BLAS product per chunk.

The reference (``tinygrad_cnn.ops.conv``) states the math with an ``einsum`` over strided
windows; these kernels compute the same three ops faster:

- the input is copied once into a zero-padded channels-last buffer (N, H, W, C), so each window
  row (KW x C values) is one contiguous run, and the im2col matrix (rows: output pixels,
  columns: (p, q, c) kernel offsets) is one copy of a strided view of it;
- the matrix is built for a few images at a time (``cols_budget`` values, 3 MiB), so the product
  reads each piece while it is still in cache and memory stays bounded for any batch;
- few-channel layers (window rows shorter than ``short_run`` values) build the transposed matrix,
  whose rows are long runs of the image's pixels;
- the forward keeps a first layer's im2col matrix (at most ``keep_limit`` values) for the weight
  gradient;
- a stride-1 convolution's backward takes both gradients from one im2col of the padded gradient;
- the bias gradient of a channels-last gradient of at least ``bias_blas_pixels`` pixels is one
  BLAS product with a vector of ones;
- stride-1 3x3 and 5x5 layers with many channels (at least ``winograd_min_channels`` in and
  ``winograd_min_filters`` out, and ``winograd_min_tiles`` 4x4 output tiles in the batch) run
  Winograd's F(4x4, r x r) instead (``kernels/winograd.py``), forward, and backward where there
  are also ``winograd_backward_filter_ratio`` times as many filters as input channels.
- small layers (an im2col matrix of at most ``gather_max_values`` values for the whole batch,
  one group, float32 or float64) build that matrix with one ``take`` of a cached index instead
  (``'gather'``): at batch 1 the strided copy's Python steps cost more than the arithmetic, and
  the input gradient is the matching scatter-add (one ``bincount``).
  ``conv2d_algorithm`` says which a layer gets in each direction.

Outputs are NCHW-shaped views of channels-last memory (the product's own layout); every kernel
accepts either memory order.
"""
import functools

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import _malloc, _threads, winograd
from .base import register
from ..ops import conv as reference
from ..ops.conv import check_conv2d, check_conv2d_weight, check_conv_transpose2d, output_padding_for


def _padded_channels_last(x, top, bottom, left, right, spread=(1, 1)):
    """x (N, C, H, W) in any memory order -> a C-contiguous (N, H', W', C)
    buffer: zero-padded (negative amounts crop), with ``spread - 1`` zeros
    between samples when spread > 1 (the transposed convolution's input).

    Channels last makes each window row (KW x C values) one contiguous run,
    so the im2col copy moves whole blocks instead of single floats."""
    crops = [max(-amount, 0) for amount in (top, bottom, left, right)]
    top, bottom, left, right = (max(amount, 0) for amount in (top, bottom, left, right))
    n, c, h, w = x.shape
    inner_h, inner_w = (h - 1) * spread[0] + 1, (w - 1) * spread[1] + 1
    shape = (n, top + inner_h + bottom, left + inner_w + right, c)
    if spread == (1, 1) and top == bottom == left == right == 0:
        out = np.empty(shape, dtype=x.dtype)
    else:
        # zero-filling the whole buffer is faster than zeroing the border's
        # short strided runs (measured: 0.65 against 1.0 ms for 100x18x18x64)
        out = np.zeros(shape, dtype=x.dtype)
    out[:, top:top + inner_h:spread[0], left:left + inner_w:spread[1], :] = x.transpose(0, 2, 3, 1)
    if any(crops):   # negative padding: a view that drops rows/columns (strides stay valid)
        out = out[:, crops[0]:out.shape[1] - crops[1], crops[2]:out.shape[2] - crops[3]]
    return out


# window rows shorter than this many values are copied in transposed order
_SHORT_RUN = 16


def _im2col(xp, kh, kw, stride, dilation, out_h, out_w, groups):
    """Windows of a padded channels-last buffer (N, H, W, C) as a
    (groups, N*OH*OW, KH*KW*C/groups) matrix: one copy of a strided view."""
    n, _, _, c = xp.shape
    sn, sh, sw, sc = xp.strides
    cg = c // groups
    windows = as_strided(xp, (n, out_h, out_w, kh, kw, groups, cg),
                         (sn, sh * stride[0], sw * stride[1], sh * dilation[0], sw * dilation[1], sc * cg, sc),
                         writeable=False)
    if groups == 1 and kw * c < _SHORT_RUN:
        # few channels (a first layer): each window row is only kw * c values,
        # too short for a fast copy. Build the transposed matrix instead, one
        # row per kernel position holding the image's pixels in order (long
        # runs), and hand the product its transpose (BLAS reads either order)
        transposed = np.empty((kh, kw, c, n, out_h, out_w), dtype=xp.dtype)
        np.copyto(transposed, windows[:, :, :, :, :, 0].transpose(3, 4, 5, 0, 1, 2))
        return transposed.reshape(1, kh * kw * c, n * out_h * out_w).transpose(0, 2, 1)
    if groups == 1:
        return _threads.copy(windows).reshape(1, n * out_h * out_w, kh * kw * c)
    return _threads.copy(windows.transpose(5, 0, 1, 2, 3, 4, 6)).reshape(groups, n * out_h * out_w, kh * kw * cg)


def _weight_matrix(w, groups):
    """(F, Cg, KH, KW) -> (groups, F // groups, KH*KW*Cg), matching _im2col's column order."""
    f = w.shape[0]
    return w.transpose(0, 2, 3, 1).reshape(groups, f // groups, -1)


def conv2d_array(x, w, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1, keep_cols=None, bias=None,
                 out=None, keep_limit=None):
    """The forward kernel on arrays (also used by the two adjoint ops).
    ``keep_cols``: a list that receives the im2col matrix, for reuse by the
    weight gradient (when it has at most ``keep_limit`` values); ``bias``: an optional (F,)
    array added to the output; ``out``: a C-contiguous (N, OH, OW, F) array to write into."""
    out_h, out_w = check_conv2d(x.shape, w.shape, stride, padding, dilation, groups,
                                None if bias is None else bias.shape)
    xp = _padded_channels_last(x, padding[0], padding[0], padding[1], padding[1])
    return _conv_channels_last(xp, w, stride, dilation, groups, out_h, out_w, keep_cols, bias, out, keep_limit)


# im2col matrices are built for a few images at a time, at most this many
# values (3 MiB of float32): each piece is still in the cache when the matrix
# product reads it (measured on the seed ConvNet's second convolution: input
# gradient 30 -> 19 ms against 16 MiB pieces, forward 19 -> 15 ms), memory
# stays bounded for any batch size, and the products stay large enough
# (hundreds of rows) for BLAS to run at full speed
_COLS_BUDGET = 3 << 18


# an im2col matrix of at most this many values (8 MiB of float32, e.g. the
# first layer's) is kept from the forward for the weight gradient
_KEEP_LIMIT = 1 << 21


def _batch_chunks(n, values_per_image):
    step = max(1, _COLS_BUDGET // max(values_per_image, 1))
    return [(start, min(start + step, n)) for start in range(0, n, step)]


def _conv_channels_last(xp, w, stride, dilation, groups, out_h, out_w, keep_cols=None, bias=None, out=None,
                        keep_limit=None):
    """Convolution of an already padded (N, H, W, C) buffer; returns NCHW-shaped
    output whose memory is channels last (the matrix product's own layout).
    ``keep_cols`` (a list) receives the im2col matrix when it fits in one chunk;
    ``bias`` (F,) is added to each piece of the output while it is in cache."""
    n, c = xp.shape[0], xp.shape[3]
    f, _, kh, kw = w.shape
    weights = _weight_matrix(w, groups)
    if out is None:
        out = np.empty((n, out_h, out_w, f), dtype=np.result_type(xp.dtype, w.dtype))
    chunks = _batch_chunks(n, out_h * out_w * kh * kw * c)
    limit = _KEEP_LIMIT if keep_limit is None else keep_limit
    if keep_cols is not None and n * out_h * out_w * kh * kw * c <= limit:
        chunks = [(0, n)]     # small enough to keep for the weight gradient: build it whole
    for start, stop in chunks:
        cols = _im2col(xp[start:stop], kh, kw, stride, dilation, out_h, out_w, groups)
        rows = out[start:stop].reshape(-1, f)
        if groups == 1:
            np.matmul(cols[0], weights[0].T, out=rows)                          # (rows, F)
        else:
            per_group = np.matmul(cols, weights.transpose(0, 2, 1))           # (G, rows, F/G)
            rows[...] = per_group.transpose(1, 0, 2).reshape(rows.shape)
        if bias is not None:
            rows += bias
    if keep_cols is not None and len(chunks) == 1:
        keep_cols.append(cols)
    return out.transpose(0, 3, 1, 2)


def conv_transpose2d_array(g, w, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1,
                           output_padding=(0, 0), out=None):
    """Transposed convolution: g (N, Cin, H, W), w (Cin, Cout/groups, KH, KW).
    Output (N, Cout, (H-1)*s - 2p + d*(K-1) + output_padding + 1, ...); ``out``: a
    C-contiguous channels-last array of that size to write into."""
    out_h, out_w = check_conv_transpose2d(g.shape, w.shape, stride, padding, dilation, groups, output_padding)
    n, c_in, h, width = g.shape
    w_in, cout_g, kh, kw = w.shape
    reach_h, reach_w = dilation[0] * (kh - 1), dilation[1] * (kw - 1)
    top, left = reach_h - padding[0], reach_w - padding[1]
    spread_h, spread_w = (h - 1) * stride[0] + 1, (width - 1) * stride[1] + 1
    bottom = out_h + reach_h - spread_h - top
    right = out_w + reach_w - spread_w - left
    gp = _padded_channels_last(g, top, bottom, left, right, spread=stride)
    # flipped kernel with in/out channels swapped within each group
    flipped = w.reshape(groups, c_in // groups, cout_g, kh, kw).transpose(0, 2, 1, 3, 4)
    flipped = flipped[..., ::-1, ::-1].reshape(groups * cout_g, c_in // groups, kh, kw)
    return _conv_channels_last(gp, flipped, (1, 1), dilation, groups, out_h, out_w, out=out)


def conv2d_weight_array(x, g, weight_shape, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1,
                        cols=None):
    """Gradient of conv2d with respect to its weight: correlates the input
    x (N, C, H, W) with the upstream gradient g (N, F, OH, OW). ``cols``: the
    im2col matrix of x saved by the forward, if any (saves one copy)."""
    check_conv2d_weight(x.shape, g.shape, weight_shape, stride, padding, dilation, groups)
    f, cg, kh, kw = weight_shape
    n, c, h, width = x.shape
    out_h, out_w = g.shape[2], g.shape[3]
    g_matrix = g.transpose(0, 2, 3, 1).reshape(n, out_h * out_w, f)        # (N, OH*OW, F)
    if cols is not None:
        chunks, xp = [(0, n)], None
    else:
        chunks = _batch_chunks(n, out_h * out_w * kh * kw * c)
        xp = _padded_channels_last(x, padding[0], padding[0], padding[1], padding[1])
    grad = np.zeros((groups, f // groups, kh * kw * cg), dtype=np.result_type(x.dtype, g.dtype))
    for start, stop in chunks:   # the weight gradient sums over the batch: accumulate chunks
        if xp is not None:
            cols = _im2col(xp[start:stop], kh, kw, stride, dilation, out_h, out_w, groups)
        rows = g_matrix[start:stop].reshape(-1, f)
        if groups == 1:
            # the product with the wider result is the faster one for BLAS
            grad[0] += rows.T @ cols[0] if cols.shape[2] >= f else (cols[0].T @ rows).T   # (F, K)
        else:
            grad += np.matmul(rows.reshape(-1, groups, f // groups).transpose(1, 2, 0), cols)
    return np.ascontiguousarray(grad.reshape(f, kh, kw, cg).transpose(0, 3, 1, 2))


def _shares_input_im2col(weight_shape, geometry) -> bool:
    """Whether _input_and_weight_grads applies: stride 1, no dilation, one
    group, padding within the kernel's reach."""
    kh, kw = weight_shape[2:]
    padding = geometry["padding"]
    return (geometry["stride"] == (1, 1) and geometry["dilation"] == (1, 1) and geometry["groups"] == 1
            and 0 <= padding[0] <= kh - 1 and 0 <= padding[1] <= kw - 1)


def _input_and_weight_grads(x, w, g, padding, out=None):
    """Both gradients of a stride-1 conv2d from one im2col matrix.

    The input gradient is the convolution of the gradient g, padded by
    (K - 1 - padding), with the flipped kernel: rows of its im2col matrix are
    the input's pixels, columns the (i, j, f) offsets. The same matrix gives
    the weight gradient: x's pixels (a channels-last (pixels, C) matrix,
    no copy) times it is dW with its kernel flipped,
    dW[f, c, K-1-i, K-1-j] = sum over pixels of x[pixel, c] * cols[pixel, (i, j, f)],
    so x's own windows are never copied (the separate weight gradient needs
    an im2col of x as large as the forward's)."""
    n, c, h, width = x.shape
    f, _, kh, kw = w.shape
    out_h, out_w = g.shape[2:]
    top, left = kh - 1 - padding[0], kw - 1 - padding[1]
    gp = _padded_channels_last(g, top, h + kh - 1 - out_h - top, left, width + kw - 1 - out_w - left)
    # the flipped kernel as a (C, KH*KW*F) matrix whose columns follow the im2col's (i, j, f) order
    flipped = _weight_matrix(w.transpose(1, 0, 2, 3)[..., ::-1, ::-1], 1)[0]
    dtype = np.result_type(x.dtype, w.dtype, g.dtype)
    pixels = np.ascontiguousarray(x.transpose(0, 2, 3, 1), dtype=dtype).reshape(n * h * width, c)
    grad_x = np.empty((n, h, width, c), dtype=dtype) if out is None else out
    grad_w = np.zeros((c, kh * kw * f), dtype=dtype)
    for start, stop in _batch_chunks(n, h * width * kh * kw * f):
        cols = _im2col(gp[start:stop], kh, kw, (1, 1), (1, 1), h, width, 1)[0]      # (pixels, KH*KW*F)
        np.matmul(cols, flipped.T, out=grad_x[start:stop].reshape(-1, c))
        grad_w += pixels[start * h * width:stop * h * width].T @ cols
    grad_w = grad_w.reshape(c, kh, kw, f)[:, ::-1, ::-1, :].transpose(3, 0, 1, 2)
    return grad_x.transpose(0, 3, 1, 2), np.ascontiguousarray(grad_w)


_BIAS_BLAS_PIXELS = 4096


def _bias_grad(grad_out):
    """Sum over all but the channel axis. A channels-last gradient (what these kernels produce)
    is a (pixels, channels) matrix: summed by one BLAS product with a vector of ones, several
    times faster than numpy's sum (whose pairwise sum is quicker on small ones)."""
    n, f, h, w = grad_out.shape
    if grad_out.dtype.kind == "f" and grad_out.strides[1] == grad_out.itemsize and n * h * w >= _BIAS_BLAS_PIXELS:
        rows = grad_out.transpose(0, 2, 3, 1).reshape(-1, f)      # a view when channels-last
        if np.shares_memory(rows, grad_out):
            return np.ones(rows.shape[0], dtype=grad_out.dtype) @ rows
    return grad_out.sum((0, 2, 3))


# --- the choice of algorithm ------------------------------------------------------------------------

# Winograd's transforms cost per channel and per tile what its batched product saves per
# channel pair, so it pays only with many channels on both sides and enough tiles. Measured
# with 2 BLAS threads, Winograd's time over im2col's (forward / both gradients), 5x5, 14x14,
# batch 100: 32 -> 64 channels 0.38 / 0.26, 16 -> 64 0.66 / 0.29, 16 -> 32 0.92 / 0.41,
# 32 -> 32 0.65 / 1.06, 64 -> 32 0.63 / 1.19, 32 -> 16 0.63 / 1.15; 32 -> 64 at batch 2 (32 tiles)
# 1.02 / 0.94, at batch 8 0.59 / 0.70; 3x3 at batch 32: 64 -> 64 0.62 / 0.81, 64 -> 128
# 0.92 / 1.08, 128 -> 128 0.85 / 1.25 (a busy machine: +-15%). The gradients' im2col runs over
# the upstream gradient's F channels, so it is cheap when F is small beside C: they take
# Winograd only with at least ``winograd_backward_filter_ratio`` times as many filters as
# input channels. benchmarks/bench_conv_algorithms.py measures the seed layers again.
_WINOGRAD_MIN_CHANNELS = 16
_WINOGRAD_MIN_FILTERS = 32
_WINOGRAD_MIN_TILES = 32
_WINOGRAD_BACKWARD_FILTER_RATIO = 2

# A layer whose whole im2col matrix has at most this many values builds it with one ``take`` of
# a cached index (``_gather_index``) instead of padding into channels-last memory and copying a
# strided view: at batch 1 those steps cost more than the arithmetic. Measured forward (and
# weight + bias gradients) against im2col, float32, one thread: (1, 1, 28, 28) * (8, 1, 3, 3),
# 6,084 values, 23 against 79 us (14 against 40); (1, 8, 13, 13) * (16, 8, 3, 3) pad 1, 12,168
# values, 29 against 76 (23 against 62); (4, 16, 14, 14) * (32, 16, 3, 3) pad 1, 112,896 values,
# 248 against 307 (174 against 440); (2, 3, 32, 32) * (16, 3, 5, 5) pad 2, 153,600 values, 339
# against 322 (148 against 245).
_GATHER_MAX_VALUES = 1 << 17


def _gather_index(image_shape, kernel_shape, stride, padding, dilation):
    """For one zero-padded image (C, H + 2 pad, W + 2 pad) as a flat array: the (C*KH*KW, OH*OW)
    index of its im2col matrix, rows in the weight's own (c, p, q) order, so that the weight
    (F, C, KH, KW) is the matrix (F, C*KH*KW) with no copy. At most ``_GATHER_MAX_VALUES``
    entries, int32 (``take`` reads them as fast as native ints: measured)."""
    c, h, w = image_shape
    kh, kw = kernel_shape
    hp, wp = h + 2 * padding[0], w + 2 * padding[1]
    out_h = (hp - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    out_w = (wp - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    channel, p, q, row, col = np.ix_(np.arange(c), np.arange(kh), np.arange(kw), np.arange(out_h), np.arange(out_w))
    index = (channel * hp + row * stride[0] + p * dilation[0]) * wp + col * stride[1] + q * dilation[1]
    index = index.reshape(c * kh * kw, out_h * out_w).astype(np.int32)
    index.flags.writeable = False
    return index


def _gather_cols(x, index, padding):
    """The (N, C*KH*KW, OH*OW) im2col matrix of x (N, C, H, W), any memory order."""
    n, c, h, w = x.shape
    if padding != (0, 0):
        xp = np.zeros((n, c, h + 2 * padding[0], w + 2 * padding[1]), dtype=x.dtype)
        xp[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w] = x
        x = xp
    return x.reshape(n, -1).take(index, axis=1)


def _gather_forward(ctx, x, w, bias, padding, out_h, out_w, index):
    """Output (N, F, OH, OW), C-contiguous: the weight matrix times each image's columns."""
    cols = _gather_cols(x, index, padding)
    f = w.shape[0]
    out = np.matmul(w.reshape(f, -1), cols)                     # (N, F, OH*OW)
    if bias is not None:
        out += bias[:, None]
    if ctx.needs_input_grad[1:2] == (True,):
        ctx.save(gather_cols=cols)
    return out.reshape(x.shape[0], f, out_h, out_w)


def _gather_grads(ctx, x, w, grad_out, index):
    """The gradients of a gathered layer: the weight's from the saved columns, the input's as
    the scatter-add of the columns' gradient through the same index (one ``bincount``, which
    sums in float64), the bias's a sum."""
    padding, needs = ctx.params["padding"], ctx.needs_input_grad
    n, c, h, width = x.shape
    f = w.shape[0]
    dtype = np.result_type(x.dtype, w.dtype, grad_out.dtype)
    g = grad_out.reshape(n, f, -1)
    grad_x = grad_w = None
    grad_b = g.sum((0, 2)) if len(needs) > 2 and needs[2] else None
    if needs[1]:
        cols = (ctx.saved or {}).get("gather_cols") if ctx.ran_kernel else None
        if cols is None:
            cols = _gather_cols(x, index, padding)
        if n == 1:
            grad_w = g[0] @ cols[0].T
        else:
            grad_w = np.matmul(g, cols.transpose(0, 2, 1)).sum(0)
        grad_w = grad_w.reshape(w.shape).astype(dtype, copy=False)
    if needs[0]:
        grad_cols = np.matmul(w.reshape(f, -1).T, g)             # (N, C*KH*KW, OH*OW)
        size = c * (h + 2 * padding[0]) * (width + 2 * padding[1])
        flat = index if n == 1 else index + (np.arange(n) * size)[:, None, None]
        padded = np.bincount(flat.ravel(), weights=grad_cols.ravel(), minlength=n * size)
        padded = padded.reshape(n, c, h + 2 * padding[0], width + 2 * padding[1])
        grad_x = padded[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + width].astype(dtype)
    return grad_x, grad_w, grad_b



def _takes_winograd(x_shape, w_shape, dtype, stride, dilation, groups) -> bool:
    f, cg, kh, kw = w_shape
    if not (stride == (1, 1) and dilation == (1, 1) and groups == 1 and kh == kw
            and kh in winograd.KERNEL_SIZES and np.dtype(dtype) in (np.float32, np.float64)):
        return False
    return cg >= _WINOGRAD_MIN_CHANNELS and f >= _WINOGRAD_MIN_FILTERS


def conv2d_algorithm(x_shape, w_shape, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1,
                     dtype=np.float32, direction="forward") -> str:
    """Which algorithm the fast conv2d kernel runs for this layer in ``direction`` ('forward'
    or 'backward', the gradients): ``'gather'`` (small layers), ``'winograd F(4x4,5x5)'`` (or
    3x3) or ``'im2col'``."""
    if direction not in ("forward", "backward"):
        raise ValueError(f"conv2d_algorithm: direction must be 'forward' or 'backward', got {direction!r}")
    # decided once per layer shape (a training loop asks the same question every step)
    return _algorithm(tuple(x_shape), tuple(w_shape), tuple(stride), tuple(padding), tuple(dilation),
                      int(groups), np.dtype(dtype), direction)


@functools.lru_cache(maxsize=512)
def _algorithm(x_shape, w_shape, stride, padding, dilation, groups, dtype, direction) -> str:
    out_h, out_w = check_conv2d(x_shape, w_shape, stride, padding, dilation, groups)
    if (groups == 1 and dtype in (np.float32, np.float64)
            and x_shape[0] * out_h * out_w * w_shape[1] * w_shape[2] * w_shape[3] <= _GATHER_MAX_VALUES):
        return "gather"
    tiles_h, tiles_w = winograd.tile_grid(out_h, out_w)
    if (not _takes_winograd(x_shape, w_shape, dtype, stride, dilation, groups)
            or x_shape[0] * tiles_h * tiles_w < _WINOGRAD_MIN_TILES
            or (direction == "backward" and w_shape[0] < _WINOGRAD_BACKWARD_FILTER_RATIO * w_shape[1])):
        return "im2col"
    r = w_shape[2]
    return f"winograd F({winograd.TILE}x{winograd.TILE},{r}x{r})"


def _winograd_forward(x, w, padding, bias, parts=None):
    """Each thread's part of the batch (``_threads.map_parts``) is padded into a channels-last
    buffer one chunk at a time and convolved into its rows of one output."""
    n, c, h, width = x.shape
    r = w.shape[2]
    dtype = np.result_type(x.dtype, w.dtype)
    pad = winograd.input_padding(h, width, padding, r)
    out_h, out_w = h + 2 * padding[0] - r + 1, width + 2 * padding[1] - r + 1
    u = winograd.filter_transform(w, dtype)
    out = np.empty((n, out_h, out_w, w.shape[0]), dtype=dtype)

    def part(start, stop):
        for first, last in winograd.chunks(stop - start, c, w.shape[0], r, out_h, out_w):
            first, last = start + first, start + last
            xp = _padded_channels_last(x[first:last], *pad)
            winograd.conv2d(xp, w, out_h, out_w, bias, out=out[first:last], u=u)

    _threads.map_parts(part, n, parts)
    return out.transpose(0, 3, 1, 2)


def _winograd_grads(x, w, grad_out, padding, need_input, need_weight, parts=None):
    n, c, h, width = x.shape
    r = w.shape[2]
    dtype = np.result_type(x.dtype, w.dtype, grad_out.dtype)
    pad = winograd.input_padding(h, width, padding, r)
    out_h, out_w = grad_out.shape[2:]
    tiles_h, tiles_w = winograd.tile_grid(out_h, out_w)
    u = winograd.filter_transform(w, dtype) if need_input else None
    grad_x = np.empty((n, h, width, c), dtype=dtype) if need_input else None

    def part(start, stop):
        grad_u = None
        for first, last in winograd.chunks(stop - start, c, w.shape[0], r, out_h, out_w):
            first, last = start + first, start + last
            xp = _padded_channels_last(x[first:last], *pad)
            gp = _padded_channels_last(grad_out[first:last], 0, tiles_h * winograd.TILE - out_h,
                                       0, tiles_w * winograd.TILE - out_w)
            piece = winograd.conv2d_grads(xp, w, gp, (padding[0], padding[1], h, width), need_input, need_weight,
                                          grad_x=None if grad_x is None else grad_x[first:last], u=u)[1]
            del xp, gp
            grad_u = piece if grad_u is None else grad_u + piece
        return grad_u

    grad_us = _threads.map_parts(part, n, parts)
    grad_w = winograd.weight_grad(sum(grad_us[1:], grad_us[0]), r) if need_weight else None
    return None if grad_x is None else grad_x.transpose(0, 3, 1, 2), grad_w


# --- the kernels, registered against the reference ops ------------------------------------------

def _geometry(params):
    return params["stride"], params["padding"], params["dilation"], params["groups"]


# a convolution of at least this many multiply-adds (forward) splits its batch into
# ``get_num_threads()`` parts, one per thread (``_threads.map_parts``); below it a thread's wake-up
# (20 us to over 0.5 ms) is not worth it. The seed ConvNet's layers at batch 100 have 78M and 1G.
_PARALLEL_MIN_MACS = 1 << 23


def _parts(n, macs) -> int:
    if n < 2 or macs < _PARALLEL_MIN_MACS or _threads.inside_part():
        return 1
    return min(n, _threads.get_num_threads())


def conv2d_threads(x_shape, w_shape, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1) -> int:
    """How many threads the fast conv2d kernel splits this layer's batch across (forward and
    backward alike): ``get_num_threads()`` for layers of at least ``parallel_min_macs``
    multiply-adds and two images, else 1."""
    out_h, out_w = check_conv2d(tuple(x_shape), tuple(w_shape), stride, padding, dilation, groups)
    if conv2d_algorithm(x_shape, w_shape, stride, padding, dilation, groups) == "gather":
        return 1
    return _parts(x_shape[0], _macs(x_shape, w_shape, out_h, out_w))


def _macs(x_shape, w_shape, out_h, out_w) -> int:
    f, cg, kh, kw = w_shape
    return x_shape[0] * out_h * out_w * f * cg * kh * kw


@functools.lru_cache(maxsize=64)
def _conv2d_plan(x_shape, w_shape, bias_shape, stride, padding, dilation, groups, dtype):
    """One layer shape, validated once: (OH, OW, forward algorithm, backward algorithm, the
    gather index or None). At most 64 kept (gather indices: 32 MiB at worst)."""
    out_h, out_w = check_conv2d(x_shape, w_shape, stride, padding, dilation, groups, bias_shape)
    forward = _algorithm(x_shape, w_shape, stride, padding, dilation, groups, dtype, "forward")
    backward = _algorithm(x_shape, w_shape, stride, padding, dilation, groups, dtype, "backward")
    index = _gather_index(x_shape[1:], w_shape[2:], stride, padding, dilation) if forward == "gather" else None
    return out_h, out_w, forward, backward, index


def _plan(x, w, bias, stride, padding, dilation, groups):
    dtype = x.dtype if x.dtype == w.dtype else np.result_type(x.dtype, w.dtype)
    bias_shape = None if bias is None else bias.shape
    try:
        return _conv2d_plan(x.shape, w.shape, bias_shape, stride, padding, dilation, groups, dtype)
    except TypeError:       # lists among the geometry's arguments (a direct call of the op)
        return _conv2d_plan(x.shape, w.shape, bias_shape, tuple(stride), tuple(padding), tuple(dilation),
                            int(groups), dtype)


def conv2d_forward(ctx, x, w, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    _malloc.tune_once()      # keep freed buffers for the next step (see _malloc)
    out_h, out_w, algorithm, _, index = _plan(x, w, bias, stride, padding, dilation, groups)
    if algorithm == "gather":
        return _gather_forward(ctx, x, w, bias, tuple(padding), out_h, out_w, index)
    macs = _macs(x.shape, w.shape, out_h, out_w)
    parts = _parts(x.shape[0], macs)
    with _threads.for_products(macs):
        if algorithm.startswith("winograd"):
            return _winograd_forward(x, w, padding, bias, parts)
        # the weight gradient needs x's im2col matrix again: keep it (when small enough to be
        # built in one piece) rather than copying x's windows twice
        keep = ctx.needs_input_grad[1:2] == (True,)
        out = np.empty((x.shape[0], out_h, out_w, w.shape[0]), dtype=np.result_type(x.dtype, w.dtype))

        def part(start, stop):
            kept = [] if keep else None
            conv2d_array(x[start:stop], w, stride, padding, dilation, groups, keep_cols=kept, bias=bias,
                         out=out[start:stop], keep_limit=_KEEP_LIMIT // parts)
            return kept[0] if kept else None

        cols = _threads.map_parts(part, x.shape[0], parts) if parts > 1 else [part(0, x.shape[0])]
        if keep and all(piece is not None for piece in cols):
            ctx.save(cols=cols, parts=parts)
        return out.transpose(0, 3, 1, 2)


def conv2d_vjp(ctx, grad_out):
    inputs = ctx.inputs
    x, w = inputs[0].data, inputs[1].data
    if grad_out.dtype == x.dtype == w.dtype:
        bias = inputs[2].data if len(inputs) > 2 else None
        _, _, _, algorithm, index = _plan(x, w, bias, *_geometry(ctx.params))
        if algorithm == "gather":
            return _gather_grads(ctx, x, w, grad_out, index)
    macs = _macs(x.shape, w.shape, *grad_out.shape[2:])
    parts = _parts(x.shape[0], macs)
    with _threads.for_products(2 * macs):
        return _conv2d_grads(ctx, x, w, grad_out, parts)


def _conv2d_grads(ctx, x, w, grad_out, parts):
    stride, padding, dilation, groups = _geometry(ctx.params)
    needs = ctx.needs_input_grad
    grad_b = _bias_grad(grad_out) if len(needs) > 2 and needs[2] else None
    if (needs[0] or needs[1]) and conv2d_algorithm(
            x.shape, w.shape, stride, padding, dilation, groups,
            np.result_type(x.dtype, w.dtype, grad_out.dtype), "backward").startswith("winograd"):
        grad_x, grad_w = _winograd_grads(x, w, grad_out, padding, needs[0], needs[1], parts)
        return grad_x, grad_w, grad_b
    n = x.shape[0]
    dtype = np.result_type(x.dtype, w.dtype, grad_out.dtype)
    grad_x = np.empty((n, x.shape[2], x.shape[3], x.shape[1]), dtype=dtype) if needs[0] else None
    saved = ctx.saved.get("cols") if ctx.ran_kernel and ctx.saved else None
    if saved is not None and ctx.saved.get("parts") != parts:
        saved = None
    both = needs[0] and needs[1] and _shares_input_im2col(w.shape, ctx.params)
    transposed_padding = output_padding_for(x.shape, w.shape, stride, padding, dilation) if needs[0] else None

    ranges = _threads.bounds(n, parts)

    def part(start, stop):
        xs, gs = x[start:stop], grad_out[start:stop]
        if both:
            gx, gw = _input_and_weight_grads(xs, w, gs, padding, out=grad_x[start:stop])
            return gw
        if needs[0]:
            conv_transpose2d_array(gs, w, stride, padding, dilation, groups, transposed_padding,
                                   out=grad_x[start:stop])
        if needs[1]:
            return conv2d_weight_array(xs, gs, w.shape, stride, padding, dilation, groups,
                                       cols=None if saved is None else saved[ranges.index((start, stop))])
        return None

    weights = _threads.map_parts(part, n, parts) if parts > 1 else [part(0, n)]
    grad_w = sum(weights[1:], weights[0]) if needs[1] else None
    return None if grad_x is None else grad_x.transpose(0, 3, 1, 2), grad_w, grad_b


def conv_transpose2d_forward(ctx, g, w, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1,
                             output_padding=(0, 0)):
    return conv_transpose2d_array(g, w, stride, padding, dilation, groups, output_padding)


def conv2d_weight_forward(ctx, x, g, weight_shape, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    return conv2d_weight_array(x, g, tuple(weight_shape), stride, padding, dilation, groups)


_THRESHOLDS = {"short_run": _SHORT_RUN, "cols_budget": _COLS_BUDGET, "keep_limit": _KEEP_LIMIT,
               "bias_blas_pixels": _BIAS_BLAS_PIXELS}
# conv2d's kernel also chooses Winograd by these (its adjoint ops' kernels run im2col only)
_CONV2D_THRESHOLDS = dict(_THRESHOLDS, winograd_min_channels=_WINOGRAD_MIN_CHANNELS,
                          winograd_min_filters=_WINOGRAD_MIN_FILTERS, winograd_min_tiles=_WINOGRAD_MIN_TILES,
                          winograd_backward_filter_ratio=_WINOGRAD_BACKWARD_FILTER_RATIO,
                          winograd_chunk_budget=winograd._CHUNK_BUDGET, parallel_min_macs=_PARALLEL_MIN_MACS,
                          gather_max_values=_GATHER_MAX_VALUES)
register(reference.conv2d, conv2d_forward, conv2d_vjp, thresholds=_CONV2D_THRESHOLDS)
register(reference.conv_transpose2d, conv_transpose2d_forward, thresholds=_THRESHOLDS)
register(reference.conv2d_weight, conv2d_weight_forward, thresholds=_THRESHOLDS)
