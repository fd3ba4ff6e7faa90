"""tinygrad_cnn: a small, readable autograd framework on numpy for CNNs.

    import tinygrad_cnn as tc
    x = tc.Tensor([[1.0, 2.0]], requires_grad=True)
    (x * x).sum().backward()
    x.grad  # tensor([[2., 4.]])
"""
from . import _malloc
from . import ops as _ops  # noqa: F401  (registers the built-in ops)
from .functions import (  # noqa: F401
    abs, add, arange, broadcast_to, cat, clip, concatenate, div, exp, expand, flatten, full,
    log, matmul, max, maximum, mean, min, minimum, mul, neg, ones, ones_like, pad, permute, pow,
    rand, randn, relu, reshape, sigmoid, sqrt, stack, sub, sum, tanh, tensor, transpose, var,
    zeros, zeros_like,
)
from . import optim  # noqa: F401
from .random import manual_seed  # noqa: F401
from .serialization import CheckpointError, load, save  # noqa: F401
from .training import evaluate, fit, load_checkpoint, plot_history, summary  # noqa: F401
from . import utils  # noqa: F401  (torch.utils.data's names; vision is imported explicitly)
from .tensor import (  # noqa: F401
    Op, Spec, Tensor, defop, enable_grad, get_op, grad, is_grad_enabled, no_grad,
    registered_ops, set_grad_enabled, unbroadcast,
)

float32 = "float32"
float64 = "float64"

__version__ = "0.1.0"

_malloc.tune()
