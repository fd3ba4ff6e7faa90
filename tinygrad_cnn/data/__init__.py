"""Data: IDX files, MNIST / Fashion-MNIST (local or downloaded), the MNIST
sample shipped in the package, and PyTorch's data API (``Dataset``,
``TensorDataset``, ``Subset``, ``random_split``, samplers, ``default_collate``
and a vectorised ``DataLoader``; ``tinygrad_cnn.utils.data`` is the same
module under PyTorch's name).

    from tinygrad_cnn.data import MNISTSample, DataLoader, random_split
    train, val = random_split(MNISTSample(train=True), [0.9, 0.1], seed=0)
    for images, labels in DataLoader(train, batch_size=100, shuffle=True,
                                     normalize=(0.1307, 0.3081)):
        ...  # images: float32 Tensor (100, 1, 28, 28), labels: int64 Tensor (100,)

Needs only numpy and the standard library (tqdm, if installed, draws download
progress bars).
"""
from .collate import default_collate, default_convert  # noqa: F401
from .dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split  # noqa: F401
from .datasets import (  # noqa: F401
    MNIST_MEAN, MNIST_STD, FashionMNISTImages, ImageDataset, MNISTImages, MNISTSample, cache_dir,
    load_dataset, to_float32,
)
from .fetch import ChecksumError, DownloadError, download, file_digest  # noqa: F401
from .idx import read_idx, write_idx  # noqa: F401
from .loader import DataLoader, get_worker_info  # noqa: F401
from .sampler import (  # noqa: F401
    BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler, WeightedRandomSampler, seed,
)

__all__ = [
    "MNISTImages", "FashionMNISTImages", "MNISTSample", "ImageDataset", "load_dataset",
    "cache_dir", "MNIST_MEAN", "MNIST_STD",
    "download", "file_digest", "DownloadError", "ChecksumError",
    "read_idx", "write_idx",
    "Dataset", "TensorDataset", "ConcatDataset", "Subset", "random_split",
    "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler",
    "default_collate", "default_convert", "DataLoader", "get_worker_info", "seed", "to_float32",
]
