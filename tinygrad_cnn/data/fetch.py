"""Downloading a file from a list of mirrors, with retries, a progress bar
and a checksum, using only the standard library (tqdm is optional)."""
import hashlib
import os
import time

from .._atomic import atomic_write

# http.client, urllib.request and socket (with ssl and email behind them) are
# imported inside the functions that download: about 30 ms that
# ``import tinygrad_cnn`` need not pay.

_CHUNK_BYTES = 1 << 16
_USER_AGENT = "tinygrad_cnn-data/0.1 (+urllib)"


class DownloadError(OSError):
    """No mirror delivered the file."""


class ChecksumError(DownloadError):
    """A mirror delivered a file whose checksum is not the expected one."""


def _new_hash(algorithm: str):
    # MD5 only identifies published files here; saying so keeps FIPS builds happy.
    return hashlib.new(algorithm, usedforsecurity=False)


def _is_transient(exc: BaseException) -> bool:
    """Whether trying the same URL again may help (a 404 will not, a timeout may)."""
    import socket
    import urllib.error
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code >= 500 or exc.code in (408, 429)
    reason = getattr(exc, "reason", None)
    if isinstance(reason, socket.gaierror) and reason.errno == socket.EAI_NONAME:
        return False  # the name does not resolve (offline?): retrying only waits
    return True


def _progress_bar(total: int | None, name: str, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm import tqdm  # optional dependency: imported only when a bar is wanted
    except ImportError:
        return None
    return tqdm(total=total, desc=name, unit="B", unit_scale=True, unit_divisor=1024,
                leave=False)


def _fetch(url: str, dest_path: str, expected: dict, timeout: float, progress: bool) -> None:
    """One attempt: stream ``url`` into a temp file, check it, move it into place."""
    import http.client
    import urllib.request
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    digests = {algorithm: _new_hash(algorithm) for algorithm in expected}
    with urllib.request.urlopen(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        bar = _progress_bar(total, os.path.basename(dest_path), progress)
        received = 0
        try:
            with atomic_write(dest_path) as file:
                while chunk := response.read(_CHUNK_BYTES):
                    file.write(chunk)
                    for digest in digests.values():
                        digest.update(chunk)
                    received += len(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
                if total is not None and received != total:
                    raise http.client.IncompleteRead(b"", total - received)
                for algorithm, want in expected.items():
                    got = digests[algorithm].hexdigest()
                    if got != want:
                        # Raising inside atomic_write deletes the partial file.
                        raise ChecksumError(
                            f"{os.path.basename(dest_path)}: {algorithm} checksum mismatch "
                            f"for {url}: expected {want}, got {got}")
        finally:
            if bar is not None:
                bar.close()


def download(url_list, dest_path, sha256: str | None = None, md5: str | None = None,
             retries: int = 3, timeout: float = 30.0, progress: bool = True,
             backoff: float = 1.0) -> str:
    """Download a file, trying each mirror in turn, and verify its checksum.

    Args:
        url_list: one URL or a list of mirror URLs for the same file, tried in order.
        dest_path: where the file ends up. It is first streamed to a temporary
            file in the same directory and only moved into place (``os.replace``)
            once complete and verified, so an interrupted download leaves nothing
            under ``dest_path``.
        sha256, md5: expected hex digests; each one given is checked.
        retries: extra attempts per mirror after a transient failure (timeout,
            refused connection, HTTP 5xx); a 404 moves straight to the next mirror.
        timeout: seconds to wait for the server on each network operation.
        progress: show a tqdm progress bar (silently none if tqdm is missing).
        backoff: seconds before the first retry, doubled for each further one.

    Returns:
        ``dest_path``.

    Raises:
        ChecksumError: a mirror delivered a file with the wrong checksum (and no
            other mirror delivered a good one); names file, expected and actual digests.
        DownloadError: every attempt failed; lists the URLs tried and their errors.
    """
    import http.client
    urls = [url_list] if isinstance(url_list, str) else list(url_list)
    if not urls:
        raise ValueError("download: url_list is empty")
    if retries < 0:
        raise ValueError(f"download: retries must be >= 0, got {retries}")
    dest_path = os.fspath(dest_path)
    expected = {algorithm: digest.lower() for algorithm, digest in
                (("sha256", sha256), ("md5", md5)) if digest is not None}
    os.makedirs(os.path.dirname(os.path.abspath(dest_path)), exist_ok=True)

    failures = []  # (url, attempts made, last error) for the final message
    for url in urls:
        for attempt in range(1, retries + 2):
            try:
                _fetch(url, dest_path, expected, timeout, progress)
                return dest_path
            except ChecksumError as exc:
                error = exc
                break  # the same mirror would serve the same bytes again
            except (OSError, http.client.HTTPException) as exc:
                error = exc
                if not _is_transient(exc) or attempt == retries + 1:
                    break
                time.sleep(backoff * 2 ** (attempt - 1))
        failures.append((url, attempt, error))

    name = os.path.basename(dest_path)
    tried = "\n".join(f"  {url} ({attempts} attempt{'s' * (attempts > 1)}): {_describe(error)}"
                      for url, attempts, error in failures)
    manual = f"You can download {name} yourself and place it at {dest_path}"
    mismatches = [error for _, _, error in failures if isinstance(error, ChecksumError)]
    if mismatches:
        raise ChecksumError(f"{name}: no mirror delivered a file with the expected checksum; "
                            f"attempts:\n{tried}\n{manual} (after checking its checksum).")
    raise DownloadError(f"{name}: download failed from every mirror; attempts:\n{tried}\n"
                        f"{manual}.")


def _describe(error: BaseException) -> str:
    import http.client
    import urllib.error
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return f"{type(error.reason).__name__}: {error.reason}"
    if isinstance(error, http.client.IncompleteRead):
        return f"connection closed early, {error.expected} bytes missing"
    return f"{type(error).__name__}: {error}"


def file_digest(path, algorithm: str = "md5") -> str:
    """Hex digest of a file's contents, read in chunks."""
    digest = _new_hash(algorithm)
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
