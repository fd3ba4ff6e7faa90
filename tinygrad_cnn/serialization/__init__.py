"""``save(obj, f)`` / ``load(f)``: PyTorch's names, PyTorch's file format.

    tc.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
             "epoch": 3, "history": {"loss": [0.9, 0.4]}}, "run/checkpoint.pt")
    checkpoint = tc.load("run/checkpoint.pt")
    model.load_state_dict(checkpoint["model"])

Files move both ways: ``torch.load("run/checkpoint.pt")`` reads what ``save``
wrote (with PyTorch's default ``weights_only=True``), and ``load`` reads what
``torch.save`` wrote, tensors coming back as tinygrad_cnn Tensors.

Formats. ``save`` writes PyTorch's zip format (see ``torch_zip``) under any
file name (``.pt``, ``.pth``, ``.ckpt``, ``.npz`` or none; the name is used
exactly as given), except a name ending in ``.safetensors``, which gets the
safetensors layout (see ``safetensors``): a flat dict of str -> tensor, the
format the ecosystem shares without pickle. ``load`` decides by the file's
content: PyTorch's zip, safetensors, or the ``.npz`` checkpoints that
tinygrad_cnn wrote before (see ``npz``; they still load, as they were saved).

What can be saved in PyTorch's format: dicts (any keys), lists and tuples,
nested freely, holding Tensors, numpy arrays, numpy scalars, ``int``,
``float``, ``complex``, ``str``, ``bytes``, ``bool``, ``None``, dtypes,
``Size`` and sets. Tensors keep their dtype (every dtype tinygrad_cnn has,
and uint16/32/64 and complex) and ``requires_grad``; a Parameter stays a
Parameter. Each tensor is saved as a contiguous copy of its elements: views
of one another do not share memory after loading (one Tensor saved twice
comes back as one Tensor). numpy arrays are saved as tensors and load as
Tensors (PyTorch's weights-only loader refuses numpy arrays), numpy scalars
as Python numbers. Whole objects -- ``save(model, f)`` -- are pickled, as
PyTorch pickles them, by their class's import path.

Safety. A pickle can run any code when it is loaded. ``load`` therefore
uses, by default (``weights_only=True``, as PyTorch since 2.6), an unpickler
that allows only tensors, storages, dtypes, ``OrderedDict`` and plain
containers, numbers and strings, and refuses any other global by name
(``WeightsOnlyError``) before anything is called: nothing from the file is
executed. Loading a whole pickled object needs ``weights_only=False``, which
imports and calls whatever the file names -- do it only for files you trust
(you wrote them, or you trust where they came from) -- or, as in PyTorch,
naming the classes you trust with ``add_safe_globals([Net, ...])`` (or the
``safe_globals([...])`` context manager). Saving
``model.state_dict()`` and loading it into a model you build avoids the
question. safetensors files and the old ``.npz`` checkpoints hold no pickle
at all.

Saving to a file name is atomic: the file is written to a temporary file
beside the target, flushed to disk, then renamed over it, so an interrupted
save leaves the previous file intact.
"""
from __future__ import annotations

import io
import os
import pickle
import struct
import zipfile
from collections.abc import Mapping

from .._atomic import atomic_write
from .errors import CheckpointError, WeightsOnlyError
from .npz import STRUCTURE_MEMBER, read_npz_checkpoint
from .safetensors import looks_like_safetensors, prepare_safetensors, read_safetensors, write_safetensors
from .torch_zip import is_torch_archive, pickle_object, read_archive, write_archive
from .unpickler import add_safe_globals, clear_safe_globals, get_safe_globals, safe_globals

__all__ = ["save", "load", "CheckpointError", "WeightsOnlyError", "add_safe_globals", "get_safe_globals",
           "clear_safe_globals", "safe_globals"]

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")   # a zip with members / an empty zip
_NPY_MAGIC = b"\x93NUMPY"
_LEGACY_TORCH_MAGIC = b"\x80\x02\x8a\x0a"      # a pickled long: PyTorch's pre-zip format begins so
_SAFETENSORS_SUFFIX = ".safetensors"


def _file_name(f) -> str | None:
    name = getattr(f, "name", None) if hasattr(f, "read") or hasattr(f, "write") else f
    try:
        return os.fspath(name) if name is not None else None
    except TypeError:
        return None


def _is_safetensors_name(f) -> bool:
    name = _file_name(f)
    return isinstance(name, str) and name.endswith(_SAFETENSORS_SUFFIX)


# --- save ---------------------------------------------------------------------------------


def save(obj, f) -> None:
    """Write ``obj`` to ``f`` in PyTorch's format (safetensors for a name
    ending in ``.safetensors``); see the module docstring for what it may hold.

    f: a file name (str or os.PathLike) or a binary file object with
    ``write`` (e.g. ``io.BytesIO``; written from its current position, left
    open). Writing to a name is atomic: a temporary file in the same
    directory is written, fsynced and renamed over it; if anything fails (or
    is interrupted) the temporary file is removed and a previous file of that
    name is left untouched. An existing file keeps its permission bits; a new
    one gets the usual mode (0o666 minus the umask).

    Raises TypeError, before writing anything, for what cannot be saved
    (lambdas and local classes, open files, object arrays; for safetensors,
    anything but a flat dict of str -> tensor).
    """
    if not hasattr(f, "write"):
        try:
            f = os.fspath(f)
        except TypeError:
            raise TypeError(f"save: f must be a file name (str or os.PathLike) or a binary file object, "
                            f"got {type(f).__name__}") from None
    # Everything is encoded first, so an unsaveable value never leaves a file.
    if _is_safetensors_name(f):
        prepared = prepare_safetensors(obj)

        def write(file):
            write_safetensors(file, prepared)
    else:
        pickled, storages = pickle_object(obj)

        def write(file):
            write_archive(file, pickled, storages)

    if hasattr(f, "write"):
        return write(f)
    directory = os.path.dirname(os.path.abspath(f))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"save: directory '{directory}' does not exist (saving '{f}')")
    with atomic_write(f, "wb") as file:
        write(file)


# --- load ---------------------------------------------------------------------------------


def load(f, map_location=None, pickle_module=None, *, weights_only=True, mmap=None):
    """Read a file written by ``save`` or by ``torch.save`` (or a safetensors
    file, or an old tinygrad_cnn ``.npz`` checkpoint); returns what it holds,
    tensors as Tensors.

    f: a file name or a binary file object with ``read`` (e.g. an
    ``io.BytesIO`` that ``save`` wrote to, after ``seek(0)``).
    weights_only: True (the default, as PyTorch's; None means True) loads
    only tensors, containers, numbers and strings, and refuses a file that
    names anything else with a WeightsOnlyError -- nothing from the file is
    executed. False unpickles whatever the file holds (a whole model saved
    with ``save(model, f)``): it can run arbitrary code, so use it only for
    files you trust. PyTorch's own classes other than tensors (a
    ``torch.nn.Linear`` saved whole by PyTorch) cannot be rebuilt here.
    map_location: everything loads onto the CPU, so None, 'cpu', a CPU
    device, a dict or a function are accepted and change nothing; a GPU
    device raises RuntimeError. pickle_module: None or ``pickle``. mmap: only
    None/False.

    Raises FileNotFoundError when the file does not exist, and
    CheckpointError (a RuntimeError and a ValueError) naming the file when it
    is truncated or corrupt or not a checkpoint; WeightsOnlyError (a
    CheckpointError and a ``pickle.UnpicklingError``) for a refused global.
    The file is closed whatever happens.
    """
    _check_map_location(map_location)
    if mmap:
        raise NotImplementedError("load: mmap=True is not supported")
    if pickle_module is not None and pickle_module is not pickle:
        raise TypeError(f"load: pickle_module must be None or pickle, got {pickle_module!r}")
    weights_only = True if weights_only is None else bool(weights_only)
    safetensors_name = _is_safetensors_name(f)
    if hasattr(f, "read"):
        name = _file_name(f)
        label = f"'{name}'" if isinstance(name, str) else f"the {type(f).__name__} object"
        if not (hasattr(f, "seek") and f.seekable()):
            f = io.BytesIO(f.read())
        return _load_file(f, label, weights_only, safetensors_name)
    try:
        path = os.fspath(f)
    except TypeError:
        raise TypeError(f"load: f must be a file name (str or os.PathLike) or a binary file object, "
                        f"got {type(f).__name__}") from None
    try:
        file = open(path, "rb")
    except FileNotFoundError:
        raise FileNotFoundError(f"load: no checkpoint at '{path}'") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"load: '{path}' is a directory, not a checkpoint") from None
    with file:
        return _load_file(file, f"'{path}'", weights_only, safetensors_name)


def _load_file(file, label: str, weights_only: bool, safetensors_name: bool):
    def fail(message, cause=None):
        raise CheckpointError(f"load: {label} {message}") from cause

    start = file.tell()
    head = file.read(16)
    size = file.seek(0, io.SEEK_END) - start
    file.seek(start)
    if not head:
        fail("is empty, not a checkpoint")
    if head.startswith(_ZIP_MAGIC):
        return _load_zip(file, label, weights_only, fail)
    if head.startswith(_NPY_MAGIC):
        fail("is a single .npy array, not a checkpoint (read it with numpy.load)")
    if head.startswith(_LEGACY_TORCH_MAGIC):
        fail("is in PyTorch's legacy format (written before PyTorch 1.6, or with "
             "_use_new_zipfile_serialization=False), which tinygrad_cnn does not read: load it in "
             "PyTorch and save it again with torch.save")
    if safetensors_name or looks_like_safetensors(head):
        try:
            return read_safetensors(file, size)
        except CheckpointError as err:
            fail(f"is not a readable safetensors file: {err}")
        except (OSError, ValueError, struct.error) as err:
            fail(f"is truncated or corrupt ({type(err).__name__}: {err})", err)
    fail("is not a checkpoint that tinygrad_cnn reads: neither PyTorch's zip format, nor safetensors, "
         "nor an older tinygrad_cnn .npz")


def _load_zip(file, label: str, weights_only: bool, fail):
    start = file.tell()
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
        fail(f"is truncated or corrupt ({type(err).__name__}: {err})", err)
    with archive:
        names = archive.namelist()
        if STRUCTURE_MEMBER in names:
            file.seek(start)
            try:
                return read_npz_checkpoint(file, fail)
            except CheckpointError:
                raise
            except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as err:
                fail(f"is truncated or corrupt ({type(err).__name__}: {err})", err)
        if not is_torch_archive(names):
            listed = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
            if names and all(name.endswith(".npy") for name in names):
                fail(f"is an .npz of plain arrays, not a checkpoint (entries: {listed}): read it with "
                     "numpy.load")
            fail(f"is a zip file but not a checkpoint: it has no data.pkl (entries: {listed or 'none'})")
        # What a damaged file raises while it is read (a bad CRC, a short
        # record, a garbled pickle). With weights_only=True nothing else
        # runs, so anything else is damage too; with weights_only=False the
        # file's own code may raise, and that is passed on as it is.
        damage = (zipfile.BadZipFile, EOFError, OSError, pickle.UnpicklingError, struct.error)
        if weights_only:
            damage += (ValueError, KeyError, IndexError, TypeError, AttributeError, MemoryError)
        try:
            return read_archive(archive, weights_only)
        except WeightsOnlyError as err:
            raise WeightsOnlyError(f"load: {label}: {err}") from None
        except CheckpointError as err:
            fail(f"cannot be loaded: {err}")
        except damage as err:
            fail(f"is truncated or corrupt ({type(err).__name__}: {err})", err)


def _check_map_location(map_location) -> None:
    if map_location is None or callable(map_location) or isinstance(map_location, Mapping):
        return
    name = str(getattr(map_location, "type", map_location)).lower()
    if name != "cpu" and not name.startswith("cpu:"):
        raise RuntimeError(f"load: map_location={str(map_location)!r} is not available: "
                           "tinygrad_cnn runs on the CPU (use map_location='cpu' or leave it out)")
