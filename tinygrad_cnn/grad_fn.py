"""What ``tensor.grad_fn`` shows: PyTorch's view of a recorded op (its
``Node``), named as PyTorch names it (``AddmmBackward0``), with
``next_functions`` leading to the ops or leaf accumulators that feed it.
Presentation only: the backward walk reads the contexts themselves.
"""
from __future__ import annotations

import functools
import inspect

import numpy as np

from .inplace import parents

__all__ = ["GradFn", "AccumulateGrad", "node_name", "named_backward"]

# Where PyTorch's node has another name than the op's (for the common case:
# linear on a batch with a bias is addmm, a 2-D matmul is mm).
_PYTORCH_BACKWARD_NAMES = {
    "linear": "AddmmBackward0", "matmul": "MmBackward0", "reshape": "ViewBackward0",
    "conv2d": "ConvolutionBackward0", "conv_transpose2d": "ConvolutionBackward0",
    "max_pool2d": "MaxPool2DWithIndicesBackward0", "avg_pool2d": "AvgPool2DBackward0",
    "batch_norm": "NativeBatchNormBackward0", "permute": "PermuteBackward0",
    "pad": "ConstantPadNdBackward0", "flatten": "ViewBackward0",
    "adaptive_avg_pool2d": "AdaptiveAvgPool2DBackward0", "adaptive_max_pool2d": "AdaptiveMaxPool2DBackward0",
}
# PyTorch's addmm lists the bias first: its next_functions are (bias, input, weight)
_PYTORCH_INPUT_ORDER = {"linear": (2, 0, 1)}


def _backward_name(op_name: str) -> str:
    """``max_pool2d`` -> ``MaxPool2DWithIndicesBackward0`` (PyTorch's name),
    ``leaky_relu`` -> ``LeakyReluBackward0``; an ``autograd.Function``
    (registered as ``module.Class``) -> ``ClassBackward``, as in PyTorch."""
    if "." in op_name:
        return op_name.rsplit(".", 1)[1] + "Backward"
    name = _PYTORCH_BACKWARD_NAMES.get(op_name)
    return name or "".join(part.capitalize() for part in op_name.split("_")) + "Backward0"


def node_name(ctx) -> str:
    """The grad_fn's name; indexing is named by its index, as PyTorch's
    (``x[:2]`` SliceBackward0, ``x[0]`` SelectBackward0, ``x[mask]`` IndexBackward0); a
    composite function's node carries its own (``named_backward``)."""
    name = getattr(ctx, "node_name", None)
    if name is not None:
        return name
    params = getattr(ctx, "params", None)
    if ctx.op.name != "getitem" or not params or "index" not in params:
        return _backward_name(ctx.op.name)
    index = params["index"]
    name = "AliasBackward0"
    for part in index if isinstance(index, tuple) else (index,):
        if part is None:
            name = "UnsqueezeBackward0"
        elif isinstance(part, slice):
            if part != slice(None):
                name = "SliceBackward0"
        elif isinstance(part, (int, np.integer)):
            name = "SelectBackward0"
        elif part is not Ellipsis:
            return "IndexBackward0"
    return name


class GradFn:
    """What ``tensor.grad_fn`` shows: the op that made the tensor and, in
    ``next_functions``, the ops (or leaf accumulators) that feed it."""

    __slots__ = ("_ctx",)

    def __init__(self, ctx):
        self._ctx = ctx

    def name(self) -> str:
        return node_name(self._ctx)

    @property
    def next_functions(self) -> tuple:
        ctx = self._ctx
        if ctx.inputs is None:
            return ()
        composite = getattr(ctx, "node_inputs", None)
        result = [_edge(parent) for parent in (composite if composite is not None else parents(ctx))]
        order = None if composite is not None else _PYTORCH_INPUT_ORDER.get(ctx.op.name)
        if order and len(result) == len(order):
            result = [result[i] for i in order]
        return tuple(result)

    def __eq__(self, other):
        return isinstance(other, GradFn) and other._ctx is self._ctx

    def __hash__(self):
        return id(self._ctx)

    def __repr__(self):
        return f"<{self.name()} object at {id(self._ctx):#x}>"


def _edge(parent) -> tuple:
    """One ``next_functions`` entry: the node that made ``parent``, the
    accumulator of a leaf, or None for a tensor that needs no gradient."""
    if parent is None or not parent.requires_grad:
        return (None, 0)
    return (AccumulateGrad(parent), 0) if parent._ctx is None else (GradFn(parent._ctx), 0)


def named_backward(name: str, inputs=("input",)):
    """Decorator for a function built from several ops (a composite such as
    ``binary_cross_entropy_with_logits``): the ``grad_fn`` of its result shows
    PyTorch's node for the whole function, ``name``, and its
    ``next_functions`` lead to the arguments named in ``inputs`` (PyTorch's
    differentiable inputs of that node), not to the last inner op's."""
    def decorate(fn):
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            out = fn(*args, **kwargs)
            ctx = getattr(out, "_ctx", None)
            if ctx is None:
                return out
            bound = signature.bind(*args, **kwargs).arguments
            if any(out is value for value in bound.values()):      # an input passed through
                return out
            ctx.node_name = name
            # tensors are what carry a graph: anything else an input names is no edge
            ctx.node_inputs = tuple(value if hasattr(value, "_ctx") and hasattr(value, "requires_grad")
                                    else None for value in (bound.get(arg) for arg in inputs))
            return out
        return wrapper
    return decorate


class AccumulateGrad:
    """The ``next_functions`` entry of a leaf: it accumulates into ``.grad``."""

    def __init__(self, variable):
        self.variable = variable
        self.next_functions = ()

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"       # PyTorch's name() of its leaf node

    def __repr__(self):
        return f"<AccumulateGrad object at {id(self.variable):#x}>"
