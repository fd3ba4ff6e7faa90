"""The op registry (name -> Op) and the variants published from it.

A *variant* is PyTorch's word for the public forms of one op: the *method
variant* ``Tensor.exp`` and the *function variant* ``tinygrad_cnn.exp``.
An op (``engine.defop``) is registered here once by name; which variants it
has is declared at registration (``method=True``, ``function=True``) or with
``@op.variant`` for an op whose variant takes options. The variants are not
written by hand in tensor.py or the package: listeners install them
(``Tensor.<name>`` for methods, ``tinygrad_cnn.<name>`` for functions).

``Op`` and ``defop`` live here too. This module imports nothing from the
package, so everything can use it; the engine binds the two things an op needs
to run (``engine.apply`` and the Tensor class) with :func:`bind`.
"""
from __future__ import annotations

import functools
from typing import Callable

__all__ = ["Op", "defop", "get_op", "registered_ops", "add_variant", "on_variant"]

_apply = None       # engine.apply, bound by the engine
_Tensor = None      # the Tensor class, bound with it


def bind(tensor_class, apply: Callable) -> None:
    global _Tensor, _apply
    _Tensor, _apply = tensor_class, apply

_REGISTRY: dict = {}                   # name -> Op
_METHODS: dict[str, Callable] = {}     # name -> Tensor method
_FUNCTIONS: dict[str, Callable] = {}   # name -> tinygrad_cnn.<name>
_listeners: list[Callable] = []


def register(op, replace: bool = False) -> None:
    """Add ``op`` under ``op.name`` (``replace=True`` to redefine a name)."""
    check_free(op.name, replace)
    _REGISTRY[op.name] = op


def check_free(name: str, replace: bool = False) -> None:
    if name in _REGISTRY and not replace:
        raise ValueError(f"defop: an op named {name!r} is already registered "
                         "(pass replace=True to redefine it)")


def get_op(name: str):
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no op named {name!r}; registered: {sorted(_REGISTRY)}") from None


def registered_ops() -> dict:
    """A copy of the registry: name -> Op."""
    return dict(_REGISTRY)


def add_variant(name, fn: Callable | None = None, method: bool = True, function: bool = True):
    """Publish ``fn`` as the method variant ``Tensor.<name>`` and/or the
    function variant ``tinygrad_cnn.<name>``. Also a decorator:
    ``@add_variant`` publishes a function under its own name."""
    if callable(name):
        name, fn = name.__name__, name
    if method:
        _METHODS[name] = fn
    if function:
        _FUNCTIONS[name] = fn
    for listener in _listeners:
        listener(name, fn, method, function)
    return fn


def on_variant(listener: Callable) -> None:
    """Call ``listener(name, fn, method, function)`` for every variant, now and later."""
    _listeners.append(listener)
    for name, fn in list(_METHODS.items()):
        listener(name, fn, True, False)
    for name, fn in list(_FUNCTIONS.items()):
        listener(name, fn, False, True)


class Op:
    """One differentiable operation: a numpy forward and a Tensor-level VJP.

    ``forward(ctx, *arrays, **params) -> array`` sees numpy arrays. The VJP,
    registered with ``@op.defvjp`` as ``vjp(ctx, grad_out) -> tuple``, returns
    one gradient per input (a Tensor, or None for inputs that need none), of
    the input's shape or one it broadcasts to (the engine sums that away).

    ``saves`` names what the VJP reads of the values the op ran on (input
    positions and/or ``"out"``): changing one in place before the backward
    makes the backward raise. The default, ``"all"``, is the safe choice.

    ``kernel`` is the one hook for fast implementations (set by
    tinygrad_cnn.kernels): ``forward(ctx, *arrays, **params)`` and an
    array-level ``vjp(ctx, grad_out_array)``, either None or returning
    ``NotImplemented`` to leave a case to the reference. The kernel's VJP runs
    only under ``create_graph=False``; otherwise the reference VJP runs, after
    the reference forward is replayed if the kernel's forward ran.
    """

    kernel = None

    def __init__(self, name: str, forward: Callable, spec=None, broadcast: bool = False, saves="all"):
        self.name = name
        self.forward = forward
        self.vjp_fn: Callable | None = None
        self.spec = spec
        self.broadcast = broadcast
        self.saves_inputs = None if saves == "all" else tuple(s for s in saves if s != "out")
        self.saves_output = saves == "all" or "out" in saves
        functools.update_wrapper(self, forward)

    def defvjp(self, fn: Callable) -> Callable:
        """Decorator: register ``fn(ctx, grad_out)`` as this op's VJP."""
        self.vjp_fn = fn
        return fn

    def variant(self, fn: Callable | None = None, *, method: bool = True, function: bool = True,
                name: str | None = None):
        """Decorator: publish ``fn(input, ...)`` as this op's method variant
        ``Tensor.<name>`` and/or function variant ``tinygrad_cnn.<name>``
        (see tinygrad_cnn.registry)."""
        def publish(fn):
            add_variant(name or self.name, fn, method=method, function=function)
            return fn
        return publish(fn) if fn is not None else publish

    def __call__(self, *inputs, **params):
        return _apply(self, *inputs, **params)

    def __repr__(self):
        return f"<op {self.name}>"


def _generated_variant(op: Op):
    """``op(input, *others)`` as a function; two operands are mixed to a common
    dtype as PyTorch mixes them (``int_tensor * 0.5`` is float32)."""
    def variant(input, *others):
        if not isinstance(input, _Tensor):
            input = _Tensor(input)
        if len(others) == 1:
            return _apply(op, *input._operands(others[0]))
        return _apply(op, input, *others)
    variant.__name__ = op.name
    variant.__doc__ = op.forward.__doc__
    return variant


def defop(name: str, spec=None, broadcast: bool = False, replace: bool = False,
          saves="all", method: bool = False, function: bool = False):
    """Decorator that registers a forward function as the op ``name``.

    >>> @defop("softplus", method=True, function=True)
    ... def softplus(ctx, x):
    ...     return np.logaddexp(0, x)
    >>> @softplus.defvjp
    ... def softplus_vjp(ctx, grad_out):
    ...     return (grad_out * ctx.inputs[0].sigmoid(),)

    ``softplus(tensor)`` then records the op like any built-in one;
    ``method=True`` adds the variant ``tensor.softplus()``, ``function=True``
    ``tinygrad_cnn.softplus(tensor)``; ops with options publish their own
    with ``@op.variant``. ``broadcast=True`` marks elementwise ops whose inputs
    broadcast (shape errors then speak of broadcasting); ``saves``: see
    :class:`Op`; ``spec``: how ``tinygrad_cnn.testing`` draws inputs for it.
    """
    check_free(name, replace)

    def decorator(forward):
        op = Op(name, forward, spec=spec, broadcast=broadcast, saves=saves)
        register(op, replace=True)
        if method or function:
            add_variant(name, _generated_variant(op), method=method, function=function)
        return op
    return decorator
