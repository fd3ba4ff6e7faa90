"""Image classification datasets: MNIST, Fashion-MNIST, the MNIST sample
shipped in the package, and subsets of any of them.

Every dataset holds its whole split in memory as two arrays,
``images`` (uint8, (N, 28, 28)) and ``labels`` (int64, (N,)), so that the
DataLoader can cut a batch with one fancy index instead of N item lookups.
"""
import functools
import importlib.resources
import operator
import os

import numpy as np

from ..tensor import Tensor
from .dataset import Dataset, overrides_getitem
from .fetch import download as _download
from .idx import read_idx

# Per-pixel statistics of the MNIST training set, the usual normalize=(mean, std).
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081

SAMPLE_FILE = "mnist_sample.npz"


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


class ImageDataset(Dataset):
    """A labelled image dataset held as two arrays.

    Attributes:
        images: uint8 array (N, H, W) (or (N, C, H, W)).
        labels: int64 array (N,).
        classes: list of class names; ``classes[label]`` names a label.

    ``dataset[i]`` returns ``(image, label)``: image float32 (1, H, W) in [0, 1]
    (or (C, H, W)), label a Python int. A DataLoader cuts batches from the two
    arrays with one fancy index (the same values as stacking the items).
    """

    def __init__(self, images, labels, classes=None):
        images = np.asarray(images)
        labels = np.asarray(labels)
        if images.ndim not in (3, 4):
            raise ValueError(f"{type(self).__name__}: images must be (N, H, W) or "
                             f"(N, C, H, W), got shape {images.shape}")
        if labels.shape != (len(images),):
            raise ValueError(f"{type(self).__name__}: {len(images)} images but labels "
                             f"have shape {labels.shape}")
        self.images = images
        self.labels = labels.astype(np.int64, copy=False)
        if classes is None:
            classes = [str(label) for label in range(int(labels.max(initial=-1)) + 1)]
        self.classes = list(classes)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index):
        index = operator.index(index)  # one item; batches come from the DataLoader
        image = self.images[index]
        if image.ndim == 2:
            image = image[None]
        image = image.astype(np.float32)
        if self.images.dtype == np.uint8:
            image *= np.float32(1 / 255)
        return image, int(self.labels[index])

    def _get_batch(self, indices: np.ndarray):
        if overrides_getitem(self, ImageDataset):
            return NotImplemented
        return [Tensor(to_float32(self.images[indices])),
                Tensor(self.labels[indices].astype(np.int64, copy=False))]

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({len(self)} images of shape "
                f"{tuple(self.images.shape[1:])}, {len(self.classes)} classes)")


# --- MNIST and Fashion-MNIST from IDX files -------------------------------------------------

def cache_dir(dataset: str) -> str:
    """Directory where ``dataset`` ('mnist', 'fashion-mnist') is cached and downloaded to:
    ``$TINYGRAD_CNN_DATA/<dataset>`` if that variable is set, else
    ``~/.cache/tinygrad_cnn/<dataset>`` (``$XDG_CACHE_HOME`` is honoured)."""
    root = os.environ.get("TINYGRAD_CNN_DATA")
    if not root:
        cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
        root = os.path.join(cache_home, "tinygrad_cnn")
    return os.path.join(os.path.expanduser(root), dataset)


def _file_names(train: bool) -> tuple:
    prefix = "train" if train else "t10k"
    return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"


def _find_file(directory: str, name: str) -> str | None:
    # "train-images.idx3-ubyte" is how some archives spell the same file.
    dotted = name.replace("-idx", ".idx")
    for candidate in (name, name + ".gz", dotted, dotted + ".gz"):
        path = os.path.join(directory, candidate)
        if os.path.isfile(path):
            return path
    return None


class _IDXDataset(ImageDataset):
    """Shared loading logic of MNIST and Fashion-MNIST (same file names and format)."""

    name = ""            # cache subdirectory, e.g. "mnist"
    title = ""           # for messages, e.g. "MNIST"
    mirrors = ()         # base URLs, tried in order
    md5 = {}             # compressed file name -> MD5 of the published file
    system_dirs = ()     # directories filled by an OS package...
    system_package = ""  # ...installed like this
    class_names = ()

    def __init__(self, root=None, train: bool = True, download: bool = False):
        self.train = bool(train)
        download_dir = None
        if download:
            download_dir = os.fspath(root) if root is not None else cache_dir(self.name)
        images, labels, self.root = self.load_split(self.search_dirs(root), self.train,
                                                    download_dir)
        super().__init__(images, labels, self.class_names)

    @classmethod
    def load_split(cls, directories, train: bool, download_dir=None) -> tuple:
        """Read one split from the first of ``directories`` that holds both its files.

        With ``download_dir``, files found nowhere are first downloaded there
        (MD5-checked, written atomically).

        Returns:
            ``(images uint8 (N, 28, 28), labels uint8 (N,), directory read from)``.

        Raises:
            FileNotFoundError: saying where the files were looked for, and how to get them.
        """
        names = _file_names(train)
        found = cls._locate(directories, names)
        if found is None and download_dir is not None:
            cls._download(download_dir, names)
            found = cls._locate([download_dir], names)
        if found is None:
            raise FileNotFoundError(cls._not_found_message(directories, names, train))
        images_path, labels_path = found
        images = read_idx(images_path, ndim=3)
        labels = read_idx(labels_path, ndim=1)
        if len(images) != len(labels):
            raise ValueError(f"{images_path} holds {len(images)} images but {labels_path} "
                             f"holds {len(labels)} labels")
        if images.dtype != np.uint8 or images.shape[1:] != (28, 28):
            raise ValueError(f"{images_path}: expected uint8 images of 28x28, got "
                             f"{images.dtype} images of shape {images.shape[1:]}")
        if labels.size and labels.max() >= len(cls.class_names):
            raise ValueError(f"{labels_path}: label {labels.max()} out of range "
                             f"0..{len(cls.class_names) - 1}")
        return images, labels, os.path.dirname(images_path)

    @classmethod
    def search_dirs(cls, root=None) -> list:
        """Directories searched for the files, in order."""
        directories = [os.fspath(root)] if root is not None else []
        return directories + [cache_dir(cls.name), *cls.system_dirs]

    @staticmethod
    def _locate(directories, names):
        for directory in directories:
            paths = [_find_file(directory, name) for name in names]
            if all(paths):
                return paths
        return None

    @classmethod
    def _download(cls, target: str, names) -> None:
        for name in names:
            if _find_file(target, name) is None:
                file_name = name + ".gz"
                _download([base + file_name for base in cls.mirrors],
                          os.path.join(target, file_name), md5=cls.md5[file_name])

    @classmethod
    def _not_found_message(cls, directories, names, train: bool) -> str:
        split = "training" if train else "test"
        lines = [f"{cls.title} {split} files not found. Looked for "
                 f"{names[0]}[.gz] and {names[1]}[.gz] in:"]
        for directory in directories:
            if not os.path.isdir(directory):
                state = "no such directory"
            else:
                missing = [name for name in names if _find_file(directory, name) is None]
                state = f"missing {' and '.join(missing)}"
            if directory in cls.system_dirs:
                state += f"; filled by: {cls.system_package}"
            lines.append(f"  {directory}  ({state})")
        lines.append(f"Put the files in one of these directories, or pass download=True to "
                     f"fetch them into {directories[0]} (from {cls.mirrors[0]}).")
        return "\n".join(lines)

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        return f"{type(self).__name__}({split}, {len(self)} images, from {self.root})"


class MNISTImages(_IDXDataset):
    """The MNIST handwritten digits: 60,000 training and 10,000 test images, as
    arrays (an :class:`ImageDataset`; ``load_dataset("mnist")`` makes one).
    torchvision's per-item ``MNIST`` (transforms, ``root/MNIST/raw``) is
    ``tinygrad_cnn.vision.datasets.MNIST``, which reads its files through this class.

    ``MNISTImages(root=None, train=True, download=False)`` looks for the standard
    files (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each raw or
    ``.gz``) in ``root``, then in :func:`cache_dir` ``('mnist')``. With
    ``download=True`` missing files are fetched (MD5-checked) into ``root``, or
    the cache directory when no root is given.

    ``images`` uint8 (N, 28, 28), ``labels`` int64 (N,); ``dataset[i]`` is
    ``(float32 (1, 28, 28) in [0, 1], int)``.
    """

    name = "mnist"
    title = "MNIST"
    mirrors = (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    )
    md5 = {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }
    class_names = tuple(str(digit) for digit in range(10))


class FashionMNISTImages(_IDXDataset):
    """Fashion-MNIST (Zalando): 28x28 grey images of 10 kinds of clothing,
    60,000 training and 10,000 test, in the same files and format as MNIST.

    Same interface and lookup as :class:`MNISTImages` (cache subdirectory
    ``fashion-mnist``), and additionally Debian's ``/usr/share/datasets/fashion-mnist``
    (package ``dataset-fashion-mnist``).
    """

    name = "fashion-mnist"
    title = "Fashion-MNIST"
    mirrors = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
    md5 = {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    }
    system_dirs = ("/usr/share/datasets/fashion-mnist",)
    system_package = "apt install dataset-fashion-mnist (Debian, Ubuntu)"
    class_names = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


# --- the sample shipped in the package ---------------------------------------------------

@functools.lru_cache(maxsize=1)
def _load_sample():
    resource = importlib.resources.files(__package__).joinpath(SAMPLE_FILE)
    with resource.open("rb") as file, np.load(file) as archive:
        images = archive["images"]
        labels = archive["labels"].astype(np.int64)
        train_count = int(archive["train_count"])
    # Shared by every MNISTSample, so nobody may write into it.
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels, train_count


class MNISTSample(ImageDataset):
    """5,000 real MNIST digits shipped inside the package (no download needed).

    Split: 4,000 training and 1,000 test digits, 400 and 100 of each class.
    The split is fixed in the file itself (the first ``train_count`` = 4,000
    rows are the training set), chosen once by ``make_sample.py`` with a seeded,
    per-class permutation, so it is the same on every machine and numpy version.

    ``images`` uint8 (N, 28, 28) and ``labels`` int64 (N,) are read-only views
    of the shipped arrays; ``dataset[i]`` is ``(float32 (1, 28, 28) in [0, 1], int)``.
    See ``MNIST_SAMPLE_LICENSE.txt`` for the origin and licence of the digits.
    """

    def __init__(self, train: bool = True):
        self.train = bool(train)
        images, labels, train_count = _load_sample()
        part = slice(0, train_count) if self.train else slice(train_count, None)
        super().__init__(images[part], labels[part], MNISTImages.class_names)

    def __repr__(self) -> str:
        return f"MNISTSample({'train' if self.train else 'test'}, {len(self)} images)"


_DATASETS = {"mnist": MNISTImages, "fashion-mnist": FashionMNISTImages, "mnist-sample": MNISTSample}


def load_dataset(name: str, root=None, train: bool = True, download: bool = False):
    """Load a dataset by name: 'mnist', 'fashion-mnist' or 'mnist-sample'.

    ``root`` and ``download`` are passed to :class:`MNISTImages` / :class:`FashionMNISTImages`;
    the shipped 'mnist-sample' needs neither and ignores them.
    """
    key = name.lower().replace("_", "-")
    key = {"fashionmnist": "fashion-mnist", "mnistsample": "mnist-sample"}.get(key, key)
    if key not in _DATASETS:
        raise ValueError(f"load_dataset: unknown dataset {name!r}; "
                         f"choose one of {', '.join(map(repr, _DATASETS))}")
    if key == "mnist-sample":
        return MNISTSample(train=train)
    return _DATASETS[key](root=root, train=train, download=download)
