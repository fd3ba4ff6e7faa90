"""PyTorch's file format: an uncompressed zip whose records all sit in one
folder (``archive/`` here; PyTorch names it after the file)::

    archive/data.pkl                 the pickled object (protocol 2); tensors point at storages
    archive/.format_version          "1"
    archive/.storage_alignment       "64": every record's data starts at a multiple of 64 bytes
    archive/byteorder                "little"
    archive/data/0, data/1, ...      each storage's raw elements
    archive/version                  "3"
    archive/.data/serialization_id   a random 40-digit id

The records are written in that order, as ``torch.save`` writes them.
"""
from __future__ import annotations

import io
import secrets
import struct
import zipfile

import numpy as np

from .errors import CheckpointError
from .pickler import TorchPickler
from .unpickler import FullUnpickler, WeightsOnlyUnpickler

__all__ = ["pickle_object", "write_archive", "read_archive", "is_torch_archive"]

ARCHIVE = "archive"
ALIGNMENT = 64
_PADDING_FIELD = 0x4246     # the id of the extra field that pads a local header ("FB", as PyTorch's)
_LOCAL_HEADER = 30          # bytes of a zip local file header before its name


def pickle_object(obj) -> tuple[bytes, list]:
    """``(data.pkl bytes, [(key, array), ...])``; raises TypeError for what cannot be pickled."""
    pickler = TorchPickler()
    return pickler.dumps(obj), pickler.storages


def write_archive(file, pickled: bytes, storages: list) -> None:
    """Write the zip to a binary file object, from its current position."""
    base = file.tell() if getattr(file, "seekable", lambda: False)() else 0
    with zipfile.ZipFile(file, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        records = [("data.pkl", pickled), (".format_version", b"1"),
                   (".storage_alignment", str(ALIGNMENT).encode()), ("byteorder", b"little")]
        records += [(f"data/{key}", array) for key, array in storages]
        records += [("version", b"3\n"),
                    (".data/serialization_id", f"{secrets.randbelow(10 ** 40):040d}".encode())]
        for name, data in records:
            _write_record(archive, f"{ARCHIVE}/{name}", data, base)


def _write_record(archive: zipfile.ZipFile, name: str, data, base: int) -> None:
    payload = memoryview(data.reshape(-1).view(np.uint8)) if isinstance(data, np.ndarray) else data
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    info.file_size = len(payload)
    # as zipfile decides: sizes near 2 GiB get a zip64 field in the local header
    zip64 = info.file_size * 1.05 > zipfile.ZIP64_LIMIT
    header = _LOCAL_HEADER + len(name.encode("utf-8")) + 4 + (20 if zip64 else 0)
    padding = -(archive.fp.tell() - base + header) % ALIGNMENT
    info.extra = struct.pack("<HH", _PADDING_FIELD, padding) + b"Z" * padding
    with archive.open(info, mode="w", force_zip64=zip64) as member:
        member.write(payload)


# --- reading ------------------------------------------------------------------------------


def is_torch_archive(names: list[str]) -> bool:
    return _prefix(names) is not None


def _prefix(names: list[str]) -> str | None:
    """The folder holding ``data.pkl`` ('archive/' or the saved file's name)."""
    for name in names:
        folder, _, base = name.rpartition("/")
        if base == "data.pkl" and "/" not in folder:
            return folder + "/" if folder else ""
    return None


def read_archive(archive: zipfile.ZipFile, weights_only: bool):
    """The object a PyTorch-format zip holds. Raises CheckpointError
    (WeightsOnlyError for a refused global) without the file's name; the
    caller adds it. Other exceptions (BadZipFile, EOFError, ...) mean damage."""
    names = archive.namelist()
    prefix = _prefix(names)
    byteorder = "<"
    if prefix + "byteorder" in names:
        order = archive.read(prefix + "byteorder").strip()
        if order not in (b"little", b"big"):
            raise CheckpointError(f"its byteorder record says {order[:20]!r}, not 'little' or 'big'")
        byteorder = "<" if order == b"little" else ">"
    present = set(names)

    def read_storage(key: str, dtype: np.dtype, count: int) -> np.ndarray:
        name = f"{prefix}data/{key}"
        if name not in present:
            raise CheckpointError(f"the storage record '{name}' is missing")
        info = archive.getinfo(name)
        if info.file_size < count * dtype.itemsize:      # checked before anything is allocated
            raise CheckpointError(f"the storage record '{name}' has {info.file_size} bytes, "
                                  f"{count} {dtype} elements need {count * dtype.itemsize}")
        array = np.empty(count, dtype=dtype.newbyteorder(byteorder))
        with archive.open(info) as member:
            view = memoryview(array.view(np.uint8))
            while view.nbytes:       # (the last read also checks the record's CRC)
                got = member.readinto(view)
                if not got:
                    raise EOFError(f"the storage record '{name}' ends early")
                view = view[got:]
            member.read()
        return array.astype(dtype, copy=False)

    unpickler_class = WeightsOnlyUnpickler if weights_only else FullUnpickler
    with archive.open(prefix + "data.pkl") as member:
        pickled = io.BytesIO(member.read())
    return unpickler_class(pickled, read_storage, byteorder).load()

