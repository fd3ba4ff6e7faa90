"""Layers: each holds its Parameters and calls ``nn.functional``."""
from __future__ import annotations

import math

import numpy as np

from ..grad_mode import no_grad
from ..random import generator
from ..tensor import Tensor
from . import functional as F
from .module import Module, Parameter

__all__ = ["Linear", "Conv2d", "MaxPool2d", "AvgPool2d", "ReLU", "Dropout", "Flatten", "Identity",
           "Softmax", "LogSoftmax"]


def _uniform(shape, bound):
    return (generator().random(shape, dtype=np.float32) * np.float32(2 * bound) - np.float32(bound))


def _gaussian(shape, scale):
    return generator().standard_normal(shape, dtype=np.float32) * np.float32(scale)


class Linear(Module):
    """y = x @ weight.T + bias; weight (out_features, in_features).

    Initialisation as PyTorch's: U(-1/sqrt(in), 1/sqrt(in)) for weight and
    bias. ``weight_scale=s`` instead draws the weight from N(0, 1) * s and
    zeroes the bias (the notebooks' initialisation).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, weight_scale=None):
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        bound = 1.0 / math.sqrt(self.in_features) if self.in_features else 0.0
        shape = (self.out_features, self.in_features)
        self.weight = Parameter(_uniform(shape, bound) if weight_scale is None else _gaussian(shape, weight_scale))
        if bias:
            self.bias = Parameter(_uniform((self.out_features,), bound) if weight_scale is None
                                  else np.zeros(self.out_features, dtype=np.float32))
        else:
            self.bias = None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Conv2d(Module):
    """2-D convolution, weight (out_channels, in_channels // groups, KH, KW).

    Initialisation as PyTorch's (uniform in +-1/sqrt(fan_in)), or
    ``weight_scale=s``: N(0, 1) * s with zero bias, as in the notebooks.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, weight_scale=None):
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d: groups={groups} must divide in_channels={in_channels} "
                             f"and out_channels={out_channels}")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size = F.pair(kernel_size, "kernel_size")
        self.stride, self.dilation = F.pair(stride, "stride"), F.pair(dilation, "dilation")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Conv2d: padding must be 'valid', 'same', an int or a pair, got {padding!r}")
            if padding == "same" and self.stride != (1, 1):
                raise ValueError("Conv2d: padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = F.pair(padding, "padding")
        shape = (self.out_channels, self.in_channels // groups) + self.kernel_size
        fan_in = shape[1] * shape[2] * shape[3]
        bound = 1.0 / math.sqrt(fan_in)
        self.weight = Parameter(_uniform(shape, bound) if weight_scale is None else _gaussian(shape, weight_scale))
        if bias:
            self.bias = Parameter(_uniform((self.out_channels,), bound) if weight_scale is None
                                  else np.zeros(self.out_channels, dtype=np.float32))
        else:
            self.bias = None

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self):
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        return text + ("" if self.bias is not None else ", bias=False")


class MaxPool2d(Module):
    """Max pooling, (N, C, H, W) -> (N, C, OH, OW); the gradient goes to the
    first maximum of each window. stride defaults to kernel_size."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        F._unsupported("MaxPool2d", dilation=(dilation, (1, (1, 1))), return_indices=(return_indices, (False,)),
                       ceil_mode=(ceil_mode, (False,)))
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.dilation, self.ceil_mode = padding, dilation, ceil_mode

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """Average pooling, (N, C, H, W) -> (N, C, OH, OW); padded zeros count in
    the mean. stride defaults to kernel_size."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        F._unsupported("AvgPool2d", ceil_mode=(ceil_mode, (False,)),
                       count_include_pad=(count_include_pad, (True,)), divisor_override=(divisor_override, (None,)))
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _Activation(Module):
    """An elementwise activation: ``forward(x)`` is ``function(x, **options)``,
    the options being the attributes named in ``options``; the repr lists them
    as PyTorch's does, then ``inplace=True`` when it was given (accepted for
    PyTorch's signature: the result is always a new tensor)."""

    function = None      # the nn.functional form
    options = ()         # attribute names, in PyTorch's order
    inplace = False

    def forward(self, x):
        return type(self).function(x, **{name: getattr(self, name) for name in self.options})

    def extra_repr(self):
        shown = [f"{name}={getattr(self, name)!r}" for name in self.options]
        return ", ".join(shown + (["inplace=True"] if self.inplace else []))


class ReLU(_Activation):
    """max(x, 0) elementwise."""

    function = staticmethod(F.relu)

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace


class Dropout(Module):
    """Inverted dropout while training; the identity in eval mode."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Flatten(Module):
    """Merge dims start_dim..end_dim: (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Identity(Module):
    """Returns its input; arguments are accepted and ignored, as in PyTorch."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class Softmax(_Activation):
    """softmax along ``dim`` (PyTorch's legacy choice, with a warning, when None)."""

    function, options = staticmethod(F.softmax), ("dim",)

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim


class LogSoftmax(Softmax):
    """log_softmax along ``dim``."""

    function = staticmethod(F.log_softmax)


__all__ += ["BatchNorm1d", "BatchNorm2d", "LeakyReLU", "ELU", "GELU", "SiLU", "Tanh", "Sigmoid",
            "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "ConvTranspose2d", "Dropout2d"]


class _BatchNorm(Module):
    """Shared by BatchNorm1d/2d: parameters weight (ones) and bias (zeros) when
    ``affine``; buffers running_mean, running_var and num_batches_tracked
    (int64) when ``track_running_stats``; ``bias=False`` (keyword) drops the
    bias alone. ``momentum=None`` makes the running
    statistics a cumulative average over the batches seen."""

    _dims = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum=0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None, *, bias: bool = True):
        super().__init__()
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        dtype = np.dtype(np.float32 if dtype is None else dtype)
        if affine:
            self.weight = Parameter(np.ones(self.num_features, dtype=dtype))
            self.bias = Parameter(np.zeros(self.num_features, dtype=dtype)) if bias else None
        else:
            self.weight = self.bias = None
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(self.num_features, dtype=dtype)))
            self.register_buffer("running_var", Tensor(np.ones(self.num_features, dtype=dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            with no_grad():
                self.running_mean.zero_()
                self.running_var.fill_(1)
                self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        with no_grad():
            if self.weight is not None:
                self.weight.fill_(1)
            if self.bias is not None:
                self.bias.zero_()

    def forward(self, x):
        name = type(self).__name__
        if x.ndim not in self._dims:
            raise ValueError(f"{name}: expected {' or '.join(f'{d}D' for d in self._dims)} input "
                             f"(got {x.ndim}D input of shape {tuple(x.shape)})")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{name}: input has {x.shape[1]} channels (shape {tuple(x.shape)}) "
                             f"but the layer was built for num_features={self.num_features}")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:
                factor = 1.0 / int(self.num_batches_tracked.item())
        # in eval mode without running statistics, the batch's own are used (as PyTorch)
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        return F.batch_norm(x, self.running_mean if track else None, self.running_var if track else None,
                            self.weight, self.bias, use_batch, factor, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) input, per channel C."""
    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) input, per channel C."""
    _dims = (4,)


class LeakyReLU(_Activation):
    """x where x > 0, else negative_slope * x."""

    function, options = staticmethod(F.leaky_relu), ("negative_slope",)

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace


class ELU(_Activation):
    """x where x > 0, else alpha * (exp(x) - 1)."""

    function, options = staticmethod(F.elu), ("alpha",)

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace


class GELU(_Activation):
    """x * Phi(x) (exact), or its tanh approximation (approximate='tanh')."""

    function, options = staticmethod(F.gelu), ("approximate",)

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate


class SiLU(_Activation):
    """x * sigmoid(x)."""

    function = staticmethod(F.silu)

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace


class Tanh(_Activation):
    """tanh elementwise."""

    function = staticmethod(F.tanh)


class Sigmoid(_Activation):
    """1 / (1 + exp(-x)) elementwise."""

    function = staticmethod(F.sigmoid)


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size: (N, C, H, W) -> (N, C, *output_size).
    ``AdaptiveAvgPool2d(1)`` is global average pooling."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    """Max pooling to a fixed output size: (N, C, H, W) -> (N, C, *output_size)."""

    def __init__(self, output_size, return_indices: bool = False):
        super().__init__()
        F._unsupported("AdaptiveMaxPool2d", return_indices=(return_indices, (False,)))
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, x):
        return F.adaptive_max_pool2d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class ConvTranspose2d(Module):
    """Transposed 2-D convolution, weight (in_channels, out_channels // groups, KH, KW):
    (N, Cin, H, W) -> (N, Cout, (H-1)*stride - 2*padding + dilation*(KH-1) + output_padding + 1, ...).

    Initialisation as PyTorch's: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
    fan_in = (out_channels // groups) * KH * KW (the weight's dim 1 onwards).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        super().__init__()
        F._unsupported("ConvTranspose2d", padding_mode=(padding_mode, ("zeros",)))
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"ConvTranspose2d: groups={groups} must divide in_channels={in_channels} "
                             f"and out_channels={out_channels}")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size = F.pair(kernel_size, "kernel_size", "ConvTranspose2d")
        self.stride = F.pair(stride, "stride", "ConvTranspose2d")
        self.padding = F.pair(padding, "padding", "ConvTranspose2d")
        self.output_padding = F.pair(output_padding, "output_padding", "ConvTranspose2d")
        self.dilation = F.pair(dilation, "dilation", "ConvTranspose2d")
        self.padding_mode = padding_mode
        shape = (self.in_channels, self.out_channels // groups) + self.kernel_size
        bound = 1.0 / math.sqrt(shape[1] * shape[2] * shape[3])
        self.weight = Parameter(_uniform(shape, bound))
        self.bias = Parameter(_uniform((self.out_channels,), bound)) if bias else None

    def forward(self, x):
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, self.output_padding,
                                  self.groups, self.dilation)

    def extra_repr(self):
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.output_padding != (0, 0):
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        return text + ("" if self.bias is not None else ", bias=False")


class Dropout2d(Dropout):
    """Zeroes whole channels of (N, C, H, W) input with probability p while
    training (the rest scaled by 1 / (1 - p)); the identity in eval mode."""

    def forward(self, x):
        return F.dropout2d(x, self.p, self.training)


__all__ += ["LayerNorm", "Softplus", "ReLU6", "Hardtanh", "Unflatten", "ZeroPad2d"]


class LayerNorm(Module):
    """Normalisation over the last dimensions (``normalized_shape``), with a
    learned elementwise scale and shift when ``elementwise_affine``."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        self.weight = Parameter(np.ones(shape, dtype=np.float32)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shape, dtype=np.float32)) if elementwise_affine and bias else None

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        text = f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        return text + (f", bias={self.bias is not None}" if self.elementwise_affine else "")


class Softplus(_Activation):
    """log(1 + exp(beta * x)) / beta."""

    function, options = staticmethod(F.softplus), ("beta", "threshold")

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold


class Hardtanh(_Activation):
    """x clamped to [min_val, max_val]."""

    function, options = staticmethod(F.hardtanh), ("min_val", "max_val")

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        super().__init__()
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace


class ReLU6(Hardtanh):
    """min(max(x, 0), 6): Hardtanh(0, 6), whose repr shows only ``inplace``."""

    function, options = staticmethod(F.relu6), ()

    def __init__(self, inplace: bool = False):
        super().__init__(0.0, 6.0, inplace)


class Unflatten(Module):
    """Dimension ``dim`` split into ``unflattened_size``."""

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x):
        dim = self.dim % x.ndim
        return x.reshape(tuple(x.shape[:dim]) + self.unflattened_size + tuple(x.shape[dim + 1:]))

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class ZeroPad2d(Module):
    """Zeros around the last two dimensions: an int, or (left, right, top, bottom)."""

    def __init__(self, padding):
        super().__init__()
        self.padding = (padding,) * 4 if isinstance(padding, int) else tuple(padding)

    def forward(self, x):
        return F.pad(x, self.padding)

    def extra_repr(self):
        return f"{self.padding}"
