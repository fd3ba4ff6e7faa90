"""Fast implementations of ops, kept apart from the readable reference in ``tinygrad_cnn.ops``.

A *kernel* accelerates one registered op: a fast forward on numpy arrays and/or an array-level
VJP, used when the gradient is not differentiated again. Either may return ``NotImplemented``
for a case it does not take (a shape, a dtype, a geometry), and the reference runs instead, so
the choice of algorithm by shape lives here, beside the kernels. The engine calls a kernel
through one hook (``Op.kernel``); nn, optim and Tensor never know which ran.

    import tinygrad_cnn.kernels as kernels
    kernels.current()                 # 'fast' (default) or 'reference'
    kernels.use("reference")          # from now on, the reference ops only
    with kernels.use("fast"):         # for a block, then back
        ...

``TINYGRAD_CNN_KERNELS=reference`` in the environment starts in the reference. Every kernel is
tested against its op's reference (``tinygrad_cnn.testing.check_kernel``), on drawn cases that
reach every size threshold the kernel uses (``Kernel.thresholds``).

Optimizers have the same kind of hook (``Optimizer.kernel``, a whole-group update): Adam's flat
buffers live in ``kernels/adam.py``.
"""
from .base import KERNEL_SETS, Kernel, current, register, registered, use  # noqa: F401

__all__ = ["Kernel", "register", "registered", "use", "current", "KERNEL_SETS", "set_num_threads",
           "get_num_threads"]
from ._threads import get_num_threads, set_num_threads  # noqa: F401
from . import conv, pool, elementwise, linalg, loss, movement, norm, adam  # noqa: F401,E402  (registration)
