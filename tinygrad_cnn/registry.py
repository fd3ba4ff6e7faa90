"""The op registry (name -> Op) and the variants published from it.

A *variant* is PyTorch's word for the public forms of one op: the *method
variant* ``Tensor.exp`` and the *function variant* ``tinygrad_cnn.exp``.
An op (``engine.defop``) is registered here once by name; which variants it
has is declared at registration (``method=True``, ``function=True``) or with
``@op.variant`` for an op whose variant takes options. The variants are not
written by hand in tensor.py or the package: listeners install them
(``Tensor.<name>`` for methods, ``tinygrad_cnn.<name>`` for functions).

This module imports nothing from the package, so everything can use it.
"""
from __future__ import annotations

from typing import Callable

__all__ = ["get_op", "registered_ops", "add_variant", "on_variant"]

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
