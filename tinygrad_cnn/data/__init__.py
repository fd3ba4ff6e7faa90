"""Data: IDX files, MNIST / Fashion-MNIST (local or downloaded), the MNIST
sample shipped in the package, and a vectorised DataLoader.

    from tinygrad_cnn.data import MNISTSample, DataLoader, random_split
    train, val = random_split(MNISTSample(train=True), [0.9, 0.1])
    for images, labels in DataLoader(train, batch_size=100, shuffle=True,
                                     normalize=(0.1307, 0.3081)):
        ...  # images: float32 Tensor (100, 1, 28, 28), labels: int64 Tensor (100,)

Needs only numpy and the standard library (tqdm, if installed, draws download
progress bars).
"""
from .datasets import (  # noqa: F401
    MNIST, MNIST_MEAN, MNIST_STD, FashionMNIST, ImageDataset, MNISTSample, Subset, cache_dir,
    load_dataset, random_split,
)
from .fetch import ChecksumError, DownloadError, download, file_digest  # noqa: F401
from .idx import read_idx, write_idx  # noqa: F401
from .loader import DataLoader, seed, to_float32  # noqa: F401

__all__ = [
    "MNIST", "FashionMNIST", "MNISTSample", "ImageDataset", "Subset", "load_dataset",
    "random_split", "cache_dir", "MNIST_MEAN", "MNIST_STD",
    "download", "file_digest", "DownloadError", "ChecksumError",
    "read_idx", "write_idx",
    "DataLoader", "seed", "to_float32",
]
