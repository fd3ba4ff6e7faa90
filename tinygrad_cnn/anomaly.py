"""Anomaly mode: off unless asked for, and then each op's output and each
VJP's gradients are checked for nan/inf; the first one raises a RuntimeError
naming the op, forward or backward, the shapes and the line of the user's
code that called the op.

The engine calls the two checks only while ``enabled`` is true, so when off
this costs one test of a module attribute per op and per backward step.
"""
from __future__ import annotations

import functools
import linecache
import os
import sys

import numpy as np

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled"]

enabled = False
backward_depth = 0      # inside a backward, the VJPs' own ops are judged by the VJP's check
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _user_site() -> str:
    """``file:line: code`` of the innermost caller outside this package."""
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return "an unknown place"
    filename, lineno = frame.f_code.co_filename, frame.f_lineno
    code = linecache.getline(filename, lineno).strip()
    return f"{filename}:{lineno}" + (f": {code}" if code else "")


def _nonfinite(array) -> str | None:
    if array.dtype.kind not in "fc":
        return None
    if np.isnan(array).any():
        return "nan"
    if np.isinf(array).any():
        return "inf"
    return None


def check_forward(op, out, inputs) -> str:
    """Raise if ``op`` made nan/inf from finite inputs; return the call site."""
    site = _user_site()
    bad = _nonfinite(out) if backward_depth == 0 else None
    if bad is not None and all(_nonfinite(t.data) is None for t in inputs):
        shapes = ", ".join(str(tuple(t.data.shape)) for t in inputs)
        raise RuntimeError(f"anomaly: the forward of '{op.name}' produced {bad} in its output "
                           f"(shape {tuple(out.shape)}) from finite inputs of shapes {shapes}; "
                           f"the op was called at {site}")
    return site


def check_backward(ctx, grads, parents) -> None:
    """Raise if one of the gradients a VJP returned holds nan/inf."""
    for i, g in enumerate(grads):
        # a Tensor (a reference VJP) or an array (a kernel's VJP)
        bad = None if g is None else _nonfinite(g if isinstance(g, np.ndarray) else g.data)
        if bad is not None:
            site = getattr(ctx, "site", None) or "an unknown place (recorded before anomaly mode was on)"
            raise RuntimeError(f"anomaly: the backward of '{ctx.op.name}' produced {bad} in the "
                               f"gradient of its input {i} (shape {tuple(parents[i].data.shape)}); "
                               f"the op was called at {site}")


class detect_anomaly:
    """Context manager (and decorator): the first op whose forward output or
    whose backward gradient holds nan or inf raises a RuntimeError naming the
    op, the shapes, forward or backward, and the line of your code that
    called the op."""

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan
        self._previous: list[bool] = []

    def __enter__(self):
        global enabled
        self._previous.append(enabled)
        enabled = bool(self.check_nan)
        return self

    def __exit__(self, *exc):
        global enabled
        enabled = self._previous.pop()
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return fn(*args, **kwargs)
        return wrapper


def set_detect_anomaly(mode: bool) -> None:
    """Turn anomaly detection on or off for the whole process."""
    global enabled
    enabled = bool(mode)


def is_anomaly_enabled() -> bool:
    return enabled
