"""PyTorch's data API under tinygrad_cnn.utils.data: collation, datasets,
random_split, samplers and the DataLoader (vectorised and item by item)."""
import collections
import importlib.util
import warnings

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import tinygrad_cnn as tc
import tinygrad_cnn.utils.data
from tinygrad_cnn import Tensor
from tinygrad_cnn.data import ImageDataset
from tinygrad_cnn.utils.data import (
    BatchSampler, ConcatDataset, DataLoader, Dataset, RandomSampler, SequentialSampler, Subset,
    SubsetRandomSampler, TensorDataset, default_collate, default_convert, random_split,
)

HAVE_TORCH = importlib.util.find_spec("torch") is not None


def as_array(value):
    return value.data if isinstance(value, Tensor) else np.asarray(value)


def per_item(batch):
    """A collate_fn that is not ``default_collate`` itself: the loader then calls
    ``__getitem__`` once per item, the reference for the vectorised path."""
    return default_collate(batch)


def assert_same_batches(first, second):
    assert len(first) == len(second)
    for batch_a, batch_b in zip(first, second):
        assert type(batch_a) is type(batch_b)
        parts_a = batch_a if isinstance(batch_a, list) else [batch_a]
        parts_b = batch_b if isinstance(batch_b, list) else [batch_b]
        for part_a, part_b in zip(parts_a, parts_b):
            assert isinstance(part_a, Tensor) and isinstance(part_b, Tensor)
            assert part_a.dtype == part_b.dtype and part_a.shape == part_b.shape
            np.testing.assert_array_equal(part_a.data, part_b.data)


# --- imports ---------------------------------------------------------------------------------

def test_module_is_reachable_under_pytorchs_names():
    assert tc.utils.data is tinygrad_cnn.utils.data
    assert tc.utils.data.DataLoader is tc.data.DataLoader   # one loader for both faces
    assert tc.utils.data.Subset is tc.data.Subset


# --- default_collate -----------------------------------------------------------------------------

def test_collate_tensor_and_int_pairs():
    batch = default_collate([(Tensor(np.zeros((2, 3), np.float32)), 1),
                             (Tensor(np.ones((2, 3), np.float32)), 2)])
    assert isinstance(batch, list) and len(batch) == 2   # tuples collate to a list
    images, labels = batch
    assert images.shape == (2, 2, 3) and images.dtype == np.float32
    np.testing.assert_array_equal(images.data[1], np.ones((2, 3)))
    assert labels.dtype == np.int64 and labels.data.tolist() == [1, 2]


def test_collate_numbers_follow_pytorch_dtypes():
    assert default_collate([1.5, 2.0]).dtype == np.float64     # Python floats: float64
    assert default_collate([1, 2]).dtype == np.int64
    assert default_collate([True, False]).dtype == np.bool_
    assert default_collate([np.float32(1), np.float32(2)]).dtype == np.float32
    assert default_collate([np.int16(1), np.int16(2)]).dtype == np.int16
    stacked = default_collate([np.arange(3, dtype=np.uint8), np.arange(3, dtype=np.uint8)])
    assert stacked.dtype == np.uint8 and stacked.shape == (2, 3)


def test_collate_containers_recursively():
    Point = collections.namedtuple("Point", "x y")
    assert default_collate(["a", "b"]) == ["a", "b"]
    batch = default_collate([{"image": np.zeros(2), "name": "a", "label": 3},
                             {"image": np.ones(2), "name": "b", "label": 4}])
    assert set(batch) == {"image", "name", "label"} and batch["name"] == ["a", "b"]
    assert batch["image"].shape == (2, 2) and batch["label"].data.tolist() == [3, 4]
    points = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert isinstance(points, Point)
    assert points.x.data.tolist() == [1, 3] and points.y.dtype == np.float64
    nested = default_collate([[1, (2.0, "x")], [3, (4.0, "y")]])
    assert nested[0].data.tolist() == [1, 3] and nested[1][1] == ["x", "y"]


def test_collate_errors_name_the_problem():
    with pytest.raises(RuntimeError, match=r"equal size.*\[2\] at entry 0 and \[3\] at entry 1"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="found <class 'object'>"):
        default_collate([object(), object()])
    with pytest.raises(ValueError, match="empty batch"):
        default_collate([])


def test_default_convert_does_not_batch():
    converted = default_convert((np.zeros(2), "a", 3))
    assert isinstance(converted, list) and isinstance(converted[0], Tensor)
    assert converted[1:] == ["a", 3]
    assert default_convert(5) == 5


# --- datasets --------------------------------------------------------------------------------

def test_tensor_dataset_items_and_errors():
    features = Tensor(np.arange(12, dtype=np.float32).reshape(6, 2))
    labels = Tensor(np.arange(6))
    dataset = TensorDataset(features, labels)
    assert len(dataset) == 6
    feature, label = dataset[4]
    np.testing.assert_array_equal(feature.data, [8, 9])
    assert label.shape == () and label.data == 4 and label.dtype == np.int64
    assert len(TensorDataset(np.zeros((3, 1)))) == 3   # numpy arrays are accepted
    with pytest.raises(ValueError, match=r"size mismatch.*\[6, 5\]"):
        TensorDataset(features, Tensor(np.arange(5)))
    with pytest.raises(TypeError, match="argument 1 must be a Tensor"):
        TensorDataset(features, [1, 2, 3, 4, 5, 6])


def test_subset_concat_and_dataset_addition():
    dataset = TensorDataset(Tensor(np.arange(10)))
    subset = Subset(dataset, [7, 2, 5])
    assert len(subset) == 3 and subset[0][0].data == 7 and subset[-1][0].data == 5
    both = dataset + subset
    assert isinstance(both, ConcatDataset) and len(both) == 13
    assert both[10][0].data == 7 and both[-1][0].data == 5 and both[3][0].data == 3
    with pytest.raises(IndexError):
        both[13]
    with pytest.raises(IndexError, match="out of range"):
        Subset(dataset, [0, 10])
    with pytest.raises(NotImplementedError, match="__getitem__"):
        Dataset()[0]


def test_subset_of_image_dataset_keeps_arrays_and_classes():
    images = np.arange(5 * 4, dtype=np.uint8).reshape(5, 2, 2)
    dataset = ImageDataset(images, np.arange(5), classes=list("abcde"))
    subset = Subset(dataset, [4, 0])
    np.testing.assert_array_equal(subset.images, images[[4, 0]])
    assert subset.labels.tolist() == [4, 0] and subset.classes == list("abcde")


# --- random_split ----------------------------------------------------------------------------

def test_random_split_lengths_and_fraction_rounding():
    assert [len(part) for part in random_split(range(10), [3, 7])] == [3, 7]
    # floor of each share, then the remainder one by one from the first split on
    assert [len(part) for part in random_split(range(10), [1 / 3] * 3)] == [4, 3, 3]
    assert [len(part) for part in random_split(range(7), [0.5, 0.5])] == [4, 3]
    assert [len(part) for part in random_split(range(11), [0.1, 0.2, 0.7])] == [2, 2, 7]
    with pytest.warns(UserWarning, match="index 1 is 0"):
        assert [len(part) for part in random_split(range(3), [0.9, 0.1])] == [3, 0]


@given(total=st.integers(0, 300), weights=st.lists(st.integers(1, 20), min_size=1, max_size=6))
def test_random_split_fractions_partition_the_dataset(total, weights):
    fractions = [weight / sum(weights) for weight in weights]
    assume(sum(fractions) <= 1)   # PyTorch (and we) reject fractions that round above 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zero-length splits warn
        parts = random_split(range(total), fractions, seed=1)
    lengths = [len(part) for part in parts]
    floors = [int(np.floor(total * fraction)) for fraction in fractions]
    remainder = total - sum(floors)
    assert lengths == [floor + (index < remainder) for index, floor in enumerate(floors)]
    indices = [index for part in parts for index in part.indices]
    assert sorted(indices) == list(range(total))


def test_random_split_is_reproducible_and_errors_are_clear():
    first = random_split(range(20), [5, 15], generator=np.random.default_rng(3))
    again = random_split(range(20), [5, 15], generator=np.random.default_rng(3))
    assert first[0].indices == again[0].indices and isinstance(first[0].indices, list)
    tc.manual_seed(4)
    seeded = random_split(range(20), [5, 15])
    tc.manual_seed(4)
    assert random_split(range(20), [5, 15])[0].indices == seeded[0].indices
    assert seeded[0].indices != random_split(range(20), [5, 15])[0].indices
    with pytest.raises(ValueError, match=r"sum to 9, but the dataset has 10"):
        random_split(range(10), [3, 6])
    with pytest.raises(ValueError, match="neither non-negative ints nor fractions"):
        random_split(range(10), [0.5, 0.2])
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        random_split(range(10), [5, 5], generator=42)


# --- samplers and DataLoader -------------------------------------------------------------------

def labelled(count=23):
    """TensorDataset whose labels are the item indices (they reveal the order)."""
    rng = np.random.default_rng(0)
    return TensorDataset(Tensor(rng.standard_normal((count, 3, 4, 4)).astype(np.float32)),
                         Tensor(np.arange(count)))


def test_loader_batches_len_and_drop_last():
    dataset = labelled(23)
    loader = DataLoader(dataset, batch_size=5)
    batches = list(loader)
    assert len(loader) == len(batches) == 5
    assert [len(labels.data) for _, labels in batches] == [5, 5, 5, 5, 3]
    assert len(loader.dataset) == 23
    assert np.concatenate([labels.data for _, labels in batches]).tolist() == list(range(23))
    dropped = DataLoader(dataset, batch_size=5, drop_last=True)
    assert len(dropped) == 4 and [len(b[1].data) for b in dropped] == [5, 5, 5, 5]


def test_loader_without_batching_and_with_samplers():
    dataset = labelled(6)
    items = list(DataLoader(dataset, batch_size=None))
    assert len(items) == 6 and items[2][0].shape == (3, 4, 4)
    by_sampler = DataLoader(dataset, batch_size=2, sampler=[5, 3, 1])
    assert [labels.data.tolist() for _, labels in by_sampler] == [[5, 3], [1]]
    by_batches = DataLoader(dataset, batch_sampler=[[0, 1, 2], [4]])
    assert len(by_batches) == 2
    assert [labels.data.tolist() for _, labels in by_batches] == [[0, 1, 2], [4]]
    assert list(BatchSampler(SequentialSampler(range(5)), 2, drop_last=False)) == \
        [[0, 1], [2, 3], [4]]
    assert sorted(SubsetRandomSampler([2, 4, 6])) == [2, 4, 6]
    assert len(list(RandomSampler(range(4), replacement=True, num_samples=9))) == 9


def test_loader_rejects_conflicting_options():
    dataset = labelled(4)
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(dataset, shuffle=True, sampler=[0, 1])
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(dataset, batch_size=2, batch_sampler=[[0]])
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        DataLoader(dataset, batch_size=0)
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(dataset, num_workers=-1)
    with pytest.raises(ValueError, match="generator or seed"):
        DataLoader(dataset, seed=1, generator=np.random.default_rng(1))
    # accepted for compatibility; loads in this process
    assert len(list(DataLoader(dataset, batch_size=2, num_workers=2, pin_memory=True))) == 2


def test_shuffle_reproducible_under_manual_seed():
    dataset = labelled(40)
    loader = DataLoader(dataset, batch_size=40, shuffle=True)
    tc.manual_seed(7)
    first, second = (next(iter(loader))[1].data for _ in range(2))
    tc.manual_seed(7)
    assert next(iter(loader))[1].data.tolist() == first.tolist()
    assert next(iter(loader))[1].data.tolist() == second.tolist()
    assert first.tolist() != second.tolist() and sorted(first.tolist()) == list(range(40))


@given(count=st.integers(1, 40), batch_size=st.integers(1, 12), shuffle=st.booleans(),
       drop_last=st.booleans(), seed=st.integers(0, 2**16))
def test_vectorised_batches_equal_item_by_item(count, batch_size, shuffle, drop_last, seed):
    dataset = labelled(count)
    rng = np.random.default_rng(seed)
    images = ImageDataset(rng.integers(0, 256, (count, 5, 5), dtype=np.uint8), np.arange(count))
    subset = Subset(images, rng.permutation(count)[: max(1, count // 2)].tolist())
    for source in (dataset, images, subset):
        options = dict(batch_size=batch_size, shuffle=shuffle, drop_last=drop_last)
        tc.manual_seed(seed)
        fast = list(DataLoader(source, **options))
        tc.manual_seed(seed)
        slow = list(DataLoader(source, collate_fn=per_item, **options))
        assert_same_batches(fast, slow)


def test_overridden_getitem_is_respected():
    class Doubled(TensorDataset):
        def __getitem__(self, index):
            feature, label = super().__getitem__(index)
            return Tensor(feature.data * 2), label

    dataset = Doubled(Tensor(np.arange(4, dtype=np.float32)), Tensor(np.arange(4)))
    features, _ = next(iter(DataLoader(dataset, batch_size=4)))
    assert features.data.tolist() == [0, 2, 4, 6]
    features, _ = next(iter(DataLoader(Subset(dataset, [3, 1]), batch_size=2)))
    assert features.data.tolist() == [6, 2]


def test_legacy_normalize_and_seed_options_still_work():
    dataset = ImageDataset(np.full((4, 2, 2), 255, np.uint8), np.arange(4))
    images, labels = next(iter(DataLoader(dataset, batch_size=4, normalize=(0.5, 0.25))))
    assert images.shape == (4, 1, 2, 2) and images.dtype == np.float32
    np.testing.assert_allclose(images.data, 2.0, rtol=1e-6)
    first = [b[1].data.tolist() for b in DataLoader(labelled(9), batch_size=3, shuffle=True, seed=2)]
    again = [b[1].data.tolist() for b in DataLoader(labelled(9), batch_size=3, shuffle=True, seed=2)]
    assert first == again


# --- against PyTorch, when it is installed ------------------------------------------------------

@pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed")
def test_matches_torch_collate_split_lengths_and_tensor_dataset():
    import torch
    from torch.utils import data as torch_data

    Pair = collections.namedtuple("Pair", "a b")
    samples = [
        [(np.arange(6, dtype=np.float32).reshape(2, 3), 1), (np.ones((2, 3), np.float32), 2)],
        [1.5, 2.5], [1, 2], [True, False], [np.float32(1), np.float32(3)],
        [{"x": 1.0, "y": [1, 2]}, {"x": 2.0, "y": [3, 4]}], [Pair(1, 2.0), Pair(3, 4.0)],
        [np.int16(1), np.int16(2)], [np.array(1.0), np.array(2.0)],
    ]

    def leaves(value):
        if isinstance(value, (Tensor, torch.Tensor)):
            return [np.asarray(value.data if isinstance(value, Tensor) else value.numpy())]
        if isinstance(value, dict):
            return [leaf for key in sorted(value) for leaf in leaves(value[key])]
        if isinstance(value, (list, tuple)):
            return [leaf for item in value for leaf in leaves(item)]
        return [value]

    for sample in samples:
        ours, theirs = default_collate(sample), torch_data.default_collate(sample)
        assert type(ours).__name__ == type(theirs).__name__ or \
            (isinstance(ours, Tensor) and isinstance(theirs, torch.Tensor))
        for leaf_ours, leaf_theirs in zip(leaves(ours), leaves(theirs), strict=True):
            if isinstance(leaf_ours, np.ndarray):
                assert leaf_ours.dtype == leaf_theirs.dtype and leaf_ours.shape == leaf_theirs.shape
                np.testing.assert_array_equal(leaf_ours, leaf_theirs)
            else:
                assert leaf_ours == leaf_theirs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for total in (0, 1, 7, 10, 11, 99, 1000):
            for lengths in ([0.5, 0.5], [1 / 3] * 3, [0.9, 0.1], [0.1, 0.2, 0.7], [0.25] * 4):
                ours = [len(part) for part in random_split(range(total), lengths)]
                theirs = [len(part) for part in torch_data.random_split(range(total), lengths)]
                assert ours == theirs, (total, lengths)

        # twenty 0.05s sum to 1.0000000000000002: not fractions for either library
        with pytest.raises(ValueError):
            torch_data.random_split(range(10), [0.05] * 20)
        with pytest.raises(ValueError):
            random_split(range(10), [0.05] * 20)

    features = np.arange(20, dtype=np.float32).reshape(10, 2)
    labels = np.arange(10)
    ours = TensorDataset(Tensor(features), Tensor(labels))
    theirs = torch_data.TensorDataset(torch.from_numpy(features), torch.from_numpy(labels))
    assert len(ours) == len(theirs)
    for index in (0, 3, -1):
        for a, b in zip(ours[index], theirs[index], strict=True):
            np.testing.assert_array_equal(a.data, b.numpy())
    for batch_size, drop_last in ((3, False), (3, True), (10, False), (20, True)):
        ours_loader = DataLoader(ours, batch_size=batch_size, drop_last=drop_last)
        theirs_loader = torch_data.DataLoader(theirs, batch_size=batch_size, drop_last=drop_last)
        assert len(ours_loader) == len(theirs_loader)
        for ours_batch, theirs_batch in zip(ours_loader, theirs_loader, strict=True):
            assert isinstance(ours_batch, list) and isinstance(theirs_batch, list)
            for a, b in zip(ours_batch, theirs_batch, strict=True):
                assert a.dtype == b.numpy().dtype
                np.testing.assert_array_equal(a.data, b.numpy())


def test_vectorised_path_makes_no_item_calls(monkeypatch):
    dataset = labelled(12)
    images = ImageDataset(np.zeros((12, 3, 3), np.uint8), np.arange(12))

    def no_items(self, index):
        raise AssertionError("__getitem__ called on the vectorised path")

    monkeypatch.setattr(TensorDataset, "__getitem__", no_items)
    monkeypatch.setattr(ImageDataset, "__getitem__", no_items)
    for source in (dataset, images, Subset(dataset, [3, 1, 2]), Subset(Subset(images, [5, 6]), [1])):
        assert len(list(DataLoader(source, batch_size=5, shuffle=True))) >= 1
    with pytest.raises(AssertionError, match="vectorised path"):
        list(DataLoader(dataset, batch_size=5, collate_fn=per_item))


# --- WeightedRandomSampler ------------------------------------------------------------------

def test_weighted_sampler_draws_in_proportion_to_the_weights():
    from tinygrad_cnn.utils.data import WeightedRandomSampler
    weights = [1.0, 3.0, 0.0, 6.0]
    sampler = WeightedRandomSampler(weights, num_samples=20000, generator=np.random.default_rng(0))
    drawn = list(sampler)
    assert len(sampler) == len(drawn) == 20000 and all(isinstance(i, int) for i in drawn[:10])
    frequencies = np.bincount(drawn, minlength=4) / len(drawn)
    # binomial standard error at 20,000 draws is < 0.004: five of them
    np.testing.assert_allclose(frequencies, np.array(weights) / 10, atol=0.02)
    assert frequencies[2] == 0


def test_weighted_sampler_without_replacement_and_with_a_loader():
    from tinygrad_cnn.utils.data import WeightedRandomSampler
    sampler = WeightedRandomSampler(tc.tensor([0.5, 0.0, 2.0, 1.0]), 3, replacement=False,
                                    generator=np.random.default_rng(1))
    for _ in range(5):
        drawn = list(sampler)
        assert sorted(drawn) == [0, 2, 3]            # the zero weight only once the others are used
    assert sorted(WeightedRandomSampler([1.0, 0.0], 2, replacement=False)) == [0, 1]
    labels = np.array([0] * 90 + [1] * 10)
    class_weight = 1.0 / np.bincount(labels)
    tc.manual_seed(0)
    balanced = WeightedRandomSampler(class_weight[labels], num_samples=2000)
    loader = DataLoader(TensorDataset(tc.tensor(labels)), batch_size=100, sampler=balanced)
    seen = np.concatenate([batch.numpy() for (batch,) in loader])
    assert len(seen) == 2000 and 0.4 < seen.mean() < 0.6     # the rare class is drawn half the time


@pytest.mark.parametrize("args, error, message", [
    (([1.0, 2.0], 0), ValueError, "num_samples should be a positive integer value, but got num_samples=0"),
    (([1.0, 2.0], 3, "yes"), ValueError, "replacement should be a boolean value, but got replacement='yes'"),
    (([[1.0]], 2), ValueError, r"weights should be a 1d sequence but given weights have shape \(1, 1\)"),
    (([-1.0, 2.0], 2), RuntimeError, "invalid distribution"),
    (([0.0, 0.0], 2), RuntimeError, "invalid distribution"),
    (([1.0, 2.0], 3, False), RuntimeError, "cannot draw 3 samples without replacement from 2 weights"),
])
def test_weighted_sampler_errors_are_pytorchs_kinds(args, error, message):
    from tinygrad_cnn.utils.data import WeightedRandomSampler
    with pytest.raises(error, match="WeightedRandomSampler: " + message):
        list(WeightedRandomSampler(*args))
    torch = pytest.importorskip("torch")
    with pytest.raises(error):
        list(torch.utils.data.WeightedRandomSampler(*args))


def test_weighted_sampler_matches_torch_frequencies_and_length():
    torch = pytest.importorskip("torch")
    from tinygrad_cnn.utils.data import WeightedRandomSampler
    weights = [0.2, 0.0, 1.0, 0.3, 2.5]
    ours = WeightedRandomSampler(weights, 30000, generator=np.random.default_rng(2))
    theirs = torch.utils.data.WeightedRandomSampler(weights, 30000, generator=torch.Generator().manual_seed(2))
    assert len(ours) == len(theirs)
    ours_freq = np.bincount(list(ours), minlength=5) / 30000
    theirs_freq = np.bincount(list(theirs), minlength=5) / 30000
    np.testing.assert_allclose(ours_freq, theirs_freq, atol=0.02)
    assert ours_freq[1] == theirs_freq[1] == 0
