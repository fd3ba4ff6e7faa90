"""torchvision's ``MNIST`` and ``FashionMNIST`` datasets.

    from tinygrad_cnn.vision import datasets, transforms
    train = datasets.MNIST("data", train=True, download=True, transform=transforms.ToTensor())
    image, label = train[0]       # float32 Tensor (1, 28, 28) in [0, 1], int

Files are looked for in torchvision's layout, ``root/MNIST/raw/`` (or
``root/FashionMNIST/raw/``), then in ``root`` itself, then where
:mod:`tinygrad_cnn.data` keeps them (its cache directory; Debian's
``/usr/share/datasets/fashion-mnist``); raw or ``.gz``. ``download=True`` fetches
the missing files of the split into ``root/<Class>/raw`` (MD5-checked, written
atomically, kept compressed).

Differences from torchvision:

- Without a ``transform`` an image is a uint8 numpy array (28, 28), not a PIL image.
- ``MNIST`` with no files anywhere, and none downloadable (``download=False``, or
  no network), falls back to the 5,000-digit MNIST sample shipped in the package
  (4,000 train / 1,000 test) with a ``UserWarning``, so tutorials run offline;
  ``sample_fallback=False`` raises torchvision's ``RuntimeError`` instead.
  Fashion-MNIST has no sample and always raises.
"""
import os
import warnings

import numpy as np

from ..data import datasets as _idx_datasets
from ..data.collate import default_collate
from ..data.dataset import Dataset, overrides_getitem
from ..tensor import Tensor
from .transforms import apply_batched


def _array(value) -> np.ndarray:
    return value.data if isinstance(value, Tensor) else np.asarray(value)


class StandardTransform:
    """``transform`` on the input and ``target_transform`` on the target."""

    def __init__(self, transform=None, target_transform=None):
        self.transform = transform
        self.target_transform = target_transform

    def __call__(self, input, target):
        if self.transform is not None:
            input = self.transform(input)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return input, target

    @staticmethod
    def _indented(transform, head: str) -> list:
        lines = repr(transform).splitlines()
        return [head + lines[0]] + [" " * len(head) + line for line in lines[1:]]

    def __repr__(self) -> str:
        body = [type(self).__name__]
        if self.transform is not None:
            body += self._indented(self.transform, "Transform: ")
        if self.target_transform is not None:
            body += self._indented(self.target_transform, "Target transform: ")
        return "\n".join(body)


class VisionDataset(Dataset):
    """Base of the vision datasets: ``root``, the transforms, and torchvision's repr."""

    _repr_indent = 4

    def __init__(self, root=None, transforms=None, transform=None, target_transform=None):
        if isinstance(root, str):
            root = os.path.expanduser(root)
        self.root = root
        separate = transform is not None or target_transform is not None
        if transforms is not None and separate:
            raise ValueError(f"{type(self).__name__}: only transforms or "
                             f"transform/target_transform can be passed as argument")
        self.transform = transform
        self.target_transform = target_transform
        self.transforms = StandardTransform(transform, target_transform) if separate else transforms

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        body = [f"Number of datapoints: {len(self)}"]
        if self.root is not None:
            body.append(f"Root location: {self.root}")
        body += self.extra_repr().splitlines()
        if self.transforms is not None:
            body.append(repr(self.transforms))
        indent = " " * self._repr_indent
        return "\n".join([f"Dataset {type(self).__name__}"] + [indent + line for line in body])


class MNIST(VisionDataset):
    """The MNIST digits, 60,000 training and 10,000 test images (torchvision's API).

    Args:
        root: directory holding ``MNIST/raw/`` (torchvision's layout).
        train: the training split, else the test split.
        transform: applied to each image (a uint8 numpy array (28, 28)).
        target_transform: applied to each label (an int).
        download: fetch the split's files into ``root/MNIST/raw`` when they are
            found nowhere.
        sample_fallback: (this project) when the files cannot be had, use the
            shipped 5,000-digit sample with a warning instead of raising.

    Attributes:
        data: uint8 Tensor (N, 28, 28); targets: int64 Tensor (N,) (both may be
            replaced, e.g. by slices, to use part of the data); classes: the
            class names; source: the directory read, or the shipped sample.

    Items are ``(transform(image), target_transform(label))``. A DataLoader cuts
    batches with one fancy index and applies the transforms of
    :mod:`tinygrad_cnn.vision.transforms` to the whole batch.
    """

    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
               "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"]
    _source = _idx_datasets.MNISTImages   # file names, mirrors, checksums, other places to look
    _has_sample = True

    def __init__(self, root, train: bool = True, transform=None, target_transform=None,
                 download: bool = False, *, sample_fallback: bool = True):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = bool(train)
        directories = self._search_dirs()
        download_dir = (self.raw_folder if self.root is not None else
                        _idx_datasets.cache_dir(self._source.name)) if download else None
        try:
            images, labels, self.source = self._source.load_split(directories, self.train,
                                                                 download_dir)
        except OSError as error:   # FileNotFoundError, or a failed download
            if not (self._has_sample and sample_fallback):
                raise self._not_found(error) from error
            images, labels = self._sample(error, directories)
            self.source = "the MNIST sample shipped with tinygrad_cnn"
        self.data = Tensor(images)
        self.targets = Tensor(labels.astype(np.int64))

    @property
    def raw_folder(self) -> str:
        return os.path.join(self.root, type(self).__name__, "raw")

    @property
    def class_to_idx(self) -> dict:
        return {name: index for index, name in enumerate(self.classes)}

    def _search_dirs(self) -> list:
        directories = [] if self.root is None else [self.raw_folder, os.fspath(self.root)]
        for directory in self._source.search_dirs(None):
            if directory not in directories:
                directories.append(directory)
        return directories

    def _not_found(self, error: OSError) -> RuntimeError:
        return RuntimeError(f"Dataset not found. You can use download=True to download it.\n"
                            f"{type(self).__name__}: {error}")

    def _sample(self, error: OSError, directories: list):
        images, labels, train_count = _idx_datasets._load_sample()
        part = slice(0, train_count) if self.train else slice(train_count, None)
        images, labels = images[part].copy(), labels[part].copy()
        split = "training" if self.train else "test"
        if isinstance(error, FileNotFoundError):
            reason = f"not found in {', '.join(directories)}"
        else:
            summary = " ".join(line.strip() for line in str(error).splitlines()[:2])
            reason = f"could not be downloaded ({summary})"
        full = 60000 if self.train else 10000
        place = self.raw_folder if self.root is not None else directories[0]
        warnings.warn(
            f"{type(self).__name__}: {split} files {reason}; using the MNIST sample shipped with "
            f"tinygrad_cnn instead: {len(images):,} {split} digits, not {full:,}. For the full "
            f"dataset put the IDX files in {place} or pass download=True with network access "
            f"(sample_fallback=False raises instead).", UserWarning, stacklevel=3)
        return images, labels

    def __len__(self) -> int:
        return len(_array(self.data))

    def __getitem__(self, index):
        image = np.array(_array(self.data)[index])   # a copy: transforms may write into it
        target = int(_array(self.targets)[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def _get_batch(self, indices: np.ndarray):
        if overrides_getitem(self, MNIST):
            return NotImplemented
        images = _array(self.data)[indices]
        if self.transform is None:
            inputs = Tensor(images)
        else:
            inputs = apply_batched(self.transform, images)
            if inputs is NotImplemented:
                return NotImplemented
        labels = _array(self.targets)[indices]
        if self.target_transform is None:
            targets = Tensor(labels.astype(np.int64))
        else:
            targets = default_collate([self.target_transform(int(label)) for label in labels])
        return [inputs, targets]

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"


class FashionMNIST(MNIST):
    """Fashion-MNIST (Zalando): 28x28 grey images of 10 kinds of clothing,
    60,000 training and 10,000 test; torchvision's API, files in
    ``root/FashionMNIST/raw`` (also found in Debian's
    ``/usr/share/datasets/fashion-mnist``). There is no shipped sample: missing
    files raise ``RuntimeError``."""

    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    _source = _idx_datasets.FashionMNISTImages
    _has_sample = False
