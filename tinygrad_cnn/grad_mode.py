"""Grad mode: whether ops record a graph for backward (one flag per thread).

``no_grad`` and ``enable_grad`` work as ``with no_grad():``, ``@no_grad()``
and bare ``@no_grad``, as PyTorch's do; ``set_grad_enabled(False)`` also
switches at once as a plain call. The engine reads the flag on every op.
"""
from __future__ import annotations

import functools
import threading

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled"]


class _GradMode(threading.local):
    enabled = True


state = _GradMode()      # ``state.enabled``: read by the engine on every op


def is_grad_enabled() -> bool:
    return state.enabled


class _GradModeSwitch:
    """Context manager and decorator that turns graph recording on or off."""

    def __init__(self, mode: bool = True):
        self.mode = bool(mode)
        self._previous: list[bool] = []

    def __enter__(self):
        self._previous.append(state.enabled)
        state.enabled = self.mode
        return self

    def __exit__(self, *exc):
        state.enabled = self._previous.pop()
        return False

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with _GradModeSwitch(mode):
                return fn(*args, **kwargs)
        return wrapper


class set_grad_enabled(_GradModeSwitch):
    """``set_grad_enabled(False)`` switches graph recording off at once (as
    PyTorch's, a plain call works); as ``with set_grad_enabled(mode):`` the
    previous mode comes back at the end, as a decorator around each call."""

    def __init__(self, mode: bool = True):
        super().__init__(mode)
        self._previous.append(state.enabled)
        state.enabled = self.mode

    def __enter__(self):
        return self

    def __call__(self, fn):
        if self._previous:       # a decorator: undo the switch made when it was built
            state.enabled = self._previous.pop()
        return super().__call__(fn)


class _FixedMode(_GradModeSwitch):
    """A switch to ``mode_value`` usable as ``with m():``, ``@m()`` or bare
    ``@m``: used bare, the class is called with the function, and ``__new__``
    returns the wrapped function instead of an instance (PyTorch's trick)."""

    mode_value = True

    def __new__(cls, fn=None):
        if fn is None or isinstance(fn, bool):
            return super().__new__(cls)
        return cls()(fn)

    def __init__(self, fn=None):
        super().__init__(self.mode_value)


class no_grad(_FixedMode):
    """``with no_grad(): ...``, ``@no_grad()`` or ``@no_grad``: ops inside
    record no graph."""

    mode_value = False


class enable_grad(_FixedMode):
    """Turns graph recording back on inside a ``no_grad`` block."""

    mode_value = True


class inference_mode(_FixedMode):
    """PyTorch's ``inference_mode(mode=True)``: here the same as ``no_grad``
    (and ``inference_mode(False)`` as ``enable_grad``, as in PyTorch)."""

    def __init__(self, mode=True):
        _GradModeSwitch.__init__(self, not mode)
