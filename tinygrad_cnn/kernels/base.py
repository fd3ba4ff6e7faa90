"""The kernel registry and the switch between the fast kernels and the reference (re-exported
by ``tinygrad_cnn.kernels``, whose docstring tells the story)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable

__all__ = ["Kernel", "register", "registered", "use", "current", "KERNEL_SETS"]

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
