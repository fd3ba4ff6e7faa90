"""PyTorch's Tensor methods that are compositions of other ops (so their
gradients come from those ops' VJPs)."""
import numpy as np

from .._args import shape_arg
from ..registry import add_variant, get_op
from ..tensor import Tensor, _wrap


@add_variant
def masked_fill(input, mask, value):
    """A copy with the elements where ``mask`` is true set to ``value``
    (differentiable in ``input`` and in a tensor ``value``)."""
    input = input if isinstance(input, Tensor) else Tensor(input)
    mask = mask if isinstance(mask, Tensor) else Tensor(np.asarray(mask, dtype=bool))
    if not isinstance(value, Tensor):
        value = _wrap(np.asarray(value, dtype=input.data.dtype))
    return get_op("where")(mask._cast(np.bool_), value._cast(input.data.dtype), input)


def repeat(input, *sizes):
    """The tensor tiled ``sizes[i]`` times along dimension i (leading sizes
    add dimensions), as PyTorch's ``Tensor.repeat``."""
    sizes = shape_arg(sizes, "repeat")
    if len(sizes) < input.data.ndim:
        raise RuntimeError(f"repeat: got {len(sizes)} sizes for a tensor with {input.data.ndim} dimensions")
    shape = (1,) * (len(sizes) - input.data.ndim) + tuple(input.data.shape)
    spread = [n for pair in zip((1,) * len(shape), shape) for n in pair]
    tiled = [n for pair in zip(sizes, shape) for n in pair]
    out = input.reshape(spread).expand(tiled)
    return out.reshape(tuple(r * n for r, n in zip(sizes, shape)))


add_variant("repeat", repeat, function=False)
