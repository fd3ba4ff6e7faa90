"""PyTorch's file format both ways, the weights-only loader, and safetensors.

The tests at the top need no PyTorch (the zip layout, round trips of every
dtype, malicious pickles refused, damaged files); those that compare with
real torch take the ``torch`` fixture, which skips where torch is missing,
and the safetensors ones skip without the ``safetensors`` package.
"""
import gc
import io
import os
import pickle
import pickletools
import struct
import warnings
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_cnn as tc
from tinygrad_cnn import Tensor, nn, optim
from tinygrad_cnn.serialization import CheckpointError, WeightsOnlyError, load, save

# every dtype a tensor can have here, and the few more numpy has that PyTorch shares
DTYPES = [np.float32, np.float64, np.float16, np.int64, np.int32, np.int16, np.int8, np.uint8, np.bool_,
          np.uint16, np.uint32, np.uint64, np.complex64, np.complex128]


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def sample(dtype, shape=(2, 3), seed=0):
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 100, size=shape)
    if np.dtype(dtype).kind == "b":
        return values % 2 == 1
    if np.dtype(dtype).kind in "fc":
        return (rng.standard_normal(shape) * 10).astype(dtype)
    return values.astype(dtype)


def small_model():
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3))


def globals_in(pickled: bytes) -> set:
    """The 'module name' of every GLOBAL opcode of a protocol-2 pickle."""
    return {arg for opcode, arg, _ in pickletools.genops(pickled) if opcode.name == "GLOBAL"}


def zip_with_pickle(path, pickled: bytes, records=()):
    """A file in PyTorch's layout around a given data.pkl."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickled)
        archive.writestr("archive/version", "3\n")
        for name, data in records:
            archive.writestr(name, data)


# --- the layout -------------------------------------------------------------------------


def test_layout_is_pytorchs(tmp_path):
    model = small_model()
    save(model.state_dict(), tmp_path / "model.pt")
    with zipfile.ZipFile(tmp_path / "model.pt") as archive:
        names = archive.namelist()
        assert names == ["archive/data.pkl", "archive/.format_version", "archive/.storage_alignment",
                         "archive/byteorder", "archive/data/0", "archive/data/1", "archive/data/2",
                         "archive/data/3", "archive/version", "archive/.data/serialization_id"]
        assert archive.read("archive/byteorder") == b"little" and archive.read("archive/version") == b"3\n"
        assert all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist())
        pickled = archive.read("archive/data.pkl")
        weight = np.frombuffer(archive.read("archive/data/0"), "<f4")
        np.testing.assert_array_equal(weight, model[0].weight.data.ravel())
        # every record's data starts at a multiple of 64 bytes (what torch.load(mmap=True) relies on)
        raw = (tmp_path / "model.pt").read_bytes()
        for info in archive.infolist():
            name_length, extra_length = struct.unpack("<HH", raw[info.header_offset + 26:info.header_offset + 30])
            assert (info.header_offset + 30 + name_length + extra_length) % 64 == 0, info.filename
    assert pickled[:2] == b"\x80\x02"          # protocol 2, as torch.save
    assert globals_in(pickled) == {"collections OrderedDict", "torch._utils _rebuild_tensor_v2",
                                   "torch FloatStorage"}


def test_parameters_and_dtypes_use_pytorchs_globals():
    buffer = io.BytesIO()
    save({"p": nn.Parameter(np.ones(2, np.float32)), "n": Tensor(np.arange(3, dtype=np.uint16)),
          "dtype": tc.float16, "size": tc.Size([2, 3]), "device": tc.device("cpu"), "raw": b"\x00\xff"}, buffer)
    with zipfile.ZipFile(buffer) as archive:
        found = globals_in(archive.read("archive/data.pkl"))
    assert found == {"torch._utils _rebuild_parameter", "torch._utils _rebuild_tensor_v2", "torch FloatStorage",
                     "collections OrderedDict", "torch._utils _rebuild_tensor_v3", "torch.storage UntypedStorage",
                     "torch uint16", "torch float16", "torch Size", "torch device", "_codecs encode"}


# --- round trips here -------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_every_dtype_round_trips(dtype):
    arrays = {"matrix": sample(dtype), "scalar": sample(dtype, ()), "empty": sample(dtype, (0, 4)),
              "transposed": sample(dtype, (3, 4)).T, "strided": sample(dtype, (4, 6))[::2, ::-3],
              "fortran": np.asfortranarray(sample(dtype, (3, 2)))}
    buffer = io.BytesIO()
    save({name: Tensor(array) for name, array in arrays.items()}, buffer)
    buffer.seek(0)
    back = load(buffer)
    for name, array in arrays.items():
        assert type(back[name]) is Tensor and back[name].dtype == array.dtype, name
        assert back[name].shape == array.shape and back[name].data.flags.writeable, name
        np.testing.assert_array_equal(back[name].data, array)


def test_views_are_saved_as_their_own_elements():
    """A view is saved as a contiguous copy of what it shows, not its base."""
    base = np.arange(10_000, dtype=np.float32)
    buffer = io.BytesIO()
    save({"head": Tensor(base[:3])}, buffer)
    assert len(buffer.getvalue()) < 2_000
    buffer.seek(0)
    np.testing.assert_array_equal(load(buffer)["head"].data, [0, 1, 2])


def test_one_tensor_saved_twice_loads_as_one():
    shared = nn.Parameter(np.ones((2, 2), np.float32))
    buffer = io.BytesIO()
    save({"encoder": shared, "decoder": shared, "list": [shared]}, buffer)
    buffer.seek(0)
    back = load(buffer)
    assert back["encoder"] is back["decoder"] is back["list"][0] and type(back["encoder"]) is nn.Parameter


def test_recursive_containers_round_trip():
    loop = [1]
    loop.append(loop)
    pair = ([],)
    pair[0].append(pair)
    buffer = io.BytesIO()
    save({"loop": loop, "pair": pair}, buffer)
    buffer.seek(0)
    back = load(buffer)
    assert back["loop"][1] is back["loop"] and back["pair"][0][0] is back["pair"]


def test_optimizer_state_dict_round_trips(tmp_path):
    model = small_model()
    opt = optim.Adam(model.parameters(), lr=0.01)
    for step in range(2):
        for param in model.parameters():
            param.grad = Tensor(np.full(param.shape, step + 1.0, np.float32))
        opt.step()
    save(opt.state_dict(), tmp_path / "opt.pt")
    back = load(tmp_path / "opt.pt")
    fresh = optim.Adam(small_model().parameters(), lr=0.01)
    fresh.load_state_dict(back)
    for entry, want in zip(fresh.state_dict()["state"].values(), opt.state_dict()["state"].values()):
        assert float(entry["step"]) == float(want["step"]) == 2
        np.testing.assert_array_equal(entry["exp_avg_sq"].data, want["exp_avg_sq"].data)
    assert back["param_groups"][0]["betas"] == (0.9, 0.999)


# --- whole objects ----------------------------------------------------------------------


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = small_model()
        self.scale = 2.0

    def forward(self, x):
        return self.body(x) * self.scale


def test_whole_model_needs_weights_only_false(tmp_path):
    model = Net()
    save(model, tmp_path / "model.pth")
    with pytest.raises(WeightsOnlyError, match=r"model.pth': Weights only load failed: the file names the global "
                                               r"test_torch_format.Net.*weights_only=False.*trust the source") as err:
        load(tmp_path / "model.pth")
    assert isinstance(err.value, pickle.UnpicklingError)    # what torch.load raises for it
    back = load(tmp_path / "model.pth", weights_only=False)
    assert type(back) is Net and type(back.body[0].weight) is nn.Parameter and back.scale == 2.0
    x = Tensor(np.random.default_rng(0).random((2, 1, 4, 4), dtype=np.float32))
    np.testing.assert_array_equal(back(x).detach().numpy(), model(x).detach().numpy())


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return type(other) is Point and (self.x, self.y) == (other.x, other.y)


def test_modules_and_tensors_pickle_with_pickle_itself():
    model = Net()
    back = pickle.loads(pickle.dumps(model))
    assert type(back.body[3].bias) is nn.Parameter
    np.testing.assert_array_equal(back.body[3].weight.data, model.body[3].weight.data)


# --- what the weights-only loader refuses (no torch needed) ------------------------------

class RunsCommand:
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class MakesDirectory:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def test_reduce_calling_os_system_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.pt"
    zip_with_pickle(path, pickle.dumps({"w": RunsCommand(f"touch {marker}")}, protocol=2))
    with pytest.raises(WeightsOnlyError, match=r"names the global (os|posix|nt)\.system, which the weights-only"):
        load(path)
    assert not marker.exists()


def test_the_refused_payload_is_real(tmp_path):
    """The same kind of file does run its payload with weights_only=False:
    the refusal above is what protects."""
    marker = tmp_path / "marker"
    path = tmp_path / "evil.pt"
    zip_with_pickle(path, pickle.dumps([MakesDirectory(str(marker))], protocol=2))
    with pytest.raises(WeightsOnlyError, match=r"names the global (os|posix|nt)\.mkdir"):
        load(path)
    assert not marker.exists()
    assert load(path, weights_only=False) == [None] and marker.is_dir()


@pytest.mark.parametrize("module, name", [("builtins", "eval"), ("__builtin__", "eval"), ("builtins", "getattr"),
                                          ("os", "system"), ("subprocess", "Popen"), ("torch", "load"),
                                          ("torch._utils", "__builtins__"), ("collections", "os"),
                                          ("numpy.core.multiarray", "_reconstruct")])
def test_unexpected_globals_are_refused_by_name(tmp_path, module, name):
    # GLOBAL module.name, then REDUCE it with ('print(1)',): a call, if it were allowed
    pickled = (b"\x80\x02c" + module.encode() + b"\n" + name.encode() + b"\nX\x08\x00\x00\x00print(1)\x85R.")
    path = tmp_path / "evil.pt"
    zip_with_pickle(path, pickled)
    shown = {"__builtin__": "builtins"}.get(module, module)
    with pytest.raises(WeightsOnlyError, match=rf"names the global {shown}\.{name}, which"):
        load(path)


def test_persistent_ids_other_than_storages_are_refused(tmp_path):
    class WithId(pickle.Pickler):
        def persistent_id(self, obj):
            return ("module", "os") if obj == "x" else None

    buffer = io.BytesIO()
    WithId(buffer, protocol=2).dump(["x"])
    zip_with_pickle(tmp_path / "evil.pt", buffer.getvalue())
    with pytest.raises(WeightsOnlyError, match=r"unsupported persistent id \('module', 'os'\)"):
        load(tmp_path / "evil.pt")


def edit_pickle(path, old: bytes, new: bytes):
    """Replace bytes inside data.pkl of a saved file, keeping the layout."""
    with zipfile.ZipFile(path) as archive:
        records = [(name, archive.read(name)) for name in archive.namelist()]
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in records:
            if name.endswith("data.pkl"):
                assert old in data
                data = data.replace(old, new)
            archive.writestr(name, data)


def test_tensor_reaching_past_its_storage_is_refused(tmp_path):
    """A size that would read memory outside the storage record."""
    path = tmp_path / "w.pt"
    save({"w": Tensor(np.zeros(6, np.float32))}, path)
    edit_pickle(path, b"K\x06\x85", b"K\x60\x85")        # size (6,) -> (96,)
    with pytest.raises(CheckpointError, match=r"w.pt' cannot be loaded: a tensor of size \[96\] reaches element 95 "
                                              r"of a storage of 6"):
        load(path)


@pytest.mark.parametrize("record, message", [
    (None, r"the storage record 'archive/data/0' is missing"),
    (b"\x00" * 8, r"the storage record 'archive/data/0' has 8 bytes, 6 float32 elements need 24"),
], ids=["missing", "short"])
def test_storage_record_that_does_not_fit_is_named(tmp_path, record, message):
    path = tmp_path / "w.pt"
    save({"w": Tensor(np.zeros(6, np.float32))}, path)
    with zipfile.ZipFile(path) as archive:
        records = [(name, archive.read(name)) for name in archive.namelist()]
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in records:
            if name == "archive/data/0":
                data = record
            if data is not None:
                archive.writestr(name, data)
    with pytest.raises(CheckpointError, match=rf"w.pt' cannot be loaded: {message}"):
        load(path)


def test_huge_sizes_are_refused_before_allocating(tmp_path):
    path = tmp_path / "w.pt"
    save({"w": Tensor(np.zeros(6, np.float32))}, path)
    edit_pickle(path, b"K\x06\x85", b"\x8a\x08" + (2 ** 62).to_bytes(8, "little") + b"\x85")   # size (2**62,)
    with pytest.raises(CheckpointError, match=r"w.pt' cannot be loaded: a tensor of size \[4611686018427387904\]"):
        load(path)


# --- damaged files: a clear error, the file closed, the model unchanged -------------------


def open_descriptors():
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None


@pytest.mark.parametrize("damage", ["truncated_half", "truncated_end", "garbage", "garbage_pickle", "zeros"])
def test_damaged_files_raise_close_the_file_and_leave_the_model(tmp_path, damage):
    model = small_model()
    path = tmp_path / "model.pt"
    save(small_model().state_dict(), path)
    data = path.read_bytes()
    path.write_bytes({"truncated_half": data[:len(data) // 2], "truncated_end": data[:-10],
                      "garbage": np.random.default_rng(0).bytes(len(data)), "zeros": bytes(len(data)),
                      "garbage_pickle": None}[damage] or b"")
    if damage == "garbage_pickle":
        zip_with_pickle(path, b"\x80\x02}q\x00(X\x01\x00\x00\x00wq\x01" + np.random.default_rng(1).bytes(64))
    before = {key: value.data.copy() for key, value in model.state_dict().items()}
    descriptors = open_descriptors()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)     # an unclosed file would warn when collected
        with pytest.raises(CheckpointError, match=r"model.pt' (is truncated or corrupt|is not a checkpoint"
                                                  r"|cannot be loaded)"):
            model.load_state_dict(load(path))
        gc.collect()
    assert open_descriptors() == descriptors
    os.remove(path)       # (would fail on Windows if the file were still open)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.data, before[key])


def test_state_dict_that_does_not_fit_leaves_the_model(tmp_path):
    model = small_model()
    before = model[3].weight.data.copy()
    state = small_model().state_dict()
    state["3.weight"] = Tensor(np.zeros((4, 8), np.float32))
    save(state, tmp_path / "bad.pt")
    with pytest.raises(RuntimeError, match=r"size mismatch for 3.weight"):
        model.load_state_dict(load(tmp_path / "bad.pt"))
    np.testing.assert_array_equal(model[3].weight.data, before)


# --- safetensors (our own reader and writer; the package's below) -------------------------


@pytest.mark.parametrize("dtype", [d for d in DTYPES if d is not np.complex128], ids=lambda d: np.dtype(d).name)
def test_safetensors_round_trip(tmp_path, dtype):
    state = OrderedDict([("a.weight", Tensor(sample(dtype, (3, 4)).T)), ("a.scalar", Tensor(sample(dtype, ()))),
                         ("empty", Tensor(sample(dtype, (0, 2))))])
    save(state, tmp_path / "model.safetensors")
    raw = (tmp_path / "model.safetensors").read_bytes()
    length = struct.unpack("<Q", raw[:8])[0]
    assert raw[8:9] == b"{" and (8 + length) % 8 == 0
    back = load(tmp_path / "model.safetensors")
    assert type(back) is OrderedDict and list(back) == list(state)
    for key, value in state.items():
        assert back[key].dtype == value.dtype and back[key].shape == value.shape
        np.testing.assert_array_equal(back[key].data, value.data)


def test_safetensors_are_recognised_by_content(tmp_path):
    save({"w": Tensor(np.ones(3, np.float32))}, tmp_path / "model.safetensors")
    os.rename(tmp_path / "model.safetensors", tmp_path / "renamed.bin")
    np.testing.assert_array_equal(load(tmp_path / "renamed.bin")["w"].data, np.ones(3, np.float32))


@pytest.mark.parametrize("obj, message", [
    ({"model": {"w": Tensor(np.ones(2))}}, r"holds a flat dict of str -> tensor; 'model' is a dict"),
    ({1: Tensor(np.ones(2))}, r"the key 1 is a int"),
    ([Tensor(np.ones(2))], r"got a list"),
    ({"epoch": 3}, r"'epoch' is a int"),
])
def test_safetensors_hold_only_flat_dicts_of_tensors(tmp_path, obj, message):
    with pytest.raises(TypeError, match=message):
        save(obj, tmp_path / "x.safetensors")
    assert os.listdir(tmp_path) == []


def test_safetensors_bfloat16_loads_as_float32(tmp_path):
    values = np.array([1.0, -2.5, 3.140625], np.float32)     # exact in bfloat16
    bits = (values.view(np.uint32) >> 16).astype("<u2")
    header = b'{"x":{"dtype":"BF16","shape":[3],"data_offsets":[0,6]}}'
    (tmp_path / "bf16.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + bits.tobytes())
    back = load(tmp_path / "bf16.safetensors")["x"]
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back.data, values)


@pytest.mark.parametrize("damage", ["truncated", "bad_offsets", "not_json"])
def test_damaged_safetensors_give_a_clear_error(tmp_path, damage):
    path = tmp_path / "x.safetensors"
    save({"w": Tensor(np.ones(4, np.float32))}, path)
    data = path.read_bytes()
    if damage == "truncated":
        data = data[:-3]
    elif damage == "bad_offsets":
        data = data.replace(b"[0,16]", b"[0,99]")
    else:
        data = data[:9] + b"\x00" + data[10:]
    path.write_bytes(data)
    with pytest.raises(CheckpointError, match=r"x.safetensors' is not a readable safetensors file: "):
        load(path)


# --- with real PyTorch --------------------------------------------------------------------

TORCH_NAMES = {"float32": "float32", "float64": "float64", "float16": "float16", "int64": "int64",
               "int32": "int32", "int16": "int16", "int8": "int8", "uint8": "uint8", "bool": "bool",
               "uint16": "uint16", "uint32": "uint32", "uint64": "uint64", "complex64": "complex64",
               "complex128": "complex128"}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_torch_load_reads_ours_for_every_dtype(tmp_path, torch, dtype):
    arrays = {"matrix": sample(dtype), "scalar": sample(dtype, ()), "empty": sample(dtype, (0, 3)),
              "transposed": sample(dtype, (3, 4)).T, "strided": sample(dtype, (4, 6))[::2, ::-3]}
    state = OrderedDict((name, Tensor(array)) for name, array in arrays.items())
    if np.dtype(dtype).kind == "f":
        state["grad"] = Tensor(sample(dtype), requires_grad=True)
        arrays["grad"] = state["grad"].data
    save(state, tmp_path / "ours.pt")
    theirs = torch.load(tmp_path / "ours.pt")             # weights_only=True, torch's default
    assert type(theirs) is OrderedDict and list(theirs) == list(state)
    for name, array in arrays.items():
        assert theirs[name].dtype == getattr(torch, TORCH_NAMES[np.dtype(dtype).name]), name
        assert tuple(theirs[name].shape) == array.shape
        assert theirs[name].requires_grad == state[name].requires_grad
        np.testing.assert_array_equal(theirs[name].detach().numpy(), array)
    mapped = torch.load(tmp_path / "ours.pt", mmap=True)     # needs the 64-byte record alignment
    np.testing.assert_array_equal(mapped["matrix"].numpy(), arrays["matrix"])


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_we_read_torch_save_for_every_dtype(tmp_path, torch, dtype):
    array = sample(dtype, (3, 4))
    base = torch.from_numpy(array.copy())
    torch.save({"matrix": base, "transposed": base.t(), "row": base[1], "column": base[:, 2],
                "scalar": base[0, 0].clone(), "empty": base[:0]}, tmp_path / "theirs.pt")
    back = load(tmp_path / "theirs.pt")
    want = {"matrix": array, "transposed": array.T, "row": array[1], "column": array[:, 2],
            "scalar": array[0, 0], "empty": array[:0]}
    for name, value in want.items():
        assert type(back[name]) is Tensor and back[name].dtype == np.dtype(dtype) and back[name].shape == value.shape
        np.testing.assert_array_equal(back[name].data, value)
    # views of one storage in the file share memory here, as they do in PyTorch
    assert np.shares_memory(back["matrix"].data, back["row"].data)


def test_torch_bfloat16_and_parameters_load(tmp_path, torch):
    weight = torch.nn.Parameter(torch.randn(3, 2))
    torch.save({"bf16": torch.tensor([1.0, -2.5, 3.140625]).bfloat16(), "weight": weight,
                "step": torch.tensor(4.0), "size": torch.Size([2, 3]), "dtype": torch.float16,
                "device": torch.device("cpu"), "raw": b"\x01\x02", "mixed": {1: (2.5, None, "s", True)}},
               tmp_path / "theirs.pt")
    back = load(tmp_path / "theirs.pt")
    assert back["bf16"].dtype == np.float32
    np.testing.assert_array_equal(back["bf16"].data, [1.0, -2.5, 3.140625])
    assert type(back["weight"]) is nn.Parameter and back["weight"].requires_grad
    np.testing.assert_array_equal(back["weight"].data, weight.detach().numpy())
    assert back["step"].shape == () and float(back["step"]) == 4.0
    assert back["size"] == (2, 3) and type(back["size"]) is tc.Size and back["dtype"] == tc.float16
    assert back["device"] == tc.device("cpu") and back["raw"] == b"\x01\x02"
    assert back["mixed"] == {1: (2.5, None, "s", True)}


def test_torch_buffers_and_legacy_files(tmp_path, torch):
    buffer = io.BytesIO()
    torch.save({"w": torch.arange(3.0)}, buffer)          # records under "archive/", as ours
    buffer.seek(0)
    np.testing.assert_array_equal(load(buffer)["w"].data, [0.0, 1.0, 2.0])
    torch.save({"w": torch.ones(2)}, tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointError, match=r"old.pt' is in PyTorch's legacy format .* save it again"):
        load(tmp_path / "old.pt")


def torch_convnet(torch):
    tnn = torch.nn
    return tnn.Sequential(
        tnn.Conv2d(1, 32, kernel_size=5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2, 2),
        tnn.Conv2d(32, 64, kernel_size=5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2, 2),
        tnn.Flatten(), tnn.Dropout(0.5), tnn.Linear(7 * 7 * 64, 1000), tnn.Linear(1000, 10))


def convnet():
    """The seed ConvNet (examples/mnist_convnet.py)."""
    return nn.Sequential(
        nn.Conv2d(1, 32, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(32, 64, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(7 * 7 * 64, 1000), nn.Linear(1000, 10))


def test_convnet_trained_here_gives_the_same_logits_in_pytorch_and_back(tmp_path, torch):
    rng = np.random.default_rng(0)
    images = rng.random((8, 1, 28, 28), dtype=np.float32)
    labels = rng.integers(0, 10, size=8)
    tc.manual_seed(0)
    model = convnet()
    opt = optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(3):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(Tensor(images)), Tensor(labels))
        loss.backward()
        opt.step()
    model.eval()
    ours = model(Tensor(images)).detach().numpy()
    save(model.state_dict(), tmp_path / "convnet.pt")

    theirs = torch_convnet(torch)
    assert repr(theirs.load_state_dict(torch.load(tmp_path / "convnet.pt"))) == "<All keys matched successfully>"
    theirs.eval()
    with torch.no_grad():
        logits = theirs(torch.from_numpy(images)).numpy()
    np.testing.assert_allclose(logits, ours, rtol=1e-5, atol=1e-5)

    # and back: PyTorch trains on, saves; the same logits here
    opt_theirs = torch.optim.Adam(theirs.parameters(), lr=1e-3)
    theirs.train()
    torch.manual_seed(0)
    opt_theirs.zero_grad()
    torch.nn.functional.cross_entropy(theirs(torch.from_numpy(images)), torch.from_numpy(labels)).backward()
    opt_theirs.step()
    theirs.eval()
    torch.save(theirs.state_dict(), tmp_path / "trained_in_torch.pt")
    with torch.no_grad():
        logits = theirs(torch.from_numpy(images)).numpy()
    fresh = convnet()
    fresh.load_state_dict(tc.load(tmp_path / "trained_in_torch.pt"))
    fresh.eval()
    np.testing.assert_allclose(fresh(Tensor(images)).detach().numpy(), logits, rtol=1e-5, atol=1e-5)


def test_pytorch_adam_state_resumes_here_to_the_same_step(tmp_path, torch):
    rng = np.random.default_rng(1)
    batches = [(rng.random((4, 1, 4, 4), dtype=np.float32), rng.integers(0, 3, size=4)) for _ in range(3)]
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                 torch.nn.Linear(8, 3))
    opt_theirs = torch.optim.Adam(theirs.parameters(), lr=0.01, weight_decay=0.1)

    def torch_step(images, labels):
        opt_theirs.zero_grad()
        torch.nn.functional.cross_entropy(theirs(torch.from_numpy(images)), torch.from_numpy(labels)).backward()
        opt_theirs.step()

    for images, labels in batches[:2]:
        torch_step(images, labels)
    torch.save({"model": theirs.state_dict(), "optimizer": opt_theirs.state_dict()}, tmp_path / "run.pt")
    torch_step(*batches[2])

    checkpoint = load(tmp_path / "run.pt")
    ours = small_model()
    ours.load_state_dict(checkpoint["model"])
    opt = optim.Adam(ours.parameters(), lr=0.5)
    opt.load_state_dict(checkpoint["optimizer"])
    assert opt.param_groups[0]["lr"] == 0.01 and opt.param_groups[0]["weight_decay"] == 0.1
    # the same layout as PyTorch's, key for key
    state, saved = opt.state_dict(), checkpoint["optimizer"]
    assert list(state["state"]) == list(saved["state"])
    assert all(list(state["state"][i]) == list(saved["state"][i]) == ["step", "exp_avg", "exp_avg_sq"]
               for i in state["state"])
    assert list(state["param_groups"][0]) == list(saved["param_groups"][0])
    opt.zero_grad()
    images, labels = batches[2]
    nn.functional.cross_entropy(ours(Tensor(images)), Tensor(labels)).backward()
    opt.step()
    for (name, value), (_, want) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        np.testing.assert_allclose(value.data, want.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)


def test_our_adam_state_resumes_in_pytorch(tmp_path, torch):
    ours = small_model()
    opt = optim.Adam(ours.parameters(), lr=0.01)
    for param in ours.parameters():
        param.grad = Tensor(np.full(param.shape, 0.5, np.float32))
    opt.step()
    save({"model": ours.state_dict(), "optimizer": opt.state_dict()}, tmp_path / "run.pt")
    checkpoint = torch.load(tmp_path / "run.pt")
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                 torch.nn.Linear(8, 3))
    theirs.load_state_dict(checkpoint["model"])
    opt_theirs = torch.optim.Adam(theirs.parameters())
    opt_theirs.load_state_dict(checkpoint["optimizer"])
    for param, theirs_param in zip(ours.parameters(), theirs.parameters()):
        param.grad = Tensor(np.full(param.shape, -1.0, np.float32))
        theirs_param.grad = torch.full(theirs_param.shape, -1.0)
    opt.step()
    opt_theirs.step()
    for value, want in zip(ours.state_dict().values(), theirs.state_dict().values()):
        np.testing.assert_allclose(value.data, want.numpy(), rtol=1e-6, atol=1e-7)


def test_whole_models_across_the_two(tmp_path, torch):
    # ours, whole: torch.load refuses it just as we do (its message, its exception) ...
    save(Net(), tmp_path / "ours.pth")
    with pytest.raises(pickle.UnpicklingError, match=r"(?s)Weights only load failed.*GLOBAL test_torch_format.Net"):
        torch.load(tmp_path / "ours.pth")
    # ... and PyTorch's whole modules are refused here, by name, either way
    torch.save(torch.nn.Linear(2, 3), tmp_path / "theirs.pth")
    with pytest.raises(WeightsOnlyError, match=r"names the global torch.nn.modules.linear.Linear"):
        load(tmp_path / "theirs.pth")
    with pytest.raises(CheckpointError, match=r"holds torch.nn.modules.linear.Linear, a PyTorch object that "
                                              r"tinygrad_cnn cannot rebuild.*state_dict\(\)"):
        load(tmp_path / "theirs.pth", weights_only=False)


def test_safetensors_package_reads_ours_and_we_read_its(tmp_path, torch):
    safetensors_torch = pytest.importorskip("safetensors.torch")
    import safetensors.numpy
    state = OrderedDict([("conv.weight", Tensor(sample(np.float32, (2, 1, 3, 3)))),
                         ("mask", Tensor(sample(np.bool_, (4,)))), ("count", Tensor(sample(np.int64, ())))])
    save(state, tmp_path / "ours.safetensors")
    for loaded in (safetensors.numpy.load_file(str(tmp_path / "ours.safetensors")),
                   {k: v.numpy() for k, v in safetensors_torch.load_file(str(tmp_path / "ours.safetensors")).items()}):
        assert set(loaded) == set(state)
        for key, value in state.items():
            assert loaded[key].dtype == value.dtype and loaded[key].shape == value.shape
            np.testing.assert_array_equal(loaded[key], value.data)
    theirs = {"w": torch.randn(3, 4), "h": torch.randn(2).half(), "bf": torch.tensor([1.5, -2.0]).bfloat16(),
              "i": torch.arange(5)}
    safetensors_torch.save_file(theirs, str(tmp_path / "theirs.safetensors"), metadata={"format": "pt"})
    back = load(tmp_path / "theirs.safetensors")
    for key, value in theirs.items():
        np.testing.assert_array_equal(back[key].data, value.float().numpy() if key == "bf" else value.numpy())
    assert back["bf"].dtype == np.float32 and back["h"].dtype == np.float16


def test_safe_globals_allow_named_classes_only(tmp_path):
    from tinygrad_cnn import serialization
    save({"step": Point(1, 2)}, tmp_path / "p.pt")
    with pytest.raises(WeightsOnlyError, match=r"add_safe_globals\(\[Point\]\)"):
        load(tmp_path / "p.pt")
    with serialization.safe_globals([Point]):
        assert serialization.get_safe_globals() == [Point]
        assert load(tmp_path / "p.pt")["step"] == Point(1, 2)
    assert serialization.get_safe_globals() == []
    with pytest.raises(WeightsOnlyError, match=r"test_torch_format.Point"):
        load(tmp_path / "p.pt")
    serialization.add_safe_globals([(Point, "test_torch_format.Point")])
    try:
        assert load(tmp_path / "p.pt")["step"] == Point(1, 2)
    finally:
        serialization.clear_safe_globals()
    assert serialization.get_safe_globals() == []
