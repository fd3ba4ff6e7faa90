"""Batching: DataLoader, the float conversion of images, and the shuffling seed."""
import math

import numpy as np

from ..tensor import Tensor

_rng = np.random.default_rng()


def seed(value: int) -> None:
    """Reseed the generator that DataLoaders without their own ``seed`` shuffle with.

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
    try:
        from tinygrad_cnn import random as core_random
    except ImportError:  # the core is not there (yet): keep an unseeded generator
        return
    core_random.on_seed(seed)
    bit_generator = core_random.generator().bit_generator
    # "seed_seq" is public from numpy 1.25; older versions call it "_seed_seq".
    seed_sequence = getattr(bit_generator, "seed_seq", None) or \
        getattr(bit_generator, "_seed_seq", None)
    if seed_sequence is not None and not seed_sequence.spawn_key:
        _rng = np.random.default_rng(seed_sequence.entropy)


_follow_manual_seed()


def to_float32(images, normalize=None) -> np.ndarray:
    """Turn a batch of images into float32 NCHW, the layout the model takes.

    Args:
        images: uint8 (N, H, W) or (N, C, H, W), scaled from [0, 255] to [0, 1];
            or already floating point, which is taken to be in [0, 1].
        normalize: ``None`` or ``(mean, std)``: ``(x - mean) / std`` after scaling,
            e.g. ``(0.1307, 0.3081)`` for MNIST.

    Returns:
        float32 array (N, C, H, W) (C = 1 for (N, H, W) input), a new array.
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[:, None]
    scale, offset = np.float32(1.0), np.float32(0.0)
    if images.dtype == np.uint8:
        scale = np.float32(1 / 255)
    if normalize is not None:
        mean, std = normalize
        # Fold scaling and normalisation into one multiply-add, computed in float32.
        scale = np.float32(scale / np.float32(std))
        offset = np.float32(-np.float32(mean) / np.float32(std))
    batch = images.astype(np.float32)  # always a copy, so in-place ops below are safe
    if scale != 1:
        batch *= scale
    if offset != 0:
        batch += offset
    return batch


class DataLoader:
    """Iterate over a dataset in batches of ``(images, labels)``.

    Args:
        dataset: an :class:`~tinygrad_cnn.data.ImageDataset` (or anything with
            ``images``/``labels`` arrays, batched with one fancy index per batch),
            or any object with ``__len__`` and ``__getitem__`` returning
            ``(image, label)`` (items stacked one by one: slower).
        batch_size: items per batch; the last batch may be smaller.
        shuffle: visit the items in a new random order every epoch.
        drop_last: skip a last, incomplete batch.
        seed: seed of this loader's own generator: the sequence of epoch orders
            is then the same on every run. Without it, shuffling draws from the
            module generator that :func:`seed` (and ``tinygrad_cnn.manual_seed``) reseeds.
        normalize: ``None`` or ``(mean, std)``, applied in float32.

    Yields:
        ``(images, labels)``: images a float32 Tensor (B, C, H, W) (C = 1 for
        MNIST), labels an int64 Tensor (B,).
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, seed: int | None = None, normalize=None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if normalize is not None:
            mean, std = normalize
            if not std > 0:
                raise ValueError(f"DataLoader: normalize std must be positive, got {std}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.normalize = normalize
        self._rng = np.random.default_rng(seed) if seed is not None else None

    def __len__(self) -> int:
        """Number of batches per epoch."""
        count = len(self.dataset) / self.batch_size
        return math.floor(count) if self.drop_last else math.ceil(count)

    def _order(self):
        if not self.shuffle:
            return None
        # Looked up at each epoch, so a seed() after construction still applies.
        rng = self._rng if self._rng is not None else _rng
        return rng.permutation(len(self.dataset))

    def __iter__(self):
        images = getattr(self.dataset, "images", None)
        labels = getattr(self.dataset, "labels", None)
        vectorised = isinstance(images, np.ndarray) and isinstance(labels, np.ndarray)
        order = self._order()
        total = len(self.dataset)
        stop = total - total % self.batch_size if self.drop_last else total
        for start in range(0, stop, self.batch_size):
            end = min(start + self.batch_size, stop)
            # Unshuffled batches are slices (views), shuffled ones one fancy index.
            index = slice(start, end) if order is None else order[start:end]
            if vectorised:
                batch_images = to_float32(images[index], self.normalize)
                batch_labels = np.array(labels[index], dtype=np.int64)
            else:
                batch_images, batch_labels = self._stack(index)
            yield Tensor(batch_images), Tensor(batch_labels)

    def _stack(self, index):
        positions = range(index.start, index.stop) if isinstance(index, slice) else index
        items = [self.dataset[int(position)] for position in positions]
        images = np.stack([np.asarray(image) for image, _ in items])
        labels = np.array([int(label) for _, label in items], dtype=np.int64)
        # Float items (from __getitem__) are taken as already scaled to [0, 1].
        return to_float32(images, self.normalize), labels

    def __repr__(self) -> str:
        return (f"DataLoader({self.dataset!r}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, {len(self)} batches)")
