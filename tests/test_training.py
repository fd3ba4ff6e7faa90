"""The training utilities: summary, fit (logging, checkpoints, Ctrl-C, flat
memory), evaluate, History and its CSV, plot_history, and the ConvNet
example end to end."""
import csv
import gc
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn as nn
from tinygrad_cnn import optim
from tinygrad_cnn.data import MNIST_MEAN, MNIST_STD, DataLoader, MNISTSample, Subset
from tinygrad_cnn.serialization import load
from tinygrad_cnn.training import History, evaluate, fit, load_checkpoint, plot_history, summary

ROOT = pathlib.Path(__file__).resolve().parent.parent
LOG_LINE = re.compile(r"^Epoch \[(\d+)/(\d+)\], Step \[(\d+)/(\d+)\], Loss: \d+\.\d{4}, Accuracy: \d{1,3}\.\d{2}%$")
NORMALIZE = (MNIST_MEAN, MNIST_STD)


def tinynet():
    return nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1352, 10))


def convnet():
    return nn.Sequential(nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
                         nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
                         nn.Flatten(), nn.Dropout(0.5), nn.Linear(3136, 1000), nn.Linear(1000, 10))


def small_net():
    """Cheap enough for several epochs in a test; has dropout so train/eval modes matter."""
    return nn.Sequential(nn.Conv2d(1, 4, 3, stride=2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Dropout(0.2), nn.Linear(4 * 6 * 6, 10))


@pytest.fixture
def digits():
    """200 training digits in batches of 20 (10 steps per epoch) and 100 held-out ones."""
    train = MNISTSample(train=True)
    train_loader = DataLoader(Subset(train, range(200)), batch_size=20, shuffle=True, seed=0, normalize=NORMALIZE)
    val_loader = DataLoader(Subset(train, range(200, 300)), batch_size=100, normalize=NORMALIZE)
    return train_loader, val_loader


def quiet(*args, **kwargs):
    pass


# --- summary -------------------------------------------------------------------------------------

def table_rows(text):
    """{layer type: (param #, mult-adds, saved)} from the printed table (columns split on 2+ spaces)."""
    rows = {}
    for line in text.splitlines():
        if "(None" in line:
            cells = re.split(r"\s{2,}", line.strip())
            rows[cells[0].split()[1]] = tuple(cells[2:])
    return rows


def test_summary_of_tinynet_lists_layers_shapes_and_counts():
    model = tinynet()
    model.train()
    printed = []
    stats = summary(model, (1, 28, 28), print_fn=printed.append)
    text = str(stats)
    assert printed == [text]
    for shape in ("(None, 8, 26, 26)", "(None, 8, 13, 13)", "(None, 1352)", "(None, 10)"):
        assert shape in text
    assert text.splitlines()[2].split() == ["Layer", "(type)", "Output", "Shape", "Param", "#", "Mult-Adds",
                                            "Saved", "for", "backward"]
    rows = table_rows(text)
    assert rows["(Conv2d)"][0] == "80" and rows["(Linear)"][0] == "13,530" and rows["(ReLU)"][0] == "0"
    assert "Total params: 13,610" in text
    assert "Trainable params: 13,610" in text
    assert "Non-trainable params: 0" in text
    # No forward wrappers or hooks are left, and the modes are as before.
    assert all("forward" not in module.__dict__ for module in model.modules())
    assert all(not module._forward_hooks and not module._forward_pre_hooks for module in model.modules())
    assert all(module.training for module in model.modules())
    # A full shape with None for the batch axis gives the same table.
    assert str(summary(model, (None, 1, 28, 28), print_fn=None)) == text


def test_summary_measures_mult_adds_parameter_bytes_and_saved_bytes_of_tinynet(fast_kernels):
    stats = summary(tinynet(), (1, 28, 28), print_fn=None)
    layers = {row.type: row for row in stats.layers}
    # by hand: conv 8*26*26 outputs x 1*3*3 taps; linear 10 outputs x 1352 inputs
    assert layers["Conv2d"].mult_adds == 8 * 26 * 26 * 9 == 48_672
    assert layers["Linear"].mult_adds == 10 * 1352 == 13_520
    assert stats.total_mult_adds == 62_192 and layers["ReLU"].mult_adds == 0
    assert stats.param_bytes == 13_610 * 4 and stats.total_params == 13_610
    # Saved for backward by one step at batch 1, by hand (float32 = 4 bytes, the mask is bool):
    # conv2d keeps its input (1*28*28) and its im2col matrix (26*26 x 9); relu its output
    # (8*26*26); max_pool2d its 0/1 mask (8*26*26 bool); linear its input, the pooled
    # output (1352); the loss: log_softmax's output (10) and the label nll_loss reads.
    assert layers["Conv2d"].saved_bytes == 4 * 28 * 28 + 4 * 26 * 26 * 9
    assert layers["ReLU"].saved_bytes == 4 * 8 * 26 * 26
    assert layers["MaxPool2d"].saved_bytes == 8 * 26 * 26
    assert layers["Flatten"].saved_bytes == 0
    assert layers["Linear"].saved_bytes == 4 * 1352
    assert stats.loss_saved_bytes == 4 * 10 + 8     # log_softmax's output, nll_loss's int64 label
    assert stats.saved_bytes == 60_000 - 40 + 8
    assert "Total mult-adds (batch of 1): 62,192" in str(stats)
    assert "Saved for backward by one training step (batch of 1): 58.6 KiB" in str(stats)
    # at batch 10 everything but the parameters scales by 10
    ten = summary(tinynet(), (1, 28, 28), print_fn=None, batch_size=10)
    assert ten.total_mult_adds == 10 * stats.total_mult_adds and ten.saved_bytes == 10 * stats.saved_bytes


def test_summary_saved_bytes_equal_an_independent_count_of_the_graph():
    model = convnet()
    stats = summary(model, (1, 28, 28), print_fn=None, batch_size=3)
    # The same step by hand (dropout draws from the generator: same seed, same mask size).
    model.train()
    loss = tc.nn.functional.cross_entropy(model(tc.zeros((3, 1, 28, 28))), tc.zeros((3,), dtype="int64"))
    arrays, stack, seen = [], [loss], set()
    while stack:
        tensor = stack.pop()
        ctx = tensor._ctx
        if ctx is None or id(ctx) in seen:
            continue
        seen.add(id(ctx))
        read = range(len(ctx.inputs)) if ctx.op.saves_inputs is None else ctx.op.saves_inputs
        arrays += [ctx.inputs[i].data for i in read if not isinstance(ctx.inputs[i], nn.Parameter)]
        if ctx.op.saves_output:
            arrays.append(tensor.data)
        for value in (ctx.saved or {}).values():     # an array, or a list of them (one per part)
            arrays += [v for v in (value if isinstance(value, (list, tuple)) else [value]) if isinstance(v, np.ndarray)]
        stack.extend(ctx.inputs)
    distinct = []
    for array in arrays:
        if not any(np.shares_memory(array, other) for other in distinct):
            distinct.append(array)
    assert stats.saved_bytes == sum(array.nbytes for array in distinct)
    assert sum(row.saved_bytes for row in stats.layers) + stats.loss_saved_bytes == stats.saved_bytes
    assert stats.graph_bytes > stats.saved_bytes        # the graph also holds outputs no VJP reads


def test_summary_changes_nothing():
    class Counter(nn.Module):
        """Counts its training-mode calls in a buffer, like BatchNorm's num_batches_tracked."""

        def __init__(self):
            super().__init__()
            self.register_buffer("calls", tc.zeros((1,)))

        def forward(self, x):
            if self.training:
                self.calls = self.calls + 1
            return x

    model = nn.Sequential(nn.Flatten(), nn.Dropout(0.5), Counter(), nn.Linear(4, 2))
    model.eval()
    tc.manual_seed(1)
    summary(model, (4,), print_fn=None, batch_size=8)
    after = tc.random.generator().random()
    tc.manual_seed(1)
    assert tc.random.generator().random() == after       # dropout's draws were undone
    assert model[2].calls.data.tolist() == [0.0]
    assert not any(module.training for module in model.modules())


def test_summary_of_convnet_and_non_trainable_parameters():
    model = convnet()
    # DESIGN's ConvNet (Linear(3136, 1000), Linear(1000, 10)):
    # 832 + 51,264 + 3,137,000 + 10,010 parameters.
    stats = summary(model, (1, 28, 28), print_fn=None)
    text = str(stats)
    assert "Total params: 3,199,106" in text
    assert "(None, 64, 7, 7)" in text and "(None, 3136)" in text
    # mult-adds per example: 32*28*28*25 + 64*14*14*32*25 + 1000*3136 + 10*1000
    assert stats.total_mult_adds == 627_200 + 10_035_200 + 3_136_000 + 10_000
    model[0].weight.requires_grad_(False)
    text = str(summary(model, (1, 28, 28), print_fn=None))
    assert "Trainable params: 3,198,306" in text and "Non-trainable params: 800" in text


# --- fit, checkpoints, history -----------------------------------------------------------------

def test_fit_lowers_the_loss_logs_and_checkpoints(digits, tmp_path):
    train_loader, val_loader = digits
    tc.manual_seed(0)
    model = small_net()
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    lines = []
    checkpoint = tmp_path / "run" / "model.npz"
    history = fit(model, optimizer, train_loader, epochs=3, val_loader=val_loader, log_every=5,
                  progress=False, checkpoint_path=checkpoint, print_fn=lines.append)

    assert not history.interrupted
    assert [record["epoch"] for record in history.epochs] == [1, 2, 3]
    assert len(history.steps) == 30 and history.steps[-1]["iteration"] == 30
    assert history.epochs[-1]["loss"] < 0.8 * history.epochs[0]["loss"]
    assert history.epochs[-1]["val_loss"] < history.epochs[0]["val_loss"]
    step_lines = [line for line in lines if line.startswith("Epoch [") and "Step [" in line]
    assert len(step_lines) == 6 and all(LOG_LINE.match(line) for line in step_lines)
    assert step_lines[0].startswith("Epoch [1/3], Step [5/10], Loss: ")
    first = history.steps[4]
    assert step_lines[0] == (f"Epoch [1/3], Step [5/10], Loss: {first['loss']:.4f}, "
                             f"Accuracy: {100 * first['accuracy']:.2f}%")

    # The checkpoint restores the exact model into a fresh one.
    saved = load(checkpoint)
    assert int(saved["epoch"]) == 3
    fresh = small_net()
    fresh.load_state_dict(saved["model"])
    images, _ = next(iter(val_loader))
    model.eval(), fresh.eval()
    np.testing.assert_array_equal(fresh(images).detach().numpy(), model(images).detach().numpy())
    epoch, restored = load_checkpoint(checkpoint, small_net(), optim.Adam(small_net().parameters()))
    assert epoch == 3 and restored.epochs == history.epochs and restored.steps == history.steps

    # Continuing from the history trains only the remaining epochs.
    more = fit(model, optimizer, train_loader, epochs=4, progress=False, log_every=0, history=restored,
               print_fn=quiet)
    assert [record["epoch"] for record in more.epochs] == [1, 2, 3, 4]
    assert more.steps[-1]["iteration"] == 40

    csv_path = history.to_csv(tmp_path / "history.csv")
    with open(csv_path, newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 30 + 3
    assert [row["record"] for row in rows[9:12]] == ["step", "epoch", "step"]
    assert rows[10]["epoch"] == "1" and rows[10]["val_accuracy"] != "" and rows[0]["val_loss"] == ""
    assert float(rows[0]["loss"]) == pytest.approx(history.steps[0]["loss"], rel=1e-5)
    assert [name for name in os.listdir(tmp_path / "run")] == ["model.npz"]  # no temporary left over


def test_keyboard_interrupt_stops_cleanly_and_keeps_the_last_checkpoint(digits, tmp_path):
    train_loader, _ = digits
    tc.manual_seed(0)
    model = small_net()
    optimizer = optim.SGD(model.parameters(), lr=0.05)
    calls = []

    def interrupting_loss(outputs, targets):
        calls.append(1)
        if len(calls) == 13:  # third step of the second epoch
            raise KeyboardInterrupt
        return nn.functional.cross_entropy(outputs, targets)

    checkpoint = tmp_path / "model.npz"
    lines = []
    history = fit(model, optimizer, train_loader, epochs=3, loss_fn=interrupting_loss, log_every=0,
                  progress=False, checkpoint_path=checkpoint, print_fn=lines.append)
    assert history.interrupted
    assert len(history.epochs) == 1 and len(history.steps) == 12
    assert int(load(checkpoint)["epoch"]) == 1
    assert any("interrupted" in line and str(checkpoint) in line for line in lines)


def test_evaluate_restores_each_module_training_mode(digits):
    _, val_loader = digits
    model = small_net()
    model.train()
    model[4].eval()  # a mixed state must come back as it was
    before = [module.training for module in model.modules()]
    loss, accuracy = evaluate(model, val_loader)
    assert [module.training for module in model.modules()] == before
    assert loss > 0 and 0.0 <= accuracy <= 1.0

    # Accuracy is the fraction of argmax hits, the loss the mean over all examples.
    images, labels = next(iter(val_loader))
    model.eval()
    with tc.no_grad():
        logits = model(images)
    expected = float((logits.detach().numpy().argmax(axis=1) == labels.detach().numpy()).mean())
    assert accuracy == pytest.approx(expected)
    assert loss == pytest.approx(nn.functional.cross_entropy(logits, labels).item(), rel=1e-5)


def test_memory_stays_flat_across_epochs(digits):
    train_loader, _ = digits
    model = small_net()
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    steps = len(train_loader)
    live = []
    calls = []

    def counting_loss(outputs, targets):
        if len(calls) % steps == 0:  # first step of an epoch
            gc.collect()
            live.append(sum(isinstance(obj, tc.Tensor) for obj in gc.get_objects()))
        calls.append(1)
        return nn.functional.cross_entropy(outputs, targets)

    fit(model, optimizer, train_loader, epochs=3, loss_fn=counting_loss, log_every=0, progress=False,
        print_fn=quiet)
    assert len(live) == 3
    assert live[2] <= live[1], f"live tensors at the start of epochs 1-3: {live}"


# --- History and plots ---------------------------------------------------------------------------

def small_history():
    history = History()
    for epoch in (1, 2):
        for step in (1, 2, 3):
            history.log_step(epoch, step, loss=2.0 / (3 * epoch + step), accuracy=0.2 * epoch)
        history.log_epoch(epoch, loss=1.0 / epoch, accuracy=0.3 * epoch, val_loss=1.2 / epoch, val_accuracy=0.25)
    return history


def test_history_round_trips_through_as_dict():
    history = small_history()
    data = history.as_dict()
    assert data["steps"]["iteration"] == [1, 2, 3, 4, 5, 6]
    assert History.from_dict(data).epochs == history.epochs
    assert History.from_dict(data).steps == history.steps


def test_plot_history_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "curves.png"
    assert plot_history(small_history(), path) == str(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert os.listdir(tmp_path) == ["curves.png"]


def test_plot_history_draws_validation_and_test_points_with_the_legend_off_the_data():
    pytest.importorskip("matplotlib")
    history = small_history()
    history.epochs[0]["val_loss"], history.epochs[0]["val_accuracy"] = 0.9, 0.5
    history.epochs[1]["val_loss"], history.epochs[1]["val_accuracy"] = 0.7, 0.625
    figure = plot_history(history, test=(0.65, 0.75))          # no path: the Figure
    loss_axis, accuracy_axis = figure.axes
    lines = {line.get_label(): line for axis in figure.axes for line in axis.get_lines()}
    validation = lines["validation loss (epoch end)"]
    assert list(validation.get_xdata()) == [r["iteration"] for r in history.epochs]
    assert list(validation.get_ydata()) == [0.9, 0.7]
    assert list(lines["validation accuracy (epoch end)"].get_ydata()) == [50.0, 62.5]
    assert list(lines["test loss 0.6500"].get_ydata()) == [0.65]
    (test_at,) = lines["test accuracy 75.00%"].get_xdata()
    assert history.iterations < test_at < history.iterations + 1   # after the last step, beside its validation point
    figure.canvas.draw()
    legend = loss_axis.get_legend().get_window_extent()
    assert legend.y1 <= loss_axis.get_window_extent().y0       # below the axes, covering no curve
    assert len(loss_axis.get_legend().get_texts()) == 6


def test_plot_history_without_matplotlib_writes_the_csv(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    path = tmp_path / "curves.png"
    with pytest.warns(UserWarning, match=r"pip install matplotlib .*pip install -e '\.\[plot\]'"):
        assert plot_history(small_history(), path) is None
    assert not path.exists()
    with open(tmp_path / "curves.csv", newline="") as file:
        assert len(list(csv.DictReader(file))) == 6 + 2


# --- the example, end to end ---------------------------------------------------------------------

def test_convnet_example_smoke_run(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    env["PATH"] = str(tmp_path)          # no Graphviz `dot` (the svg path is tested in test_viz)
    out = tmp_path / "convnet"
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "mnist_convnet.py"), "--epochs", "1",
                             "--limit-train", "300", "--no-progress", "--out", str(out)],
                            capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert re.fullmatch(r"test accuracy: \d{1,3}\.\d{2}%", lines[-1]), result.stdout
    assert "Total params: 3,199,106" in result.stdout
    assert any(LOG_LINE.match(line) for line in lines)
    assert (out / "convnet.pt").is_file() and (out / "history.csv").is_file()
    assert any(line.startswith("no graph.svg: drawing the graph needs Graphviz's `dot` program") for line in lines)
    where = next(line for line in lines if line.startswith("pictures ("))
    folder, names = re.fullmatch(r"pictures \(\d+\.\ds\) in (.+?)[/\\]: (.+)", where).groups()
    assert os.path.samefile(tmp_path / folder, out)          # relative to the working directory
    assert "graph.svg" not in names and "history.csv" in names
    assert all((out / name).is_file() for name in names.split(", "))
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert (out / "curves.csv").is_file()
    else:
        assert (out / "curves.png").is_file()
