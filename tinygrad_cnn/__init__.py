"""tinygrad_cnn: a small, readable autograd framework on numpy for CNNs,
with PyTorch's names.

    import tinygrad_cnn as torch        # PyTorch programs run with this import
    x = torch.tensor([[1.0, 2.0]], requires_grad=True)
    (x * x).sum().backward()
    x.grad  # tensor([[2., 4.]])
"""
import functools as _functools

import numpy as _np

from . import engine, registry
from .engine import Op, defop, grad, unbroadcast  # noqa: F401
from .grad_mode import (  # noqa: F401
    enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled,
)
from .registry import get_op, registered_ops  # noqa: F401
from .spec import Spec  # noqa: F401
from .tensor import Size, Tensor, device, dtype  # noqa: F401
from .types import torch_dtype as _torch_dtype
from . import ops as _ops  # noqa: F401  (registers the built-in ops and their variants)


def _publish(name, fn, method, function):
    if function:
        globals()[name] = _accepting_out(fn)


def _accepting_out(fn):
    """``tc.<op>(..., out=t)`` writes the result into ``t``, as PyTorch's functions do."""
    @_functools.wraps(fn)
    def function(*args, out=None, **kwargs):
        result = fn(*args, **kwargs)
        if out is None:
            return result
        if out.requires_grad and is_grad_enabled():
            raise RuntimeError(f"{fn.__name__}(): functions with out=... arguments don't support "
                               "automatic differentiation, but the out tensor requires grad")
        with no_grad():
            if out.shape != result.shape:
                out.data = _np.empty(result.shape, dtype=out.data.dtype)
            out.copy_(result.detach())
        return out
    return function


registry.on_variant(_publish)

from .creation import *  # noqa: E402,F401,F403
from ._printing import set_printoptions  # noqa: E402,F401


from .random import Generator, default_generator, initial_seed, manual_seed  # noqa: E402,F401
from . import autograd  # noqa: E402,F401
from . import nn  # noqa: E402,F401
from . import optim  # noqa: E402,F401
from . import utils  # noqa: E402,F401  (torch.utils.data; vision is imported explicitly, as torchvision is)
from .serialization import CheckpointError, load, save  # noqa: E402,F401
from .training import evaluate, fit, load_checkpoint, plot_history, summary  # noqa: E402,F401
from . import kernels  # noqa: E402,F401  (the fast implementations register against the ops above)
from .kernels import get_num_threads, set_num_threads  # noqa: E402,F401

# numpy's dtypes under PyTorch's names (they print as torch.float32 etc.)
float32 = float = _torch_dtype(_np.float32)
float64 = double = _torch_dtype(_np.float64)
float16 = half = _torch_dtype(_np.float16)
int64 = long = _torch_dtype(_np.int64)
int32 = int = _torch_dtype(_np.int32)
int16 = short = _torch_dtype(_np.int16)
int8 = _torch_dtype(_np.int8)
uint8 = _torch_dtype(_np.uint8)
bool = _torch_dtype(_np.bool_)


class _NoAccelerator:
    """``torch.cuda`` / ``torch.backends.mps`` / ``torch.accelerator``: none here."""

    @staticmethod
    def is_available():
        return False

    @staticmethod
    def device_count():
        return 0

    @staticmethod
    def current_accelerator():
        return None

    @staticmethod
    def manual_seed(seed):
        return None

    manual_seed_all = manual_seed


cuda = accelerator = _NoAccelerator()


class backends:
    mps = cudnn = _NoAccelerator()


__version__ = "0.2.0"
