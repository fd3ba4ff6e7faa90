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
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable

__all__ = ["Kernel", "register", "registered", "use", "current", "KERNEL_SETS", "set_num_threads",
           "get_num_threads"]

KERNEL_SETS = ("fast", "reference")


@dataclass
class Kernel:
    """The fast side of one op: ``forward(ctx, *arrays, **params)`` and ``vjp(ctx, grad_out) ->
    one array (or None) per input``; or of one optimizer: ``step(optimizer, group_index, group)
    -> bool``, a whole group's update (False leaves the group to the reference update).
    ``thresholds`` names the sizes at which the kernel changes path (name -> value), so the
    tests can draw cases on both sides."""
    target: object
    forward: Callable | None = None
    vjp: Callable | None = None
    thresholds: dict = field(default_factory=dict)
    name: str = ""
    step: Callable | None = None

    def __repr__(self):
        return f"<kernel {self.name or getattr(self.target, 'name', self.target)}>"


_KERNELS: dict[object, Kernel] = {}
_current = "fast"


def register(target, forward: Callable | None = None, vjp: Callable | None = None,
             thresholds: dict | None = None, step: Callable | None = None) -> Kernel:
    """Register the fast forward and/or VJP of ``target`` (an Op), or the fast group ``step`` of
    an Optimizer class. Replaces an earlier registration for the same target."""
    if not hasattr(target, "kernel"):
        raise TypeError(f"kernels.register: {target!r} has no kernel hook (expected an Op or an Optimizer class)")
    name = getattr(target, "name", None) or getattr(target, "__name__", repr(target))
    kernel = Kernel(target, forward, vjp, dict(thresholds or {}), name, step)
    _KERNELS[target] = kernel
    if _current == "fast":
        target.kernel = kernel
    return kernel


def registered() -> dict:
    """target -> Kernel, for every registered kernel (whether or not in force)."""
    return dict(_KERNELS)


def current() -> str:
    """The kernel set in force: 'fast' or 'reference'."""
    return _current


class use:
    """``use('reference')`` or ``use('fast')``: switch now; as a context manager, switch back
    to the previous set on leaving the block."""

    def __init__(self, name: str):
        if name not in KERNEL_SETS:
            raise ValueError(f"kernels.use: expected one of {KERNEL_SETS}, got {name!r}")
        self._previous = _current
        _switch(name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _switch(self._previous)
        return False

    def __repr__(self):
        return f"kernels.use({_current!r})"


def _switch(name: str) -> None:
    global _current
    _current = name
    for target, kernel in _KERNELS.items():
        target.kernel = kernel if name == "fast" else None


def _from_environment() -> str:
    value = os.environ.get("TINYGRAD_CNN_KERNELS", "fast").strip().lower() or "fast"
    if value not in KERNEL_SETS:
        raise ValueError(f"TINYGRAD_CNN_KERNELS must be one of {KERNEL_SETS}, got {value!r}")
    return value


_current = _from_environment()

from ._threads import get_num_threads, set_num_threads  # noqa: E402
from . import conv, pool, elementwise, linalg, loss, norm, adam  # noqa: E402,F401  (registration)
