"""Reading and writing IDX files, the format MNIST and Fashion-MNIST ship in.

An IDX file is a 4-byte magic number, one big-endian uint32 per dimension,
then the array in C order, big-endian:

    magic = 0x00 0x00 <dtype code> <ndim>     e.g. 0x00000803: uint8, 3-D (images)
                                                   0x00000801: uint8, 1-D (labels)

Files may be gzip-compressed; that is detected from the gzip magic bytes, not
from the file name.
"""
import gzip
import os
import struct
import zlib

import numpy as np

from .._atomic import atomic_write

# IDX dtype code -> numpy dtype (multi-byte types are big-endian on disk).
IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def _is_gzip(path) -> bool:
    with open(path, "rb") as file:
        return file.read(2) == _GZIP_MAGIC


def _read_exact(file, nbytes: int) -> bytes:
    """Read up to ``nbytes``; fewer only at end of file (gzip may return short reads)."""
    chunks, remaining = [], nbytes
    while remaining > 0:
        chunk = file.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _payload_name(ndim: int) -> str:
    return {1: "label data", 3: "pixel data"}.get(ndim, "data")


def read_idx(path, ndim: int | None = None) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed) into a numpy array.

    Args:
        path: file path; gzip compression is detected from the content.
        ndim: if given, the number of dimensions the file must have
            (3 for an image file ``(N, rows, cols)``, 1 for a label file ``(N,)``).

    Returns:
        A writable array with the file's shape, in native byte order
        (uint8 for MNIST files).

    Raises:
        ValueError: naming the file, when the header is invalid, the dimensions
            are not the expected ones, or the data is truncated, too long or
            not valid gzip.
        FileNotFoundError: when the file does not exist.
    """
    name = os.fspath(path)
    compressed = _is_gzip(path)
    # For a raw file the size is known up front, so a bad header is caught
    # before allocating what it announces.
    file_size = None if compressed else os.path.getsize(path)
    opener = gzip.open if compressed else open
    try:
        with opener(path, "rb") as file:
            return _read_idx_stream(file, name, ndim, file_size)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        # gzip reports a cut-off or damaged stream with these; the file is at fault.
        raise ValueError(f"{name}: corrupt or truncated gzip data ({exc})") from exc


def _read_idx_stream(file, name: str, expected_ndim: int | None,
                     file_size: int | None) -> np.ndarray:
    magic = _read_exact(file, 4)
    if len(magic) < 4:
        raise ValueError(f"{name}: truncated: file has {len(magic)} bytes, "
                         f"shorter than the 4-byte IDX magic number")
    zero_a, zero_b, dtype_code, ndim = magic
    if zero_a != 0 or zero_b != 0 or dtype_code not in IDX_DTYPES:
        raise ValueError(
            f"{name}: not an IDX file: bad magic number 0x{magic.hex()} (expected "
            f"0x0000TTNN with type code TT in "
            f"{', '.join(f'0x{code:02x}' for code in IDX_DTYPES)})")
    if ndim == 0:
        raise ValueError(f"{name}: bad magic number 0x{magic.hex()}: 0 dimensions")
    if expected_ndim is not None and ndim != expected_ndim:
        raise ValueError(
            f"{name}: expected a {expected_ndim}-dimensional IDX file "
            f"(magic 0x0000{dtype_code:02x}{expected_ndim:02x}) but the header says "
            f"{ndim} dimensions (magic 0x{magic.hex()})")

    header = _read_exact(file, 4 * ndim)
    if len(header) < 4 * ndim:
        raise ValueError(f"{name}: truncated: header announces {ndim} dimensions "
                         f"({4 * ndim} bytes) but only {len(header)} bytes follow the magic number")
    shape = struct.unpack(f">{ndim}I", header)

    dtype = IDX_DTYPES[dtype_code]
    expected_bytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    payload_name = _payload_name(ndim)
    if file_size is not None:
        found = file_size - 4 - 4 * ndim
        if found < expected_bytes:
            raise ValueError(f"{name}: truncated: expected {expected_bytes} bytes of "
                             f"{payload_name} for shape {shape}, found {found}")
        if found > expected_bytes:
            raise ValueError(f"{name}: {found - expected_bytes} unexpected bytes after the "
                             f"{expected_bytes} bytes of {payload_name} for shape {shape} "
                             f"(wrong dimensions in the header?)")
    # Read straight into the result array: one copy, and the array is writable.
    try:
        array = np.empty(shape, dtype=dtype)
    except (MemoryError, ValueError) as exc:
        raise ValueError(f"{name}: header announces shape {shape} ({expected_bytes} bytes), "
                         f"too large to load; is the header corrupt?") from exc
    buffer = memoryview(array.reshape(-1).view(np.uint8))
    filled = 0
    while filled < expected_bytes:
        count = file.readinto(buffer[filled:])
        if not count:
            break
        filled += count
    if filled < expected_bytes:
        raise ValueError(f"{name}: truncated: expected {expected_bytes} bytes of "
                         f"{payload_name} for shape {shape}, found {filled}")
    extra = file.read(1)
    if extra:
        extra_count = 1 + len(file.read())
        raise ValueError(f"{name}: {extra_count} unexpected bytes after the "
                         f"{expected_bytes} bytes of {payload_name} for shape {shape} "
                         f"(wrong dimensions in the header?)")
    return array.astype(dtype.newbyteorder("="), copy=False)


def _idx_code(dtype: np.dtype) -> int:
    for code, idx_dtype in IDX_DTYPES.items():
        if idx_dtype.kind == dtype.kind and idx_dtype.itemsize == dtype.itemsize:
            return code
    raise ValueError(f"write_idx: dtype {dtype} has no IDX type code; use one of "
                     f"uint8, int8, int16, int32, float32, float64")


def write_idx(path, array) -> None:
    """Write ``array`` (any shape with 1..255 dimensions) as an IDX file.

    The file is gzip-compressed when ``path`` ends in ``.gz``. It is written to
    a temporary file in the same directory and moved into place with
    ``os.replace``, so readers never see a half-written file.
    """
    array = np.asarray(array)
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"write_idx: IDX holds 1 to 255 dimensions, got shape {array.shape}")
    if any(size >= 2**32 for size in array.shape):
        raise ValueError(f"write_idx: dimension too large for IDX, shape {array.shape}")
    code = _idx_code(array.dtype)
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()

    with atomic_write(path) as raw:
        if os.fspath(path).endswith(".gz"):
            # mtime=0 makes the output reproducible byte for byte.
            with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as compressed:
                compressed.write(header)
                compressed.write(payload)
        else:
            raw.write(header)
            raw.write(payload)
