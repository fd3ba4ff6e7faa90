"""PyTorch's dataset classes: ``Dataset``, ``TensorDataset``, ``ConcatDataset``,
``Subset`` and ``random_split``.

A dataset is anything with ``__len__`` and ``__getitem__(index) -> item``.
The classes here (and :class:`~tinygrad_cnn.data.ImageDataset` and the vision
datasets) also have ``_get_batch(indices)``: the collated batch of the items at
an int64 index array, cut from in-memory arrays with one fancy index. It must
equal ``default_collate([dataset[i] for i in indices])``; the DataLoader uses it
when it collates with ``default_collate``, and falls back to item-by-item
loading when it returns ``NotImplemented`` (e.g. when a subclass overrides
``__getitem__``, whose behaviour the batch path would otherwise skip).
"""
import bisect
import math
import operator
import warnings

import numpy as np

from ..tensor import Tensor
from .sampler import data_generator


def overrides_getitem(dataset, base: type) -> bool:
    """Whether ``type(dataset)`` replaces ``base.__getitem__`` (then a vectorised
    ``_get_batch`` written for ``base`` does not describe its items)."""
    return type(dataset).__getitem__ is not base.__getitem__


def get_batch(dataset, indices: np.ndarray):
    """``default_collate([dataset[i] for i in indices])`` via ``dataset._get_batch``,
    or ``NotImplemented`` when the dataset cannot batch itself."""
    getter = getattr(dataset, "_get_batch", None)
    return NotImplemented if getter is None else getter(indices)


class Dataset:
    """Base class of map-style datasets: define ``__getitem__`` and ``__len__``.

    ``dataset_a + dataset_b`` is a :class:`ConcatDataset`.
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__}: subclasses of Dataset should "
                                  f"implement __getitem__")

    def __add__(self, other):
        return ConcatDataset([self, other])


def _as_tensor(value, position: int) -> Tensor:
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        return Tensor(value)
    raise TypeError(f"TensorDataset: argument {position} must be a Tensor or a numpy array, "
                    f"got {type(value).__name__}")


class TensorDataset(Dataset):
    """Items are rows of tensors that share their first dimension.

    ``TensorDataset(images, labels)`` with images (N, C, H, W) and labels (N,)
    has ``len() == N`` and ``dataset[i] == (images[i], labels[i])`` (Tensors).
    Batches are cut with one fancy index per tensor.
    """

    def __init__(self, *tensors):
        self.tensors = tuple(_as_tensor(tensor, position) for position, tensor in enumerate(tensors))
        if any(tensor.ndim == 0 for tensor in self.tensors):
            raise ValueError("TensorDataset: every tensor needs a first dimension, got shapes "
                             f"{[tensor.shape for tensor in self.tensors]}")
        sizes = [tensor.shape[0] for tensor in self.tensors]
        if len(set(sizes)) > 1:
            raise ValueError(f"TensorDataset: size mismatch between tensors: first dimensions "
                             f"{sizes} (shapes {[tensor.shape for tensor in self.tensors]})")

    def __getitem__(self, index):
        return tuple(Tensor(tensor.data[index]) for tensor in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0] if self.tensors else 0

    def _get_batch(self, indices: np.ndarray):
        if overrides_getitem(self, TensorDataset):
            return NotImplemented
        # default_collate turns each item's tuple into a list of stacked fields.
        return [Tensor(tensor.data[indices]) for tensor in self.tensors]


class ConcatDataset(Dataset):
    """The items of several datasets, one after the other."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        sizes = [len(dataset) for dataset in self.datasets]
        self.cumulative_sizes = np.cumsum(sizes).tolist()

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        index = operator.index(index)
        if index < 0:
            if -index > len(self):
                raise IndexError(f"ConcatDataset: index {index} out of range for "
                                 f"{len(self)} items")
            index += len(self)
        part = bisect.bisect_right(self.cumulative_sizes, index)
        if part == len(self.datasets):
            raise IndexError(f"ConcatDataset: index {index} out of range for {len(self)} items")
        start = self.cumulative_sizes[part - 1] if part > 0 else 0
        return self.datasets[part][index - start]


class Subset(Dataset):
    """The items of ``dataset`` at ``indices``, in that order (PyTorch's ``Subset``).

    ``subset[i]`` is ``dataset[indices[i]]``. When ``dataset`` can cut
    batches from in-memory arrays, so can the subset (one fancy index through
    both). ``images``, ``labels`` and ``classes`` are those of the selected
    items when ``dataset`` has them (an :class:`ImageDataset`).
    """

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices
        array = self._index_array()
        if array.ndim != 1:
            raise ValueError(f"Subset: indices must be 1-D, got shape {array.shape}")
        total = len(dataset)
        if len(array) and (array.min() < -total or array.max() >= total):
            raise IndexError(f"Subset: indices out of range for a dataset of {total} items "
                             f"(got {array.min()} .. {array.max()})")

    def _index_array(self) -> np.ndarray:
        # Cached: converting a 60,000-entry list costs milliseconds, far more than a batch.
        if getattr(self, "_cached_for", None) is not self.indices:
            array = np.asarray(self.indices)
            if array.dtype.kind not in "iu":
                if array.size:
                    raise TypeError(f"Subset: indices must be integers, got dtype {array.dtype}")
                array = array.astype(np.int64)
            self._cached_array, self._cached_for = array.astype(np.int64, copy=False), self.indices
        return self._cached_array

    def __getitem__(self, index):
        if isinstance(index, list):
            return self.dataset[[self.indices[position] for position in index]]
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)

    def _get_batch(self, indices: np.ndarray):
        if overrides_getitem(self, Subset):
            return NotImplemented
        return get_batch(self.dataset, self._index_array()[indices])

    @property
    def images(self) -> np.ndarray:
        return self.dataset.images[self._index_array()]

    @property
    def labels(self) -> np.ndarray:
        return self.dataset.labels[self._index_array()]

    @property
    def classes(self) -> list:
        return self.dataset.classes


def _split_lengths(lengths, total: int) -> list:
    """PyTorch's rule: fractions when they sum to 1 (floor of each share, the
    remainder handed out one by one from the first split on), else lengths."""
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths is empty")
    for position, length in enumerate(lengths):
        if isinstance(length, bool) or not isinstance(length, (int, float, np.integer, np.floating)):
            raise TypeError(f"random_split: lengths must be ints or fractions, got "
                            f"{length!r} at index {position}")
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        counts = []
        for position, fraction in enumerate(lengths):
            if not 0 <= fraction <= 1:
                raise ValueError(f"random_split: fraction at index {position} is not between "
                                 f"0 and 1: {fraction}")
            counts.append(int(math.floor(total * fraction)))
        for step in range(total - sum(counts)):
            counts[step % len(counts)] += 1
        for position, count in enumerate(counts):
            if count == 0:
                warnings.warn(f"Length of split at index {position} is 0. This might result "
                              f"in an empty dataset.", stacklevel=3)
        return counts
    if any(int(length) != length or length < 0 for length in lengths):
        raise ValueError(f"random_split: lengths {lengths} are neither non-negative ints nor "
                         f"fractions summing to 1 (they sum to {sum(lengths)})")
    counts = [int(length) for length in lengths]
    if sum(counts) != total:
        raise ValueError(f"random_split: lengths {counts} sum to {sum(counts)}, but the "
                         f"dataset has {total} items (or give fractions summing to 1)")
    return counts


def random_split(dataset, lengths, generator=None, *, seed: int | None = None) -> list:
    """Split ``dataset`` into disjoint random :class:`Subset` s.

    Args:
        dataset: any dataset with ``__len__``.
        lengths: lengths summing to ``len(dataset)``, e.g. ``[54000, 6000]``, or
            fractions summing to 1, e.g. ``[0.9, 0.1]`` (each split gets the floor
            of its share; the items left over go one each to the first splits).
        generator: a ``numpy.random.Generator`` to draw the permutation from;
            by default the data generator that ``tinygrad_cnn.manual_seed`` reseeds.
        seed: instead of ``generator``: the seed of a fresh generator, so the
            split is the same on every run whatever else was drawn.

    Returns:
        A list of :class:`Subset`, one per entry of ``lengths``; their
        ``indices`` are lists of ints.
    """
    if seed is not None and generator is not None:
        raise ValueError("random_split: pass generator or seed, not both")
    counts = _split_lengths(lengths, len(dataset))
    rng = np.random.default_rng(seed) if seed is not None else \
        data_generator(generator, "random_split")
    order = rng.permutation(sum(counts)).tolist()
    bounds = np.cumsum([0] + counts).tolist()
    return [Subset(dataset, order[start:stop]) for start, stop in zip(bounds[:-1], bounds[1:])]
