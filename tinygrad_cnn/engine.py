"""Reverse-mode automatic differentiation: the core.

When an op runs on Tensors that require a gradient, its output remembers a
*context*: the op, its input Tensors and whatever the forward saved.
``backward()`` sorts those contexts into topological order (iteratively, so a
100,000-op chain is fine), walks them in reverse and calls each op's
vector-Jacobian product (VJP). VJPs are written with Tensor ops: under
``create_graph=False`` they run with grad mode off and build no graph; under
``create_graph=True`` they record one, which gives gradients of gradients.

Beside this module: ``grad_mode`` (no_grad), ``registry`` (ops by name, and
their Tensor-method and function variants), ``inplace`` (how an in-place
change rewrites the graph), ``anomaly`` (nan/inf detection) and ``grad_fn``
(PyTorch's view of a node). The engine knows Tensors only through a few slots
(``data``, ``grad``, ``requires_grad``, ``_ctx``, ``_version``, ``_previous``,
``_hooks``); ``tensor.py`` hands it the class with :func:`bind_tensor_class`.
"""
from __future__ import annotations

import itertools
from typing import Iterable

import numpy as np

from .errors import ShapeError
from . import anomaly, grad_mode, inplace, registry
from .grad_mode import (  # noqa: F401  (re-exported: importable from the engine too)
    enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled,
)
from .registry import Op, add_variant, defop, get_op, registered_ops  # noqa: F401  (re-exported)

__all__ = ["Op", "Context", "defop", "apply", "grad", "backward", "unbroadcast"]

Tensor = None          # the Tensor class, bound by tensor.py
_wrap = None           # array -> leaf Tensor without checks, bound by tensor.py

# ---------------------------------------------------------------------------
# recording


class Context:
    """What one op application remembers for its backward pass.

    inputs, params    the input Tensors and the forward's keyword arguments
    needs_input_grad  one bool per input, set before the forward runs (empty
                      when the op is not recorded: the forward can skip saving)
    saved             what the forward kept for the VJP, by name (``ctx.save(mask=...)``)
    out               the output, set only while the VJP runs (no reference cycle)
    versions          each input's version counter when the op ran
    node_name         optional: the name ``grad_fn`` shows when it is not the op's
                      (PyTorch's overloads, composite functions); kept after backward
    node_inputs       optional, with node_name: the composite's inputs (``next_functions``)
    """

    # no __slots__: autograd.Function users store their own attributes on ctx
    saved = None
    out = None
    kernel = None          # the op's fast kernel, when one is in force (see Op.kernel)
    ran_kernel = False     # whether that kernel's forward ran (else the reference's did)

    def save(self, **arrays) -> None:
        """Keep named values (numpy arrays, shapes) for the VJP."""
        self.saved = arrays if self.saved is None else {**self.saved, **arrays}

    def release(self) -> None:
        """Drop everything saved for backward (called after the VJP runs);
        the node's name (``grad_fn``) and place in the order stay."""
        op, name, seq = self.op, self.__dict__.get("node_name"), self.seq
        self.__dict__.clear()
        self.op = op
        self.seq = seq
        self.inputs = None
        if name is not None:
            self.node_name = name


# each recorded op's place in the order ops ran (Context.seq): an op's inputs exist before it
# runs, so the reverse of this order is a topological order of any graph (see _topological_order)
_sequence = itertools.count()


def apply(op, *inputs, **params):
    """Run ``op`` on Tensors (or array-likes) and record it if needed."""
    for x in inputs:
        if x.__class__ is not Tensor and not isinstance(x, Tensor):
            inputs = tuple(x if isinstance(x, Tensor) else Tensor(x) for x in inputs)
            break
    arrays = [t.data for t in inputs]
    ctx = Context.__new__(Context)
    # known before the forward runs, so a forward can skip saving what no VJP will use
    needs = tuple([t.requires_grad for t in inputs]) if grad_mode.state.enabled else ()
    recording = True in needs
    ctx.needs_input_grad = needs if recording else ()
    kernel = op.kernel
    try:
        if kernel is None or kernel.forward is None:
            out = op.forward(ctx, *arrays, **params)
        else:
            out = kernel.forward(ctx, *arrays, **params)
            if out is NotImplemented:       # a case the kernel leaves to the reference
                out = op.forward(ctx, *arrays, **params)
            else:
                ctx.ran_kernel = True
    except ValueError as err:
        shapes = " and ".join(str(tuple(a.shape)) for a in arrays)
        if op.broadcast:
            try:
                np.broadcast_shapes(*(a.shape for a in arrays))
            except ValueError:
                raise ShapeError(f"{op.name}: shapes {shapes} do not broadcast") from None
        if str(err).startswith(op.name + ":"):
            raise
        kind = ShapeError if isinstance(err, ShapeError) else ValueError
        raise kind(f"{op.name}: {err} (input shapes {shapes})") from err
    if out.__class__ is not np.ndarray:
        out = np.asarray(out)
    result = _wrap(out)
    if recording:
        if op.vjp_fn is None:
            raise RuntimeError(f"{op.name}: op has no VJP, so its inputs cannot require grad")
        ctx.op = op
        ctx.seq = next(_sequence)
        ctx.inputs = inputs
        ctx.params = params
        ctx.versions = tuple([t._version for t in inputs])
        if kernel is not None:
            ctx.kernel = kernel
        result.requires_grad = True
        result._ctx = ctx
        if anomaly.enabled:
            ctx.site = anomaly.check_forward(op, out, inputs)
    elif anomaly.enabled:
        anomaly.check_forward(op, out, inputs)
    return result


# ---------------------------------------------------------------------------
# version checks (in-place changes: see inplace.py)


def _check_saved(ctx) -> None:
    """Raise if a value this op's VJP reads was changed in place after the op
    ran (as PyTorch does), instead of computing a wrong gradient."""
    op = ctx.op
    inputs = ctx.inputs
    indices = range(len(inputs)) if op.saves_inputs is None else op.saves_inputs
    for i in indices:
        changed = inputs[i]
        if changed._version != ctx.versions[i]:
            raise RuntimeError(
                f"backward: one of the variables needed for gradient computation has been modified "
                f"by an inplace operation: input {i} of '{op.name}' (shape {tuple(changed.shape)}) is "
                f"at version {changed._version}; expected version {ctx.versions[i]}. Compute it out "
                "of place (x = x + 1 instead of x += 1) or clone() it first.")
    if op.saves_output and getattr(ctx, "output_modified", False):
        raise RuntimeError(
            f"backward: one of the variables needed for gradient computation has been modified by "
            f"an inplace operation: the output of '{op.name}', which its backward reads. Compute it "
            "out of place or clone() it first.")


# ---------------------------------------------------------------------------
# the backward pass


def _topological_order(roots: Iterable) -> list:
    """Tensors that need a gradient and are reachable from ``roots``, each after all the tensors
    it feeds into: the nodes found by an iterative walk, latest op first (an op's inputs exist
    before it runs, so they come after it), leaves last."""
    seen: set[int] = set()
    stack = []
    for root in roots:
        if root.requires_grad and id(root) not in seen:
            seen.add(id(root))
            stack.append(root)
    nodes = []
    rewritten = inplace.rewritten
    while stack:
        node = stack.pop()
        nodes.append(node)
        ctx = node._ctx
        if ctx is None or ctx.inputs is None:
            continue
        for parent in (inplace.parents(ctx) if rewritten else ctx.inputs):
            if parent.requires_grad and id(parent) not in seen:
                seen.add(id(parent))
                stack.append(parent)
    nodes.sort(key=_latest_first)
    return nodes


def _latest_first(tensor) -> int:
    ctx = tensor._ctx
    return 1 if ctx is None else -ctx.seq


def unbroadcast(grad, shape: tuple):
    """Sum ``grad`` down to ``shape`` (undoing numpy broadcasting), with Tensor
    ops so that it is itself differentiable."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0:
        raise RuntimeError(f"internal: gradient of shape {tuple(grad.shape)} is smaller than its input {shape}")
    grad_shape = grad.shape
    kept = tuple(i + extra for i, size in enumerate(shape) if size == 1 and grad_shape[i + extra] != 1)
    if not kept:                         # only leading axes were added: one sum
        return grad.sum(axis=tuple(range(extra)))
    grad = grad.sum(axis=tuple(range(extra)) + kept, keepdims=True)
    return grad.reshape(shape) if grad.shape != shape else grad


def backward_pass(roots, seeds, retain_graph: bool, create_graph: bool, wanted=None) -> dict:
    """The reverse sweep, shared by ``backward`` and ``grad``: each tensor's
    total gradient (summed over every path that reaches it) goes through its
    op's VJP, in topological order, and is dropped once used.

    With ``wanted=None`` gradients accumulate into the ``.grad`` of leaves
    (and of tensors that called ``retain_grad``); otherwise the gradients of
    the tensors in ``wanted`` are returned by id and no ``.grad`` is touched."""
    grads: dict[int, object] = {}
    for root, g in zip(roots, seeds):
        grads[id(root)] = grads[id(root)] + g if id(root) in grads else g
    found: dict[int, object] = {}
    anomaly.backward_depth += 1
    mode = grad_mode.state
    previous, mode.enabled = mode.enabled, create_graph    # VJPs record a graph only for create_graph
    try:
        for tensor in _topological_order(roots):
            # a gradient is a Tensor, or (without create_graph) the array a kernel's VJP
            # returned, wrapped only where a Tensor is needed
            g = grads.pop(id(tensor), None)
            if g is None:
                continue
            if tensor._hooks:
                g = _run_hooks(tensor, _as_tensor(g))
            if wanted is not None:
                if id(tensor) in wanted:
                    found[id(tensor)] = _as_tensor(g)
            elif tensor._ctx is None or tensor._retains_grad:
                accumulate_grad(tensor, _as_tensor(g), create_graph)
            ctx = tensor._ctx
            if ctx is None:
                continue
            parents, input_grads = _vjp(ctx, tensor, g, create_graph)
            for parent, needed, parent_grad in zip(parents, ctx.needs_input_grad, input_grads):
                if not needed or parent_grad is None:
                    continue
                if parent_grad.__class__ is np.ndarray and not create_graph:
                    shape = parent_grad.shape
                else:
                    parent_grad = _as_tensor(parent_grad)
                    shape = parent_grad.data.shape
                if shape != parent.data.shape:
                    parent_grad = unbroadcast(_as_tensor(parent_grad), parent.data.shape)
                key = id(parent)
                # out of place: another path may hold the same gradient object
                grads[key] = grads[key] + parent_grad if key in grads else parent_grad
            if not retain_graph:
                ctx.release()
    finally:
        mode.enabled = previous
        anomaly.backward_depth -= 1
    return found


def _as_tensor(g):
    """A gradient as a Tensor: a kernel's array wrapped without Tensor()'s checks."""
    if g.__class__ is Tensor or isinstance(g, Tensor):
        return g
    return _wrap(g) if g.__class__ is np.ndarray else Tensor(g)


def _vjp(ctx, out, g, create_graph: bool):
    """The parents of one recorded op and their gradients: the kernel's
    array-level VJP when there is one and the result is not differentiated
    again, else the reference VJP (in Tensor ops)."""
    if ctx.inputs is None:
        raise RuntimeError(
            f"backward: trying to backward through the graph a second time (through "
            f"'{ctx.op.name}'); its saved values were freed by the first backward. "
            "Pass retain_graph=True to the first backward if you need to do this.")
    parents = inplace.parents(ctx) if inplace.rewritten else ctx.inputs
    _check_saved(ctx)
    grads, kernel = NotImplemented, ctx.kernel
    ctx.out = out
    try:
        if kernel is not None and not create_graph and kernel.vjp is not None:
            grads = kernel.vjp(ctx, g if g.__class__ is np.ndarray else g.data)
        if grads is NotImplemented:
            if ctx.ran_kernel:
                # the reference VJP reads what the reference forward saves (from now on, for
                # any later walk through this node too)
                ctx.saved = None
                ctx.op.forward(ctx, *[t.data for t in ctx.inputs], **ctx.params)
                ctx.ran_kernel = False
            grads = ctx.op.vjp_fn(ctx, _as_tensor(g))
    finally:
        ctx.out = None
    if isinstance(grads, Tensor) or grads is None:
        grads = (grads,)
    if anomaly.enabled:
        anomaly.check_backward(ctx, grads, parents)
    return parents, grads


def _run_hooks(tensor, g):
    for hook in list(tensor._hooks.values()):
        replacement = hook(g)
        if replacement is not None:
            if not isinstance(replacement, Tensor) or replacement.shape != g.shape:
                raise RuntimeError(f"hook: a gradient hook must return None or a Tensor of shape "
                                   f"{tuple(g.shape)}, got {replacement!r}")
            g = replacement
    return g


def accumulate_grad(tensor, g, create_graph: bool) -> None:
    """``tensor.grad += g``, out of place."""
    if g.data.dtype != tensor.data.dtype:
        g = g.astype(tensor.data.dtype)
    if create_graph:
        tensor.grad = g if tensor.grad is None else tensor.grad + g
    elif tensor.grad is None:
        # a copy: the same gradient array may reach several leaves
        tensor.grad = _wrap(np.array(g.data, copy=True))
    else:
        tensor.grad = Tensor(tensor.grad.data + g.data)     # (0-d sums are numpy scalars: Tensor makes arrays)


def _seeds(outputs, grad_outputs, what):
    """The outputs as a list and one checked starting gradient for each."""
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor) or not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"{what}: got {len(grad_outputs)} gradients for {len(outputs)} outputs")
    seeds = []
    for out, g in zip(outputs, grad_outputs):
        if not out.requires_grad:
            raise RuntimeError(f"{what}: element 0 of tensors does not require grad and does not "
                               "have a grad_fn (was it computed under no_grad, or from tensors "
                               "without requires_grad=True?)")
        if g is None:
            if out.data.size != 1:
                raise RuntimeError(f"{what}: grad can be implicitly created only for scalar outputs; "
                                   f"an output has shape {tuple(out.shape)}, so pass the gradient "
                                   "(or call .sum() first)")
            g = Tensor(np.ones_like(out.data))
        elif not isinstance(g, Tensor):
            g = Tensor(np.asarray(g, dtype=out.data.dtype))
        if g.data.shape != out.data.shape:
            raise RuntimeError(f"backward: gradient has shape {tuple(g.shape)} but the output "
                               f"has shape {tuple(out.shape)}")
        seeds.append(g)
    return outputs, seeds


def backward(tensors, grad_tensors=None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs=None) -> None:
    """Accumulate the gradients of ``tensors`` (``tensors[i]`` seeded with
    ``grad_tensors[i]``) into the leaves' ``.grad``, or only into those of
    ``inputs`` when given. The graph is freed unless ``retain_graph=True``."""
    if inputs is not None:
        inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
        grads = grad(tensors, inputs, grad_tensors, retain_graph, create_graph, allow_unused=True)
        for t, g in zip(inputs, grads):
            if g is not None:
                accumulate_grad(t, g, create_graph)
        return
    roots, seeds = _seeds(tensors, grad_tensors, "backward")
    backward_pass(roots, seeds, create_graph if retain_graph is None else retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False) -> tuple:
    """Gradients of ``outputs`` with respect to ``inputs``, returned as a tuple
    (nothing is written to ``.grad``). With ``create_graph=True`` the results
    are themselves differentiable."""
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    roots, seeds = _seeds(outputs, grad_outputs, "grad")
    if not all(t.requires_grad for t in inputs):
        raise RuntimeError("grad: an input does not require grad")
    found = backward_pass(roots, seeds, create_graph if retain_graph is None else retain_graph,
                          create_graph, wanted={id(t) for t in inputs})
    result = []
    for t in inputs:
        g = found.get(id(t))
        if g is None and not allow_unused:
            raise RuntimeError("grad: one of the inputs was not used to compute the outputs "
                               "(pass allow_unused=True to get None for it)")
        result.append(g if g is None or g.data.dtype == t.data.dtype else g.astype(t.data.dtype))
    return tuple(result)


def bind_tensor_class(cls, wrap) -> None:
    global Tensor, _wrap
    Tensor = cls
    _wrap = wrap
    registry.bind(cls, apply)
