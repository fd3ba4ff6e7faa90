"""The notebooks of examples/notebooks/ run from top to bottom without an
error, in a Jupyter kernel of this Python, and show their pictures inline.

Cells tagged ``plot`` must show exactly one picture (image/png or
image/svg+xml): none means a figure that does not display, two a figure
displayed twice. Cells tagged ``graph`` must show the autograd graph as a
picture. The notebooks run with TINYGRAD_CNN_NOTEBOOK_QUICK=1 (a few
training steps); deselect with ``-m "not notebooks"``.
"""
import os
import pathlib
import sys

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "examples" / "notebooks").glob("*.ipynb"))
PICTURES = ("image/png", "image/svg+xml")

pytestmark = pytest.mark.notebooks

# Run first in each kernel: which Python and which tinygrad_cnn it uses.
_PROBE = "import sys, tinygrad_cnn; print(sys.executable); print(tinygrad_cnn.__file__)"


def test_the_notebooks_are_there_and_committed_without_outputs():
    names = [path.name for path in NOTEBOOKS]
    assert names == ["01_cnn_from_scratch.ipynb", "02_convnet_pytorch_style.ipynb", "03_add_your_own_op.ipynb"]
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{path.name}: outputs not cleared"


def pictures(cell) -> list:
    return [output for output in cell.outputs
            if output.output_type in ("display_data", "execute_result") and any(k in output.data for k in PICTURES)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs_and_shows_its_pictures(path, tmp_path, monkeypatch):
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(_PROBE))
    # The kernel inherits this environment: quick runs, this checkout first on the path, and
    # matplotlib's inline backend (an MPLBACKEND such as Agg set for headless runs would hide figures).
    monkeypatch.setenv("TINYGRAD_CNN_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    monkeypatch.delenv("MPLBACKEND", raising=False)
    client = nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()      # raises CellExecutionError, with the cell and its traceback, on any error

    executable, package = notebook.cells[0].outputs[0].text.split()
    assert os.path.realpath(executable) == os.path.realpath(sys.executable), (
        f"the python3 kernel runs {executable}, not this Python ({sys.executable}): another python3 "
        f"kernelspec shadows the one ipykernel installed here (see `jupyter kernelspec list`)")
    assert pathlib.Path(package).resolve().is_relative_to(ROOT), f"the kernel imported {package}"
    tagged = {"plot": 0, "graph": 0}
    for index, cell in enumerate(notebook.cells):
        tags = cell.get("metadata", {}).get("tags", [])
        where = f"{path.name}, cell {index}:\n{cell.source[:200]}"
        if "plot" in tags:
            tagged["plot"] += 1
            assert len(pictures(cell)) == 1, f"{where}\nshowed {len(pictures(cell))} pictures, not 1"
        if "graph" in tags:
            tagged["graph"] += 1
            assert pictures(cell), f"{where}\nshowed no picture of the graph"
    expected = {"01_cnn_from_scratch": (1, 0), "02_convnet_pytorch_style": (6, 1), "03_add_your_own_op": (0, 0)}
    assert (tagged["plot"], tagged["graph"]) == expected[path.stem]
