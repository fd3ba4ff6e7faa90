"""Comparisons, logic and integer division: functions with no gradient. They
give plain tensors (no graph is recorded) and are published as Tensor-method
and ``tinygrad_cnn.*`` function variants, as the ops are."""
import numpy as np

from ..registry import add_variant
from ..tensor import Tensor, _wrap


def _tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _array(x):
    return x.data if isinstance(x, Tensor) else x


def _comparison(ufunc, name):
    def compare(input, other):
        if other is None:                  # ``x == None`` is False, as for any object
            return ufunc is not np.equal
        input = _tensor(input)
        try:
            return _wrap(np.asarray(ufunc(input.data, _array(other))))
        except ValueError:
            raise RuntimeError(f"{ufunc.__name__}: shapes {tuple(input.data.shape)} and "
                               f"{np.shape(_array(other))} do not broadcast") from None
    compare.__name__ = name
    compare.__doc__ = f"``{ufunc.__name__}(input, other)`` elementwise, as a bool tensor."
    return compare


for _names, _ufunc in [(("eq", "__eq__"), np.equal), (("ne", "not_equal", "__ne__"), np.not_equal),
                       (("lt", "less", "__lt__"), np.less), (("le", "less_equal", "__le__"), np.less_equal),
                       (("gt", "greater", "__gt__"), np.greater),
                       (("ge", "greater_equal", "__ge__"), np.greater_equal)]:
    _fn = _comparison(_ufunc, _names[0])
    for _name in _names:
        add_variant(_name, _fn, function=not _name.startswith("__"))


def _elementwise(ufunc, name, method=True, function=True):
    """A no-gradient elementwise function of one tensor and maybe another."""
    def fn(input, *other):
        return _wrap(np.asarray(ufunc(_tensor(input).data, *map(_array, other))))
    fn.__name__ = name
    add_variant(name, fn, method=method, function=function)
    return fn


for _name, _ufunc in [("isnan", np.isnan), ("isinf", np.isinf), ("isfinite", np.isfinite),
                      ("logical_not", np.logical_not), ("logical_and", np.logical_and),
                      ("logical_or", np.logical_or), ("logical_xor", np.logical_xor)]:
    _elementwise(_ufunc, _name)


def _bitwise(logical, bitwise, name):
    """``&``, ``|``, ``^`` and ``~``: logical on bool tensors, bitwise on integers."""
    def fn(input, *other):
        input = _tensor(input)
        ufunc = logical if input.data.dtype == np.bool_ else bitwise
        return _wrap(np.asarray(ufunc(input.data, *map(_array, other))))
    fn.__name__ = name
    return fn


for _names, _logical, _bitwise_ufunc in [(("__and__", "__rand__"), np.logical_and, np.bitwise_and),
                                         (("__or__", "__ror__"), np.logical_or, np.bitwise_or),
                                         (("__xor__", "__rxor__"), np.logical_xor, np.bitwise_xor),
                                         (("__invert__",), np.logical_not, np.invert)]:
    for _name in _names:
        add_variant(_name, _bitwise(_logical, _bitwise_ufunc, _name), function=False)


@add_variant
def equal(input, other) -> bool:
    """Whether both have the same shape and elements."""
    input, other = _tensor(input).data, np.asarray(_array(other))
    return input.shape == other.shape and bool((input == other).all())


@add_variant
def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    return bool(np.allclose(_tensor(input).data, np.asarray(_array(other)), rtol=rtol, atol=atol,
                            equal_nan=equal_nan))


@add_variant
def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> Tensor:
    return _wrap(np.isclose(_tensor(input).data, np.asarray(_array(other)), rtol=rtol, atol=atol,
                            equal_nan=equal_nan))


def _integer_division(ufunc, name):
    def fn(input, other):
        a, b = _tensor(input)._operands(other)      # dtypes mixed as for ``/``
        return _wrap(ufunc(a.data, b.data))
    fn.__name__ = name
    return fn


for _names, _ufunc in [(("floor_divide", "__floordiv__"), np.floor_divide),
                       (("remainder", "__mod__"), np.mod)]:
    _fn = _integer_division(_ufunc, _names[0])
    for _name in _names:
        add_variant(_name, _fn, function=not _name.startswith("__"))
