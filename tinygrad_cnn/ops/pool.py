"""Max and average pooling over 2-D windows (NCHW)."""
import numpy as np
from numpy.lib.stride_tricks import as_strided

from .._args import conv_output_size, pair
from .. import _parallel
from ..engine import defop, get_op, is_grad_enabled
from ..errors import ShapeError
from ..spec import Spec
from ..tensor import Tensor

_CASES = "tinygrad_cnn.testing.nn_cases:"


def _pool_geometry(op, x, kernel_size, stride, padding):
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
        _parallel.run(lambda start, stop: np.multiply(rows[start:stop], memory[start:stop], out=result[start:stop]),
                      n, mask.size)
        return result.transpose(0, 5, 1, 2, 3, 4)
    rows = np.ascontiguousarray(grad).reshape(n, c, out_h, 1, out_w, 1)
    result = np.empty(mask.shape, dtype=grad.dtype)
    _parallel.run(lambda start, stop: np.multiply(rows[start:stop], mask[start:stop], out=result[start:stop]),
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


@defop("max_pool2d", spec=Spec(cases=_CASES + "max_pool2d_cases"), saves=())
def max_pool2d(ctx, x, kernel_size, stride=None, padding=0):
    """Max over each window. Ties: the gradient goes to the first maximum in
    the window, in row-major order (as in PyTorch). Padding counts as -inf."""
    kernel, stride, padding, out_h, out_w = _pool_geometry("max_pool2d", x, kernel_size, stride, padding)
    n, c, h, w = x.shape
    if padding == (0, 0) and kernel == stride == (2, 2) and h % 2 == 0 and w % 2 == 0:
        # the seeds' 2x2/2 pool: four strided views instead of a window copy;
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
        _parallel.run(lambda start, stop: _max_pool_2x2(x[start:stop], out[start:stop],
                                                          None if mask is None else mask[start:stop]),
                      n, x.size)
        return out
    low = np.finfo(x.dtype).min if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    xp = _pad_constant(x, padding, -np.inf if x.dtype.kind == "f" else low)
    windows = _pool_windows(xp, kernel, stride, out_h, out_w).reshape(n, c, out_h, out_w, -1)
    arg = windows.argmax(axis=-1)                     # argmax returns the first maximum
    out = np.take_along_axis(windows, arg[..., None], axis=-1)[..., 0]
    if not ctx.needs_input_grad:
        return out
    # flat position in x of each window's winner, for the VJP's scatter
    rows = np.arange(out_h).reshape(-1, 1) * stride[0] + arg // kernel[1] - padding[0]
    cols = np.arange(out_w) * stride[1] + arg % kernel[1] - padding[1]
    planes = np.arange(n * c).reshape(n, c, 1, 1) * (h * w)
    ctx.save(positions=(planes + rows * w + cols).reshape(-1),
             unique=stride[0] >= kernel[0] and stride[1] >= kernel[1])
    return out


@max_pool2d.defvjp
def max_pool2d_vjp(ctx, grad_out):
    x = ctx.inputs[0]
    saved = ctx.saved
    if "mask" in saved:   # 2x2/2: spread each gradient over its window, keep the winner
        mask = saved["mask"]
        n, c, out_h, out_w = grad_out.data.shape
        if not is_grad_enabled():    # not differentiated again: one numpy pass
            return (Tensor(_max_pool_2x2_grad(grad_out.data, mask).reshape(x.data.shape)),)
        spread = grad_out.reshape(n, c, out_h, 1, out_w, 1).broadcast_to(mask.shape)
        return ((spread * Tensor(mask)).reshape(x.data.shape),)
    flat = get_op("index_add")(grad_out.reshape(-1), shape=(x.data.size,), index=saved["positions"],
                               unique=saved["unique"])
    return (flat.reshape(x.data.shape),)


@defop("avg_pool2d", spec=Spec(cases=_CASES + "avg_pool2d_cases"), saves=())
def avg_pool2d(ctx, x, kernel_size, stride=None, padding=0):
    """Mean over each window; padded zeros count in the mean (PyTorch's
    default count_include_pad=True)."""
    kernel, stride, padding, out_h, out_w = _pool_geometry("avg_pool2d", x, kernel_size, stride, padding)
    xp = _pad_constant(x, padding, 0)
    windows = _pool_windows(xp, kernel, stride, out_h, out_w)
    return windows.mean(axis=(4, 5), dtype=x.dtype)


@avg_pool2d.defvjp
def avg_pool2d_vjp(ctx, grad_out):
    # avg_pool2d is a depthwise convolution with a constant kernel, so its
    # adjoint is the matching transposed convolution
    x = ctx.inputs[0]
    kernel, stride, padding, out_h, out_w = _pool_geometry(
        "avg_pool2d", x.data, ctx.params["kernel_size"], ctx.params["stride"], ctx.params["padding"])
    c = x.shape[1]
    weight = Tensor(np.full((c, 1) + kernel, 1.0 / (kernel[0] * kernel[1]), dtype=grad_out.dtype))
    output_padding = tuple(x.shape[2 + i] - ((grad_out.shape[2 + i] - 1) * stride[i] - 2 * padding[i]
                                            + kernel[i]) for i in (0, 1))
    grad = get_op("conv_transpose2d")(grad_out, weight, stride=stride, padding=padding,
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


@defop("adaptive_avg_pool2d", spec=Spec(cases=_CASES + "adaptive_pool2d_cases"), saves=())
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


@defop("adaptive_max_pool2d", spec=Spec(cases=_CASES + "adaptive_max_pool2d_cases"), saves=())
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
    arg = windows.argmax(axis=-1)                    # the first maximum
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
    flat = get_op("index_add")(grad_out.reshape(-1), shape=(x.data.size,), index=ctx.saved["positions"])
    return (flat.reshape(x.data.shape),)
