"""Atomic file writes: write a temporary file next to the target, then
``os.replace`` it into place, so that no reader (or a rerun after a crash)
ever finds a half-written file under the final name."""
import contextlib
import os
import secrets


@contextlib.contextmanager
def atomic_write(dest_path):
    """Yield a binary file object; on success it becomes ``dest_path``.

    If the block raises, the temporary file is deleted and ``dest_path`` is
    left as it was.
    """
    dest_path = os.path.abspath(os.fspath(dest_path))
    directory, base = os.path.split(dest_path)
    # open(..., "xb") rather than tempfile.mkstemp: mkstemp makes the file
    # owner-only (0600), but the final file should get the usual umask mode.
    while True:
        temp_path = os.path.join(directory, f".{base}.{secrets.token_hex(4)}.part")
        try:
            file = open(temp_path, "xb")
            break
        except FileExistsError:
            continue
    try:
        with file:
            yield file
        os.replace(temp_path, dest_path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temp_path)
        raise
