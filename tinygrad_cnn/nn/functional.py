"""The functional face of the CNN ops (PyTorch's names and signatures).

Shapes: images are NCHW; conv weights (F, C // groups, KH, KW); linear
weights (out_features, in_features).
"""
import functools
import inspect
import warnings

import numpy as np

from .._args import pair
from ..errors import LabelError, ShapeError
from ..random import generator
from ..ops.movement import pad
from ..grad_fn import named_backward
from ..tensor import Tensor, get_op

__all__ = ["one_hot", "conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "linear", "relu", "softmax",
           "log_softmax", "nll_loss", "cross_entropy", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div", "dropout", "flatten"]


def _t(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _bias_2d(out: Tensor, bias, op: str) -> Tensor:
    if bias is None:
        return out
    bias = _t(bias)
    if bias.shape != (out.shape[1],):
        raise ShapeError(f"{op}: bias has shape {tuple(bias.shape)}, expected ({out.shape[1]},)")
    return out + bias.reshape(1, -1, 1, 1)


# PyTorch's names of the scalar types, as its dtype errors print them
_SCALAR_NAMES = {"float64": ("Double", "double"), "float32": ("Float", "float"), "float16": ("Half", "c10::Half"),
                 "int64": ("Long", "long"), "int32": ("Int", "int"), "int16": ("Short", "short"),
                 "int8": ("Char", "signed char"), "uint8": ("Byte", "unsigned char"), "bool": ("Bool", "bool")}


def _scalar_name(tensor: Tensor, style: int) -> str:
    name = tensor.data.dtype.name
    return _SCALAR_NAMES.get(name, (name, name))[style]


def _check_same_dtype(op: str, x: Tensor, weight: Tensor, bias) -> None:
    """As PyTorch: a layer's input must have its parameters' dtype (a
    float64 or uint8 batch into a float32 layer is an error, not a silent
    conversion)."""
    for what, other in (("weight", weight), ("bias", bias)):
        if other is None or other.data.dtype is x.data.dtype or other.data.dtype == x.data.dtype:
            continue
        got = f"(input {x.dtype}, {what} {other.dtype}); convert the input with .to({other.dtype})"
        if x.data.dtype.kind == "f":
            got += f" or the layer with .to({x.dtype})"
        if op == "linear":
            raise RuntimeError(f"linear: mat1 and mat2 must have the same dtype, but got {_scalar_name(x, 0)} "
                               f"and {_scalar_name(other, 0)} {got}")
        raise RuntimeError(f"{op}: Input type ({_scalar_name(x, 1)}) and {what} type "
                           f"({_scalar_name(other, 1)}) should be the same {got}")


def _unbatched(op: str, node: str):
    """Decorator: as in PyTorch, a (C, H, W) input is one image; the batch
    axis is added for the op and removed from its result (gradients flow
    through both), and ``grad_fn`` shows PyTorch's ``node`` for it."""
    def decorate(fn):
        first = next(iter(inspect.signature(fn).parameters))      # the input's name (x or input)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            x = _t(args[0] if args else kwargs.pop(first))
            args = args[1:]
            if x.ndim == 4:
                return fn(x, *args, **kwargs)
            if x.ndim != 3:
                raise ShapeError(f"{op}: expected a 3-D (unbatched, C x H x W) or 4-D (batched, "
                                 f"N x C x H x W) input, got shape {tuple(x.shape)}")
            out = fn(x.unsqueeze(0), *args, **kwargs).squeeze(0)
            if out._ctx is not None:
                out._ctx.node_name = node
                if node != "SqueezeBackward1":      # PyTorch's pooling runs on 3-D as it is
                    out._ctx.node_inputs = (x,)
            return out
        return wrapper
    return decorate


@_unbatched("conv2d", "SqueezeBackward1")
def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """2-D cross-correlation. x (N, C, H, W) or one image (C, H, W), weight
    (F, C // groups, KH, KW), bias (F,) -> (N, F, OH, OW) (or (F, OH, OW)) with OH = (H + 2*padding - dilation*(KH-1) - 1) // stride + 1.
    ``padding='valid'`` is 0; ``padding='same'`` (stride 1) keeps H and W, the
    odd pixel of an even total going to the bottom and right, as in PyTorch."""
    x, weight = _t(x), _t(weight)
    bias = None if bias is None else _t(bias)
    _check_same_dtype("conv2d", x, weight, bias)
    stride, dilation = pair(stride, "stride"), pair(dilation, "dilation")
    if isinstance(padding, str):
        x, padding = _string_padding(x, weight, padding, stride, dilation)
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return get_op("conv2d")(*inputs, stride=stride, padding=pair(padding, "padding"),
                            dilation=dilation, groups=int(groups))


def _string_padding(x: Tensor, weight: Tensor, padding: str, stride, dilation):
    """(input, padding pair) for ``padding='valid'`` or ``'same'``."""
    if padding == "valid":
        return x, (0, 0)
    if padding != "same":
        raise ValueError(f"conv2d: padding must be 'valid', 'same', an int or a pair of ints, got {padding!r}")
    if stride != (1, 1):
        raise ValueError(f"conv2d: padding='same' is not supported for strided convolutions (stride {stride})")
    totals = [dilation[i] * (weight.shape[2 + i] - 1) for i in (0, 1)]
    if totals[0] % 2 == 0 and totals[1] % 2 == 0:
        return x, (totals[0] // 2, totals[1] // 2)
    # uneven: the extra row/column of zeros goes after, then the symmetric part as padding
    return pad(x, (0, totals[1] % 2, 0, totals[0] % 2)), (totals[0] // 2, totals[1] // 2)


@_unbatched("conv_transpose2d", "SqueezeBackward1")
@named_backward("ConvolutionBackward0", inputs=("x", "weight", "bias"))
def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1) -> Tensor:
    """Transposed convolution (the input gradient of conv2d). x (N, Cin, H, W),
    weight (Cin, Cout // groups, KH, KW) -> (N, Cout, (H-1)*stride - 2*padding
    + dilation*(KH-1) + output_padding + 1, ...)."""
    op = "conv_transpose2d"
    x, weight = _t(x), _t(weight)
    _check_same_dtype(op, x, weight, None if bias is None else _t(bias))
    out = get_op(op)(x, weight, stride=pair(stride, "stride", op), padding=pair(padding, "padding", op),
                     dilation=pair(dilation, "dilation", op), groups=int(groups),
                     output_padding=pair(output_padding, "output_padding", op))
    return _bias_2d(out, bias, op)


@_unbatched("max_pool2d", "MaxPool2DWithIndicesBackward0")
def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False) -> Tensor:
    """Max over windows: x (N, C, H, W) -> (N, C, OH, OW) (or (C, H, W) -> (C, OH, OW)), OH = (H + 2*padding - KH) // stride + 1.
    stride defaults to kernel_size; padding counts as -inf. On ties the
    gradient goes to the first maximum of the window (row-major), as in
    PyTorch. dilation > 1, ceil_mode and return_indices are not supported."""
    if dilation != 1 or ceil_mode is not False or return_indices is not False:    # (the defaults: no checks)
        _unsupported("max_pool2d", dilation=(dilation, (1, (1, 1), [1, 1])), ceil_mode=(ceil_mode, (False,)),
                     return_indices=(return_indices, (False,)))
    return get_op("max_pool2d")(_t(x), kernel_size=pair(kernel_size, "kernel_size", "max_pool2d"),
                                stride=None if stride is None else pair(stride, "stride", "max_pool2d"),
                                padding=pair(padding, "padding", "max_pool2d"))


def _unsupported(op, **options):
    """Raise for options in PyTorch's signature that are not implemented here."""
    for name, (value, supported) in options.items():
        if value not in supported:
            raise NotImplementedError(f"{op}: {name}={value!r} is not supported (only {name}={supported[0]!r})")


@_unbatched("avg_pool2d", "AvgPool2DBackward0")
def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None) -> Tensor:
    """Mean over windows: x (N, C, H, W) -> (N, C, OH, OW) (or unbatched (C, H, W)); padded zeros count
    (PyTorch's default count_include_pad=True). ceil_mode, count_include_pad=False
    and divisor_override are not supported."""
    _unsupported("avg_pool2d", ceil_mode=(ceil_mode, (False,)),
                 count_include_pad=(count_include_pad, (True,)), divisor_override=(divisor_override, (None,)))
    return get_op("avg_pool2d")(_t(x), kernel_size=pair(kernel_size, "kernel_size", "avg_pool2d"),
                                stride=None if stride is None else pair(stride, "stride", "avg_pool2d"),
                                padding=pair(padding, "padding", "avg_pool2d"))


def linear(x, weight, bias=None) -> Tensor:
    """x (..., in) @ weight (out, in).T + bias (out,) -> (..., out); x must
    have the weight's dtype, as in PyTorch."""
    inputs = (_t(x), _t(weight)) if bias is None else (_t(x), _t(weight), _t(bias))
    _check_same_dtype("linear", inputs[0], inputs[1], inputs[2] if bias is not None else None)
    return get_op("linear")(*inputs)




def relu(x, inplace=False) -> Tensor:
    """max(x, 0) elementwise; the gradient at 0 is 0, as in PyTorch. ``inplace``
    is accepted for PyTorch's signature; the result is always a new tensor."""
    return _t(x).relu()


def _implicit_dim(op, ndim):
    # PyTorch's legacy choice when dim is left out, with its warning
    dim = 0 if ndim in (0, 1, 3) else 1
    warnings.warn(f"{op}: implicit dimension choice is deprecated (as in PyTorch); "
                  f"pass dim={dim} explicitly", UserWarning, stacklevel=3)
    return dim


def one_hot(tensor, num_classes: int = -1) -> Tensor:
    """Integer labels (any shape) -> int64 rows with a 1 at each label
    (``num_classes`` defaults to the largest label + 1)."""
    labels = np.asarray(tensor.data if isinstance(tensor, Tensor) else tensor)
    if labels.dtype.kind not in "iu":
        raise RuntimeError(f"one_hot: expects an integer tensor of class labels, got dtype {labels.dtype}")
    if num_classes < 0:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise RuntimeError(f"one_hot: class values must be in [0, {num_classes}), got "
                           f"{int(labels.min())} to {int(labels.max())}")
    return Tensor((labels[..., None] == np.arange(num_classes)).astype(np.int64))


def softmax(x, dim=None, dtype=None, *, axis=None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim`` (``axis`` is an alias), shifted by the
    max for stability; same shape as x. ``dtype`` casts x first. Without dim,
    PyTorch's legacy choice (0 for 0-, 1- and 3-D input, else 1) with a warning."""
    x = _t(x)
    if dim is None and axis is None:
        dim = _implicit_dim("softmax", x.ndim)
    return x.softmax(dim, dtype, axis=axis)


def log_softmax(x, dim=None, dtype=None, *, axis=None) -> Tensor:
    """x - logsumexp(x) along ``dim`` (``axis`` is an alias), computed stably;
    same shape as x. Without dim, PyTorch's legacy choice with a warning."""
    x = _t(x)
    if dim is None and axis is None:
        dim = _implicit_dim("log_softmax", x.ndim)
    return x.log_softmax(dim, dtype, axis=axis)


def flatten(x, start_dim=0, end_dim=-1, *, start_axis=None, end_axis=None) -> Tensor:
    """Merge dims start_dim..end_dim into one (torch.flatten: start_dim=0 by
    default, so a (N, C, H, W) input becomes (N*C*H*W,)). ``start_axis`` and
    ``end_axis`` are aliases."""
    start = start_dim if start_axis is None else start_axis
    end = end_dim if end_axis is None else end_axis
    return _t(x).flatten(start, end)


def dropout(x, p=0.5, training=True, inplace=False) -> Tensor:
    """Inverted dropout: zero each element with probability p and scale the
    rest by 1 / (1 - p); the identity when not training. Reproducible through
    ``tinygrad_cnn.manual_seed``. ``inplace`` is accepted; the result is new."""
    x = _t(x)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * Tensor(np.zeros(x.shape, dtype=x.dtype))
    keep = generator().random(x.shape, dtype=np.float32) >= p
    return x * Tensor(keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - p)))


# --- normalisation, more activations, adaptive pooling ---------------------------------

__all__ += ["batch_norm", "leaky_relu", "elu", "gelu", "silu", "tanh", "sigmoid", "adaptive_avg_pool2d",
            "adaptive_max_pool2d", "dropout2d"]


@named_backward("NativeBatchNormBackward0", inputs=("input", "weight", "bias"))
def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5) -> Tensor:
    """Batch normalisation per channel, as PyTorch's. input (N, C), (N, C, L)
    or (N, C, H, W); running_mean, running_var, weight, bias (C,) or None.

    training=True normalises with the batch's mean and biased variance (the
    gradient flows through both) and, when given, updates running_mean and
    running_var in place: ``(1 - momentum) * running + momentum * batch``
    with the unbiased batch variance. training=False normalises with the
    running statistics: ``(x - running_mean) / sqrt(running_var + eps) *
    weight + bias``."""
    x = _t(input)
    if x.ndim < 2:
        raise ShapeError(f"batch_norm: input must be (N, C), (N, C, L) or (N, C, H, W), got shape {tuple(x.shape)}")
    channels = x.shape[1]
    for name, value in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                        ("running_var", running_var)):
        if value is not None and _t(value).data.dtype != x.data.dtype:
            raise RuntimeError(f"batch_norm: mixed dtype (CPU): all inputs must share same datatype "
                               f"(input {x.dtype}, {name} {_t(value).dtype})")
    weight = Tensor(np.ones(channels, dtype=x.dtype)) if weight is None else _t(weight)
    bias = Tensor(np.zeros(channels, dtype=x.dtype)) if bias is None else _t(bias)
    running_mean = None if running_mean is None else _t(running_mean)
    running_var = None if running_var is None else _t(running_var)
    if training:
        return get_op("batch_norm")(x, weight, bias, eps=float(eps), running_mean=running_mean,
                                    running_var=running_var, momentum=0.0 if momentum is None else float(momentum))
    if running_mean is None or running_var is None:
        raise ValueError("batch_norm: running_mean and running_var are needed when training=False")
    for name, value in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                        ("bias", bias)):
        if value.shape != (channels,):
            raise ShapeError(f"batch_norm: {name} has shape {tuple(value.shape)}, expected ({channels},) "
                             f"for input of shape {tuple(x.shape)}")
    # an affine map per channel: x * scale + shift (gradients reach weight and bias)
    shape = (1, channels) + (1,) * (x.ndim - 2)
    inv_std = Tensor((1.0 / np.sqrt(running_var.data + running_var.data.dtype.type(eps))).astype(x.dtype))
    scale = weight * inv_std
    shift = bias - scale * Tensor(running_mean.data.astype(x.dtype, copy=False))
    return x * scale.reshape(shape) + shift.reshape(shape)


def leaky_relu(input, negative_slope=0.01, inplace=False) -> Tensor:
    """x where x > 0, else negative_slope * x. ``inplace`` is accepted; the result is new."""
    return get_op("leaky_relu")(_t(input), negative_slope=float(negative_slope))


def elu(input, alpha=1.0, inplace=False) -> Tensor:
    """x where x > 0, else alpha * (exp(x) - 1). ``inplace`` is accepted; the result is new."""
    return get_op("elu")(_t(input), alpha=float(alpha))


def gelu(input, approximate="none") -> Tensor:
    """x * Phi(x) with Phi the standard normal CDF (exact, through erf), or
    its tanh approximation with ``approximate='tanh'``."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return get_op("gelu")(_t(input), approximate=approximate)


def silu(input, inplace=False) -> Tensor:
    """x * sigmoid(x). ``inplace`` is accepted; the result is new."""
    return get_op("silu")(_t(input))


def tanh(input) -> Tensor:
    """tanh elementwise (``torch.nn.functional.tanh``)."""
    return _t(input).tanh()


def sigmoid(input) -> Tensor:
    """1 / (1 + exp(-x)) elementwise (``torch.nn.functional.sigmoid``)."""
    return _t(input).sigmoid()


@_unbatched("adaptive_avg_pool2d", "AdaptiveAvgPool2DBackward0")
def adaptive_avg_pool2d(input, output_size) -> Tensor:
    """Mean over PyTorch's adaptive windows: (N, C, H, W) -> (N, C, OH, OW).
    output_size: an int, a pair, or a pair with None (keep that size).
    ``output_size=1`` is global average pooling."""
    return get_op("adaptive_avg_pool2d")(_t(input), output_size=_adaptive_size(output_size))


@_unbatched("adaptive_max_pool2d", "AdaptiveMaxPool2DBackward0")
def adaptive_max_pool2d(input, output_size, return_indices=False) -> Tensor:
    """Max over PyTorch's adaptive windows: (N, C, H, W) -> (N, C, OH, OW);
    the gradient goes to each window's first maximum. return_indices is not supported."""
    _unsupported("adaptive_max_pool2d", return_indices=(return_indices, (False,)))
    return get_op("adaptive_max_pool2d")(_t(input), output_size=_adaptive_size(output_size))


def _adaptive_size(output_size):
    if isinstance(output_size, (list, tuple)):
        return tuple(output_size)
    return output_size


def dropout2d(input, p=0.5, training=True, inplace=False) -> Tensor:
    """Channel dropout: each (sample, channel) plane of (N, C, H, W) (or (C, H, W))
    is zeroed with probability p, the others scaled by 1 / (1 - p); the
    identity when not training."""
    x = _t(input)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout2d: p must be in [0, 1], got {p}")
    if x.ndim not in (3, 4):
        raise ShapeError(f"dropout2d: input must be (N, C, H, W) or (C, H, W), got shape {tuple(x.shape)}")
    if not training or p == 0.0:
        return x
    planes = tuple(x.shape[:-2]) + (1, 1)
    if p == 1.0:
        return x * Tensor(np.zeros(planes, dtype=x.dtype))
    keep = generator().random(planes, dtype=np.float32) >= p
    return x * Tensor(keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - p)))


# --- losses ----------------------------------------------------------------------------
#
# Built from Tensor ops, so the engine differentiates them (and their
# gradients). The class-index losses multiply the log-probabilities by one
# constant (M, C) coefficient matrix that holds the class weights, the
# ignored rows (zeros) and the label smoothing, then sum each row: one
# product and one sum whatever options are set.

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(op, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(losses: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()


def _class_weight(op, weight, classes, dtype):
    """The per-class weight as a constant array of the input's dtype, or None.
    (As in PyTorch, no gradient flows to the weight.)"""
    if weight is None:
        return None
    weight = np.asarray(weight.data if isinstance(weight, Tensor) else weight)
    if weight.shape != (classes,):
        raise ValueError(f"{op}: weight must have one entry per class, shape ({classes},), "
                         f"got shape {tuple(weight.shape)}")
    return weight.astype(dtype, copy=False)


def _classes_last(x: Tensor) -> Tensor:
    """(C,) -> (1, C); (N, C) as is; (N, C, d1, ...) -> (N*d1*..., C)."""
    if x.ndim == 1:
        return x.reshape(1, -1)
    if x.ndim == 2:
        return x
    axes = (0,) + tuple(range(2, x.ndim)) + (1,)
    return x.transpose(axes).reshape(-1, x.shape[1])


def _batch_shape(x) -> tuple:
    """The shape of one loss per example: (N, d1, ...) for input (N, C, d1, ...)."""
    return () if x.ndim == 1 else (x.shape[0],) + tuple(x.shape[2:])


def _labelled_loss(op, log_probs: Tensor, target, weight, ignore_index, reduction, label_smoothing,
                   what="logits") -> Tensor:
    """Weighted, smoothed negative log-likelihood of integer labels.

    log_probs (C,), (N, C) or (N, C, d1, ...); target (), (N,) or (N, d1, ...).
    Per example i with label t != ignore_index and eps = label_smoothing:
    loss_i = -(1 - eps) * w[t] * log_probs[i, t] - eps / C * sum_c w[c] * log_probs[i, c];
    ignored examples lose 0. 'mean' divides the sum by sum_i w[t_i] over the
    examples not ignored (NaN when all are ignored, as in PyTorch)."""
    labels = np.asarray(target.data if isinstance(target, Tensor) else target)
    shape = log_probs.data.shape
    if (len(shape) == 2 and weight is None and not label_smoothing and labels.shape == shape[:1]
            and labels.dtype == np.int64 and shape[0] and ignore_index < 0):
        # the common case (every label valid, none ignored): the registered nll_loss op, two
        # recorded ops with log_softmax (a batch-1 step's cost). The op checks the labels'
        # range itself; a label out of it (or equal to ignore_index) takes the careful path
        # below, which ignores it or says what is wrong in this function's name
        try:
            return get_op("nll_loss")(log_probs, target if isinstance(target, Tensor) else Tensor(labels),
                                      reduction=reduction)
        except ValueError:
            pass
    batch = _batch_shape(log_probs)
    classes = log_probs.shape[0 if log_probs.ndim == 1 else 1]
    if labels.shape != batch:
        count = labels.shape[0] if labels.ndim else "a 0-d label"
        raise ValueError(f"{op}: got {count} labels (target shape {tuple(labels.shape)}) for a batch of "
                         f"{batch[0] if batch else 'one'} {what} (shape {tuple(log_probs.shape)}); "
                         f"expected target shape {batch}")
    labels = labels.reshape(-1)
    kept = labels != ignore_index
    out_of_range = kept & ((labels < 0) | (labels >= classes))
    if out_of_range.any():
        raise LabelError(f"{op}: label {labels[out_of_range][0]} is out of range for {classes} classes "
                         f"(expected 0 to {classes - 1}, or ignore_index={ignore_index})")
    if weight is None and not label_smoothing and log_probs.ndim == 2 and kept.all():
        # valid labels of another integer dtype: the same nll_loss op
        return get_op("nll_loss")(log_probs, Tensor(labels.astype(np.int64, copy=False)), reduction=reduction)
    dtype = log_probs.dtype
    weight = _class_weight(op, weight, classes, dtype)
    safe = np.where(kept, labels, 0)
    row_weight = kept.astype(dtype) if weight is None else weight[safe] * kept
    rows = np.arange(labels.shape[0])
    coefficients = np.zeros((labels.shape[0], classes), dtype=dtype)
    coefficients[rows, safe] = row_weight * dtype.type(1.0 - label_smoothing)
    if label_smoothing:
        spread = np.full(classes, label_smoothing / classes, dtype=dtype) if weight is None \
            else weight * dtype.type(label_smoothing / classes)
        coefficients += spread * kept[:, None].astype(dtype)
    rows = _classes_last(log_probs)
    if reduction == "none":
        return -(rows * Tensor(coefficients)).sum(axis=1).reshape(batch)
    # the sign and the mean's division folded into the constant: three recorded
    # ops in all (log_softmax, one product, one sum), which matters at batch size 1
    denominator = float(row_weight.sum(dtype=np.float64))
    if reduction == "mean" and denominator == 0:
        # all ignored (or all weight zero): 0/0. PyTorch reports NaN, with zero gradients
        return (rows * Tensor(coefficients)).sum() + float("nan")
    scale = -1.0 / denominator if reduction == "mean" else -1.0
    return (rows * Tensor(coefficients * dtype.type(scale))).sum()


def _check_input(op, x: Tensor, what):
    if x.ndim < 1 or x.dtype.kind != "f":
        raise ValueError(f"{op}: {what} must be a floating point tensor of shape (C,), (N, C) or "
                         f"(N, C, d1, ...), got shape {tuple(x.shape)} and dtype {x.dtype}")


def _check_smoothing(op, label_smoothing):
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")


def nll_loss(log_probs, target, weight=None, ignore_index=-100, reduction="mean") -> Tensor:
    """Negative log-likelihood of integer class labels, as PyTorch's.

    log_probs (N, C) (or (C,), or (N, C, d1, ...)), usually from
    ``log_softmax``; target (N,) integer labels (or (), or (N, d1, ...));
    weight (C,) per-class weights. Labels equal to ``ignore_index`` add
    nothing. reduction 'none' gives one loss per example, 'sum' their sum,
    'mean' their weighted mean: the sum divided by the total weight of the
    labels not ignored."""
    op = "nll_loss"
    log_probs = _t(log_probs)
    _check_reduction(op, reduction)
    _check_input(op, log_probs, "input")
    labels = np.asarray(target.data if isinstance(target, Tensor) else target)
    if labels.dtype.kind not in "iu":
        raise ValueError(f"{op}: labels must be integers, got dtype {labels.dtype}")
    return _labelled_loss(op, log_probs, labels, weight, ignore_index, reduction, 0.0, what="inputs")


def cross_entropy(logits, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0) -> Tensor:
    """Softmax cross-entropy on logits (N, C) (or (C,), or (N, C, d1, ...)), as PyTorch's.

    ``target`` is either integer class indices of shape (N,) (or (), or
    (N, d1, ...)) or class probabilities / one-hot rows of the logits' shape
    (a floating point dtype). weight (C,): per-class weights. ignore_index:
    a label that adds nothing (class indices only). label_smoothing eps in
    [0, 1]: the target becomes (1 - eps) * target + eps / C. reduction 'none'
    gives one loss per example; 'sum' their sum; 'mean' for class indices
    the sum divided by the total weight of the labels not ignored, for
    probabilities the mean over the examples. Stable for huge logits
    (log_softmax subtracts the max)."""
    op = "cross_entropy"
    logits, target = _t(logits), _t(target)
    _check_reduction(op, reduction)
    _check_smoothing(op, label_smoothing)
    if logits.data.ndim < 1 or logits.data.dtype.kind != "f":
        raise ShapeError(f"{op}: logits must be 2-D (N, C), K-d (N, C, d1, ...) or 1-D (C,), "
                         f"floating point; got shape {tuple(logits.shape)} and dtype {logits.dtype}")
    class_dim = 0 if logits.data.ndim == 1 else 1
    if target.data.dtype.kind in "iu":
        if logits.data.ndim == 1 and target.data.ndim != 0:
            raise ShapeError(f"{op}: logits must be 2-D (N, C); 1-D logits (C,) take one 0-d label, "
                             f"got logits of shape {tuple(logits.shape)} and target of shape {tuple(target.shape)}")
        log_probs = log_softmax(logits, dim=class_dim)
        return _labelled_loss(op, log_probs, target, weight, ignore_index, reduction, label_smoothing)
    if target.shape != logits.shape:
        raise ShapeError(f"{op}: probability targets must have the logits' shape {tuple(logits.shape)}, "
                         f"got {tuple(target.shape)} (integer labels must have an integer dtype)")
    if target.dtype != logits.dtype:
        target = target.astype(logits.dtype)     # no silent float64 from a float64 target
    classes = logits.shape[class_dim]
    if label_smoothing:
        target = target * (1.0 - label_smoothing) + label_smoothing / classes
    weighted = log_softmax(logits, dim=class_dim) * target
    weight = _class_weight(op, weight, classes, logits.dtype)
    if weight is not None:
        weighted = weighted * Tensor(weight.reshape((classes,) + (1,) * (logits.ndim - class_dim - 1)))
    return _reduce(-weighted.sum(axis=class_dim), reduction)


def _pointwise_pair(op, x, target):
    x, target = _t(x), _t(target)
    if x.shape != target.shape:
        try:
            np.broadcast_shapes(x.shape, target.shape)
        except ValueError:
            raise ShapeError(f"{op}: input shape {tuple(x.shape)} and target shape {tuple(target.shape)} "
                             "do not broadcast") from None
        warnings.warn(f"{op}: target shape {tuple(target.shape)} differs from input shape {tuple(x.shape)}; they are "
                      "broadcast, which is likely not what you want (as PyTorch warns)",
                      UserWarning, stacklevel=3)
    if target.dtype != x.dtype and x.dtype.kind == "f":
        target = target.astype(x.dtype)
    return x, target


def mse_loss(input, target, reduction="mean") -> Tensor:
    """Squared error (input - target)**2, elementwise ('none'), summed or
    averaged over all elements. Shapes should match (broadcast with a warning)."""
    _check_reduction("mse_loss", reduction)
    input, target = _pointwise_pair("mse_loss", input, target)
    return get_op("mse_loss")(input, target, reduction=reduction)


def l1_loss(input, target, reduction="mean") -> Tensor:
    """Absolute error |input - target|, elementwise ('none'), summed or averaged
    over all elements; its gradient at 0 is 0, as PyTorch's."""
    _check_reduction("l1_loss", reduction)
    input, target = _pointwise_pair("l1_loss", input, target)
    return _reduce((input - target).abs(), reduction)


def _check_nonnegative(op, name, value):
    if not value >= 0:
        raise ValueError(f"{op}: {name} must be >= 0, got {value!r}")


@named_backward("SmoothL1LossBackward0", inputs=("input", "target"))
def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0) -> Tensor:
    """Smooth L1 of d = |input - target|: 0.5 * d**2 / beta where d < beta,
    else d - 0.5 * beta (beta=0 is the L1 loss). Any shape; 'none' keeps it,
    'sum'/'mean' reduce over all elements."""
    _check_reduction("smooth_l1_loss", reduction)
    _check_nonnegative("smooth_l1_loss", "beta", beta)
    input, target = _pointwise_pair("smooth_l1_loss", input, target)
    if beta == 0:
        return _reduce((input - target).abs(), reduction)
    diff = input - target
    distance = diff.abs()
    # where() masks the unused branch's gradient; both branches are finite
    losses = get_op("where")(distance < beta, diff * diff * (0.5 / beta), distance - 0.5 * beta)
    return _reduce(losses, reduction)


@named_backward("HuberLossBackward0", inputs=("input", "target"))
def huber_loss(input, target, reduction="mean", delta=1.0) -> Tensor:
    """Huber loss of d = |input - target|: 0.5 * d**2 where d < delta, else
    delta * (d - 0.5 * delta); equals delta * smooth_l1_loss(beta=delta)."""
    _check_reduction("huber_loss", reduction)
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta!r}")
    input, target = _pointwise_pair("huber_loss", input, target)
    diff = input - target
    distance = diff.abs()
    losses = get_op("where")(distance < delta, diff * diff * 0.5, (distance - 0.5 * delta) * delta)
    return _reduce(losses, reduction)


def _elementwise_weight(op, weight, shape, dtype, name="weight"):
    """A constant weight that broadcasts to ``shape``, in the input's dtype."""
    if weight is None:
        return None
    weight = np.asarray(weight.data if isinstance(weight, Tensor) else weight)
    try:
        np.broadcast_shapes(weight.shape, shape)
    except ValueError:
        raise ShapeError(f"{op}: {name} of shape {tuple(weight.shape)} does not broadcast to the input's "
                         f"shape {tuple(shape)}") from None
    return Tensor(weight.astype(dtype, copy=False))


def _same_shape_target(op, input, target):
    input, target = _t(input), _t(target)
    if input.dtype.kind != "f":
        raise ValueError(f"{op}: input must be a floating point tensor, got dtype {input.dtype}")
    if target.shape != input.shape:
        raise ValueError(f"{op}: target shape {tuple(target.shape)} must equal input shape "
                         f"{tuple(input.shape)} (as PyTorch requires)")
    if target.dtype != input.dtype:
        target = target.astype(input.dtype)
    return input, target


@named_backward("BinaryCrossEntropyBackward0", inputs=("input", "target"))
def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean") -> Tensor:
    """-w * (t * log(x) + (1 - t) * log(1 - x)) for probabilities x in [0, 1]
    (e.g. after sigmoid) and targets t of the same shape (any shape).
    Each log is clamped at -100, as in PyTorch, so x = 0 or 1 stays finite.
    weight: rescales each element (broadcasts to the input's shape)."""
    op = "binary_cross_entropy"
    _check_reduction(op, reduction)
    input, target = _same_shape_target(op, input, target)
    values = input.data
    if values.size and not ((values >= 0) & (values <= 1)).all():
        bad = values[~((values >= 0) & (values <= 1))].reshape(-1)[0]
        raise ValueError(f"{op}: input values must be probabilities in [0, 1], got {bad} "
                         "(use binary_cross_entropy_with_logits for logits)")
    losses = get_op(op)(input, target)
    weight = _elementwise_weight(op, weight, input.shape, input.dtype)
    if weight is not None:
        losses = losses * weight
    return _reduce(losses, reduction)


@named_backward("BinaryCrossEntropyWithLogitsBackward0", inputs=("input", "target"))
def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None) -> Tensor:
    """Sigmoid + binary cross-entropy in one stable step, for logits x and
    targets t of the same shape (any shape):
    -w * (p * t * log(sigmoid(x)) + (1 - t) * log(1 - sigmoid(x))).
    weight: rescales each element; pos_weight: weight of the positive term,
    broadcast along the last dimension (one per class for (N, C) input).
    Stable at |x| = 1e4: both log-sigmoids come from one log_softmax of (0, x)."""
    op = "binary_cross_entropy_with_logits"
    _check_reduction(op, reduction)
    input, target = _same_shape_target(op, input, target)
    # log_softmax over the pair (0, x) is (log sigmoid(-x), log sigmoid(x)),
    # a log-sum-exp with the max subtracted: no overflow, exact gradients at 0
    pair = get_op("stack")(Tensor(np.zeros(input.shape, dtype=input.dtype)), input, axis=-1)
    log_probs = log_softmax(pair, dim=-1)
    log_not, log_yes = log_probs[..., 0], log_probs[..., 1]
    positive = target * log_yes
    pos_weight = _elementwise_weight(op, pos_weight, input.shape, input.dtype, "pos_weight")
    if pos_weight is not None:
        positive = positive * pos_weight
    losses = -(positive + (1 - target) * log_not)
    weight = _elementwise_weight(op, weight, input.shape, input.dtype)
    if weight is not None:
        losses = losses * weight
    return _reduce(losses, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False) -> Tensor:
    """Kullback-Leibler divergence terms target * (log(target) - input), with
    ``input`` log-probabilities and ``target`` probabilities (or
    log-probabilities with log_target=True); 0 where target is 0.
    reduction 'batchmean' (the true KL per example) divides the sum by
    input.size(0); 'mean' divides by the number of elements (PyTorch warns)."""
    op = "kl_div"
    if reduction not in _REDUCTIONS + ("batchmean",):
        raise ValueError(f"{op}: reduction must be 'mean', 'batchmean', 'sum' or 'none', got {reduction!r}")
    input, target = _pointwise_pair(op, input, target)
    if log_target:
        losses = target.exp() * (target - input)
    else:
        positive = target > 0
        safe = get_op("where")(positive, target, Tensor(np.ones((), dtype=target.dtype)))
        # xlogy: 0 * log(0) = 0, and no log(0) is evaluated
        losses = get_op("where")(positive, target * safe.log(), Tensor(np.zeros((), dtype=target.dtype))) \
            - target * input
    if reduction == "batchmean":
        batch = input.shape[0] if input.ndim else 1
        return losses.sum() / batch
    if reduction == "mean":
        warnings.warn("kl_div: reduction='mean' divides the total loss by both the batch size and the "
                      "support size; 'batchmean' divides only by the batch size and aligns with the KL "
                      "divergence's math definition (as PyTorch warns)", UserWarning, stacklevel=2)
    return _reduce(losses, reduction)


# --- more of PyTorch's functional face, as compositions of registered ops -------------

__all__ += ["pad", "normalize", "softplus", "relu6", "hardtanh", "logsigmoid", "softmin", "layer_norm"]


def normalize(input, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """input / max(||input||_p along dim, eps)."""
    input = _t(input)
    return input / input.norm(p, dim, keepdim=True).clamp(min=eps)


@named_backward("SoftplusBackward0")
def softplus(input, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta * x)) / beta, computed without overflow; x itself
    where beta * x > threshold (PyTorch's cut-over to the linear part)."""
    input = _t(input)
    scaled = input * beta
    smooth = ((-scaled.abs()).exp() + 1.0).log() + scaled.relu()
    if beta != 1.0:
        smooth = smooth / beta
    return get_op("where")(scaled.data > threshold, input, smooth) if threshold is not None else smooth


@named_backward("HardtanhBackward0")
def hardtanh(input, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """x clamped to [min_val, max_val]."""
    return _t(input).clamp(min_val, max_val)


def relu6(input, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6)."""
    return hardtanh(input, 0.0, 6.0)


@named_backward("LogSigmoidBackward0")
def logsigmoid(input) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), stable for large |x|."""
    return -softplus(-_t(input), threshold=None)


def softmin(input, dim=None, dtype=None) -> Tensor:
    """softmax(-x) along ``dim``."""
    return softmax(-_t(input), dim=dim, dtype=dtype)


@named_backward("NativeLayerNormBackward0", inputs=("input", "weight", "bias"))
def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """Normalise over the last ``len(normalized_shape)`` dimensions with their
    mean and biased variance, then scale and shift (the gradient flows
    through the statistics)."""
    input = _t(input)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(input.shape[input.ndim - len(shape):]) != shape:
        raise ShapeError(f"layer_norm: input of shape {tuple(input.shape)} does not end in "
                         f"normalized_shape {shape}")
    dims = tuple(range(input.ndim - len(shape), input.ndim))
    centred = input - input.mean(dims, keepdim=True)
    out = centred / ((centred * centred).mean(dims, keepdim=True) + eps).sqrt()
    if weight is not None:
        out = out * _t(weight)
    if bias is not None:
        out = out + _t(bias)
    return out
