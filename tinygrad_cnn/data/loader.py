"""DataLoader: PyTorch's ``torch.utils.data.DataLoader``, vectorised for
in-memory datasets, plus this project's ``normalize=`` and ``seed=`` options."""
import numpy as np

from ..tensor import Tensor
from .collate import default_collate, default_convert
from .dataset import get_batch
from .datasets import to_float32
from .sampler import BatchSampler, RandomSampler, SequentialSampler, seed  # noqa: F401


def get_worker_info():
    """Always ``None``: batches are loaded in the main process (see ``num_workers``)."""
    return None


class DataLoader:
    """Iterate over a dataset in collated batches, as PyTorch's DataLoader does.

    Args:
        dataset: anything with ``__len__`` and ``__getitem__``. Datasets that hold
            their items in memory (:class:`ImageDataset`, :class:`TensorDataset`,
            ``vision.datasets.MNIST`` with known transforms, and :class:`Subset` s
            of them) give each batch with one fancy index instead of one
            ``__getitem__`` per item (same values), when ``collate_fn`` is the default.
        batch_size: items per batch (the last may be smaller); ``None`` yields
            items one by one, converted by ``default_convert`` (numpy -> Tensor).
        shuffle: a new random order every epoch (``RandomSampler``).
        sampler: an iterable of indices (exclusive with ``shuffle``).
        batch_sampler: an iterable of index lists (exclusive with ``batch_size``,
            ``shuffle``, ``sampler`` and ``drop_last``).
        num_workers: accepted for compatibility; batches are always loaded in
            this process (``worker_init_fn`` is not called).
        collate_fn: list of items -> batch; default :func:`default_collate`.
        pin_memory, timeout, prefetch_factor, persistent_workers, ...: accepted
            for compatibility, no effect.
        drop_last: skip a last, incomplete batch.
        generator: a ``numpy.random.Generator`` for shuffling. Without it (and
            without ``seed``) shuffling draws from the data generator that
            ``tinygrad_cnn.manual_seed`` reseeds.
        seed: (this project) the seed of the loader's own shuffling generator:
            the sequence of epoch orders is then the same on every run.
        normalize: (this project) ``None`` or ``(mean, std)``: the batch's first
            field (the images) is turned into float32 NCHW (uint8 scaled to
            [0, 1], a channel axis added to (B, H, W)) and normalised.

    Yields:
        ``collate_fn([dataset[i] for i in batch_indices])``; for ``(image, label)``
        items a list ``[images (B, ...), labels int64 (B,)]``.
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers: int = 0, collate_fn=None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None,
                 persistent_workers: bool = False, pin_memory_device: str = "",
                 in_order: bool = True, seed: int | None = None, normalize=None):
        if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)) \
                or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers option should be a non-negative int; "
                             f"use num_workers=0 to disable multiprocessing (got {num_workers!r})")
        if timeout < 0:
            raise ValueError(f"DataLoader: timeout option should be non-negative, got {timeout}")
        if seed is not None:
            if generator is not None:
                raise ValueError("DataLoader: pass generator or seed, not both")
            generator = np.random.default_rng(seed)
        if normalize is not None:
            mean, std = normalize
            if not std > 0:
                raise ValueError(f"DataLoader: normalize std must be positive, got {std}")

        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with "
                                 "batch_size, shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None option disables auto-batching and is "
                             "mutually exclusive with drop_last")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else \
                SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, bool(drop_last))

        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = bool(drop_last)
        self.shuffle = bool(shuffle)
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = int(num_workers)
        self.collate_fn = collate_fn if collate_fn is not None else \
            (default_convert if batch_sampler is None else default_collate)
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.generator = generator
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self.pin_memory_device = pin_memory_device
        self.in_order = in_order
        self.normalize = normalize

    def __len__(self) -> int:
        """Number of batches per epoch (items, with ``batch_size=None``)."""
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)

    def __iter__(self):
        if self.batch_sampler is None:  # no automatic batching
            for index in self.sampler:
                yield self._finish(self.collate_fn(self.dataset[index]))
            return
        batches = self.batch_sampler._index_batches() \
            if isinstance(self.batch_sampler, BatchSampler) else iter(self.batch_sampler)
        vectorise = self.collate_fn is default_collate
        for indices in batches:
            batch = NotImplemented
            if vectorise:
                index_array = np.asarray(indices)
                if index_array.ndim == 1 and index_array.dtype.kind in "iu" and len(index_array):
                    batch = get_batch(self.dataset, index_array.astype(np.int64, copy=False))
            if batch is NotImplemented:
                positions = indices.tolist() if isinstance(indices, np.ndarray) else indices
                batch = self.collate_fn([self.dataset[position] for position in positions])
            yield self._finish(batch)

    def _finish(self, batch):
        if self.normalize is None:
            return batch
        if isinstance(batch, (list, tuple)) and batch:
            images = batch[0]
            normalized = Tensor(to_float32(getattr(images, "data", images), self.normalize))
            rest = list(batch[1:])
            return [normalized, *rest] if isinstance(batch, list) else (normalized, *rest)
        return Tensor(to_float32(getattr(batch, "data", batch), self.normalize))

    def __repr__(self) -> str:
        return (f"DataLoader({self.dataset!r}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, {len(self)} batches)")
