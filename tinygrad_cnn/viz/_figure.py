"""The Figure the plots return: matplotlib's, drawn on the Agg canvas (no
display, pyplot's state untouched), that Jupyter shows as a PNG."""
from __future__ import annotations

import base64
import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure as _MatplotlibFigure

from .._display import ShownOnce, show


class Figure(ShownOnce, _MatplotlibFigure):
    """A ``matplotlib.figure.Figure``; in Jupyter it shows itself as a PNG
    (no ``%matplotlib`` magic needed), once per cell that makes it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        FigureCanvasAgg(self)

    def png(self) -> bytes:
        """The figure as PNG bytes, as ``savefig`` writes it."""
        buffer = io.BytesIO()
        self.savefig(buffer, format="png")
        return buffer.getvalue()

    def _repr_png_(self) -> bytes:
        return self.png()

    def _mime_bundle(self) -> dict:
        return {"image/png": base64.b64encode(self.png()).decode("ascii"), "text/plain": repr(self)}


def new_figure(width, height, dpi=100) -> Figure:
    import matplotlib  # noqa: F401  (raises ImportError where matplotlib is blocked or gone)
    return Figure(figsize=(width, height), dpi=dpi)


def finish(figure: Figure) -> Figure:
    """Show ``figure`` now when a Jupyter kernel runs; return it."""
    show(figure)
    return figure
