"""The op registry's contents. Importing this package registers every
built-in op; each module keeps an op's forward and its VJP side by side."""
from . import elementwise, movement, reduce, linalg, conv, pool, loss, norm, activation, compare, composite  # noqa: F401  (registration)
