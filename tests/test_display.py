"""What Jupyter shows: figures display as soon as they are drawn (once per
cell), summaries as HTML tables, histories as a table and curves; outside a
kernel nothing is shown and IPython is never imported. A fake kernel stands
in for ipykernel here (the notebooks test runs a real one)."""
import sys
import types

import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn as nn
from tinygrad_cnn import _display
from tinygrad_cnn.training import History, summary


class FakeKernel:
    """IPython's get_ipython() in a Jupyter kernel: a shell with a kernel and a cell counter."""

    def __init__(self):
        self.kernel = object()
        self.execution_count = 1
        self.published = []


@pytest.fixture
def kernel(monkeypatch):
    shell = FakeKernel()
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: shell
    display = types.ModuleType("IPython.display")
    display.publish_display_data = lambda data, **kwargs: shell.published.append(data)
    ipython.display = display
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display)
    return shell


def conv():
    tc.manual_seed(0)
    return nn.Conv2d(1, 4, 3)


def test_no_kernel_no_display_and_no_ipython(monkeypatch):
    pytest.importorskip("matplotlib")
    from tinygrad_cnn import viz
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    assert _display.kernel_shell() is None
    figure = viz.plot_filters(conv())
    assert "IPython" not in sys.modules
    assert not hasattr(figure, "_shown_in_cell")


def test_a_terminal_ipython_is_not_a_kernel(kernel):
    kernel.kernel = None
    assert _display.kernel_shell() is None


def test_a_figure_shows_once_in_the_cell_that_draws_it(kernel):
    pytest.importorskip("matplotlib")
    from tinygrad_cnn import viz
    figure = viz.plot_filters(conv())
    assert len(kernel.published) == 1                      # shown while the cell runs
    bundle = kernel.published[0]
    assert bundle["text/plain"].startswith("<Figure size")
    import base64
    assert base64.b64decode(bundle["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
    figure._ipython_display_()                             # the cell ends with `figure`: not again
    assert len(kernel.published) == 1
    kernel.execution_count += 1                            # a later cell shows it as usual
    figure._ipython_display_()
    assert len(kernel.published) == 2
    assert figure._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_history_shows_its_figure_too(kernel):
    pytest.importorskip("matplotlib")
    history = History()
    for step in range(1, 5):
        history.log_step(1, step, 1.0 / step, 0.25 * step)
    figure = tc.plot_history(history)
    assert len(kernel.published) == 1 and "image/png" in kernel.published[0]
    figure._ipython_display_()
    assert len(kernel.published) == 1


def test_summary_shows_an_html_table_in_a_kernel_instead_of_printing(kernel, capsys):
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1352, 10))
    stats = summary(model, (1, 28, 28))
    assert capsys.readouterr().out == ""
    (bundle,) = kernel.published
    assert bundle["text/plain"] == str(stats)
    html = bundle["text/html"]
    assert html == stats._repr_html_()
    assert html.count("<tr>") == 1 + len(stats.layers)     # the header and one row per layer
    assert "<td>4 (Linear)</td><td>(None, 10)</td><td>13,530</td>" in html
    assert "Total params: 13,610" in html
    stats._ipython_display_()                              # the cell ends with summary(...): not again
    assert len(kernel.published) == 1
    printed = []
    summary(model, (1, 28, 28), print_fn=printed.append)   # an explicit print_fn still gets the text
    assert printed == [str(stats)] and len(kernel.published) == 1


def test_history_html_is_a_table_of_epochs_and_the_curves():
    history = History()
    for step in range(1, 7):
        history.log_step(1 + (step > 3), 1 + (step - 1) % 3, 2.0 / step, step / 6)
        if step % 3 == 0:
            history.log_epoch(step // 3, 1.0 / step, 0.5, val_loss=0.75 if step == 6 else None,
                              val_accuracy=0.625 if step == 6 else None, seconds=1.5)
    html = history._repr_html_()
    assert html.count("<tr>") == 1 + 2
    assert "<td>2</td><td>6</td><td>0.1667</td><td>50.00%</td><td>0.7500</td><td>62.50%</td><td>1.5s</td>" in html
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "pip install matplotlib" in html
    else:
        assert html.count('<img src="data:image/png;base64,') == 1
    assert repr(history) == "History(2 epochs, 6 steps)"


def test_tensors_and_modules_keep_pytorchs_text_reprs():
    assert repr(tc.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert not hasattr(tc.tensor([1.0]), "_repr_html_")
    assert repr(nn.Linear(2, 3)) == "Linear(in_features=2, out_features=3, bias=True)"
    assert not hasattr(nn.Linear(2, 3), "_repr_html_")
