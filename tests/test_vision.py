"""tinygrad_cnn.vision: torchvision's MNIST / FashionMNIST and transforms,
item by item and batched by the DataLoader."""
import functools
import hashlib
import http.server
import os
import threading
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygrad_cnn as tc
from tinygrad_cnn import Tensor
from tinygrad_cnn.data import write_idx
from tinygrad_cnn.data import datasets as idx_datasets
from tinygrad_cnn.utils.data import DataLoader, Subset, default_collate
from tinygrad_cnn.vision import datasets, transforms as T

MEAN, STD = (0.1307,), (0.3081,)


def write_split(directory, count, train=True, gz=False, seed=0):
    """MNIST-format files for one split in ``directory``; returns (images, labels)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=count, dtype=np.uint8)
    prefix = "train" if train else "t10k"
    suffix = ".gz" if gz else ""
    os.makedirs(directory, exist_ok=True)
    write_idx(os.path.join(directory, f"{prefix}-images-idx3-ubyte{suffix}"), images)
    write_idx(os.path.join(directory, f"{prefix}-labels-idx1-ubyte{suffix}"), labels)
    return images, labels


@pytest.fixture(autouse=True)
def empty_cache(tmp_path, monkeypatch):
    """No files from this machine's cache; downloads never leave 127.0.0.1."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("TINYGRAD_CNN_DATA", str(cache))
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")
    return cache


def per_item(batch):
    return default_collate(batch)   # not default_collate itself: the loader goes item by item


# --- datasets --------------------------------------------------------------------------------

@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reads_torchvision_layout(tmp_path, gz):
    images, labels = write_split(tmp_path / "MNIST" / "raw", 5, train=False, gz=gz)
    dataset = datasets.MNIST(str(tmp_path), train=False)
    assert len(dataset) == 5 and dataset.source == str(tmp_path / "MNIST" / "raw")
    assert dataset.data.dtype == np.uint8 and dataset.data.shape == (5, 28, 28)
    assert dataset.targets.dtype == np.int64
    np.testing.assert_array_equal(dataset.data.data, images)
    np.testing.assert_array_equal(dataset.targets.data, labels)
    image, label = dataset[3]
    assert isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.shape == (28, 28)
    np.testing.assert_array_equal(image, images[3])
    assert type(label) is int and label == labels[3]
    assert dataset.classes[0] == "0 - zero" and dataset.classes[9] == "9 - nine"
    assert dataset.class_to_idx["3 - three"] == 3


def test_fashion_mnist_layout_and_classes(tmp_path):
    write_split(tmp_path / "FashionMNIST" / "raw", 4, train=True, gz=True)
    dataset = datasets.FashionMNIST(tmp_path, transform=T.ToTensor())
    assert len(dataset) == 4
    assert dataset.classes == ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    image, _ = dataset[0]
    assert isinstance(image, Tensor) and image.shape == (1, 28, 28) and image.dtype == np.float32
    with pytest.raises(RuntimeError, match="Dataset not found"):   # MNIST files are elsewhere
        datasets.MNIST(tmp_path, sample_fallback=False)


def test_missing_files_raise_like_torchvision(tmp_path, monkeypatch):
    # Debian's dataset-fashion-mnist may be installed here: look only in tmp_path
    monkeypatch.setattr(idx_datasets.FashionMNISTImages, "system_dirs", ())
    monkeypatch.setenv("TINYGRAD_CNN_DATA", str(tmp_path / "cache"))
    with pytest.raises(RuntimeError) as error:
        datasets.FashionMNIST(tmp_path, train=False)
    message = str(error.value)
    assert message.startswith("Dataset not found. You can use download=True to download it")
    assert str(tmp_path / "FashionMNIST" / "raw") in message
    with pytest.raises(RuntimeError, match="Dataset not found"):
        datasets.MNIST(tmp_path, sample_fallback=False)


def test_mnist_falls_back_to_the_shipped_sample_with_a_warning(tmp_path):
    with pytest.warns(UserWarning, match=r"MNIST: test files not found.*1,000 test digits"):
        test = datasets.MNIST(tmp_path, train=False)
    assert len(test) == 1000 and "sample" in test.source
    with pytest.warns(UserWarning, match="4,000 training digits, not 60,000"):
        train = datasets.MNIST(tmp_path, train=True, transform=T.ToTensor())
    assert len(train) == 4000 and train[0][0].shape == (1, 28, 28)
    sample = idx_datasets.MNISTSample(train=False)
    np.testing.assert_array_equal(test.data.data, sample.images)
    test.data.data[0, 0, 0] = 1   # our copy: the shared sample is not touched
    assert test.data.data.flags.writeable and not sample.images.flags.writeable


def test_repr_matches_torchvision(tmp_path):
    write_split(tmp_path / "MNIST" / "raw", 3, train=True)
    dataset = datasets.MNIST(str(tmp_path), transform=T.Compose([T.ToTensor(),
                                                                 T.Normalize(MEAN, STD)]))
    assert repr(dataset) == "\n".join([
        "Dataset MNIST",
        "    Number of datapoints: 3",
        f"    Root location: {tmp_path}",
        "    Split: Train",
        "    StandardTransform",
        "Transform: Compose(",
        "               ToTensor()",
        "               Normalize(mean=(0.1307,), std=(0.3081,))",
        "           )",
    ])
    plain = datasets.MNIST(str(tmp_path))
    assert repr(plain).splitlines()[-1] == "    Split: Train"
    assert repr(T.RandomCrop(28, padding=4)) == "RandomCrop(size=(28, 28), padding=4)"
    assert repr(T.RandomHorizontalFlip()) == "RandomHorizontalFlip(p=0.5)"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_download_true_fetches_into_raw_folder(tmp_path, monkeypatch):
    served = tmp_path / "served"
    write_split(served, 6, train=False, gz=True)
    md5 = {name: hashlib.md5((served / name).read_bytes()).hexdigest()
           for name in os.listdir(served)}
    handler = functools.partial(QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(idx_datasets.MNISTImages, "mirrors",
                            (f"http://127.0.0.1:{server.server_address[1]}/",))
        monkeypatch.setattr(idx_datasets.MNISTImages, "md5", md5)
        dataset = datasets.MNIST(tmp_path / "root", train=False, download=True)
    finally:
        server.shutdown()
        server.server_close()
    raw = tmp_path / "root" / "MNIST" / "raw"
    assert len(dataset) == 6 and dataset.source == str(raw)
    assert sorted(os.listdir(raw)) == sorted(md5)   # kept compressed, no temporary files left


def test_failed_download_falls_back_or_raises(tmp_path, monkeypatch):
    monkeypatch.setattr(idx_datasets.MNISTImages, "mirrors", ("http://127.0.0.1:9/",))  # discard port
    monkeypatch.setattr(tc.data.fetch, "_is_transient", lambda error: False)      # no retries
    with pytest.warns(UserWarning, match="could not be downloaded"):
        assert len(datasets.MNIST(tmp_path, train=False, download=True)) == 1000
    with pytest.raises(RuntimeError, match="Dataset not found"):
        datasets.MNIST(tmp_path, train=False, download=True, sample_fallback=False)


# --- transforms: values ----------------------------------------------------------------------

def test_to_tensor_scales_and_moves_channels_first():
    grey = np.array([[0, 255], [51, 102]], np.uint8)
    tensor = T.ToTensor()(grey)
    assert isinstance(tensor, Tensor) and tensor.shape == (1, 2, 2) and tensor.dtype == np.float32
    np.testing.assert_array_equal(tensor.data[0], np.float32(grey) / np.float32(255))
    colour = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)   # H, W, C
    np.testing.assert_array_equal(T.ToTensor()(colour).data[2], colour[:, :, 2] / np.float32(255))
    floats = np.full((2, 2), 7.5)
    kept = T.ToTensor()(floats)    # not uint8: values and dtype kept, as torchvision does
    assert kept.dtype == np.float64 and kept.data.max() == 7.5
    with pytest.raises(TypeError, match="ToTensor"):
        T.ToTensor()(Tensor(grey))


def test_normalize_per_channel_inplace_and_errors():
    tensor = Tensor(np.stack([np.full((2, 2), 0.5, np.float32), np.full((2, 2), 1.0, np.float32)]))
    out = T.Normalize((0.5, 0.0), (0.25, 2.0))(tensor)
    assert out is not tensor and out.dtype == np.float32
    np.testing.assert_array_equal(out.data[0], 0.0)
    np.testing.assert_array_equal(out.data[1], 0.5)
    np.testing.assert_array_equal(tensor.data[1], 1.0)   # input untouched
    same = T.Normalize((0.5, 0.0), (0.25, 2.0), inplace=True)(tensor)
    assert same is tensor and tensor.data[1, 0, 0] == 0.5
    with pytest.raises(TypeError, match="float tensor"):
        T.Normalize(MEAN, STD)(Tensor(np.zeros((1, 2, 2), np.uint8)))
    with pytest.raises(ValueError, match="std evaluated to zero"):
        T.Normalize((0.0,), (0.0,))(Tensor(np.zeros((1, 2, 2), np.float32)))
    with pytest.raises(ValueError, match="3 values but the tensor has 2 channels"):
        T.Normalize((0.1, 0.2, 0.3), (1, 1, 1))(tensor)
    with pytest.raises(TypeError, match="use ToTensor first"):
        T.Normalize(MEAN, STD)(np.zeros((1, 2, 2), np.float32))


def test_random_crop_padding_conventions_and_modes():
    image = np.arange(1, 7, dtype=np.uint8).reshape(2, 3)
    # A crop the size of the padded image has one position: the padded image itself.
    whole = T.RandomCrop((2 + 4, 3 + 2), padding=(1, 2))(image)        # (left/right, top/bottom)
    np.testing.assert_array_equal(whole, np.pad(image, ((2, 2), (1, 1))))
    sides = T.RandomCrop((2 + 2 + 4, 3 + 1 + 3), padding=(1, 2, 3, 4), fill=9)(image)
    np.testing.assert_array_equal(sides, np.pad(image, ((2, 4), (1, 3)), constant_values=9))
    row = np.array([[1, 2, 3]], np.uint8)
    assert T.RandomCrop((1, 7), padding=(2, 0), padding_mode="reflect")(row).tolist() == \
        [[3, 2, 1, 2, 3, 2, 1]]
    assert T.RandomCrop((1, 7), padding=(2, 0), padding_mode="symmetric")(row).tolist() == \
        [[2, 1, 1, 2, 3, 3, 2]]
    assert T.RandomCrop((1, 7), padding=(2, 0), padding_mode="edge")(row).tolist() == \
        [[1, 1, 1, 2, 3, 3, 3]]
    # pad_if_needed pads both sides of a too-small axis by the difference
    needed = T.RandomCrop((2, 5), pad_if_needed=True)(image)
    assert needed.shape == (2, 5)
    with pytest.raises(ValueError, match=r"crop size \(3, 3\) is larger than input image size"):
        T.RandomCrop(3)(image)
    with pytest.raises(ValueError, match="1, 2, or 4 element tuple"):
        T.RandomCrop(2, padding=(1, 2, 3))
    with pytest.raises(ValueError, match="padding_mode"):
        T.RandomCrop(2, padding=1, padding_mode="wrap")


def test_random_crop_is_a_window_of_the_padded_image_and_covers_every_position():
    image = np.random.default_rng(0).integers(1, 256, (6, 6), dtype=np.uint8)
    padded = np.pad(image, 2)
    crop = T.RandomCrop(6, padding=2)
    tc.manual_seed(0)
    seen = set()
    for _ in range(400):
        out = crop(image)
        matches = [(top, left) for top in range(5) for left in range(5)
                   if np.array_equal(out, padded[top:top + 6, left:left + 6])]
        assert matches
        seen.update(matches)
    assert len(seen) == 25


def test_random_crop_on_tensors_and_colour_images():
    tensor = Tensor(np.arange(2 * 4 * 4, dtype=np.float32).reshape(2, 4, 4))
    out = T.RandomCrop(4, padding=1, fill=-1)(tensor)
    assert isinstance(out, Tensor) and out.shape == (2, 4, 4)
    padded = np.pad(tensor.data, ((0, 0), (1, 1), (1, 1)), constant_values=-1)
    assert any(np.array_equal(out.data, padded[:, top:top + 4, left:left + 4])
               for top in range(3) for left in range(3))
    colour = np.zeros((3, 3, 3), np.uint8)
    filled = T.RandomCrop(5, padding=1, fill=(10, 20, 30))(colour)
    assert filled.shape == (5, 5, 3) and filled[0, 0].tolist() == [10, 20, 30]


def test_flips():
    image = np.arange(6, dtype=np.uint8).reshape(2, 3)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1)(image), image[:, ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0)(image), image)
    np.testing.assert_array_equal(T.RandomVerticalFlip(p=1)(image), image[::-1])
    tensor = Tensor(image[None].astype(np.float32))
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1)(tensor).data, tensor.data[..., ::-1])
    tc.manual_seed(1)
    flips = [T.RandomHorizontalFlip()(image)[0, 0] == 2 for _ in range(200)]
    assert 60 < sum(flips) < 140


def test_lambda_and_compose():
    double = T.Lambda(lambda x: x * 2)
    assert T.Compose([double, double])(3) == 12
    with pytest.raises(TypeError, match="callable"):
        T.Lambda(3)


# --- the DataLoader batches the transforms ------------------------------------------------------

PIPELINES = {
    "none": None,
    "to_tensor": T.ToTensor(),
    "normalize": T.Compose([T.ToTensor(), T.Normalize(MEAN, STD)]),
    "augment": T.Compose([T.RandomCrop(28, padding=4), T.RandomHorizontalFlip(),
                          T.ToTensor(), T.Normalize(MEAN, STD)]),
    "tensor_augment": T.Compose([T.ToTensor(), T.RandomCrop(24, padding=2, padding_mode="reflect"),
                                 T.RandomVerticalFlip(0.3), T.Normalize(MEAN, STD)]),
    "nested": T.Compose([T.Compose([T.RandomCrop((20, 26))]), T.ToTensor()]),
}


@pytest.fixture(scope="module")
def sample():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return datasets.MNIST("unused-root", train=False)


def batches(dataset, seed, **options):
    tc.manual_seed(seed)
    return list(DataLoader(dataset, **options))


@given(name=st.sampled_from(sorted(PIPELINES)), seed=st.integers(0, 2**16),
       batch_size=st.integers(1, 17), shuffle=st.booleans(),
       target=st.sampled_from([None, lambda label: label % 2]))
def test_batched_transforms_equal_item_by_item(sample, name, seed, batch_size, shuffle, target):
    sample.transform, sample.target_transform = PIPELINES[name], target
    subset = Subset(sample, list(range(0, 60, 2)))
    try:
        fast = batches(subset, seed, batch_size=batch_size, shuffle=shuffle)
        slow = batches(subset, seed, batch_size=batch_size, shuffle=shuffle, collate_fn=per_item)
    finally:
        sample.transform = sample.target_transform = None
    assert len(fast) == len(slow)
    for (images_a, labels_a), (images_b, labels_b) in zip(fast, slow):
        assert images_a.dtype == images_b.dtype and images_a.shape == images_b.shape
        np.testing.assert_array_equal(images_a.data, images_b.data)
        assert labels_a.dtype == labels_b.dtype == np.int64
        np.testing.assert_array_equal(labels_a.data, labels_b.data)


def test_loader_batches_have_torchvision_types(sample):
    sample.transform = PIPELINES["normalize"]
    try:
        images, labels = next(iter(DataLoader(sample, batch_size=10)))
        first, label = sample[0]
    finally:
        sample.transform = None
    assert images.shape == (10, 1, 28, 28) and images.dtype == np.float32
    np.testing.assert_array_equal(images.data[0], first.data)
    assert labels.dtype == np.int64 and labels.data[0] == label
    raw, _ = next(iter(DataLoader(sample, batch_size=4)))
    assert raw.dtype == np.uint8 and raw.shape == (4, 28, 28)   # no transform: uint8 images


def test_augmentation_reproducible_under_manual_seed(sample):
    sample.transform = PIPELINES["augment"]
    try:
        first = batches(sample, 3, batch_size=50, shuffle=True)[:3]
        again = batches(sample, 3, batch_size=50, shuffle=True)[:3]
        other = batches(sample, 4, batch_size=50, shuffle=True)[:3]
    finally:
        sample.transform = None
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a[0].data, b[0].data)
    assert not np.array_equal(first[0][0].data, other[0][0].data)


def test_replacing_data_and_targets_like_torchvision(sample):
    data, targets = sample.data, sample.targets
    sample.data, sample.targets = data.data[:7], targets.data[:7]
    try:
        assert len(sample) == 7
        assert sum(len(labels.data) for _, labels in DataLoader(sample, batch_size=3)) == 7
    finally:
        sample.data, sample.targets = data, targets


def test_custom_transform_falls_back_to_items(sample):
    calls = []

    def record(image):
        calls.append(1)
        return image

    sample.transform = T.Compose([T.Lambda(record), T.ToTensor()])
    try:
        images, _ = next(iter(DataLoader(sample, batch_size=5)))
    finally:
        sample.transform = None
    assert len(calls) == 5 and images.shape == (5, 1, 28, 28)


def test_make_grid_lays_out_images_like_torchvision():
    from tinygrad_cnn.vision import utils as vutils
    images = np.arange(5 * 1 * 2 * 3, dtype=np.float32).reshape(5, 1, 2, 3) / 30
    grid = vutils.make_grid(tc.tensor(images), nrow=3, padding=1, pad_value=0.5)
    assert grid.shape == (3, 2 * 3 + 1, 3 * 4 + 1)           # 2 rows of 3, one-pixel borders
    np.testing.assert_allclose(grid.numpy()[0, 1:3, 1:4], images[0, 0])
    np.testing.assert_allclose(grid.numpy()[2, 4:6, 5:8], images[4, 0])    # row 2, column 2
    assert grid.numpy()[1, 0, 0] == 0.5 and grid.numpy()[0, 4:6, 9:12].tolist() == [[0.5] * 3] * 2
    scaled = vutils.make_grid(tc.tensor(images), normalize=True)
    assert scaled.numpy().max() == 1.0


def test_save_image_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    from tinygrad_cnn.vision import utils as vutils
    path = tmp_path / "grid.png"
    vutils.save_image(tc.rand(4, 1, 8, 8), path, nrow=2)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_center_crop_and_pad():
    image = np.arange(5 * 6, dtype=np.uint8).reshape(5, 6)
    crop = T.CenterCrop((3, 2))(image)
    np.testing.assert_array_equal(crop, image[1:4, 2:4])
    big = T.CenterCrop(7)(image)                               # padded with zeros first
    assert big.shape == (7, 7) and big[0].sum() == 0 and big[1:6, :6].sum() == image.sum()
    padded = T.Pad((1, 2))(image)
    assert padded.shape == (9, 8) and padded[2:7, 1:7].tolist() == image.tolist()
    tensor = T.Compose([T.ToTensor(), T.CenterCrop(3)])(image)
    assert tuple(tensor.shape) == (1, 3, 3)
    # batched through the loader, the same values as item by item
    images = np.arange(4 * 5 * 6, dtype=np.uint8).reshape(4, 5, 6)
    pipeline = T.Compose([T.Pad(1, padding_mode="reflect"), T.CenterCrop(4), T.ToTensor()])
    batch = T.apply_batched(pipeline, images)
    np.testing.assert_array_equal(batch.numpy(), np.stack([pipeline(im).numpy() for im in images]))


def test_one_class_is_named_mnist():
    """torchvision's MNIST is the one MNIST; the data package's array dataset
    that reads the same files has its own name."""
    import tinygrad_cnn.data as data
    assert not hasattr(data, "MNIST") and not hasattr(data, "FashionMNIST")
    assert datasets.MNIST._source is data.MNISTImages
    assert datasets.FashionMNIST._source is data.FashionMNISTImages
    assert isinstance(data.load_dataset("mnist-sample", train=False), data.ImageDataset)
