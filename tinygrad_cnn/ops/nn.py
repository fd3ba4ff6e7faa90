"""Pooling, dense layers, softmax and the negative log-likelihood."""
import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..tensor import Spec, Tensor, defop, get_op
from .conv import pair

_CASES = "tinygrad_cnn.testing.nn_cases:"


def _pool_geometry(op, x, kernel_size, stride, padding):
    if x.ndim != 4:
        raise ValueError(f"{op}: input must be 4-D (N, C, H, W), got shape {x.shape}")
    kernel = pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None else pair(stride, "stride", op)
    padding = pair(padding, "padding", op)
    if min(kernel) < 1 or min(stride) < 1 or min(padding) < 0:
        raise ValueError(f"{op}: kernel_size {kernel} and stride {stride} must be >= 1, padding {padding} >= 0")
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"{op}: padding {padding} must be at most half the kernel size {kernel}")
    n, c, h, w = x.shape
    if kernel[0] > h + 2 * padding[0] or kernel[1] > w + 2 * padding[1]:
        raise ValueError(f"{op}: pool window {kernel[0]}x{kernel[1]} is larger than the padded input "
                         f"{h + 2 * padding[0]}x{w + 2 * padding[1]} (input shape {x.shape}, padding {padding})")
    out_h = (h + 2 * padding[0] - kernel[0]) // stride[0] + 1
    out_w = (w + 2 * padding[1] - kernel[1]) // stride[1] + 1
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


@defop("max_pool2d", spec=Spec(cases=_CASES + "max_pool2d_cases"))
def max_pool2d(ctx, x, kernel_size, stride=None, padding=0):
    """Max over each window. Ties: the gradient goes to the first maximum in
    the window, in row-major order (as in PyTorch). Padding counts as -inf."""
    kernel, stride, padding, out_h, out_w = _pool_geometry("max_pool2d", x, kernel_size, stride, padding)
    n, c, h, w = x.shape
    if padding == (0, 0) and kernel == stride == (2, 2) and h % 2 == 0 and w % 2 == 0:
        # the seeds' 2x2/2 pool: four strided views instead of a window copy
        corners = [x[:, :, i::2, j::2] for i in (0, 1) for j in (0, 1)]   # row-major window order
        out = np.maximum(np.maximum(corners[0], corners[1]), np.maximum(corners[2], corners[3]))
        if not ctx.needs_input_grad:    # not recorded: no VJP will need the winners
            return out
        # winners as a 0/1 mask over x, first maximum first (PyTorch's tie rule)
        if x.strides[1] < x.strides[3]:
            # channels-last memory (what conv2d produces): keep that layout, so
            # the VJP's product runs over long contiguous channel rows
            mask = np.empty((n, out_h, 2, out_w, 2, c), dtype=bool).transpose(0, 5, 1, 2, 3, 4)
        else:
            mask = np.empty((n, c, out_h, 2, out_w, 2), dtype=bool)
        # first maximum in row-major window order wins; if none of the first
        # three corners holds the maximum, the fourth does
        first = corners[0] == out
        second = (corners[1] == out) & ~first
        taken = first | second
        third = (corners[2] == out) & ~taken
        taken |= third
        for k, wins in enumerate((first, second, third, ~taken)):
            mask[:, :, :, k // 2, :, k % 2] = wins
        ctx.mask = mask
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
    ctx.positions = (planes + rows * w + cols).reshape(-1)
    ctx.unique = stride[0] >= kernel[0] and stride[1] >= kernel[1]
    return out


@max_pool2d.defvjp
def max_pool2d_vjp(ctx, grad_out):
    x = ctx.inputs[0]
    if hasattr(ctx, "mask"):   # 2x2/2: spread each gradient over its window, keep the winner
        n, c, out_h, out_w = grad_out.shape
        spread = grad_out.reshape(n, c, out_h, 1, out_w, 1).broadcast_to(ctx.mask.shape)
        return ((spread * Tensor(ctx.mask)).reshape(x.shape),)
    flat = get_op("index_add")(grad_out.reshape(-1), shape=(x.size,), index=ctx.positions,
                               unique=ctx.unique)
    return (flat.reshape(x.shape),)


@defop("avg_pool2d", spec=Spec(cases=_CASES + "avg_pool2d_cases"))
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


@defop("linear", spec=Spec(cases=_CASES + "linear_cases"))
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
    grad_x = grad_out @ weight if needs[0] else None
    grad_w = grad_b = None
    if needs[1] or (len(needs) > 2 and needs[2]):
        rows = grad_out.reshape(-1, weight.shape[0])
        if needs[1]:
            grad_w = rows.T @ x.reshape(-1, weight.shape[1])
        if len(needs) > 2 and needs[2]:
            grad_b = rows.sum(axis=0)
    return grad_x, grad_w, grad_b


def _check_axis(op, x, axis):
    if not -max(x.ndim, 1) <= axis < max(x.ndim, 1):
        raise ValueError(f"{op}: axis {axis} is out of range for input of shape {x.shape}")


@defop("softmax", spec=Spec(cases=_CASES + "softmax_cases"))
def softmax(ctx, x, axis=-1):
    _check_axis("softmax", x, axis)
    shifted = np.exp(x - x.max(axis=axis, keepdims=True))   # shift by the max: no overflow
    return shifted / shifted.sum(axis=axis, keepdims=True)


@softmax.defvjp
def softmax_vjp(ctx, grad_out):
    out, axis = ctx.out, ctx.params["axis"]
    return (out * (grad_out - (grad_out * out).sum(axis=axis, keepdims=True)),)


@defop("log_softmax", spec=Spec(cases=_CASES + "softmax_cases"))
def log_softmax(ctx, x, axis=-1):
    _check_axis("log_softmax", x, axis)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


@log_softmax.defvjp
def log_softmax_vjp(ctx, grad_out):
    out, axis = ctx.out, ctx.params["axis"]
    return (grad_out - out.exp() * grad_out.sum(axis=axis, keepdims=True),)


_REDUCTIONS = ("mean", "sum", "none")


@defop("nll_loss", spec=Spec(cases=_CASES + "nll_loss_cases"))
def nll_loss(ctx, log_probs, target, reduction="mean"):
    """Negative log-likelihood of integer class labels: log_probs (N, C), target (N,)."""
    if reduction not in _REDUCTIONS:
        raise ValueError(f"nll_loss: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if log_probs.ndim != 2:
        raise ValueError(f"nll_loss: input must be 2-D (N, C), got shape {log_probs.shape}")
    n, classes = log_probs.shape
    if target.ndim != 1 or target.shape[0] != n:
        raise ValueError(f"nll_loss: got {target.shape[0] if target.ndim == 1 else target.shape} labels "
                         f"for a batch of {n} (input shape {log_probs.shape}, target shape {target.shape})")
    if target.dtype.kind not in "iu":
        raise ValueError(f"nll_loss: labels must be integers, got dtype {target.dtype}")
    if n and (target.min() < 0 or target.max() >= classes):
        bad = target[(target < 0) | (target >= classes)][0]
        raise ValueError(f"nll_loss: label {bad} is out of range for {classes} classes")
    picked = -log_probs[np.arange(n), target]
    if reduction == "none":
        return picked
    total = picked.sum()
    return total / log_probs.dtype.type(n) if reduction == "mean" else total


@nll_loss.defvjp
def nll_loss_vjp(ctx, grad_out):
    log_probs, target = ctx.inputs
    n, classes = log_probs.shape
    onehot = np.zeros((n, classes), dtype=grad_out.dtype)
    onehot[np.arange(n), target.data] = -1.0
    onehot = Tensor(onehot)
    reduction = ctx.params["reduction"]
    if reduction == "none":
        return onehot * grad_out.reshape(n, 1), None
    if reduction == "mean":
        return onehot * (grad_out / n), None
    return onehot * grad_out, None
