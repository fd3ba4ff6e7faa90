"""Samplers: the order in which a DataLoader visits a dataset (PyTorch's
``torch.utils.data`` samplers), and the generator that shuffles it.

A sampler yields dataset indices as Python ints, as PyTorch's do. The
sequential and random samplers also hand the DataLoader a whole epoch's order
as one int64 array (``_order()``), so that batches are cut from it with slices
instead of Python loops.
"""
import math

import numpy as np

from ..random import numpy_generator

_rng = np.random.default_rng()


def seed(value: int) -> None:
    """Reseed the generator that shuffles and splits data when no generator is given.

    ``tinygrad_cnn.manual_seed`` calls this, so one seed fixes a whole run.
    """
    global _rng
    _rng = np.random.default_rng(value)


def _follow_manual_seed() -> None:
    """Tie this module's generator to ``tinygrad_cnn.manual_seed``.

    manual_seed may already have run before this module was imported; starting
    from the core generator's seed gives the same shuffles either way.
    """
    global _rng
    from .. import random as core_random
    core_random.on_seed(seed)
    bit_generator = core_random.generator().bit_generator
    # "seed_seq" is public from numpy 1.25; older versions call it "_seed_seq".
    seed_sequence = getattr(bit_generator, "seed_seq", None) or \
        getattr(bit_generator, "_seed_seq", None)
    if seed_sequence is not None and not seed_sequence.spawn_key:
        _rng = np.random.default_rng(seed_sequence.entropy)


_follow_manual_seed()


def data_generator(generator=None, who: str = "data") -> np.random.Generator:
    """The numpy generator to draw from: ``generator`` itself, or (for ``None``)
    this module's generator as it is now (reseeded by ``manual_seed``)."""
    return numpy_generator(generator, who, default=_rng)


def _check_positive_int(value, name: str, who: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{who}: {name} should be a positive integer value, but got "
                         f"{name}={value!r}")
    return int(value)


class Sampler:
    """Base class: iterating over a sampler yields dataset indices."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class SequentialSampler(Sampler):
    """``0, 1, ..., len(data_source) - 1``, in order."""

    def __init__(self, data_source):
        self.data_source = data_source

    def _order(self) -> np.ndarray:
        return np.arange(len(self.data_source), dtype=np.int64)

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random order of the dataset's indices, new at every iteration.

    Args:
        data_source: the dataset (only its ``len()`` is used).
        replacement: draw ``num_samples`` indices with replacement instead of a permutation.
        num_samples: how many indices per epoch (default ``len(data_source)``);
            more than that without replacement chains several permutations, as PyTorch does.
        generator: a ``numpy.random.Generator``; ``None`` draws from the data
            generator that ``tinygrad_cnn.manual_seed`` reseeds, looked up at each epoch.
    """

    def __init__(self, data_source, replacement: bool = False, num_samples=None, generator=None):
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement should be a boolean value, "
                            f"got {replacement!r}")
        if num_samples is not None:
            _check_positive_int(num_samples, "num_samples", "RandomSampler")
        data_generator(generator, "RandomSampler")  # type check now, not at the first epoch
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else int(self._num_samples)

    def _order(self) -> np.ndarray:
        rng = data_generator(self.generator, "RandomSampler")
        total, count = len(self.data_source), self.num_samples
        if self.replacement:
            return rng.integers(0, total, size=count, dtype=np.int64)
        rounds = math.ceil(count / total) if total else 0
        order = np.concatenate([rng.permutation(total) for _ in range(rounds)]) if rounds else \
            np.zeros(0, np.int64)
        return order[:count].astype(np.int64, copy=False)

    def __iter__(self):
        return iter(self._order().tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a random order, new at every iteration."""

    def __init__(self, indices, generator=None):
        data_generator(generator, "SubsetRandomSampler")
        self.indices = indices
        self.generator = generator

    def _order(self) -> np.ndarray:
        rng = data_generator(self.generator, "SubsetRandomSampler")
        indices = np.asarray(self.indices, dtype=np.int64)
        return indices[rng.permutation(len(indices))]

    def __iter__(self):
        return iter(self._order().tolist())

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probabilities proportional to
    ``weights`` (which need not sum to 1), new at every iteration: the usual
    way to balance classes (weight each sample by 1 / its class's count).

    Args:
        weights: one non-negative weight per dataset index (a sequence or 1-D tensor).
        num_samples: how many indices per epoch.
        replacement: draw with replacement (default); without it each index
            appears at most once (zero weights only after all the others).
        generator: a ``numpy.random.Generator``; ``None`` draws from the data
            generator that ``tinygrad_cnn.manual_seed`` reseeds.
    """

    def __init__(self, weights, num_samples: int, replacement: bool = True, generator=None):
        name = "WeightedRandomSampler"
        _check_positive_int(num_samples, "num_samples", name)
        if not isinstance(replacement, bool):
            raise ValueError(f"{name}: replacement should be a boolean value, but got "
                             f"replacement={replacement!r}")
        weights = np.asarray(getattr(weights, "data", weights), dtype=np.float64)
        if weights.ndim != 1:
            raise ValueError(f"{name}: weights should be a 1d sequence but given weights have shape "
                             f"{tuple(weights.shape)}")
        if not np.isfinite(weights).all() or (weights < 0).any() or weights.sum() <= 0:
            raise RuntimeError(f"{name}: invalid distribution: weights must be finite, non-negative "
                               f"and not all zero, got {weights.tolist() if weights.size <= 10 else weights}")
        if not replacement and num_samples > len(weights):
            raise RuntimeError(f"{name}: cannot draw {num_samples} samples without replacement from "
                               f"{len(weights)} weights")
        data_generator(generator, name)
        self.weights = weights
        self.num_samples = int(num_samples)
        self.replacement = replacement
        self.generator = generator

    def _order(self) -> np.ndarray:
        rng = data_generator(self.generator, "WeightedRandomSampler")
        weights, count = self.weights, self.num_samples
        nonzero = np.flatnonzero(weights)
        if self.replacement or count <= len(nonzero):
            chosen = rng.choice(len(weights), size=count, replace=self.replacement, p=weights / weights.sum())
        else:
            # as PyTorch: once the non-zero weights are used up, the zero ones follow in random order
            zero = np.flatnonzero(weights == 0)
            chosen = np.concatenate([rng.choice(len(weights), size=len(nonzero), replace=False,
                                                p=weights / weights.sum()),
                                     rng.permutation(zero)[:count - len(nonzero)]])
        return chosen.astype(np.int64, copy=False)

    def __iter__(self):
        return iter(self._order().tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size``.

    The last list may be shorter, unless ``drop_last`` drops it.
    """

    def __init__(self, sampler, batch_size: int, drop_last: bool):
        self.batch_size = _check_positive_int(batch_size, "batch_size", "BatchSampler")
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a boolean value, but got "
                             f"drop_last={drop_last!r}")
        self.sampler = sampler
        self.drop_last = drop_last

    def _index_batches(self):
        """Batches as int64 arrays (slices of one epoch order) when the sampler can
        give its order whole, else as lists of whatever its iterator yields."""
        order_of = getattr(self.sampler, "_order", None)
        if order_of is not None:
            order = order_of()
            stop = len(order) - len(order) % self.batch_size if self.drop_last else len(order)
            for start in range(0, stop, self.batch_size):
                yield order[start:start + self.batch_size]
            return
        batch = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __iter__(self):
        for batch in self._index_batches():
            yield batch.tolist() if isinstance(batch, np.ndarray) else batch

    def __len__(self) -> int:
        count = len(self.sampler) / self.batch_size
        return math.floor(count) if self.drop_last else math.ceil(count)
