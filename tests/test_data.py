"""Tests of tinygrad_cnn.data: IDX files, dataset lookup, download (against a
local HTTP server, never the internet), the shipped sample, DataLoader."""
import functools
import gzip
import hashlib
import http.server
import os
import socket
import sys
import threading

import numpy as np
import pytest

import tinygrad_cnn.data as data
from tinygrad_cnn.data import (
    ChecksumError, DataLoader, DownloadError, FashionMNISTImages, ImageDataset, MNISTImages, MNISTSample,
    download, load_dataset, random_split, read_idx, to_float32, write_idx,
)


def as_array(batch_part):
    """A DataLoader yields Tensors once the core exists, numpy arrays before."""
    return batch_part.numpy() if hasattr(batch_part, "numpy") else batch_part


def leftover_temp_files(directory):
    return [name for name in os.listdir(directory) if name.endswith(".part")]


# --- IDX ------------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("array", [
    np.arange(3 * 28 * 28, dtype=np.uint8).reshape(3, 28, 28),
    np.array([7, 0, 9], dtype=np.uint8),
    np.arange(-6, 6, dtype=np.int32).reshape(3, 4),
    np.linspace(-1, 1, 10, dtype=np.float32),
    np.zeros((0, 28, 28), dtype=np.uint8),
], ids=["images", "labels", "int32", "float32", "empty"])
def test_idx_round_trip(tmp_path, array, suffix):
    path = tmp_path / f"file-idx{suffix}"
    write_idx(path, array)
    loaded = read_idx(path)
    assert loaded.dtype == array.dtype and loaded.shape == array.shape
    np.testing.assert_array_equal(loaded, array)
    assert loaded.flags.writeable
    assert leftover_temp_files(tmp_path) == []


def test_idx_header_is_mnist_format(tmp_path):
    write_idx(tmp_path / "images", np.zeros((2, 28, 28), np.uint8))
    write_idx(tmp_path / "labels", np.zeros(2, np.uint8))
    assert (tmp_path / "images").read_bytes()[:16] == bytes.fromhex("00000803" "00000002"
                                                                    "0000001c" "0000001c")
    assert (tmp_path / "labels").read_bytes()[:8] == bytes.fromhex("00000801" "00000002")


def test_idx_gzip_detected_by_content_not_name(tmp_path):
    array = np.arange(10, dtype=np.uint8)
    write_idx(tmp_path / "labels.gz", array)
    os.replace(tmp_path / "labels.gz", tmp_path / "labels-idx1-ubyte")
    np.testing.assert_array_equal(read_idx(tmp_path / "labels-idx1-ubyte"), array)


def test_idx_bad_magic_names_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"\x12\x34\x08\x03" + bytes(12))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.*magic number 0x12340803"):
        read_idx(path)
    path.write_bytes(b"\x00\x00\x42\x01" + bytes(8))  # unknown dtype code
    with pytest.raises(ValueError, match="magic"):
        read_idx(path)


def test_idx_wrong_number_of_dimensions(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte"
    write_idx(path, np.zeros(5, np.uint8))
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte: expected a 3-dimensional"):
        read_idx(path, ndim=3)


def test_idx_dimensions_disagree_with_payload(tmp_path):
    # Header says 2 images of 28x28 but 3 images' worth of bytes follow.
    path = tmp_path / "images"
    path.write_bytes(bytes.fromhex("00000803" "00000002" "0000001c" "0000001c")
                     + bytes(3 * 784))
    with pytest.raises(ValueError, match=r"images: 784 unexpected bytes after the 1568 bytes"):
        read_idx(path)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_truncated_payload_names_file_and_counts(tmp_path, suffix):
    path = tmp_path / f"train-images-idx3-ubyte{suffix}"
    content = bytes.fromhex("00000803" "00000002" "0000001c" "0000001c") + bytes(1000)
    path.write_bytes(gzip.compress(content) if suffix else content)
    with pytest.raises(ValueError, match=rf"train-images-idx3-ubyte{suffix}: truncated: "
                                         r"expected 1568 bytes of pixel data .*found 1000"):
        read_idx(path)


def test_idx_truncated_header_and_gzip_stream(tmp_path):
    path = tmp_path / "short"
    path.write_bytes(b"\x00\x00\x08\x03\x00\x00")
    with pytest.raises(ValueError, match=r"short: truncated: header"):
        read_idx(path)
    write_idx(tmp_path / "cut.gz", np.arange(4000, dtype=np.int32))
    compressed = (tmp_path / "cut.gz").read_bytes()
    (tmp_path / "cut.gz").write_bytes(compressed[:len(compressed) // 2])
    with pytest.raises(ValueError, match=r"cut\.gz: "):
        read_idx(tmp_path / "cut.gz")


def test_write_idx_rejects_unsupported_dtype(tmp_path):
    with pytest.raises(ValueError, match="int64"):
        write_idx(tmp_path / "x", np.zeros(3, np.int64))
    assert os.listdir(tmp_path) == []


# --- datasets: lookup -------------------------------------------------------------------------

def make_idx_dataset(directory, count, train=True, gz=True, seed=0):
    """Write small MNIST-format files; returns (images, labels)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=count, dtype=np.uint8)
    prefix = "train" if train else "t10k"
    suffix = ".gz" if gz else ""
    os.makedirs(directory, exist_ok=True)
    write_idx(os.path.join(directory, f"{prefix}-images-idx3-ubyte{suffix}"), images)
    write_idx(os.path.join(directory, f"{prefix}-labels-idx1-ubyte{suffix}"), labels)
    return images, labels


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("TINYGRAD_CNN_DATA", str(cache))
    return cache


def test_mnist_from_root(tmp_path, empty_cache):
    images, labels = make_idx_dataset(tmp_path / "root", 6, train=False, gz=False)
    dataset = MNISTImages(root=tmp_path / "root", train=False)
    assert len(dataset) == 6 and dataset.images.dtype == np.uint8
    assert dataset.images.shape == (6, 28, 28)
    assert dataset.labels.dtype == np.int64
    np.testing.assert_array_equal(dataset.labels, labels)
    image, label = dataset[2]
    assert image.shape == (1, 28, 28) and image.dtype == np.float32
    np.testing.assert_allclose(image[0], images[2] / 255, rtol=1e-6)
    assert label == labels[2] and type(label) is int
    assert dataset.classes == [str(digit) for digit in range(10)]


def test_lookup_order_root_then_cache(tmp_path, empty_cache):
    make_idx_dataset(empty_cache / "mnist", 4)
    make_idx_dataset(tmp_path / "root", 3)
    assert len(MNISTImages()) == 4                               # cache ($TINYGRAD_CNN_DATA)
    assert len(MNISTImages(root=tmp_path / "root")) == 3         # root first
    assert len(MNISTImages(root=tmp_path / "nowhere")) == 4      # root lacks them: cache
    assert data.cache_dir("mnist") == str(empty_cache / "mnist")


def test_fashion_mnist_uses_its_own_cache_and_debian_dir(tmp_path, empty_cache):
    make_idx_dataset(empty_cache / "fashion-mnist", 5, seed=1)
    dataset = FashionMNISTImages()
    assert len(dataset) == 5 and dataset.classes[0] == "T-shirt/top"
    assert len(dataset.classes) == 10
    assert FashionMNISTImages.search_dirs()[-1] == "/usr/share/datasets/fashion-mnist"
    with pytest.raises(FileNotFoundError):  # MNIST does not pick up Fashion-MNIST files
        MNISTImages()


def test_missing_files_error_says_where_to_put_them(tmp_path, empty_cache):
    make_idx_dataset(tmp_path / "root", 3)
    os.remove(tmp_path / "root" / "train-labels-idx1-ubyte.gz")
    with pytest.raises(FileNotFoundError) as error:
        MNISTImages(root=tmp_path / "root")
    message = str(error.value)
    for expected in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                     str(tmp_path / "root"), str(empty_cache / "mnist"), "download=True",
                     "missing train-labels-idx1-ubyte", "no such directory"):
        assert expected in message


def test_inconsistent_files_are_rejected(tmp_path, empty_cache):
    make_idx_dataset(tmp_path, 3)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match="3 images but .* 4 labels"):
        MNISTImages(root=tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.array([0, 1, 12], np.uint8))
    with pytest.raises(ValueError, match="label 12 out of range"):
        MNISTImages(root=tmp_path)


def test_load_dataset_names(tmp_path, empty_cache):
    make_idx_dataset(tmp_path, 2, train=False)
    assert len(load_dataset("mnist", root=tmp_path, train=False)) == 2
    assert isinstance(load_dataset("Fashion_MNIST", root=tmp_path, train=False), FashionMNISTImages)
    assert len(load_dataset("mnist-sample", train=False)) == 1000
    with pytest.raises(ValueError, match="unknown dataset 'cifar'"):
        load_dataset("cifar")


# --- download, against a local server ------------------------------------------------------------

class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Serve a temporary directory on 127.0.0.1; yields (directory, base URL)."""
    directory = tmp_path_factory.mktemp("served")
    handler = functools.partial(QuietHandler, directory=str(directory))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield directory, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    # A proxy configured on the machine must not intercept the local server.
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")


def closed_port_url():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def serve_file(server, name, content):
    directory, base = server
    (directory / name).write_bytes(content)
    return base + name, hashlib.md5(content).hexdigest()


def test_download_success(server, tmp_path):
    content = os.urandom(200_000)
    url, md5 = serve_file(server, "blob.bin", content)
    dest = tmp_path / "sub" / "blob.bin"
    result = download(url, dest, md5=md5, sha256=hashlib.sha256(content).hexdigest(),
                      progress=False)
    assert result == str(dest) and dest.read_bytes() == content
    assert leftover_temp_files(dest.parent) == []


def test_download_progress_without_tqdm(server, tmp_path, monkeypatch):
    url, md5 = serve_file(server, "small.bin", b"abc" * 1000)
    monkeypatch.setitem(sys.modules, "tqdm", None)  # makes "import tqdm" fail
    download(url, tmp_path / "small.bin", md5=md5, progress=True)
    assert (tmp_path / "small.bin").read_bytes() == b"abc" * 1000


def test_download_checksum_mismatch_deletes_file(server, tmp_path):
    url, md5 = serve_file(server, "bad.bin", b"not what you expected")
    wrong = "0" * 32
    with pytest.raises(ChecksumError) as error:
        download(url, tmp_path / "bad.bin", md5=wrong, progress=False)
    message = str(error.value)
    assert "bad.bin" in message and wrong in message and md5 in message
    assert os.listdir(tmp_path) == []


def test_download_falls_back_to_second_mirror(server, tmp_path):
    url, md5 = serve_file(server, "mirrored.bin", b"x" * 5000)
    base = server[1]
    download([base + "missing/mirrored.bin", url], tmp_path / "mirrored.bin", md5=md5,
             progress=False, backoff=0)
    assert (tmp_path / "mirrored.bin").read_bytes() == b"x" * 5000


def test_download_all_mirrors_fail(server, tmp_path):
    not_found = server[1] + "missing/none.bin"
    refused = closed_port_url() + "none.bin"
    with pytest.raises(DownloadError) as error:
        download([not_found, refused], tmp_path / "none.bin", retries=1, backoff=0,
                 progress=False)
    message = str(error.value)
    assert not_found in message and "HTTP 404" in message
    assert refused in message and "2 attempts" in message  # refused is retried, 404 is not
    assert str(tmp_path / "none.bin") in message  # where to put the file by hand
    assert os.listdir(tmp_path) == []


def test_mnist_download_true_fetches_into_root(server, tmp_path, empty_cache, monkeypatch):
    directory, base = server
    make_idx_dataset(directory, 7, train=False)
    md5 = {name: hashlib.md5((directory / name).read_bytes()).hexdigest()
           for name in os.listdir(directory) if name.startswith("t10k")}
    monkeypatch.setattr(MNISTImages, "mirrors", (base + "missing/", base))
    monkeypatch.setattr(MNISTImages, "md5", md5)
    dataset = MNISTImages(root=tmp_path / "root", train=False, download=True)
    assert len(dataset) == 7
    assert sorted(os.listdir(tmp_path / "root")) == sorted(md5)


# --- the shipped sample ---------------------------------------------------------------------------

def test_sample_shapes_dtypes_and_classes():
    train, test = MNISTSample(train=True), MNISTSample(train=False)
    assert (len(train), len(test)) == (4000, 1000)
    for split in (train, test):
        assert split.images.dtype == np.uint8 and split.images.shape[1:] == (28, 28)
        assert split.labels.dtype == np.int64
        assert split.labels.min() == 0 and split.labels.max() == 9
        assert set(np.unique(split.labels)) == set(range(10))
        assert 0 < split.images.mean() / 255 < 0.3  # real digits: mostly dark background
    image, label = test[0]
    assert image.shape == (1, 28, 28) and image.dtype == np.float32 and 0 <= label <= 9


def test_sample_split_deterministic_and_disjoint():
    first, again = MNISTSample(train=True), MNISTSample(train=True)
    np.testing.assert_array_equal(first.images, again.images)
    np.testing.assert_array_equal(first.labels, again.labels)
    train_rows = {row.tobytes() for row in first.images}
    test_rows = {row.tobytes() for row in MNISTSample(train=False).images}
    assert len(train_rows) == 4000 and not train_rows & test_rows
    assert not first.images.flags.writeable  # shared between instances


# --- DataLoader ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(1)
    return ImageDataset(rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
                        np.arange(10) % 3)


def test_loader_batches_shapes_dtypes(small):
    loader = DataLoader(small, batch_size=4)
    batches = [(as_array(images), as_array(labels)) for images, labels in loader]
    assert len(loader) == len(batches) == 3
    assert [len(labels) for _, labels in batches] == [4, 4, 2]
    images, labels = batches[0]
    assert images.shape == (4, 1, 28, 28) and images.dtype == np.float32
    assert labels.dtype == np.int64
    np.testing.assert_allclose(images[:, 0], small.images[:4] / 255, rtol=1e-6)
    np.testing.assert_array_equal(np.concatenate([lab for _, lab in batches]), small.labels)


def test_loader_yields_tensors_when_core_exists(small):
    try:
        from tinygrad_cnn.tensor import Tensor
    except ImportError:
        pytest.skip("tinygrad_cnn.tensor not importable yet")
    images, labels = next(iter(DataLoader(small, batch_size=2)))
    assert isinstance(images, Tensor) and isinstance(labels, Tensor)
    assert images.dtype == np.float32 and labels.dtype == np.int64
    assert not images.requires_grad


def test_loader_drop_last(small):
    loader = DataLoader(small, batch_size=4, drop_last=True)
    assert len(loader) == 2
    assert [len(as_array(labels)) for _, labels in loader] == [4, 4]
    assert len(DataLoader(small, batch_size=20, drop_last=True)) == 0
    assert len(DataLoader(small, batch_size=20)) == 1


def shuffled_labels(loader):
    return np.concatenate([as_array(labels) for _, labels in loader])


def test_loader_shuffle_reproducible_with_seed():
    # Distinct labels reveal the order.
    dataset = ImageDataset(np.zeros((50, 28, 28), np.uint8), np.arange(50))
    first = DataLoader(dataset, batch_size=8, shuffle=True, seed=3)
    second = DataLoader(dataset, batch_size=8, shuffle=True, seed=3)
    epoch1, epoch2 = shuffled_labels(first), shuffled_labels(first)
    np.testing.assert_array_equal(epoch1, shuffled_labels(second))
    np.testing.assert_array_equal(epoch2, shuffled_labels(second))
    assert sorted(epoch1) == list(range(50)) and not np.array_equal(epoch1, epoch2)
    assert not np.array_equal(epoch1, np.arange(50))


def test_loader_module_seed():
    dataset = ImageDataset(np.zeros((30, 28, 28), np.uint8), np.arange(30))
    loader = DataLoader(dataset, batch_size=30, shuffle=True)
    data.seed(11)
    first = shuffled_labels(loader)
    data.seed(11)
    np.testing.assert_array_equal(first, shuffled_labels(loader))
    import tinygrad_cnn
    if hasattr(tinygrad_cnn, "manual_seed"):  # manual_seed reseeds the loader too
        tinygrad_cnn.manual_seed(11)
        np.testing.assert_array_equal(first, shuffled_labels(loader))


def test_loader_normalize_float32(small):
    mean, std = 0.1307, 0.3081
    images, _ = next(iter(DataLoader(small, batch_size=10, normalize=(mean, std))))
    images = as_array(images)
    assert images.dtype == np.float32
    expected = (small.images.astype(np.float64) / 255 - mean) / std
    np.testing.assert_allclose(images[:, 0], expected, rtol=1e-5, atol=1e-5)
    assert to_float32(small.images[:2], normalize=(mean, std)).dtype == np.float32


def test_loader_falls_back_to_getitem(small):
    class ItemsOnly:
        def __len__(self):
            return len(small)

        def __getitem__(self, index):
            return small[index]

    fallback = list(DataLoader(ItemsOnly(), batch_size=3, normalize=(0.5, 0.25)))
    vectorised = list(DataLoader(small, batch_size=3, normalize=(0.5, 0.25)))
    assert len(fallback) == len(vectorised) == 4
    for (images_a, labels_a), (images_b, labels_b) in zip(fallback, vectorised):
        assert as_array(images_a).dtype == np.float32
        np.testing.assert_allclose(as_array(images_a), as_array(images_b), rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(as_array(labels_a), as_array(labels_b))


def test_loader_rejects_bad_arguments(small):
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(small, batch_size=0)
    with pytest.raises(ValueError, match="std"):
        DataLoader(small, normalize=(0.1, 0.0))


# --- random_split --------------------------------------------------------------------------------

def test_random_split_sizes_disjoint_and_vectorised():
    train = MNISTSample(train=True)
    fit, validation = random_split(train, [0.9, 0.1], seed=0)
    assert (len(fit), len(validation)) == (3600, 400)
    assert not set(fit.indices) & set(validation.indices)
    np.testing.assert_array_equal(validation.images, train.images[validation.indices])
    np.testing.assert_array_equal(validation.labels, train.labels[validation.indices])
    assert validation.classes == train.classes
    again, _ = random_split(train, [0.9, 0.1], seed=0)
    assert again.indices == fit.indices
    images, _ = next(iter(DataLoader(validation, batch_size=5)))
    assert as_array(images).shape == (5, 1, 28, 28)


def test_random_split_lengths_and_rounding(small):
    parts = random_split(small, [3, 7])
    assert [len(part) for part in parts] == [3, 7]
    assert sorted(parts[0].indices + parts[1].indices) == list(range(10))
    assert [len(part) for part in random_split(small, [1 / 3, 1 / 3, 1 / 3])] == [4, 3, 3]
    with pytest.raises(ValueError, match="sum to 9"):
        random_split(small, [3, 6])
    with pytest.raises(ValueError, match="neither non-negative ints nor fractions summing to 1"):
        random_split(small, [0.5, 0.2])
