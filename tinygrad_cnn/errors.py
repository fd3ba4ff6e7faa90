"""The exception classes of shape errors and of class labels out of range.

PyTorch raises ``RuntimeError`` when shapes do not fit (a matmul's inner
sizes, a conv's channels, a reshape's element count, broadcasting); numpy,
and earlier versions of this package, raise ``ValueError``. ``ShapeError``
is both, so ``except RuntimeError`` written for PyTorch and ``except
ValueError`` written for numpy (or for this package before) both catch it;
its messages name the op, what it got and what it expected. ``LabelError``
does the same for a class label outside [0, C) (PyTorch: ``IndexError``), and
``ArgumentError`` for a bad setting where PyTorch raises ``RuntimeError``
(``set_num_threads(0)``).
"""

__all__ = ["ShapeError", "LabelError", "ArgumentError"]


class ShapeError(ValueError, RuntimeError):
    """Shapes that do not fit an op: a RuntimeError as in PyTorch, and a ValueError."""


class LabelError(ValueError, IndexError):
    """A class label out of range for a loss: an IndexError as in PyTorch, and a ValueError."""


class ArgumentError(ValueError, RuntimeError):
    """A bad argument where PyTorch raises RuntimeError: a RuntimeError, and a ValueError."""
