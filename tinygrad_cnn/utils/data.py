"""PyTorch's ``torch.utils.data`` under its own name: the datasets, samplers,
collation and DataLoader of :mod:`tinygrad_cnn.data`.

    from tinygrad_cnn.utils.data import DataLoader, TensorDataset, random_split
"""
from ..data.collate import default_collate, default_convert  # noqa: F401
from ..data.dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split  # noqa: F401
from ..data.loader import DataLoader, get_worker_info  # noqa: F401
from ..data.sampler import (  # noqa: F401
    BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler, WeightedRandomSampler,
)

__all__ = [
    "Dataset", "TensorDataset", "ConcatDataset", "Subset", "random_split",
    "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler",
    "default_collate", "default_convert", "DataLoader", "get_worker_info",
]
