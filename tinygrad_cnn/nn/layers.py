"""Layers: each holds its Parameters and calls ``nn.functional``."""
from __future__ import annotations

import math

import numpy as np

from ..random import generator
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
        self.stride, self.padding, self.dilation = (F.pair(stride, "stride"), F.pair(padding, "padding"),
                                                    F.pair(dilation, "dilation"))
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


class ReLU(Module):
    """max(x, 0) elementwise. ``inplace`` is accepted; the result is a new tensor."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return x.relu()

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


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


class Softmax(Module):
    """softmax along ``dim`` (PyTorch's legacy choice, with a warning, when None)."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.softmax(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """log_softmax along ``dim``."""

    def forward(self, x):
        return F.log_softmax(x, self.dim)
