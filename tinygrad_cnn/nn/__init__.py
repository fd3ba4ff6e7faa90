"""Modules and layers, PyTorch style: parameters are registered by attribute
assignment, ``model(x)`` calls ``forward``, and layers use only the Tensor
API and ``nn.functional``."""
from . import functional, init, utils  # noqa: F401
from . import functional as F  # noqa: F401
from .layers import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .module import *  # noqa: F401,F403
from .module import Module, ModuleDict, ModuleList, Parameter, Sequential  # noqa: F401
