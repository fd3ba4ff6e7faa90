"""Modules and layers, PyTorch style: parameters are registered by attribute
assignment, ``model(x)`` calls ``forward``, and layers use only the Tensor
API and ``nn.functional``."""
from __future__ import annotations

import math
from collections import OrderedDict
from typing import Iterator

import numpy as np

from ..random import generator
from ..tensor import Tensor
from . import functional as F
from . import init  # noqa: F401

__all__ = ["Parameter", "Module", "Sequential", "Linear", "Conv2d", "MaxPool2d", "AvgPool2d", "ReLU",
           "Dropout", "Flatten", "functional", "init"]

functional = F


class Parameter(Tensor):
    """A Tensor that a Module registers as trainable (requires_grad=True)."""

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True):
        super().__init__(data)
        if self.data.dtype.kind == "f":
            self.requires_grad_(requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class: assign Parameters and Modules as attributes; define ``forward``."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        for store in ("_parameters", "_modules"):
            table = self.__dict__.get(store)
            if table is not None and name in table:
                return table[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._modules:
            del self._modules[name]
        else:
            object.__delattr__(self, name)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # --- traversal -----------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        return iter(self._modules.items())

    def children(self) -> Iterator["Module"]:
        return iter(self._modules.values())

    def named_modules(self, prefix: str = ""):
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs, e.g. ``('0.weight', ...)``; shared parameters once."""
        seen = set()
        for module_name, module in self.named_modules(prefix):
            for name, param in module._parameters.items():
                if id(param) not in seen:
                    seen.add(id(param))
                    yield (f"{module_name}.{name}" if module_name else name), param

    def parameters(self) -> Iterator[Parameter]:
        for _, param in self.named_parameters():
            yield param

    def zero_grad(self, set_to_none: bool = True) -> None:
        for param in self.parameters():
            if set_to_none or param.grad is None:
                param.grad = None
            else:
                param.grad = Tensor(np.zeros_like(param.data))

    def train(self, mode: bool = True) -> "Module":
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.size for p in self.parameters() if p.requires_grad or not trainable_only)

    # --- state ------------------------------------------------------------------------
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Name -> a copy of each parameter's array (PyTorch's names and layouts)."""
        return OrderedDict((name, param.data.copy()) for name, param in self.named_parameters())

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy arrays into the parameters. Everything is checked before
        anything is written, so a failed load leaves the model as it was.
        Returns (missing_keys, unexpected_keys)."""
        own = OrderedDict(self.named_parameters())
        given = {name: np.asarray(value.data if isinstance(value, Tensor) else value)
                 for name, value in state_dict.items()}
        missing = [name for name in own if name not in given]
        unexpected = [name for name in given if name not in own]
        problems = []
        if strict and missing:
            problems.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        for name, param in own.items():
            if name in given and given[name].shape != param.shape:
                problems.append(f"{name}: checkpoint has shape {given[name].shape}, "
                                f"model has {param.shape}")
        if problems:
            raise ValueError(f"load_state_dict into {type(self).__name__} failed (model unchanged):\n  "
                             + "\n  ".join(problems))
        for name, param in own.items():
            if name in given:
                param.data = given[name].astype(param.dtype, copy=True)
        return missing, unexpected

    # --- display ----------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        lines = [f"({name}): " + repr(child).replace("\n", "\n  ") for name, child in self._modules.items()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"


class Sequential(Module):
    """Modules applied in order. Indexing, len() and iteration work as in PyTorch."""

    def __init__(self, *modules: Module):
        super().__init__()
        for index, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(f"Sequential: argument {index} is a {type(module).__name__}, not a Module")
            setattr(self, str(index), module)

    def forward(self, x):
        for name, module in self._modules.items():
            try:
                x = module(x)
            except ValueError as err:
                shape = getattr(x, "shape", None)
                raise ValueError(f"layer {name} ({module!r}) got input of shape {shape}: {err}") from err
        return x

    def __getitem__(self, index):
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*modules[index])
        return modules[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module: Module) -> "Sequential":
        setattr(self, str(len(self)), module)
        return self


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
    """Max pooling; the gradient goes to the first maximum of each window."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride or self.kernel_size}, padding={self.padding}"


class AvgPool2d(MaxPool2d):
    """Average pooling (padded zeros count in the mean)."""

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)


class ReLU(Module):
    def forward(self, x):
        return x.relu()


class Dropout(Module):
    """Inverted dropout while training; the identity in eval mode."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class Flatten(Module):
    def __init__(self, start_axis: int = 1, end_axis: int = -1):
        super().__init__()
        self.start_axis, self.end_axis = start_axis, end_axis

    def forward(self, x):
        return x.flatten(self.start_axis, self.end_axis)

    def extra_repr(self):
        return f"start_axis={self.start_axis}, end_axis={self.end_axis}"
