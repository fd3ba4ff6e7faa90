"""Max and average pooling over 2-D windows (NCHW), as the math states them.

The windows are a strided view of the (padded) input, (N, C, OH, OW, KH, KW); max pooling takes
each window's first maximum and remembers where it was, average pooling takes each window's mean
(a depthwise convolution with a constant kernel, which gives its adjoint). Adaptive pooling uses
PyTorch's windows. ``tinygrad_cnn.kernels.pool`` has the fast 2x2/2 max pool of the seed networks.
"""
import numpy as np
from numpy.lib.stride_tricks import as_strided

from .._args import conv_output_size, pair
from ..engine import defop
from ..errors import ShapeError
from ..tensor import Tensor
from .conv import conv_transpose2d
from .movement import index_add


def pool_geometry(op, x, kernel_size, stride, padding):
    if x.ndim != 4:
        raise ShapeError(f"{op}: input must be 4-D (N, C, H, W), got shape {x.shape}")
    kernel = pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None else pair(stride, "stride", op)
    padding = pair(padding, "padding", op)
    if min(kernel) < 1 or min(stride) < 1 or min(padding) < 0:
        raise ValueError(f"{op}: kernel_size {kernel} and stride {stride} must be >= 1, padding {padding} >= 0")
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{op}: padding {padding} must be at most half the kernel size {kernel}")
    n, c, h, w = x.shape
    if kernel[0] > h + 2 * padding[0] or kernel[1] > w + 2 * padding[1]:
        raise ShapeError(f"{op}: pool window {kernel[0]}x{kernel[1]} is larger than the padded input "
                         f"{h + 2 * padding[0]}x{w + 2 * padding[1]} (input shape {x.shape}, padding {padding})")
    out_h = conv_output_size(h, kernel[0], stride[0], padding[0])
    out_w = conv_output_size(w, kernel[1], stride[1], padding[1])
    return kernel, stride, padding, out_h, out_w


def _pool_windows(xp, kernel, stride, out_h, out_w):
    """(N, C, OH, OW, KH, KW) read-only view of the windows."""
    n, c = xp.shape[:2]
    sn, sc, sh, sw = xp.strides
    return as_strided(xp, (n, c, out_h, out_w, kernel[0], kernel[1]),
                      (sn, sc, sh * stride[0], sw * stride[1], sh, sw), writeable=False)


def _pad_constant(x, padding, value):
    if padding == (0, 0):
        return x
    return np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2), constant_values=value)


def _winners(windows):
    """Each window's winner, windows (..., K) -> positions (...): its first maximum, or in a
    window holding NaNs its last NaN (PyTorch's rule: each NaN it meets replaces the maximum)."""
    arg = windows.argmax(axis=-1)                     # the first maximum (or the first NaN)
    if windows.dtype.kind == "f":
        nans = np.isnan(windows)
        held = nans.any(axis=-1)
        if held.any():
            last = windows.shape[-1] - 1 - nans[..., ::-1].argmax(axis=-1)
            arg = np.where(held, last, arg)
    return arg


@defop("max_pool2d", saves=())
def max_pool2d(ctx, x, kernel_size, stride=None, padding=0):
    """Max over each window. Ties: the gradient goes to the first maximum in
    the window, in row-major order, and in a window holding NaNs to the last NaN
    (as in PyTorch). Padding counts as -inf."""
    kernel, stride, padding, out_h, out_w = pool_geometry("max_pool2d", x, kernel_size, stride, padding)
    n, c, h, w = x.shape
    low = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    windows = _pool_windows(_pad_constant(x, padding, low), kernel, stride, out_h, out_w)
    windows = windows.reshape(n, c, out_h, out_w, -1)
    arg = _winners(windows)
    if ctx.needs_input_grad:
        # flat position in x of each window's winner, for the VJP's scatter
        rows = np.arange(out_h).reshape(-1, 1) * stride[0] + arg // kernel[1] - padding[0]
        cols = np.arange(out_w) * stride[1] + arg % kernel[1] - padding[1]
        planes = np.arange(n * c).reshape(n, c, 1, 1) * (h * w)
        ctx.save(positions=(planes + rows * w + cols).reshape(-1),
                 unique=stride[0] >= kernel[0] and stride[1] >= kernel[1])
    return np.take_along_axis(windows, arg[..., None], axis=-1)[..., 0]


@max_pool2d.defvjp
def max_pool2d_vjp(ctx, grad_out):
    # each window's gradient goes to its winner (windows that overlap may share one)
    x = ctx.inputs[0]
    flat = index_add(grad_out.reshape(-1), shape=(x.data.size,), index=ctx.saved["positions"],
                     unique=ctx.saved["unique"])
    return (flat.reshape(x.data.shape),)


@defop("avg_pool2d", saves=())
def avg_pool2d(ctx, x, kernel_size, stride=None, padding=0):
    """Mean over each window; padded zeros count in the mean (PyTorch's
    default count_include_pad=True)."""
    kernel, stride, padding, out_h, out_w = pool_geometry("avg_pool2d", x, kernel_size, stride, padding)
    xp = _pad_constant(x, padding, 0)
    windows = _pool_windows(xp, kernel, stride, out_h, out_w)
    return windows.mean(axis=(4, 5), dtype=x.dtype)


@avg_pool2d.defvjp
def avg_pool2d_vjp(ctx, grad_out):
    # avg_pool2d is a depthwise convolution with a constant kernel, so its
    # adjoint is the matching transposed convolution
    x = ctx.inputs[0]
    kernel, stride, padding, out_h, out_w = pool_geometry(
        "avg_pool2d", x.data, ctx.params["kernel_size"], ctx.params["stride"], ctx.params["padding"])
    c = x.shape[1]
    weight = Tensor(np.full((c, 1) + kernel, 1.0 / (kernel[0] * kernel[1]), dtype=grad_out.dtype))
    output_padding = tuple(x.shape[2 + i] - ((grad_out.shape[2 + i] - 1) * stride[i] - 2 * padding[i]
                                            + kernel[i]) for i in (0, 1))
    grad = conv_transpose2d(grad_out, weight, stride=stride, padding=padding,
                                      dilation=(1, 1), groups=c, output_padding=output_padding)
    return (grad,)


# --- adaptive pooling ---------------------------------------------------------------

def _adaptive_geometry(op, x, output_size):
    """(out_h, out_w) from an int, a pair, or a pair holding None (keep that size)."""
    if x.ndim != 4:
        raise ShapeError(f"{op}: input must be 4-D (N, C, H, W), got shape {x.shape}")
    if isinstance(output_size, (int, np.integer)) or output_size is None:
        output_size = (output_size, output_size)
    try:
        size = tuple(x.shape[2 + a] if s is None else int(s) for a, s in enumerate(output_size))
    except (TypeError, ValueError):
        raise ValueError(f"{op}: output_size must be an int or a pair of ints, got {output_size!r}") from None
    if len(size) != 2 or min(size) < 1 or min(x.shape[2:]) < 1:
        raise ValueError(f"{op}: output_size {output_size!r} must be two sizes >= 1 "
                         f"(input shape {x.shape})")
    return size


def _adaptive_bounds(size: int, out: int):
    """PyTorch's windows: start = floor(i * size / out), end = ceil((i + 1) * size / out)."""
    i = np.arange(out)
    return (i * size) // out, -((-(i + 1) * size) // out)


def _average_matrix(size: int, out: int, dtype) -> np.ndarray:
    """(out, size): row i averages window i, so pooling one axis is a product."""
    starts, ends = _adaptive_bounds(size, out)
    cols = np.arange(size)
    inside = (cols >= starts[:, None]) & (cols < ends[:, None])
    return (inside / (ends - starts)[:, None]).astype(dtype)


@defop("adaptive_avg_pool2d", saves=())
def adaptive_avg_pool2d(ctx, x, output_size):
    """Mean over PyTorch's adaptive windows: (N, C, H, W) -> (N, C, OH, OW).
    The windows of one axis do not depend on the other, so the general case
    is two small matrix products; 1x1 and exact divisions are one mean."""
    out_h, out_w = _adaptive_geometry("adaptive_avg_pool2d", x, output_size)
    n, c, h, w = x.shape
    if h % out_h == 0 and w % out_w == 0:        # includes global pooling (1x1)
        if out_h == 1 and out_w == 1:
            return x.mean(axis=(2, 3), keepdims=True, dtype=x.dtype)
        return x.reshape(n, c, out_h, h // out_h, out_w, w // out_w).mean(axis=(3, 5), dtype=x.dtype)
    dtype = x.dtype if x.dtype.kind == "f" else np.float32
    rows, cols = _average_matrix(h, out_h, dtype), _average_matrix(w, out_w, dtype)
    return rows @ (x @ cols.T)


@adaptive_avg_pool2d.defvjp
def adaptive_avg_pool2d_vjp(ctx, grad_out):
    # the adjoint of rows @ x @ cols.T: rows.T @ grad @ cols (Tensor ops, so
    # the gradient differentiates again)
    x = ctx.inputs[0]
    out_h, out_w = grad_out.shape[2:]
    h, w = x.shape[2:]
    rows = Tensor(_average_matrix(h, out_h, grad_out.dtype).T)
    cols = Tensor(_average_matrix(w, out_w, grad_out.dtype))
    return (rows @ (grad_out @ cols),)


def _window_index(size: int, out: int):
    """(out, longest window) positions; short windows repeat their last
    position, which never changes a max nor its first winner."""
    starts, ends = _adaptive_bounds(size, out)
    longest = int((ends - starts).max())
    return np.minimum(starts[:, None] + np.arange(longest), ends[:, None] - 1)


@defop("adaptive_max_pool2d", saves=())
def adaptive_max_pool2d(ctx, x, output_size):
    """Max over PyTorch's adaptive windows: (N, C, H, W) -> (N, C, OH, OW); the
    gradient goes to the first maximum of each window (row-major), as in PyTorch."""
    out_h, out_w = _adaptive_geometry("adaptive_max_pool2d", x, output_size)
    n, c, h, w = x.shape
    if h % out_h == 0 and w % out_w == 0:
        kh, kw = h // out_h, w // out_w
        windows = x.reshape(n, c, out_h, kh, out_w, kw).transpose(0, 1, 2, 4, 3, 5).reshape(
            n, c, out_h, out_w, kh * kw)
        rows = np.arange(out_h)[:, None] * kh + np.arange(kh)          # (OH, KH)
        cols = np.arange(out_w)[:, None] * kw + np.arange(kw)
    else:
        rows, cols = _window_index(h, out_h), _window_index(w, out_w)
        kh, kw = rows.shape[1], cols.shape[1]
        windows = x[:, :, rows[:, None, :, None], cols[None, :, None, :]].reshape(n, c, out_h, out_w, kh * kw)
    arg = _winners(windows)
    out = np.take_along_axis(windows, arg[..., None], axis=-1)[..., 0]
    if ctx.needs_input_grad:
        # flat position in x of each window's winner, for the VJP's scatter
        win_rows = rows[np.arange(out_h)[:, None], arg // kw]          # (N, C, OH, OW)
        win_cols = cols[np.arange(out_w), arg % kw]
        planes = np.arange(n * c).reshape(n, c, 1, 1) * (h * w)
        ctx.save(positions=(planes + win_rows * w + win_cols).reshape(-1))
    return out


@adaptive_max_pool2d.defvjp
def adaptive_max_pool2d_vjp(ctx, grad_out):
    x = ctx.inputs[0]
    flat = index_add(grad_out.reshape(-1), shape=(x.data.size,), index=ctx.saved["positions"])
    return (flat.reshape(x.data.shape),)
