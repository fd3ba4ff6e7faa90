"""Tests of tinygrad_cnn.serialization that need no PyTorch: round trips of
nested checkpoints, atomic saves that survive interruption, clear errors for
damaged or foreign files, and the older .npz checkpoints still loading.
(The PyTorch format itself, the weights-only loader and safetensors:
test_torch_format.py.)"""
import io
import os
import re
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

from tinygrad_cnn import Tensor, nn, optim
from tinygrad_cnn import serialization
from tinygrad_cnn.serialization import CheckpointError, load, save, torch_zip

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def as_loaded(obj):
    """What ``load`` gives back for ``obj``: numpy arrays as Tensors, numpy
    scalars as Python numbers, everything else as it was."""
    if isinstance(obj, np.ndarray):
        return Tensor(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return type(obj)((key, as_loaded(value)) for key, value in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(as_loaded(item) for item in obj)
    return obj


def assert_same(got, want):
    """Equal structure, types, dtypes and values."""
    if isinstance(want, Tensor):
        assert type(got) is type(want) and got.requires_grad == want.requires_grad and got.is_leaf
        got, want = got.data, want.data
    if isinstance(want, (np.ndarray, np.generic)):
        assert type(got) is type(want) and got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
    elif isinstance(want, dict):
        assert type(got) is type(want) and list(got) == list(want)
        for key in want:
            assert_same(got[key], want[key])
    elif isinstance(want, (list, tuple)):
        assert type(got) is type(want) and len(got) == len(want)
        for got_item, want_item in zip(got, want):
            assert_same(got_item, want_item)
    elif isinstance(want, float) and np.isnan(want):
        assert isinstance(got, float) and np.isnan(got)
    else:
        assert type(got) is type(want) and got == want


def checkpoint_like_training():
    rng = np.random.default_rng(0)
    model = OrderedDict([("0.weight", rng.standard_normal((8, 1, 3, 3), dtype=np.float32)),
                         ("0.bias", np.zeros(8, np.float32)),
                         ("3.weight", rng.standard_normal((10, 1352), dtype=np.float32))])
    return {
        "model": model,
        "optimizer": {"state": {0: {"step": 5, "exp_avg": np.ones((8, 1, 3, 3), np.float32)},
                                2: {"step": 5, "exp_avg": np.zeros((10, 1352), np.float32)}},
                      "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1, 2]}]},
        "epoch": 3,
        "history": {"loss": [2.3, 0.5, float("nan"), float("inf")], "accuracy": [0.1, 0.9]},
        "name": "tinynet ü/√",
        "notes": None,
        "finished": False,
        "tags": ["mnist", "adam", 1, 2.5, None, True],
        "tensor": Tensor(np.arange(6, dtype=np.float32).reshape(2, 3)),
        "numpy_scalars": [np.float32(0.25), np.int64(7), np.bool_(True)],
        "odd_keys": {"a/b": np.arange(3, dtype=np.int64), "": np.float64(1.5), 1: "int key",
                     "1": np.array([1], np.int8), "%2F": "text", "#structure": 0},
        "arrays": [np.zeros((0, 4), np.float32), np.array(3.5, np.float64),
                   np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)), np.array([True, False])],
        "empty": {"dict": {}, "list": [], "tuple": ()},
    }


def test_round_trip_keeps_structure_types_and_dtypes(tmp_path):
    obj = checkpoint_like_training()
    save(obj, tmp_path / "checkpoint.pt")
    back = load(tmp_path / "checkpoint.pt")
    assert_same(back, as_loaded(obj))
    assert back["model"]["3.weight"].dtype == np.float32
    assert type(back["tensor"]) is Tensor and type(back["arrays"][0]) is Tensor
    assert type(back["model"]) is OrderedDict and type(back["odd_keys"]) is dict
    assert back["numpy_scalars"] == [0.25, 7, True] and type(back["numpy_scalars"][1]) is int


def test_top_level_array_and_scalars(tmp_path):
    for obj in (np.arange(4, dtype=np.float32), [1, "two", None], 3.5, None, {(1, 2): {3, 4}}):
        save(obj, tmp_path / "x.pt")
        assert_same(load(tmp_path / "x.pt"), as_loaded(obj))


def test_path_without_suffix_is_used_as_is(tmp_path):
    save({"w": np.ones(2, np.float32)}, tmp_path / "weights")
    assert os.listdir(tmp_path) == ["weights"]
    assert_same(load(str(tmp_path / "weights")), {"w": Tensor(np.ones(2, np.float32))})


def test_model_and_optimizer_checkpoint(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3))
    opt = optim.Adam(model.parameters())
    for param in model.parameters():
        param.grad = Tensor(np.ones_like(param.data))
    opt.step()
    save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 1}, tmp_path / "run.npz")
    back = load(tmp_path / "run.npz")
    model.load_state_dict(back["model"])
    optim.Adam(model.parameters()).load_state_dict(back["optimizer"])
    assert back["epoch"] == 1


# --- atomic writes ------------------------------------------------------------------------


def previous_checkpoint(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save({"model": {"w": np.arange(5, dtype=np.float32)}, "epoch": 1}, path)
    return path, path.read_bytes()


def test_failed_replace_leaves_previous_file_and_no_temp_files(tmp_path, monkeypatch):
    path, before = previous_checkpoint(tmp_path)

    def failing_replace(source, target):
        raise OSError("disk full")

    monkeypatch.setattr(serialization.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        save({"model": {"w": np.zeros(5, np.float32)}, "epoch": 2}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["checkpoint.pt"]


@pytest.mark.parametrize("error", [RuntimeError("write failed"), KeyboardInterrupt()],
                         ids=["error", "ctrl_c"])
def test_interrupted_write_leaves_previous_file_and_no_temp_files(tmp_path, monkeypatch, error):
    path, before = previous_checkpoint(tmp_path)
    real_write_record = torch_zip._write_record
    calls = []

    def write_then_fail(archive, name, data, base):
        calls.append(name)
        if len(calls) == 6:      # part of the new file is already on disk
            raise error
        real_write_record(archive, name, data, base)

    monkeypatch.setattr(torch_zip, "_write_record", write_then_fail)
    with pytest.raises(type(error)):
        save({"model": {"a": np.ones(3), "b": np.ones(3), "c": np.ones(3)}}, path)
    assert calls[-1] == "archive/data/1"
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["checkpoint.pt"]
    assert_same(load(path), {"model": {"w": Tensor(np.arange(5, dtype=np.float32))}, "epoch": 1})


def test_existing_file_keeps_its_permissions(tmp_path):
    path, _ = previous_checkpoint(tmp_path)
    os.chmod(path, 0o640)
    save({"x": 1}, path)
    assert os.stat(path).st_mode & 0o777 == 0o640


def test_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save({"x": 1}, tmp_path / "no_such_dir" / "c.npz")


# --- refusing what cannot be saved ---------------------------------------------------------


def _local_function():
    def inner():
        return None
    return inner


@pytest.mark.parametrize("obj, message", [
    ({"model": {"w": np.array([{"a": 1}, None], dtype=object)}},
     r"'model/w' is an array of dtype object, which has no PyTorch tensor type"),
    ({"names": [np.array(["a", "b"])]}, r"'names/0' is an array of dtype <U1"),
    ({"fn": lambda x: x}, r"'fn' is <function <lambda>.*not importable as tests?.*<lambda>"),
    ({"hooks": [_local_function()]}, r"'hooks/0' is <function .*inner.*lambdas and local functions"),
    ({"stream": (n for n in range(2))}, r"'stream' is a generator, which cannot be pickled"),
], ids=["object_array", "string_array", "lambda", "local_function", "generator"])
def test_unsaveable_values_are_refused_before_writing(tmp_path, obj, message):
    with pytest.raises(TypeError, match=message):
        save(obj, tmp_path / "c.pt")
    assert os.listdir(tmp_path) == []


# --- damaged and foreign files ------------------------------------------------------------


def test_missing_file_names_it(tmp_path):
    path = tmp_path / "nothing.pt"
    with pytest.raises(FileNotFoundError, match="nothing.pt"):
        load(path)


@pytest.mark.parametrize("keep", [0.3, 0.8, 0.99])
def test_truncated_file_gives_a_clear_error(tmp_path, keep):
    path, data = previous_checkpoint(tmp_path)
    path.write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(CheckpointError, match=r"checkpoint.pt' is truncated or corrupt"):
        load(path)


def test_flipped_bytes_give_a_clear_error(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save({"w": np.zeros(1000, np.float32)}, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF          # inside the array: the zip CRC catches it
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"checkpoint.pt' is truncated or corrupt .*CRC"):
        load(path)


@pytest.mark.parametrize("content, message", [
    (b"loss,accuracy\n0.5,0.9\n", "is not a checkpoint that tinygrad_cnn reads: neither PyTorch's zip format"),
    (b"", "is empty"),
], ids=["text", "empty"])
def test_foreign_files_give_a_clear_error(tmp_path, content, message):
    path = tmp_path / "notes.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=re.escape(f"'{path}' {message}")):
        load(path)


def test_plain_npz_and_npy_are_not_ours(tmp_path):
    np.savez(tmp_path / "plain.npz", weight=np.ones(2))
    with pytest.raises(CheckpointError, match=r"plain.npz' is an .npz of plain arrays, not a checkpoint.*weight"):
        load(tmp_path / "plain.npz")
    np.save(tmp_path / "single.npy", np.ones(2))
    with pytest.raises(CheckpointError, match=r"single.npy' is a single .npy array"):
        load(tmp_path / "single.npy")


PICKLE_RAN = []


def _record_unpickling():
    PICKLE_RAN.append(True)
    return "payload"


class Payload:
    """Unpickling this object calls _record_unpickling: it must never happen."""

    def __reduce__(self):
        return (_record_unpickling, ())


# --- the .npz checkpoints tinygrad_cnn wrote before --------------------------------------


def write_old_checkpoint(path, root, arrays):
    """A checkpoint in the older layout (see tinygrad_cnn/serialization/npz.py)."""
    import json
    structure = json.dumps({"format": "tinygrad_cnn.checkpoint", "version": 2, "root": root})
    with zipfile.ZipFile(path, "w") as archive:
        for name, array in [("#structure", np.frombuffer(structure.encode(), np.uint8)), *arrays.items()]:
            member = io.BytesIO()
            np.lib.format.write_array(member, array, allow_pickle=array.dtype.hasobject)
            archive.writestr(name + ".npy", member.getvalue())


def test_checkpoint_written_by_the_npz_format_still_loads():
    """tests/data/checkpoint_npz_v2.pth was written by the previous save (the
    .npz layout) from a trained Sequential(Conv2d(1, 2, 3), ReLU, Flatten,
    Linear(8, 3)) with its Adam state; checkpoint_npz_v2_logits.npz holds an
    input and that model's logits for it."""
    back = load(os.path.join(DATA, "checkpoint_npz_v2.pth"))
    assert back["epoch"] == 3 and back["history"] == {"loss": [0.9, 0.4]} and back["name"] == "tiny"
    assert type(back["mean"]) is np.float32 and type(back["labels"]) is np.ndarray   # as saved then
    model = small_model()
    model.load_state_dict(back["model"])
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    optimizer.load_state_dict(back["optimizer"])
    assert float(optimizer.state_dict()["state"][0]["step"]) == 1
    for name, value in model.state_dict().items():          # the weights load exactly
        np.testing.assert_array_equal(value.numpy(), np.asarray(back["model"][name]))
    # the logits are float32 sums of at most 9 products; another BLAS kernel (with or without
    # FMA: OPENBLAS_CORETYPE=SandyBridge) rounds them a few ulps apart, ~9 * 6e-8 of their size
    with np.load(os.path.join(DATA, "checkpoint_npz_v2_logits.npz")) as expected:
        np.testing.assert_allclose(model(Tensor(expected["x"])).detach().numpy(), expected["logits"],
                                   rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("weights_only", [True, False])
def test_pickled_object_array_is_refused(tmp_path, weights_only):
    path = tmp_path / "evil.npz"
    write_old_checkpoint(path, {"dict": [["w", {"array": "w"}]]},
                         {"w": np.array([Payload()], dtype=object)})
    with pytest.raises(CheckpointError, match=r"evil.npz' holds a pickled object array 'w'; refused"):
        load(path, weights_only=weights_only)      # weights_only=False still never unpickles
    assert PICKLE_RAN == []


# --- PyTorch's face: any file name, file objects, Tensors, map_location -------------------


def small_model():
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3))


@pytest.mark.parametrize("name", ["model.pth", "model.pt", "model.ckpt", "model", "model.npz", "model.tar"])
def test_state_dict_round_trip_under_any_file_name(tmp_path, name):
    model = small_model()
    save(model.state_dict(), tmp_path / name)
    assert os.listdir(tmp_path) == [name]           # no .npz appended, no temporary file left
    back = load(tmp_path / name)
    assert type(back) is OrderedDict and list(back) == list(model.state_dict())
    for key, value in back.items():
        assert type(value) is Tensor and value.dtype == np.float32 and not value.requires_grad
        np.testing.assert_array_equal(value.detach().numpy(), model.state_dict()[key].detach().numpy())
    fresh = small_model()
    assert repr(fresh.load_state_dict(back)) == "<All keys matched successfully>"
    x = Tensor(np.random.default_rng(0).random((2, 1, 4, 4), dtype=np.float32))
    np.testing.assert_array_equal(fresh(x).detach().numpy(), model(x).detach().numpy())


def test_bytes_io_round_trip_like_pytorch():
    model = small_model()
    opt = optim.Adam(model.parameters(), lr=0.01)
    for param in model.parameters():
        param.grad = Tensor(np.ones_like(param.data))
    opt.step()
    buffer = io.BytesIO()
    buffer.write(b"header")                          # written from the current position
    save({"model": model.state_dict(), "optimizer": opt.state_dict()}, buffer)
    buffer.seek(6)
    back = load(buffer)
    assert not buffer.closed
    np.testing.assert_array_equal(back["model"]["3.weight"].detach().numpy(), model[3].weight.detach().numpy())
    fresh_model = small_model()
    fresh_model.load_state_dict(back["model"])
    fresh = optim.Adam(fresh_model.parameters(), lr=0.01)
    fresh.load_state_dict(back["optimizer"])
    assert fresh.state_dict()["state"][0]["step"] == 1


class ReadOnlyStream:
    """A file object without seek (a pipe or a socket)."""

    def __init__(self, data):
        self._data = io.BytesIO(data)

    def read(self, size=-1):
        return self._data.read(size)

    def seekable(self):
        return False


def test_unseekable_file_object_loads():
    buffer = io.BytesIO()
    save({"w": Tensor(np.arange(3, dtype=np.float32))}, buffer)
    back = load(ReadOnlyStream(buffer.getvalue()))
    np.testing.assert_array_equal(back["w"].detach().numpy(), np.arange(3, dtype=np.float32))


def test_tensors_keep_requires_grad_and_dtype():
    obj = {"leaf": Tensor(np.ones(2, np.float64), requires_grad=True), "param": nn.Parameter(np.zeros(3, np.float32)),
           "ints": Tensor(np.arange(3))}
    buffer = io.BytesIO()
    save(obj, buffer)
    buffer.seek(0)
    back = load(buffer)
    assert back["leaf"].requires_grad and back["leaf"].dtype == np.float64
    assert type(back["param"]) is nn.Parameter and back["param"].requires_grad
    assert back["ints"].dtype == obj["ints"].dtype and not back["ints"].requires_grad


@pytest.mark.parametrize("map_location", [None, "cpu", "cpu:0", {"cuda:0": "cpu"}, lambda storage, loc: storage])
def test_map_location_on_the_cpu_changes_nothing(tmp_path, map_location):
    save({"w": Tensor(np.ones(2, np.float32))}, tmp_path / "w.pt")
    np.testing.assert_array_equal(load(tmp_path / "w.pt", map_location=map_location)["w"].detach().numpy(), [1.0, 1.0])


@pytest.mark.parametrize("map_location", ["cuda", "cuda:0", "mps"])
def test_map_location_on_a_gpu_raises(tmp_path, map_location):
    save({"w": np.ones(2)}, tmp_path / "w.pt")
    with pytest.raises(RuntimeError, match=f"map_location='{map_location}'.*runs on the CPU"):
        load(tmp_path / "w.pt", map_location=map_location)


def test_file_object_errors_name_it():
    with pytest.raises(CheckpointError, match=r"load: the BytesIO object is not a checkpoint that tinygrad_cnn"):
        load(io.BytesIO(b"\x80\x02}q\x00."))         # a bare pickle
    with pytest.raises(CheckpointError, match=r"load: the BytesIO object is in PyTorch's legacy format"):
        load(io.BytesIO(b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.\x80\x02M\xe9\x03."))
    with pytest.raises(TypeError, match=r"save: f must be a file name .* or a binary file object, got int"):
        save({}, 3)


def test_version_1_checkpoints_still_load(tmp_path):
    """Files written before Tensors and OrderedDicts had their own nodes."""
    import json
    structure = {"format": "tinygrad_cnn.checkpoint", "version": 1,
                 "root": {"dict": [["model", {"dict": [["w", {"array": "model/w"}]]}], ["epoch", 3]]}}
    with zipfile.ZipFile(tmp_path / "old.npz", "w") as archive:
        for name, array in [("#structure", np.frombuffer(json.dumps(structure).encode(), np.uint8)),
                            ("model/w", np.arange(3, dtype=np.float32))]:
            member = io.BytesIO()
            np.lib.format.write_array(member, array)
            archive.writestr(name + ".npy", member.getvalue())
    back = load(tmp_path / "old.npz")
    assert back["epoch"] == 3 and type(back["model"]["w"]) is np.ndarray
