"""Turning a list of dataset items into one batch: PyTorch's ``default_collate``
(and ``default_convert``, used when a DataLoader does not batch).

    default_collate([(image0, 3), (image1, 7)])
    # -> [Tensor (2, *image.shape), Tensor([3, 7]) int64]

Rules, as in PyTorch: Tensors and numpy arrays are stacked along a new first
dimension (keeping their dtype); Python ints become an int64 Tensor, Python
floats a **float64** Tensor, bools a bool Tensor, numpy scalars a Tensor of
their dtype; strings are returned as a list; dicts, tuples, lists and
namedtuples are collated field by field (a tuple gives a list, as PyTorch does).
"""
import collections.abc

import numpy as np

from ..tensor import Tensor

_COLLATE_TYPES = "tensors, numpy arrays, numbers, dicts or lists"


def _is_namedtuple(value) -> bool:
    return isinstance(value, tuple) and hasattr(value, "_fields")


def _stack(arrays, who: str) -> np.ndarray:
    first = arrays[0].shape
    for position, array in enumerate(arrays):
        if array.shape != first:
            raise RuntimeError(f"{who}: stack expects each tensor to be equal size, but got "
                               f"{list(first)} at entry 0 and {list(array.shape)} at entry "
                               f"{position}")
    return np.stack(arrays)


def _check_numeric(dtype: np.dtype, who: str) -> None:
    if dtype.kind in "OSUV":
        raise TypeError(f"{who}: batch must contain {_COLLATE_TYPES}; found numpy arrays "
                        f"of dtype {dtype}")


def default_collate(batch):
    """Collate a list of items (all of the same structure) into one batch.

    Args:
        batch: a non-empty list of items: Tensors, numpy arrays, numbers,
            strings, or dicts / tuples / lists / namedtuples of these.

    Returns:
        The batch: each Tensor or array leaf becomes one Tensor ``(B, *leaf.shape)``,
        numbers a Tensor ``(B,)``; containers keep their structure (tuples become lists).
    """
    if len(batch) == 0:
        raise ValueError("default_collate: got an empty batch")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return Tensor(_stack([item.data for item in batch], "default_collate"))
    if isinstance(elem, np.ndarray):
        _check_numeric(elem.dtype, "default_collate")
        return Tensor(_stack([np.asarray(item) for item in batch], "default_collate"))
    if isinstance(elem, np.generic):
        _check_numeric(elem.dtype, "default_collate")
        return Tensor(np.array(batch))
    if isinstance(elem, float):
        return Tensor(np.array(batch, dtype=np.float64))
    if isinstance(elem, int):  # bool included: a bool Tensor
        values = np.array(batch)
        if values.dtype.kind == "f":  # ints mixed with floats: PyTorch's default float
            return Tensor(values.astype(np.float32))
        return Tensor(values if values.dtype == bool else values.astype(np.int64))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        collated = {key: default_collate([item[key] for item in batch]) for key in elem}
        try:
            return type(elem)(collated)
        except TypeError:  # a mapping type that cannot be built from a dict
            return collated
    if _is_namedtuple(elem):
        return type(elem)(*(default_collate(list(field)) for field in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(item) != size for item in batch):
            raise RuntimeError("default_collate: each element in list of batch should be of "
                               "equal size")
        fields = [default_collate(list(field)) for field in zip(*batch)]
        if isinstance(elem, (tuple, list)):
            return fields
        try:
            return type(elem)(fields)
        except TypeError:  # e.g. range
            return fields
    raise TypeError(f"default_collate: batch must contain {_COLLATE_TYPES}; "
                    f"found {type(elem)}")


def default_convert(data):
    """What a DataLoader with ``batch_size=None`` does to each item: numpy arrays
    (and numpy scalars) become Tensors, containers are converted field by field
    (tuples become lists), everything else is returned unchanged."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, (np.ndarray, np.generic)):
        return data if data.dtype.kind in "OSUV" else Tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        converted = {key: default_convert(value) for key, value in data.items()}
        try:
            return type(data)(converted)
        except TypeError:
            return converted
    if _is_namedtuple(data):
        return type(data)(*(default_convert(field) for field in data))
    if isinstance(data, tuple):
        return [default_convert(field) for field in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        converted = [default_convert(field) for field in data]
        try:
            return type(data)(converted)
        except TypeError:
            return converted
    return data
