"""Tensor, the op registry and the reverse-mode engine.

A Tensor wraps a numpy array. When an op runs on Tensors that require a
gradient, the result remembers a *context*: the op, its input Tensors and
whatever the forward saved for the backward. ``backward()`` sorts those
contexts into topological order (iteratively, so a 100,000-op chain is fine),
walks them in reverse and calls each op's vector-Jacobian product (VJP).

VJPs are written with Tensor ops. Under ``create_graph=False`` they run with
grad mode off, so they build no graph; under ``create_graph=True`` they record
a graph of their own, which is what makes gradients of gradients work.
"""
from __future__ import annotations

import functools
import threading
from typing import Callable, Iterable, Sequence

import numpy as np

__all__ = [
    "Tensor", "Op", "Spec", "defop", "get_op", "registered_ops", "no_grad",
    "enable_grad", "set_grad_enabled", "is_grad_enabled", "grad",
]

DEFAULT_DTYPE = np.float32

# ---------------------------------------------------------------------------
# grad mode


class _GradMode(threading.local):
    enabled = True


_grad_mode = _GradMode()


def is_grad_enabled() -> bool:
    return _grad_mode.enabled


class set_grad_enabled:
    """Context manager and decorator that turns graph recording on or off."""

    def __init__(self, mode: bool = True):
        self.mode = bool(mode)
        self._previous: list[bool] = []

    def __enter__(self):
        self._previous.append(_grad_mode.enabled)
        _grad_mode.enabled = self.mode
        return self

    def __exit__(self, *exc):
        _grad_mode.enabled = self._previous.pop()
        return False

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)
        return wrapper


class no_grad(set_grad_enabled):
    """``with no_grad(): ...``, ``@no_grad()`` or ``@no_grad``: ops inside
    record no graph."""

    def __new__(cls, fn=None):
        self = super().__new__(cls)
        if fn is not None:           # used bare, as @no_grad
            self.__init__()
            return self(fn)
        return self

    def __init__(self, fn=None):
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Turns graph recording back on inside a ``no_grad`` block."""

    def __init__(self):
        super().__init__(True)


# ---------------------------------------------------------------------------
# ops and their registry


class Spec:
    """How the generic property tests draw valid inputs for an op.

    Plain data, so that ``import tinygrad_cnn`` needs numpy only; the testing
    kit turns it into Hypothesis strategies.

    nargs      number of Tensor inputs
    broadcast  inputs get mutually broadcastable shapes (else the same shape)
    domain     (low, high) for every input, or one pair per input
    avoid      values to stay away from (kinks such as 0 for relu/abs), with
               margin ``gap``
    distinct   all values of all inputs distinct (no ties for max/maximum)
    cases      "module:function" naming a zero-argument function that returns
               a Hypothesis strategy of ``testing.Case``; overrides the above
    second_order  whether gradgradcheck applies
    keeps_dtype  float32 inputs give a float32 output (False for casts)
    reference  optional plain-numpy forward to compare values against
    """

    def __init__(self, nargs: int = 1, broadcast: bool = False, domain=(-3.0, 3.0),
                 avoid: Sequence[float] = (), gap: float = 0.05, distinct: bool = False,
                 min_dims: int = 0, max_dims: int = 3, max_side: int = 4,
                 cases: str | Callable | None = None, second_order: bool = True,
                 reference: Callable | None = None, keeps_dtype: bool = True):
        self.nargs = nargs
        self.broadcast = broadcast
        self.domain = domain
        self.avoid = tuple(avoid)
        self.gap = gap
        self.distinct = distinct
        self.min_dims = min_dims
        self.max_dims = max_dims
        self.max_side = max_side
        self.cases = cases
        self.second_order = second_order
        self.reference = reference
        self.keeps_dtype = keeps_dtype


class Context:
    """What one op application remembers for its backward pass.

    ``inputs``: the input Tensors; ``params``: the keyword arguments;
    ``needs_input_grad``: one bool per input (already set when the forward
    runs; empty when the op is not recorded); ``out``: the output Tensor, set
    only while the VJP runs (keeping it permanently would make a reference
    cycle). Forwards may store extra arrays as attributes (``ctx.mask = ...``).
    """

    def __init__(self, op, inputs, params):
        self.op = op
        self.inputs = inputs
        self.params = params
        self.needs_input_grad = ()
        self.out = None

    def release(self):
        """Drop everything saved for backward (called after the VJP runs)."""
        op = self.op
        self.__dict__.clear()
        self.op = op
        self.inputs = None


_REGISTRY: dict[str, "Op"] = {}


class Op:
    """One differentiable operation: a numpy forward and a Tensor-level VJP.

    ``forward(ctx, *arrays, **params) -> array`` sees numpy arrays.
    ``vjp(ctx, grad_out) -> tuple`` returns one gradient per input (a Tensor, or
    None for inputs that need none), each either of the input's shape or of a
    shape the input broadcasts to: the engine sums broadcast dimensions away.
    """

    def __init__(self, name: str, forward: Callable, spec: Spec | None = None,
                 broadcast: bool = False):
        self.name = name
        self.forward = forward
        self.vjp_fn: Callable | None = None
        self.spec = spec
        self.broadcast = broadcast
        functools.update_wrapper(self, forward)

    def defvjp(self, fn: Callable) -> Callable:
        """Decorator: register ``fn(ctx, grad_out)`` as this op's VJP."""
        self.vjp_fn = fn
        return fn

    vjp = defvjp

    def __call__(self, *inputs, **params):
        return apply(self, *inputs, **params)

    def __repr__(self):
        return f"<op {self.name}>"


def defop(name: str, spec: Spec | None = None, broadcast: bool = False, replace: bool = False):
    """Decorator that registers a forward function as the op ``name``.

    >>> @defop("softplus", spec=Spec())
    ... def softplus(ctx, x):
    ...     return np.logaddexp(0, x)
    >>> @softplus.defvjp
    ... def softplus_vjp(ctx, grad_out):
    ...     (x,) = ctx.inputs
    ...     return (grad_out * x.sigmoid(),)

    ``softplus(tensor)`` then records the op like any built-in one.
    ``broadcast=True`` marks elementwise ops whose inputs broadcast (the
    engine then reports shape errors in numpy's broadcasting terms).
    """
    if name in _REGISTRY and not replace:
        raise ValueError(f"defop: an op named {name!r} is already registered "
                         "(pass replace=True to redefine it)")

    def decorator(forward):
        op = Op(name, forward, spec=spec, broadcast=broadcast)
        _REGISTRY[name] = op
        return op
    return decorator


def get_op(name: str) -> Op:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no op named {name!r}; registered: {sorted(_REGISTRY)}") from None


def registered_ops() -> dict[str, Op]:
    """A copy of the registry: name -> Op."""
    return dict(_REGISTRY)


def _shapes_text(arrays) -> str:
    return " and ".join(str(tuple(a.shape)) for a in arrays)


def apply(op: Op, *inputs, **params) -> "Tensor":
    """Run ``op`` on Tensors (or array-likes) and record it if needed."""
    for x in inputs:
        if x.__class__ is not Tensor and not isinstance(x, Tensor):
            inputs = tuple(x if isinstance(x, Tensor) else Tensor(x) for x in inputs)
            break
    arrays = [t.data for t in inputs]
    ctx = Context.__new__(Context)   # filled in below only if the op is recorded
    # known before the forward runs, so a forward can skip saving what no VJP will use
    needs = tuple([t.requires_grad for t in inputs]) if _grad_mode.enabled else ()
    recording = True in needs
    ctx.needs_input_grad = needs if recording else ()
    try:
        out = op.forward(ctx, *arrays, **params)
    except ValueError as err:
        if op.broadcast:
            try:
                np.broadcast_shapes(*(a.shape for a in arrays))
            except ValueError:
                raise ValueError(f"{op.name}: shapes {_shapes_text(arrays)} do not broadcast") from None
        if str(err).startswith(op.name + ":"):
            raise
        raise ValueError(f"{op.name}: {err} (input shapes {_shapes_text(arrays)})") from err
    if out.__class__ is not np.ndarray:
        out = np.asarray(out)
    result = _wrap(out)
    if recording:
        if op.vjp_fn is None:
            raise RuntimeError(f"{op.name}: op has no VJP, so its inputs cannot require grad")
        ctx.op = op
        ctx.inputs = inputs
        ctx.params = params
        ctx.out = None
        result.requires_grad = True
        result._ctx = ctx
    return result


def _wrap(array: np.ndarray) -> "Tensor":
    """A leaf Tensor around an array, skipping the constructor's checks."""
    result = Tensor.__new__(Tensor)
    result.data = array
    result.grad = None
    result.requires_grad = False
    result._ctx = None
    result._retains_grad = False
    return result


# ---------------------------------------------------------------------------
# Tensor


def _as_array(data, dtype=None) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, (np.ndarray, np.generic)):
        array = np.asarray(data)
        return array if dtype is None else array.astype(dtype, copy=False)
    # Python numbers and (nested) lists default to float32, as in PyTorch.
    return np.asarray(data, dtype=DEFAULT_DTYPE if dtype is None else dtype)


class Tensor:
    """An n-dimensional array that records the ops applied to it.

    ``Tensor(data, dtype=None, requires_grad=False)``: a numpy array keeps its
    dtype, Python floats and lists become float32, ``dtype=`` converts.
    """

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "_retains_grad", "__weakref__")
    __array_priority__ = 1000  # so ``ndarray + Tensor`` defers to Tensor.__radd__

    def __init__(self, data, dtype=None, requires_grad: bool = False):
        self.data = _as_array(data, dtype)
        self.grad: Tensor | None = None
        self._ctx: Context | None = None
        self._retains_grad = False
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # --- basic properties --------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def T(self) -> "Tensor":
        return self.transpose()

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def numpy(self) -> np.ndarray:
        return self.data

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item: only a tensor with one element converts to a Python "
                             f"number, got shape {self.shape}")
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.data)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if requires_grad and not np.issubdtype(self.data.dtype, np.floating):
            raise TypeError(f"only floating point tensors can require gradients, got dtype {self.dtype}")
        if not requires_grad and self._ctx is not None:
            raise RuntimeError("requires_grad_(False): only a leaf tensor can stop requiring grad; use detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> "Tensor":
        """The same data, cut from the graph (shares memory, like PyTorch)."""
        return Tensor(self.data)

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: tensor does not require grad")
        self._retains_grad = True

    def astype(self, dtype) -> "Tensor":
        return apply(get_op("astype"), self, dtype=np.dtype(dtype))

    def float(self) -> "Tensor":
        return self.astype(np.float32)

    def double(self) -> "Tensor":
        return self.astype(np.float64)

    def __repr__(self):
        body = np.array2string(self.data, separator=", ", precision=4, threshold=50,
                               prefix="tensor(")
        extras = []
        if self.data.dtype != DEFAULT_DTYPE:
            extras.append(f"dtype={self.data.dtype}")
        if self._ctx is not None:
            extras.append(f"grad_fn=<{self._ctx.op.name}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    def __hash__(self):
        return id(self)

    # --- autograd entry point ------------------------------------------------
    def backward(self, gradient=None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        ``gradient`` is required unless ``self`` has a single element.
        The graph is freed afterwards unless ``retain_graph=True``.
        """
        if not self.requires_grad:
            raise RuntimeError("backward: tensor does not require grad and has no grad_fn "
                               "(did you create it under no_grad, or forget requires_grad=True?)")
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward: grad can be implicitly created only for scalar "
                                   f"outputs; the output has shape {self.shape}, so pass "
                                   "gradient= (or call .sum() first)")
            gradient = Tensor(np.ones_like(self.data))
        _run_backward([self], [gradient], retain_graph, create_graph, inputs=None)

    # --- the Tensor face of the ops ------------------------------------------
    def _other(self, other) -> "Tensor":
        if other.__class__ is Tensor:
            return other
        if other.__class__ in (int, float, bool) and self.data.dtype.kind == "f":
            # Python scalars take the tensor's dtype: float32 stays float32.
            return _wrap(np.array(other, dtype=self.data.dtype))
        return other if isinstance(other, Tensor) else Tensor(other)

    def __add__(self, other): return apply(_OPS["add"], self, self._other(other))
    def __radd__(self, other): return apply(_OPS["add"], self._other(other), self)
    def __sub__(self, other): return apply(_OPS["sub"], self, self._other(other))
    def __rsub__(self, other): return apply(_OPS["sub"], self._other(other), self)
    def __mul__(self, other): return apply(_OPS["mul"], self, self._other(other))
    def __rmul__(self, other): return apply(_OPS["mul"], self._other(other), self)
    def __truediv__(self, other): return apply(_OPS["div"], self, self._other(other))
    def __rtruediv__(self, other): return apply(_OPS["div"], self._other(other), self)
    def __pow__(self, other): return apply(_OPS["pow"], self, self._other(other))
    def __rpow__(self, other): return apply(_OPS["pow"], self._other(other), self)
    def __matmul__(self, other): return apply(_OPS["matmul"], self, self._other(other))
    def __rmatmul__(self, other): return apply(_OPS["matmul"], self._other(other), self)
    def __neg__(self): return apply(_OPS["neg"], self)
    def __pos__(self): return self
    def __abs__(self): return apply(_OPS["abs"], self)

    # comparisons give plain (non-differentiable) boolean tensors
    def _compare(self, other, ufunc):
        other = other.data if isinstance(other, Tensor) else other
        return Tensor(ufunc(self.data, other))

    def __lt__(self, other): return self._compare(other, np.less)
    def __le__(self, other): return self._compare(other, np.less_equal)
    def __gt__(self, other): return self._compare(other, np.greater)
    def __ge__(self, other): return self._compare(other, np.greater_equal)
    def eq(self, other): return self._compare(other, np.equal)

    def add(self, other): return self + other
    def sub(self, other): return self - other
    def mul(self, other): return self * other
    def div(self, other): return self / other
    def pow(self, other): return self ** other
    def matmul(self, other): return self @ other
    def neg(self): return -self

    def exp(self): return apply(_OPS["exp"], self)
    def log(self): return apply(_OPS["log"], self)
    def sqrt(self): return apply(_OPS["sqrt"], self)
    def tanh(self): return apply(_OPS["tanh"], self)
    def sigmoid(self): return apply(_OPS["sigmoid"], self)
    def relu(self): return apply(_OPS["relu"], self)
    def abs(self): return apply(_OPS["abs"], self)
    def maximum(self, other): return apply(_OPS["maximum"], self, self._other(other))
    def minimum(self, other): return apply(_OPS["minimum"], self, self._other(other))

    def clip(self, min=None, max=None):
        if min is None and max is None:
            raise ValueError("clip: at least one of min and max must be given")
        return apply(_OPS["clip"], self, min=min, max=max)

    clamp = clip

    def sum(self, axis=None, keepdims=False):
        return apply(_OPS["sum"], self, axis=_norm_axis(axis, self.ndim, "sum"), keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        return apply(_OPS["mean"], self, axis=_norm_axis(axis, self.ndim, "mean"), keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return apply(_OPS["max"], self, axis=_norm_axis(axis, self.ndim, "max"), keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        return apply(_OPS["min"], self, axis=_norm_axis(axis, self.ndim, "min"), keepdims=keepdims)

    def var(self, axis=None, keepdims=False, ddof=0):
        return apply(_OPS["var"], self, axis=_norm_axis(axis, self.ndim, "var"),
                     keepdims=keepdims, ddof=ddof)

    def std(self, axis=None, keepdims=False, ddof=0):
        return self.var(axis, keepdims, ddof).sqrt()

    def argmax(self, axis=None, keepdims=False):
        return Tensor(np.argmax(self.data, axis=axis, keepdims=keepdims))

    def argmin(self, axis=None, keepdims=False):
        return Tensor(np.argmin(self.data, axis=axis, keepdims=keepdims))

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        if not all(s.__class__ is int for s in shape):
            shape = tuple(int(s) for s in shape)
        return apply(_OPS["reshape"], self, shape=shape)

    view = reshape

    def transpose(self, *axes):
        if not axes and self.data.ndim == 2:
            return apply(_OPS["transpose"], self, axes=(1, 0))
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        if not axes:
            axes = tuple(range(self.ndim))[::-1]
        return apply(_OPS["transpose"], self, axes=tuple(int(a) for a in axes))

    permute = transpose

    def swapaxes(self, axis1, axis2):
        axes = list(range(self.ndim))
        axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
        return self.transpose(axes)

    def flatten(self, start_axis=1, end_axis=-1):
        return apply(_OPS["flatten"], self, start_axis=start_axis, end_axis=end_axis)

    def broadcast_to(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return apply(_OPS["broadcast_to"], self, shape=tuple(int(s) for s in shape))

    def expand(self, *shape):
        """PyTorch's expand: like broadcast_to, and -1 keeps a dimension."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        offset = len(shape) - self.ndim
        shape = tuple(self.shape[i - offset] if s == -1 and i >= offset else s
                      for i, s in enumerate(shape))
        return self.broadcast_to(shape)

    def pad(self, pad_width, value=0.0):
        return apply(_OPS["pad"], self, pad_width=_norm_pad(pad_width, self.ndim), value=value)

    def __getitem__(self, index):
        return apply(_OPS["getitem"], self, index=_norm_index(index))

    def squeeze(self, axis=None):
        shape = np.squeeze(np.empty(self.shape, dtype=np.bool_), axis=axis).shape
        return self.reshape(shape)

    def unsqueeze(self, axis):
        axis = axis if axis >= 0 else axis + self.ndim + 1
        return self.reshape(self.shape[:axis] + (1,) + self.shape[axis:])


_OPS = _REGISTRY


def _norm_axis(axis, ndim, op_name):
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < max(ndim, 1) or (ndim == 0 and a not in (0, -1)):
            raise ValueError(f"{op_name}: axis {a} is out of range for a tensor with {ndim} dimensions")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"{op_name}: repeated axis in {axis}")
    return tuple(sorted(out))


def _norm_pad(pad_width, ndim):
    pad = np.asarray(pad_width, dtype=np.int64)
    if pad.ndim == 0:
        pad = np.full((ndim, 2), int(pad))
    elif pad.shape == (2,):
        pad = np.tile(pad, (ndim, 1))
    if pad.shape != (ndim, 2):
        raise ValueError(f"pad: pad_width must be an int, a (before, after) pair or one pair per "
                         f"axis ({ndim} axes), got {pad_width!r}")
    if (pad < 0).any():
        raise ValueError(f"pad: pad_width must be non-negative, got {pad_width!r}")
    return tuple((int(a), int(b)) for a, b in pad)


def _norm_index(index):
    """Turn Tensors inside an index into numpy arrays (indices are constants)."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    if isinstance(index, list):
        return np.asarray(index)
    return index


# ---------------------------------------------------------------------------
# the engine


def _topological_order(roots: Iterable[Tensor]) -> list[Tensor]:
    """Tensors that need a gradient, each after all the tensors it feeds into
    (reversed post-order of an iterative depth-first search)."""
    order: list[Tensor] = []
    visited: set[int] = set()
    for root in roots:
        if id(root) in visited or not root.requires_grad:
            continue
        visited.add(id(root))
        stack = [(root, iter(root._ctx.inputs) if root._ctx is not None and root._ctx.inputs is not None else iter(()))]
        while stack:
            node, parents = stack[-1]
            for parent in parents:
                if parent.requires_grad and id(parent) not in visited:
                    visited.add(id(parent))
                    ctx = parent._ctx
                    stack.append((parent, iter(ctx.inputs) if ctx is not None and ctx.inputs is not None else iter(())))
                    break
            else:
                stack.pop()
                order.append(node)
    order.reverse()
    return order


def unbroadcast(grad: Tensor, shape: tuple) -> Tensor:
    """Sum ``grad`` down to ``shape`` (undoing numpy broadcasting), with Tensor
    ops so that it is itself differentiable."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0:
        raise RuntimeError(f"internal: gradient of shape {grad.shape} is smaller than its input {shape}")
    grad_shape = grad.shape
    kept = tuple(i + extra for i, size in enumerate(shape) if size == 1 and grad_shape[i + extra] != 1)
    if not kept:                         # only leading axes were added: one sum
        return grad.sum(axis=tuple(range(extra)))
    grad = grad.sum(axis=tuple(range(extra)) + kept, keepdims=True)
    return grad.reshape(shape) if grad.shape != shape else grad


def _check_gradient(output: Tensor, gradient, what: str) -> Tensor:
    gradient = gradient if isinstance(gradient, Tensor) else Tensor(np.asarray(gradient, dtype=output.dtype))
    if gradient.shape != output.shape:
        raise RuntimeError(f"{what}: gradient has shape {gradient.shape} but the output has shape {output.shape}")
    return gradient


def _run_backward(roots, root_grads, retain_graph, create_graph, inputs):
    """Shared core of ``Tensor.backward`` and ``grad``.

    With ``inputs=None`` gradients accumulate into the ``.grad`` of leaves (and
    of tensors that called ``retain_grad``); otherwise the gradients of the
    given tensors are returned and no ``.grad`` is touched.
    """
    if retain_graph is None:
        retain_graph = create_graph
    grads: dict[int, Tensor] = {}
    for root, g in zip(roots, root_grads):
        g = _check_gradient(root, g, "backward")
        grads[id(root)] = grads[id(root)] + g if id(root) in grads else g
    wanted = None if inputs is None else {id(t) for t in inputs}
    found: dict[int, Tensor] = {}
    order = _topological_order(roots)
    with set_grad_enabled(create_graph):
        for tensor in order:
            g = grads.pop(id(tensor), None)
            if g is None:
                continue
            if wanted is not None:
                if id(tensor) in wanted:
                    found[id(tensor)] = g
            elif tensor._ctx is None or tensor._retains_grad:
                _accumulate_grad(tensor, g, create_graph)
            ctx = tensor._ctx
            if ctx is None:
                continue
            if ctx.inputs is None:
                raise RuntimeError(
                    f"backward: trying to backward through the graph a second time (through "
                    f"'{ctx.op.name}'); its saved values were freed by the first backward. "
                    "Pass retain_graph=True to the first backward if you need to do this.")
            ctx.out = tensor
            try:
                input_grads = ctx.op.vjp_fn(ctx, g)
            finally:
                ctx.out = None
            if isinstance(input_grads, Tensor) or input_grads is None:
                input_grads = (input_grads,)
            for parent, needed, parent_grad in zip(ctx.inputs, ctx.needs_input_grad, input_grads):
                if not needed or parent_grad is None:
                    continue
                if not isinstance(parent_grad, Tensor):
                    parent_grad = Tensor(parent_grad)
                if parent_grad.data.shape != parent.data.shape:
                    parent_grad = unbroadcast(parent_grad, parent.data.shape)
                key = id(parent)
                # out of place: another path may hold the same gradient object
                grads[key] = grads[key] + parent_grad if key in grads else parent_grad
            if not retain_graph:
                ctx.release()
    return found


def _accumulate_grad(tensor: Tensor, g: Tensor, create_graph: bool):
    if g.dtype != tensor.dtype:
        g = g.astype(tensor.dtype)
    if create_graph:
        tensor.grad = g if tensor.grad is None else tensor.grad + g
    elif tensor.grad is None:
        # a copy: the same gradient array may reach several leaves
        tensor.grad = Tensor(np.array(g.data, copy=True))
    else:
        tensor.grad = Tensor(tensor.grad.data + g.data)


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool = False) -> tuple:
    """Gradients of ``outputs`` with respect to ``inputs``, returned as a tuple
    (nothing is written to ``.grad``). With ``create_graph=True`` the results
    are themselves differentiable."""
    single_output = isinstance(outputs, Tensor)
    outputs = [outputs] if single_output else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor) or not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    roots, root_grads = [], []
    for out, g in zip(outputs, grad_outputs):
        if not out.requires_grad:
            raise RuntimeError("grad: an output does not require grad (was it computed under no_grad?)")
        if g is None:
            if out.data.size != 1:
                raise RuntimeError(f"grad: grad can be implicitly created only for scalar outputs; "
                                   f"an output has shape {out.shape}, so pass grad_outputs=")
            g = Tensor(np.ones_like(out.data))
        roots.append(out)
        root_grads.append(g)
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("grad: an input does not require grad")
    found = _run_backward(roots, root_grads, retain_graph, create_graph, inputs=inputs)
    result = []
    for t in inputs:
        g = found.get(id(t))
        if g is None and not allow_unused:
            raise RuntimeError("grad: one of the inputs was not used to compute the outputs "
                               "(pass allow_unused=True to get None for it)")
        if g is not None and g.dtype != t.dtype:
            g = g.astype(t.dtype)
        result.append(g)
    return tuple(result)
