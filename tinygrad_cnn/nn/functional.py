"""The functional face of the CNN ops (PyTorch's names and signatures).

Shapes: images are NCHW; conv weights (F, C // groups, KH, KW); linear
weights (out_features, in_features).
"""
import numpy as np

from ..ops.conv import pair
from ..random import generator
from ..tensor import Tensor, get_op

__all__ = ["conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "linear", "relu", "softmax",
           "log_softmax", "nll_loss", "cross_entropy", "dropout", "flatten"]


def _t(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _bias_2d(out: Tensor, bias, op: str) -> Tensor:
    if bias is None:
        return out
    bias = _t(bias)
    if bias.shape != (out.shape[1],):
        raise ValueError(f"{op}: bias has shape {bias.shape}, expected ({out.shape[1]},)")
    return out + bias.reshape(1, -1, 1, 1)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """2-D cross-correlation. x (N, C, H, W), weight (F, C // groups, KH, KW),
    bias (F,) -> (N, F, OH, OW) with OH = (H + 2*padding - dilation*(KH-1) - 1) // stride + 1."""
    inputs = (_t(x), _t(weight)) if bias is None else (_t(x), _t(weight), _t(bias))
    return get_op("conv2d")(*inputs, stride=pair(stride, "stride"), padding=pair(padding, "padding"),
                            dilation=pair(dilation, "dilation"), groups=int(groups))


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    """Transposed convolution (the input gradient of conv2d). x (N, Cin, H, W),
    weight (Cin, Cout // groups, KH, KW) -> (N, Cout, (H-1)*stride - 2*padding
    + dilation*(KH-1) + output_padding + 1, ...)."""
    op = "conv_transpose2d"
    out = get_op(op)(_t(x), _t(weight), stride=pair(stride, "stride", op), padding=pair(padding, "padding", op),
                     dilation=pair(dilation, "dilation", op), groups=int(groups),
                     output_padding=pair(output_padding, "output_padding", op))
    return _bias_2d(out, bias, op)


def max_pool2d(x, kernel_size, stride=None, padding=0) -> Tensor:
    """Max over windows; stride defaults to kernel_size; padding counts as -inf.
    On ties the gradient goes to the first maximum of the window (row-major), as in PyTorch."""
    return get_op("max_pool2d")(_t(x), kernel_size=pair(kernel_size, "kernel_size", "max_pool2d"),
                                stride=None if stride is None else pair(stride, "stride", "max_pool2d"),
                                padding=pair(padding, "padding", "max_pool2d"))


def avg_pool2d(x, kernel_size, stride=None, padding=0) -> Tensor:
    """Mean over windows; padded zeros count (PyTorch's count_include_pad=True)."""
    return get_op("avg_pool2d")(_t(x), kernel_size=pair(kernel_size, "kernel_size", "avg_pool2d"),
                                stride=None if stride is None else pair(stride, "stride", "avg_pool2d"),
                                padding=pair(padding, "padding", "avg_pool2d"))


def linear(x, weight, bias=None) -> Tensor:
    """x (..., in) @ weight (out, in).T + bias (out,) -> (..., out)."""
    inputs = (_t(x), _t(weight)) if bias is None else (_t(x), _t(weight), _t(bias))
    return get_op("linear")(*inputs)


def relu(x) -> Tensor:
    return _t(x).relu()


def softmax(x, axis=-1) -> Tensor:
    """exp(x) / sum(exp(x)) along ``axis``, shifted by the max for stability."""
    return get_op("softmax")(_t(x), axis=int(axis))


def log_softmax(x, axis=-1) -> Tensor:
    """x - logsumexp(x) along ``axis``, computed stably."""
    return get_op("log_softmax")(_t(x), axis=int(axis))


def nll_loss(log_probs, target, reduction="mean") -> Tensor:
    """Negative log-likelihood: log_probs (N, C), integer target (N,)."""
    return get_op("nll_loss")(_t(log_probs), _t(target), reduction=reduction)


def cross_entropy(logits, target, reduction="mean") -> Tensor:
    """Softmax cross-entropy on logits (N, C). ``target`` is either integer
    class indices (N,) or class probabilities / one-hot rows (N, C).
    reduction: 'mean' (over the batch), 'sum' or 'none'."""
    logits, target = _t(logits), _t(target)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"cross_entropy: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    if logits.ndim != 2:
        raise ValueError(f"cross_entropy: logits must be 2-D (N, C), got shape {logits.shape}")
    n, classes = logits.shape
    log_probs = log_softmax(logits, axis=1)
    if target.dtype.kind in "iu":
        if target.shape != (n,):
            raise ValueError(f"cross_entropy: got {target.size} labels (shape {target.shape}) for a batch "
                             f"of {n} logits (shape {logits.shape})")
        labels = target.data
        if n and (labels.min() < 0 or labels.max() >= classes):
            bad = labels[(labels < 0) | (labels >= classes)][0]
            raise ValueError(f"cross_entropy: label {bad} is out of range for {classes} classes")
        return nll_loss(log_probs, target, reduction)
    if target.shape != logits.shape:
        raise ValueError(f"cross_entropy: probability targets must have the logits' shape {logits.shape}, "
                         f"got {target.shape} (integer labels must have an integer dtype)")
    losses = -(target * log_probs).sum(axis=1)
    if reduction == "none":
        return losses
    return losses.mean() if reduction == "mean" else losses.sum()


def dropout(x, p=0.5, training=True) -> Tensor:
    """Inverted dropout: zero each element with probability p and scale the
    rest by 1 / (1 - p); the identity when not training. Reproducible through
    ``tinygrad_cnn.manual_seed``."""
    x = _t(x)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * Tensor(np.zeros(x.shape, dtype=x.dtype))
    keep = generator().random(x.shape, dtype=np.float32) >= p
    return x * Tensor(keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - p)))


def flatten(x, start_axis=1, end_axis=-1) -> Tensor:
    return _t(x).flatten(start_axis, end_axis)
