"""Atomic file writes, shared by checkpoints, datasets and training logs.

    with atomic_write("run/history.csv", "w", newline="") as file:
        csv.writer(file).writerow(["epoch", "loss"])

The data goes to a uniquely named temporary file beside the target
(``.<name>.<random>.part``); only once it is complete, flushed and fsynced is
it renamed over the target with ``os.replace``, so no reader, and no rerun
after a crash, ever finds a half-written file under the final name. If the
block raises anything (KeyboardInterrupt included), the temporary file is
removed and the previous target is left untouched.

Permissions: a new file gets the usual mode of a new file (0o666 minus the
umask, applied by the OS when the temporary file is created); overwriting an
existing file keeps that file's permission bits.
"""
from __future__ import annotations

import contextlib
import os
import secrets

__all__ = ["atomic_write"]

_TEMP_SUFFIX = ".part"


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb", **open_kwargs):
    """Yield a file open for writing; when the block ends normally it becomes ``path``.

    ``mode`` is a write mode, binary (``"wb"``, the default) or text
    (``"w"``); ``open_kwargs`` go to ``open`` (``encoding``, ``newline=""``
    for the csv module, ...). The directory of ``path`` must exist. Do not
    close the file inside the block.
    """
    if not isinstance(mode, str) or "w" not in mode or not set(mode) <= set("wbt+"):
        raise ValueError(f"atomic_write: mode must be a write mode such as 'wb' or 'w', got {mode!r}")
    path = os.path.abspath(os.fspath(path))
    directory, base = os.path.split(path)
    fd, temp_path = _create_temp(directory, base)
    try:
        try:
            file = os.fdopen(fd, mode, **open_kwargs)
        except BaseException:
            os.close(fd)
            raise
        with file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        _keep_existing_mode(temp_path, path)
        os.replace(temp_path, path)
    except BaseException:
        with contextlib.suppress(OSError):   # never hide the original error
            os.unlink(temp_path)
        raise
    _fsync_directory(directory)


def _create_temp(directory: str, base: str) -> tuple[int, str]:
    # os.open with 0o666 rather than tempfile.mkstemp (always 0o600): the OS
    # applies the umask, so a new file ends up with the usual mode, and the
    # umask is never read or changed here.
    flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    while True:
        # base is shortened so the name stays within the 255-byte limit.
        temp_path = os.path.join(directory, f".{base[:100]}.{secrets.token_hex(6)}{_TEMP_SUFFIX}")
        try:
            return os.open(temp_path, flags, 0o666), temp_path
        except FileExistsError:
            continue


def _keep_existing_mode(temp_path: str, path: str) -> None:
    try:
        mode = os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        return   # a new file: the temporary file already has the umask mode
    os.chmod(temp_path, mode)


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable; best effort (directories cannot be
    opened or fsynced on some platforms, e.g. Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
