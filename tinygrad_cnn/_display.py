"""Showing results inside a running Jupyter kernel, and nowhere else.

A plot function shows its figure as soon as it is drawn (so a figure appears
even when the call is not the cell's last expression) and returns it; when
the cell does end with that figure, IPython's automatic display of it is
skipped, so it appears once. Outside a kernel (scripts, tests, a terminal)
nothing is shown and nothing from IPython is imported.
"""
from __future__ import annotations

import sys


def kernel_shell():
    """The IPython shell of the running Jupyter kernel, or None.

    IPython is never imported here: a kernel has imported it already, so
    when ``sys.modules`` holds no IPython there is no kernel."""
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if get_ipython is not None else None
    # the terminal IPython has no kernel and cannot draw images
    return shell if shell is not None and getattr(shell, "kernel", None) is not None else None


def _cell(shell) -> tuple:
    # the execution count stays the same from a cell's first line to its displayhook
    return (id(shell), shell.execution_count)


def _publish(bundle: dict) -> None:
    from IPython.display import publish_display_data
    publish_display_data(bundle)


def show(result) -> bool:
    """Display ``result`` (which has ``_mime_bundle()``) now when a kernel is
    running, remembering the cell; True when it was shown."""
    shell = kernel_shell()
    if shell is None:
        return False
    _publish(result._mime_bundle())
    result._shown_in_cell = _cell(shell)
    return True


class ShownOnce:
    """For results shown by :func:`show` when they are made: the cell that
    made one does not display it a second time (``display(x)`` in that cell
    does nothing either); later cells display it as usual."""

    def _mime_bundle(self) -> dict:
        raise NotImplementedError

    def _ipython_display_(self):
        shell = kernel_shell()
        if shell is not None and getattr(self, "_shown_in_cell", None) == _cell(shell):
            return
        _publish(self._mime_bundle())
