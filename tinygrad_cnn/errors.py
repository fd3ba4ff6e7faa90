"""The exception class of shape errors.

PyTorch raises ``RuntimeError`` when shapes do not fit (a matmul's inner
sizes, a conv's channels, a reshape's element count, broadcasting); numpy,
and earlier versions of this package, raise ``ValueError``. ``ShapeError``
is both, so ``except RuntimeError`` written for PyTorch and ``except
ValueError`` written for numpy (or for this package before) both catch it;
its messages name the op, what it got and what it expected.
"""

__all__ = ["ShapeError"]


class ShapeError(ValueError, RuntimeError):
    """Shapes that do not fit an op: a RuntimeError as in PyTorch, and a ValueError."""
