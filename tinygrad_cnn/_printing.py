"""PyTorch's print rules for tensor values (``torch.set_printoptions``'s
defaults): the number format, the layout of rows and blocks, summaries of
large tensors, and where suffixes such as ``requires_grad=True`` go."""
import math

import numpy as np

__all__ = ["format_array", "with_suffixes", "set_printoptions"]


# PyTorch's print options (torch.set_printoptions defaults)
_PRECISION, _THRESHOLD, _EDGE_ITEMS, _LINE_WIDTH = 4, 1000, 3, 80
_SCI_MODE = None      # None: chosen from the values; True/False: forced


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None,
                     sci_mode=None) -> None:
    """PyTorch's ``torch.set_printoptions``: digits after the point, the
    element count above which tensors are summarised, the items kept at each
    end of a summarised dimension, the line width, and scientific notation
    (``profile`` 'default', 'short' or 'full' sets the first four)."""
    global _PRECISION, _THRESHOLD, _EDGE_ITEMS, _LINE_WIDTH, _SCI_MODE
    profiles = {"default": (4, 1000, 3, 80), "short": (2, 1000, 2, 80), "full": (4, float("inf"), 3, 80)}
    if profile is not None:
        if profile not in profiles:
            raise ValueError(f"set_printoptions: profile must be one of {sorted(profiles)}, got {profile!r}")
        _PRECISION, _THRESHOLD, _EDGE_ITEMS, _LINE_WIDTH = profiles[profile]
    if precision is not None:
        _PRECISION = int(precision)
    if threshold is not None:
        _THRESHOLD = threshold
    if edgeitems is not None:
        _EDGE_ITEMS = int(edgeitems)
    if linewidth is not None:
        _LINE_WIDTH = int(linewidth)
    _SCI_MODE = sci_mode


def _value_formatter(shown: np.ndarray):
    """PyTorch's formatter for the values that will be printed: one function
    from a Python number to its padded text. Floats: whole numbers as ``2.``,
    else 4 decimals, or scientific notation when the nonzero finite
    magnitudes span more than 1000x (or pass 1e8, or go below 1e-4); the
    width comes from the nonzero finite values only, as PyTorch's."""
    values = shown.reshape(-1).tolist()
    if shown.dtype.kind != "f":
        width = max(len(str(value)) for value in values)
        return lambda value: str(value).rjust(width)
    finite = [value for value in values if value != 0 and math.isfinite(value)]
    scientific, whole, width = False, True, 1
    if finite:
        big, small = max(map(abs, finite)), min(map(abs, finite))
        whole = all(math.ceil(value) == value for value in finite)
        scientific = big / small > 1000.0 or big > 1.0e8 or (not whole and small < 1.0e-4)
        if _SCI_MODE is not None:
            scientific = bool(_SCI_MODE)
        if scientific:
            width = max(len(f"{value:.{_PRECISION}e}") for value in finite)
        elif whole:
            width = max(len(f"{value:.0f}") + 1 for value in finite)
        else:
            width = max(len(f"{value:.{_PRECISION}f}") for value in finite)

    def fmt(value):
        if scientific:
            text = f"{value:.{_PRECISION}e}"
        elif whole:
            text = f"{value:.0f}" + ("." if math.isfinite(value) else "")
        else:
            text = f"{value:.{_PRECISION}f}"
        return text.rjust(width)
    return fmt


def _nested_str(array: np.ndarray, indent: int, summarize: bool, fmt) -> str:
    """PyTorch's layout: rows wrapped at 80 columns by whole elements, blank
    lines between blocks of 3-D and up, ``...`` for the middle of long
    dimensions when summarizing."""
    if array.ndim == 0:
        return fmt(array.item())
    edge = _EDGE_ITEMS
    if array.ndim == 1:
        values = array.tolist()
        if summarize and len(values) > 2 * edge:
            items = [fmt(value) for value in values[:edge]] + [" ..."] + [fmt(value) for value in values[-edge:]]
        else:
            items = [fmt(value) for value in values]
        per_line = max(1, (_LINE_WIDTH - indent) // (len(fmt(values[0])) + 2))
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    rows = range(array.shape[0])
    if summarize and array.shape[0] > 2 * edge:
        parts = [_nested_str(array[i], indent + 1, summarize, fmt) for i in rows[:edge]] + ["..."] + \
                [_nested_str(array[i], indent + 1, summarize, fmt) for i in rows[-edge:]]
    else:
        parts = [_nested_str(array[i], indent + 1, summarize, fmt) for i in rows]
    return "[" + ("," + "\n" * (array.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def format_array(array: np.ndarray, indent: int = len("tensor(")) -> str:
    """The values part of PyTorch's tensor repr."""
    if array.size == 0:
        return "[]"
    summarize = array.size > _THRESHOLD
    shown = array
    if summarize and array.ndim:     # the formatter sees only what is printed, as PyTorch's
        index = [np.r_[0:_EDGE_ITEMS, n - _EDGE_ITEMS:n] if n > 2 * _EDGE_ITEMS else np.arange(n)
                 for n in array.shape]
        shown = array[np.ix_(*index)]
    return _nested_str(array, indent, summarize, _value_formatter(shown))


def with_suffixes(text: str, suffixes: list, indent: int) -> str:
    """``, requires_grad=True`` etc. after the values, on a new line where the
    last line would pass 80 columns (PyTorch's rule)."""
    parts = [text]
    last_line = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last_line + len(suffix) + 2 > _LINE_WIDTH:
            parts.append(",\n" + " " * indent + suffix)
            last_line = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line += len(suffix) + 2
    return "".join(parts) + ")"
