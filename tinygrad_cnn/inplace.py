"""In-place changes and the graph (PyTorch's rules).

Every in-place change bumps the tensor's version counter; an op records the
versions of its inputs, and its backward raises if one that it reads has
changed since (``engine._check_saved``).

Inside a graph (grad mode on and a gradient involved) the values earlier ops
saw must stay intact, so the change is not written into the array: the tensor
object moves on to a new node, the out-of-place op applied to its old value,
and ``_previous`` remembers the old node with the version at which it was
replaced. An edge recorded before the change still names the tensor object
with the version it had then; :func:`parents` follows ``_previous`` back to
the node that the edge really meant.
"""
from __future__ import annotations

from typing import Callable

from . import grad_mode

rewritten = False     # set once any change has moved a tensor to a new node


def resolve(tensor, version: int):
    """The node that ``tensor`` was when an op recorded it at ``version``."""
    while tensor._previous is not None and version <= tensor._previous[1]:
        tensor = tensor._previous[0]
    return tensor


def parents(ctx) -> tuple:
    """The nodes a recorded op ran on (its inputs, with rewrites undone)."""
    inputs = ctx.inputs
    if rewritten:
        for t in inputs:
            if t._previous is not None:
                return tuple([resolve(t, v) for t, v in zip(inputs, ctx.versions)])
    return inputs


def change(tensor, name: str, out_of_place: Callable, in_array: Callable,
           other_needs_grad: bool = False):
    """Change ``tensor`` in place, by name (for errors). Inside a graph it
    moves on to the node ``out_of_place(old)``; otherwise ``in_array(array)``
    writes into its array. Either way its version goes up by one."""
    global rewritten
    if tensor._ctx is not None:
        tensor._ctx.output_modified = True     # for a backward that reads this output
    shape = tuple(tensor.data.shape)
    if grad_mode.state.enabled and (tensor.requires_grad or other_needs_grad):
        if tensor.requires_grad and tensor._ctx is None:
            raise RuntimeError(
                f"{name}: a leaf tensor that requires grad (shape {shape}) is being changed "
                "in place; wrap the update in `with tinygrad_cnn.no_grad():`")
        old = tensor.detach()
        old.requires_grad = tensor.requires_grad
        old._ctx = tensor._ctx
        old._version = tensor._version
        old._previous = tensor._previous
        new = out_of_place(old)
        if new.data.shape != tensor.data.shape:
            raise RuntimeError(f"{name}: the result has shape {tuple(new.data.shape)} but the "
                               f"tensor changed in place has shape {shape}")
        if new.data.dtype != tensor.data.dtype:
            new = new._cast(tensor.data.dtype)
        tensor.data = new.data
        tensor._ctx = new._ctx
        tensor.requires_grad = new.requires_grad
        tensor._previous = (old, old._version)
        rewritten = True
    else:
        if not tensor.data.flags.writeable:
            raise RuntimeError(f"{name}: the tensor's memory is read-only (shape {shape}, for "
                               "example a broadcast view); clone() it first")
        try:
            in_array(tensor.data)
        except TypeError as err:
            raise RuntimeError(f"{name}: result can't be cast to the tensor's dtype "
                               f"{tensor.data.dtype} ({err})") from None
        except ValueError as err:
            raise RuntimeError(f"{name}: {err} (tensor shape {shape})") from None
    tensor._version += 1
    return tensor
