"""In-place parameter initialisers (float32, from the library's seeded generator)."""
import math

import numpy as np

from ..random import generator


def uniform_(tensor, low=0.0, high=1.0):
    tensor.data[...] = generator().uniform(low, high, tensor.shape).astype(tensor.dtype)
    return tensor


def normal_(tensor, mean=0.0, std=1.0):
    tensor.data[...] = (generator().standard_normal(tensor.shape, dtype=np.float32) * std + mean).astype(tensor.dtype)
    return tensor


def zeros_(tensor):
    tensor.data[...] = 0
    return tensor


def kaiming_uniform_(tensor, fan_in=None):
    """U(-b, b) with b = sqrt(6 / fan_in) (He et al., for ReLU networks)."""
    fan_in = fan_in or int(np.prod(tensor.shape[1:]))
    bound = math.sqrt(6.0 / fan_in)
    return uniform_(tensor, -bound, bound)
