"""Training utilities: the fit loop, evaluation, a Keras-style model summary,
the training history (CSV) and its plot, and checkpoints.

    from tinygrad_cnn.training import summary, fit, evaluate, plot_history
    summary(model, (1, 28, 28))
    history = fit(model, optimizer, train_loader, epochs=6, val_loader=val_loader,
                  checkpoint_path="runs/convnet/convnet.pt")
    test_loss, test_accuracy = evaluate(model, test_loader)
    plot_history(history, "runs/convnet/curves.png")

Only numpy is needed to import this module: tqdm (progress bars) and
matplotlib (plots) are imported when they are used.
"""
from __future__ import annotations

import base64
import csv
import html
import math
import os
import time
import warnings
from dataclasses import dataclass

from ._atomic import atomic_write
from ._display import ShownOnce, show
from .creation import zeros
from .nn import functional as F
from .optim import lr_scheduler
from .nn.module import training_mode
from .autograd import tensors_in
from .tensor import Tensor, no_grad

__all__ = ["summary", "ModelSummary", "LayerStats", "History", "plot_history", "evaluate", "fit", "load_checkpoint"]


# --- small shared helpers --------------------------------------------------------------------

def _count_correct(outputs: Tensor, targets: Tensor) -> int:
    """Number of rows whose highest logit is the target class (targets may be
    class indices (N,) or probability / one-hot rows (N, C))."""
    predicted = outputs.argmax(axis=1)
    labels = targets.argmax(axis=1) if targets.ndim == 2 else targets
    return int(predicted.eq(labels).sum().item())


# --- summary -----------------------------------------------------------------------------------

def _shape_text(value) -> str:
    """Output shape with None for the batch axis, e.g. ``(None, 8, 26, 26)``."""
    if isinstance(value, (tuple, list)):
        return ", ".join(_shape_text(item) for item in value)
    shape = getattr(value, "shape", None)
    if shape is None:
        return type(value).__name__
    return str((None,) + tuple(shape[1:])) if len(shape) else "()"


def summary(model, input_shape, print_fn=print, batch_size: int = 1, loss_fn=None) -> "ModelSummary":
    """Describe ``model`` layer by layer, like Keras's ``model.summary()``,
    and measure what one training step costs.

    Runs one training-mode forward pass on zeros of shape ``(batch_size,) +
    input_shape`` plus a loss, recording the graph as training would, and
    reads, for every leaf layer it calls (and every container holding
    parameters of its own), through forward hooks:

    - the output shape (None for the batch axis) and the parameter count;
    - mult-adds of the batch: Conv2d ``output elements * C_in/groups * KH *
      KW``, Linear ``output elements * in_features`` (other layers 0);
    - bytes saved for backward, measured on the recorded graph: what each op
      of the layer keeps for its VJP (see :mod:`tinygrad_cnn.viz.graph`:
      saved arrays, the inputs and output the VJP reads; each buffer once;
      parameters not counted).

    Nothing is changed: modes, buffers (e.g. running statistics) and the
    random generator (dropout draws) are restored, and no backward runs.

    Args:
        model: an ``nn.Module``.
        input_shape: shape of one example without the batch axis, e.g.
            ``(1, 28, 28)``, or a full shape whose batch axis is None, e.g.
            ``(None, 1, 28, 28)``.
        print_fn: called once with the table; None prints nothing. In
            Jupyter the default (``print``) shows the table as HTML instead.
        batch_size: examples in the measured step (mult-adds and memory
            are for the whole batch).
        loss_fn: ``loss_fn(output) -> scalar Tensor`` for the measured step;
            default: cross-entropy against class 0 for (N, C) outputs, else
            the sum of the output.

    Returns:
        A :class:`ModelSummary` (``str()`` of it is the printed table).
    """
    from . import random as _random
    from .grad_mode import enable_grad
    from .nn.layers import Conv2d, Linear
    from .viz.graph import buffer_of, graph_nodes, saved_for_backward, trace_modules

    shape = (input_shape,) if isinstance(input_shape, int) else tuple(input_shape)
    shape = (batch_size,) + (shape[1:] if shape and shape[0] is None else shape)
    rows: list[LayerStats] = []
    row_of_call: dict = {}        # (id(module), call number) -> its row
    calls: dict = {}              # id(module) -> calls so far
    counted = set()               # parameters already attributed to a row (shared ones count once)

    def own_parameter_count(module):
        count = 0
        for param in module._parameters.values():
            if param is not None and id(param) not in counted:
                counted.add(id(param))
                count += param.data.size
        return count

    def record(module, args, output, name):
        calls[id(module)] = calls.get(id(module), 0) + 1
        first = next((t for t in tensors_in(output)), None)
        mult_adds = 0
        if first is not None and isinstance(module, (Conv2d, Linear)):
            mult_adds = first.data.size * int(math.prod(module.weight.shape[1:]))
        row = LayerStats(name or type(model).__name__.lower(), type(module).__name__, _shape_text(output),
                         own_parameter_count(module), mult_adds, 0)
        rows.append(row)
        row_of_call[(id(module), calls[id(module)])] = row

    # Leaves, and containers that hold parameters of their own, get a row.
    handles, row_modules = [], []
    for name, module in model.named_modules():
        if any(module is m for m in row_modules) or (module._modules and not module._parameters):
            continue
        row_modules.append(module)
        handles.append(module.register_forward_hook(
            lambda module, args, output, name=name: record(module, args, output, name)))
    buffers = [(module, name, tensor, tensor.data.copy()) for module in model.modules()
               for name, tensor in module._buffers.items() if tensor is not None]
    rng_state = _random.generator().bit_generator.state
    dtype = next((param.dtype for param in model.parameters()), "float32")
    saved_by_loss = saved_elsewhere = graph_bytes = 0
    with training_mode(model, True):
        try:
            with enable_grad(), trace_modules(model) as trace:
                try:
                    output = model(zeros(shape, dtype=dtype))
                except ValueError as err:
                    raise ValueError(f"summary: the forward pass on zeros of shape {shape} failed ({err}); "
                                     f"input_shape is the shape of one example without the batch axis, "
                                     f"e.g. (1, 28, 28) for MNIST") from err
            loss = _summary_loss(output, loss_fn)
            # Each op's saved bytes go to the row of the innermost module (with a
            # row) whose call created the op; each buffer counts once, first user first.
            saved_seen, held_seen = set(), set()
            for tensor in graph_nodes(*tensors_in(loss)):
                if not (tensor._ctx is None and tensor.requires_grad):
                    graph_bytes += _count_once(buffer_of(tensor.data), held_seen)
                if tensor._ctx is None:
                    continue
                nbytes = 0
                for value in saved_for_backward(tensor):
                    if not value.is_parameter:
                        graph_bytes += _count_once(value.buffer, held_seen)
                        nbytes += _count_once(value.buffer, saved_seen)
                call = trace.owner(tensor._ctx)
                while call is not None and (id(call.module), call.index) not in row_of_call:
                    call = call.parent
                if call is not None:
                    row_of_call[(id(call.module), call.index)].saved_bytes += nbytes
                elif trace.owner(tensor._ctx) is None:
                    saved_by_loss += nbytes
                else:
                    saved_elsewhere += nbytes
            del loss, output
        finally:
            for handle in handles:
                handle.remove()
            for module, name, tensor, data in buffers:
                module._buffers[name] = tensor
                tensor.data = data
            _random.generator().bit_generator.state = rng_state
    # Layers the forward pass never called still own parameters: list them too.
    for name, module in model.named_modules():
        if any(module is m for m in row_modules):
            count = own_parameter_count(module)
            if count:
                rows.append(LayerStats(name or type(model).__name__.lower(), type(module).__name__,
                                       "(not called)", count, 0, 0))
    params = list(model.parameters())
    stats = ModelSummary(
        model_name=type(model).__name__, batch_size=shape[0], layers=rows,
        total_params=sum(p.data.size for p in params),
        trainable_params=sum(p.data.size for p in params if p.requires_grad),
        param_bytes=sum(p.data.nbytes for p in params),
        total_mult_adds=sum(row.mult_adds for row in rows),
        saved_bytes=sum(row.saved_bytes for row in rows) + saved_by_loss + saved_elsewhere,
        loss_saved_bytes=saved_by_loss, other_saved_bytes=saved_elsewhere, graph_bytes=graph_bytes)
    # In Jupyter the default shows the table as HTML instead of printing it.
    if print_fn is not None and not (print_fn is print and show(stats)):
        print_fn(str(stats))
    return stats


def _count_once(buffer, seen: set) -> int:
    if id(buffer) in seen:
        return 0
    seen.add(id(buffer))
    return int(buffer.nbytes)


def _summary_loss(output, loss_fn):
    if loss_fn is not None:
        return loss_fn(output)
    first = next(tensors_in(output), None)
    if first is None:
        raise TypeError(f"summary: the model returned {type(output).__name__}, not a Tensor; pass loss_fn=")
    if first.ndim == 2 and first.dtype.kind == "f":
        return F.cross_entropy(first, zeros((first.shape[0],), dtype="int64"))
    return first.sum()


def _bytes_text(count: int) -> str:
    from .viz.graph import format_bytes
    return format_bytes(count)


@dataclass
class LayerStats:
    """One row of :func:`summary`: a layer call."""

    name: str              # dotted name in the model
    type: str              # class name
    output_shape: str      # e.g. '(None, 8, 26, 26)'
    params: int            # parameters owned by the layer (shared ones in their first row)
    mult_adds: int         # multiply-adds of the measured batch
    saved_bytes: int       # bytes its ops save for backward in the measured step

    @property
    def label(self) -> str:
        return f"{self.name} ({self.type})"


@dataclass(repr=False)
class ModelSummary(ShownOnce):
    """What :func:`summary` measured; ``str()`` gives the printed table.

    ``saved_bytes`` is everything the step's graph saves for backward (the
    layers' rows, the loss's ops and ops outside any row); ``graph_bytes``
    what the graph keeps referenced until backward (every intermediate
    output as well as what is saved), parameters excluded from both."""

    model_name: str
    batch_size: int
    layers: list
    total_params: int
    trainable_params: int
    param_bytes: int
    total_mult_adds: int
    saved_bytes: int
    loss_saved_bytes: int
    other_saved_bytes: int
    graph_bytes: int

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    def __str__(self) -> str:
        headers = ("Layer (type)", "Output Shape", "Param #", "Mult-Adds", "Saved for backward")
        table = [(row.label, row.output_shape, f"{row.params:,}", f"{row.mult_adds:,}",
                  _bytes_text(row.saved_bytes)) for row in self.layers]
        widths = [max([len(headers[col])] + [len(row[col]) for row in table]) + 4 for col in range(5)]
        width = sum(widths)

        def line(cells):
            return "".join(cell.ljust(size) for cell, size in zip(cells, widths)).rstrip()

        lines = [f'Model: "{self.model_name}"', "_" * width, line(headers), "=" * width]
        lines += [line(row) for row in table]
        lines += ["=" * width] + self._total_lines() + ["_" * width]
        return "\n".join(lines)

    def _total_lines(self) -> list:
        batch = f"batch of {self.batch_size}"
        return [f"Total params: {self.total_params:,}",
                f"Trainable params: {self.trainable_params:,}",
                f"Non-trainable params: {self.non_trainable_params:,}",
                f"Params size: {_bytes_text(self.param_bytes)}",
                f"Total mult-adds ({batch}): {self.total_mult_adds:,}",
                f"Saved for backward by one training step ({batch}): {_bytes_text(self.saved_bytes)}"
                f" (layers {_bytes_text(self.saved_bytes - self.loss_saved_bytes - self.other_saved_bytes)},"
                f" loss {_bytes_text(self.loss_saved_bytes)}"
                + (f", other ops {_bytes_text(self.other_saved_bytes)}" if self.other_saved_bytes else "") + ")",
                f"Held by that step's graph until backward: {_bytes_text(self.graph_bytes)}"]

    def _repr_html_(self) -> str:
        """Jupyter's view: the layer table and the totals."""
        headers = ("Layer (type)", "Output Shape", "Param #", "Mult-Adds", "Saved for backward")
        head = "".join(f"<th>{name}</th>" for name in headers)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in (
                row.label, row.output_shape, f"{row.params:,}", f"{row.mult_adds:,}",
                _bytes_text(row.saved_bytes))) + "</tr>" for row in self.layers)
        items = "".join(f"<li>{html.escape(line)}</li>" for line in self._total_lines())
        return (f'<p><b>Model: "{html.escape(self.model_name)}"</b></p>'
                f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table><ul>{items}</ul>")

    def _mime_bundle(self) -> dict:
        return {"text/html": self._repr_html_(), "text/plain": str(self)}

    def __repr__(self) -> str:
        return (f"ModelSummary({self.model_name}: {self.total_params:,} params, "
                f"{self.total_mult_adds:,} mult-adds, {_bytes_text(self.saved_bytes)} saved for backward "
                f"at batch {self.batch_size})")


# --- history -------------------------------------------------------------------------------------

class History:
    """What happened during training, as plain Python numbers.

    Attributes:
        steps: one dict per optimisation step: ``iteration`` (counted from 1
            over the whole run), ``epoch`` and ``step`` (from 1), ``loss``
            (the batch loss) and ``accuracy`` (batch accuracy, a fraction).
        epochs: one dict per completed epoch: ``epoch``, ``iteration`` (the
            last one of the epoch), ``loss`` and ``accuracy`` (means over the
            epoch's examples), ``val_loss`` and ``val_accuracy`` (None without
            validation) and ``seconds``.
        interrupted: True when ``fit`` stopped on KeyboardInterrupt.

    Only floats and ints are stored, never Tensors, so a History keeps no
    graph alive however long the run.
    """

    STEP_KEYS = ("iteration", "epoch", "step", "loss", "accuracy")
    EPOCH_KEYS = ("epoch", "iteration", "loss", "accuracy", "val_loss", "val_accuracy", "seconds")
    CSV_COLUMNS = ("record", "iteration", "epoch", "step", "loss", "accuracy", "val_loss", "val_accuracy")

    def __init__(self):
        self.steps: list[dict] = []
        self.epochs: list[dict] = []
        self.interrupted = False
        self.gradients: list[dict] = []   # fit(..., track_gradients=True); not saved in checkpoints

    @property
    def iterations(self) -> int:
        """Steps taken so far over all epochs."""
        return self.steps[-1]["iteration"] if self.steps else 0

    @property
    def completed_epochs(self) -> int:
        return self.epochs[-1]["epoch"] if self.epochs else 0

    def log_step(self, epoch: int, step: int, loss: float, accuracy: float) -> dict:
        record = {"iteration": self.iterations + 1, "epoch": int(epoch), "step": int(step),
                  "loss": float(loss), "accuracy": float(accuracy)}
        self.steps.append(record)
        return record

    def log_gradients(self, iteration: int, model) -> dict:
        """Record mean and max |grad| of each parameter tensor of ``model``
        (those with a gradient) at ``iteration``: ``{"iteration": int,
        "mean": {name: float}, "max": {name: float}}``."""
        means, maxes = {}, {}
        with no_grad():
            for name, param in model.named_parameters():
                if param.grad is not None:
                    magnitude = param.grad.abs()
                    means[name] = magnitude.mean().item()
                    maxes[name] = magnitude.max().item()
        record = {"iteration": int(iteration), "mean": means, "max": maxes}
        self.gradients.append(record)
        return record

    def log_epoch(self, epoch: int, loss: float, accuracy: float, val_loss=None, val_accuracy=None,
                  seconds: float = 0.0) -> dict:
        record = {"epoch": int(epoch), "iteration": self.iterations, "loss": float(loss),
                  "accuracy": float(accuracy),
                  "val_loss": None if val_loss is None else float(val_loss),
                  "val_accuracy": None if val_accuracy is None else float(val_accuracy),
                  "seconds": float(seconds)}
        self.epochs.append(record)
        return record

    def as_dict(self) -> dict:
        """Column lists: ``{"steps": {key: [...]}, "epochs": {key: [...]}, "interrupted": bool}``
        (missing validation values are None). This is what checkpoints store."""
        def columns(records, keys):
            return {key: [record[key] for record in records] for key in keys}
        return {"steps": columns(self.steps, self.STEP_KEYS),
                "epochs": columns(self.epochs, self.EPOCH_KEYS),
                "interrupted": bool(self.interrupted)}

    @classmethod
    def from_dict(cls, data) -> "History":
        """Rebuild a History from :meth:`as_dict` output (e.g. from a checkpoint)."""
        history = cls()

        def number(value, kind):
            if value is None or math.isnan(float(value)):  # None (or NaN) marks "no value"
                return None
            return kind(value)

        def records(table, keys, ints):
            table = table or {}
            count = len(table.get(keys[0], ()))
            return [{key: number(table[key][row], int if key in ints else float) if key in table else None
                     for key in keys} for row in range(count)]

        history.steps = records(data.get("steps"), cls.STEP_KEYS, ("iteration", "epoch", "step"))
        history.epochs = records(data.get("epochs"), cls.EPOCH_KEYS, ("epoch", "iteration"))
        history.interrupted = bool(data.get("interrupted", False))
        return history

    def to_csv(self, path) -> str:
        """Write every record to ``path`` (atomically): one ``record=step`` row per
        step and one ``record=epoch`` row per epoch (mean loss and accuracy,
        validation values), in the order they happened. Returns the path."""
        rows = []
        epochs = iter(self.epochs)
        next_epoch = next(epochs, None)
        for step in self.steps:
            rows.append({"record": "step", **step})
            while next_epoch is not None and next_epoch["iteration"] <= step["iteration"]:
                rows.append({"record": "epoch", **next_epoch})
                next_epoch = next(epochs, None)
        while next_epoch is not None:
            rows.append({"record": "epoch", **next_epoch})
            next_epoch = next(epochs, None)

        path = os.fspath(path)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with atomic_write(path, "w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=self.CSV_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            for row in rows:
                writer.writerow({key: _csv_value(row.get(key)) for key in self.CSV_COLUMNS})
        return path

    def __repr__(self):
        state = ", interrupted" if self.interrupted else ""
        return f"History({len(self.epochs)} epochs, {len(self.steps)} steps{state})"

    def _repr_html_(self) -> str:
        """Jupyter's view: one table row per epoch, then the curves (with matplotlib)."""
        rows = "".join(
            "<tr>" + "".join(f"<td>{cell}</td>" for cell in (
                record["epoch"], record["iteration"], f"{record['loss']:.4f}", f"{100 * record['accuracy']:.2f}%",
                "" if record["val_loss"] is None else f"{record['val_loss']:.4f}",
                "" if record["val_accuracy"] is None else f"{100 * record['val_accuracy']:.2f}%",
                f"{record['seconds']:.1f}s")) + "</tr>"
            for record in self.epochs)
        head = "".join(f"<th>{name}</th>" for name in ("epoch", "last step", "loss", "accuracy", "val loss",
                                                      "val accuracy", "time"))
        parts = [f"<p><b>{html.escape(repr(self))}</b></p>"]
        if self.epochs:
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        if self.steps:
            try:
                png = _history_figure(self).png()
            except ImportError:
                parts.append("<p>(pip install matplotlib to see the curves here)</p>")
            else:
                parts.append(f'<img src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}" '
                             f'alt="loss and accuracy curves"/>')
        return "".join(parts)


def _csv_value(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


# --- plotting ----------------------------------------------------------------------------------

def plot_history(history: History, path=None, test=None):
    """Plot loss (left axis) and accuracy (right axis) against the iteration on
    one figure; save it as a PNG at ``path`` (atomically) when given.

    Batch values are drawn per step (faintly under a moving average on long
    runs), validation values as markers at the end of each epoch, and
    ``test=(loss, accuracy)`` (as :func:`evaluate` returns it) as one marker
    each after the last step. The legend sits below the axes, off the data.
    In Jupyter the figure shows inline as soon as it is drawn. Drawn on
    matplotlib's Agg canvas: no display is needed, pyplot is left alone.

    Returns the path when one is given, else the Figure. Without matplotlib
    it returns None: a warning says how to install it, and with a ``path``
    the history is written as CSV next to it (same name, ``.csv``) so
    nothing is lost.
    """
    try:
        from .viz._figure import finish
        figure = _history_figure(history, test)
    except ImportError:
        message = "plot_history: matplotlib is not installed, so nothing was drawn; install it with: " \
                  "pip install matplotlib (or, in a checkout, pip install -e '.[plot]')."
        if path is not None:
            csv_path = os.path.splitext(os.fspath(path))[0] + ".csv"
            history.to_csv(csv_path)
            message += f" The history was written to {csv_path}."
        warnings.warn(message, stacklevel=2)
        return None
    if path is None:
        return finish(figure)
    from .viz.plots import save_png
    save_png(figure, path)
    finish(figure)
    return os.fspath(path)


def _history_figure(history: History, test=None):
    """The Figure of :func:`plot_history`, not shown (needs matplotlib)."""
    from .viz._figure import new_figure
    iterations = [record["iteration"] for record in history.steps]
    losses = [record["loss"] for record in history.steps]
    accuracies = [100 * record["accuracy"] for record in history.steps]
    figure = new_figure(8, 5)
    loss_axis = figure.add_subplot(1, 1, 1)
    accuracy_axis = loss_axis.twinx()
    loss_color, accuracy_color = "tab:blue", "tab:orange"
    # Batch values are noisy (with batch size 1 every accuracy is 0 or 100):
    # on long runs draw them faintly under a moving average.
    window = max(1, len(iterations) // 50)
    loss_top = None
    for axis, values, color, name in ((loss_axis, losses, loss_color, "loss"),
                                      (accuracy_axis, accuracies, accuracy_color, "accuracy")):
        if window == 1:
            axis.plot(iterations, values, color=color, linewidth=1, label=f"batch {name}")
            continue
        smooth = _moving_average(values, window)
        # Raw values faintly underneath, except accuracies that are all 0% or 100% (batch size 1):
        # those would only paint a band over the whole plot.
        if name == "loss" or any(0 < value < 100 for value in values):
            axis.plot(iterations, values, color=color, linewidth=0.5, alpha=0.15)
        axis.plot(iterations, smooth, color=color, linewidth=1.5, label=f"batch {name} (mean of {window} steps)")
        if name == "loss":   # the scale of the averaged curve; single-step spikes may leave the top
            loss_top = 1.3 * max(smooth + [r["val_loss"] or 0 for r in history.epochs] + [test[0] if test else 0])
    validated = [r for r in history.epochs if r["val_loss"] is not None]
    if validated:
        ends = [r["iteration"] for r in validated]
        loss_axis.plot(ends, [r["val_loss"] for r in validated], "o--", color=loss_color, markersize=7,
                       markerfacecolor="white", markeredgewidth=1.5, label="validation loss (epoch end)")
        accuracy_axis.plot(ends, [100 * r["val_accuracy"] for r in validated], "s--", color=accuracy_color,
                           markersize=7, markerfacecolor="white", markeredgewidth=1.5,
                           label="validation accuracy (epoch end)")
    if test is not None:
        test_loss, test_accuracy = test
        # just right of the last step, so that a validation point there stays visible
        end = (iterations[-1] + 0.02 * max(iterations[-1] - iterations[0], 1)) if iterations else 0
        loss_axis.plot([end], [test_loss], "D", color="navy", markersize=8, label=f"test loss {test_loss:.4f}")
        accuracy_axis.plot([end], [100 * test_accuracy], "D", color="darkred", markersize=8,
                           label=f"test accuracy {100 * test_accuracy:.2f}%")
    loss_axis.set_xlabel("iteration (optimizer step)")
    loss_axis.set_ylabel("loss", color=loss_color)
    accuracy_axis.set_ylabel("accuracy (%)", color=accuracy_color)
    accuracy_axis.set_ylim(0, 101)
    loss_axis.set_ylim(0, loss_top)
    loss_axis.tick_params(axis="y", labelcolor=loss_color)
    accuracy_axis.tick_params(axis="y", labelcolor=accuracy_color)
    handles, labels = loss_axis.get_legend_handles_labels()
    more_handles, more_labels = accuracy_axis.get_legend_handles_labels()
    # below the axes: a legend inside would cover the curves somewhere
    loss_axis.legend(handles + more_handles, labels + more_labels, loc="upper center",
                     bbox_to_anchor=(0.5, -0.13), ncol=2, fontsize=8, frameon=False)
    loss_axis.set_title("Training loss and accuracy")
    loss_axis.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def _moving_average(values, window):
    """Mean of the last ``window`` values at each position (fewer at the start)."""
    averages, running = [], 0.0
    for index, value in enumerate(values):
        running += value
        if index >= window:
            running -= values[index - window]
        averages.append(running / min(index + 1, window))
    return averages


# --- evaluation and training ---------------------------------------------------------------------

def evaluate(model, loader, loss_fn=F.cross_entropy) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` over ``loader``.

    Runs in eval mode (dropout off) under ``no_grad``; each module's previous
    training mode is restored afterwards. ``loss_fn(outputs, targets)`` must
    return the batch mean (it is weighted by batch size).

    Returns:
        ``(mean loss, accuracy)``, accuracy a fraction in [0, 1].
    """
    total_loss, correct, seen = 0.0, 0, 0
    with training_mode(model, False), no_grad():
        for inputs, targets in loader:
            outputs = model(inputs)
            count = len(outputs)
            total_loss += loss_fn(outputs, targets).item() * count
            correct += _count_correct(outputs, targets)
            seen += count
    if seen == 0:
        raise ValueError("evaluate: the loader yielded no examples")
    return total_loss / seen, correct / seen


def _progress_bar(total, description, enabled):
    """A tqdm bar (ETA, rate, loss and accuracy), or None when disabled or not a terminal.

    Through ``tqdm.auto``: a widget in Jupyter when ipywidgets is installed,
    otherwise the text bar (in a notebook without ipywidgets, the text bar is
    drawn although the output is not a terminal)."""
    if not enabled:
        return None
    import sys
    with warnings.catch_warnings():   # tqdm warns when it falls back from widgets to text
        warnings.simplefilter("ignore")
        from tqdm.auto import tqdm  # imported here: tqdm is not needed to import the package
    # disable=None: the text bar switches itself off when stderr is not a terminal
    in_notebook = "ipykernel" in sys.modules and not tqdm.__module__.startswith("tqdm.notebook")
    bar = tqdm(total=total, desc=description, unit="step", disable=False if in_notebook else None,
               leave=True, dynamic_ncols=True)
    if bar.disable:
        bar.close()
        return None
    return bar


def _save_checkpoint(path, model, optimizer, epoch, history, scheduler=None):
    from .serialization import save  # imported here so this module never needs it at import time
    checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": int(epoch),
                  "history": history.as_dict()}
    if scheduler is not None:
        checkpoint["scheduler"] = scheduler.state_dict()
    save(checkpoint, path)


def _step_scheduler(scheduler, metric: float) -> None:
    """ReduceLROnPlateau watches ``metric``; the other schedulers just step."""
    if isinstance(scheduler, lr_scheduler.ReduceLROnPlateau):
        scheduler.step(metric)
    else:
        scheduler.step()


def load_checkpoint(path, model, optimizer=None, scheduler=None):
    """Restore a checkpoint written by :func:`fit` into ``model`` (and
    ``optimizer``, and the learning-rate ``scheduler`` when it was saved).

    Returns ``(epoch, history)``: the last completed epoch and the History up
    to it; pass both on to ``fit(..., history=history)`` to resume training.
    """
    from .serialization import load
    checkpoint = load(path)
    model.load_state_dict(checkpoint["model"])
    if optimizer is not None and "optimizer" in checkpoint:
        optimizer.load_state_dict(checkpoint["optimizer"])
    if scheduler is not None and "scheduler" in checkpoint:
        scheduler.load_state_dict(checkpoint["scheduler"])
    history = History.from_dict(checkpoint.get("history", {}))
    return int(checkpoint.get("epoch", history.completed_epochs)), history


def fit(model, optimizer, train_loader, epochs, loss_fn=F.cross_entropy, val_loader=None, log_every=100,
        progress=True, checkpoint_path=None, history=None, print_fn=print, track_gradients=False,
        scheduler=None, scheduler_step="epoch") -> History:
    """Train a classifier ``model`` with ``optimizer`` for ``epochs`` epochs.

    Each step: ``model.train()``, ``optimizer.zero_grad()``, forward,
    ``loss_fn(outputs, targets)``, ``backward()``, ``optimizer.step()``.
    Outputs are logits (N, C); accuracy counts rows whose argmax is the target.

    Args:
        model, optimizer: an ``nn.Module`` and an optimizer over its parameters.
        train_loader: yields ``(inputs, targets)`` batches; needs ``len()``.
        epochs: the epoch to stop after, counted over the whole run: with a
            ``history`` that already holds 2 epochs, ``epochs=6`` trains 4 more.
        loss_fn: ``loss_fn(outputs, targets) -> scalar Tensor`` (batch mean).
        val_loader: evaluated with :func:`evaluate` after every epoch.
        log_every: every this many steps, ``print_fn`` gets a line like
            ``Epoch [1/6], Step [100/600], Loss: 0.2910, Accuracy: 87.00%``
            (the batch's loss and accuracy); 0 or None logs no steps.
        progress: show a tqdm bar per epoch (ETA, running loss and accuracy)
            when stderr is a terminal.
        checkpoint_path: after every epoch, save (atomically) the model,
            optimizer and scheduler states, the epoch and the history here
            (see :func:`load_checkpoint`).
        history: a History to continue (e.g. from :func:`load_checkpoint`).
        print_fn: receives the step log lines and one line per epoch.
        scheduler: an ``optim.lr_scheduler`` scheduler, stepped after every
            epoch (``scheduler_step='epoch'``) or after every optimizer step
            (``'batch'``, e.g. for OneCycleLR). ``ReduceLROnPlateau`` gets
            the epoch's validation loss when there is a ``val_loader``, else
            the epoch's training loss (the batch's loss when stepped per batch).
        track_gradients: record mean and max |grad| of every parameter tensor
            into ``history.gradients`` (for ``viz.plot_gradient_flow``): True
            records on the first step and on every logged step (every
            ``log_every`` steps; a tenth of an epoch when nothing is logged),
            an int every that many steps. Two reductions per parameter per
            record, so it costs nothing on the other steps.

    Returns:
        The History. On KeyboardInterrupt (Ctrl-C) training stops, a line
        says so and where the last checkpoint is, and the history so far is
        returned with ``history.interrupted = True`` (it includes the steps of
        the unfinished epoch; to resume, use :func:`load_checkpoint`, whose
        history ends with the last saved epoch).
    """
    if scheduler_step not in ("epoch", "batch"):
        raise ValueError(f"fit: scheduler_step must be 'epoch' or 'batch', got {scheduler_step!r}")
    history = History() if history is None else history
    history.interrupted = False
    if checkpoint_path is not None:
        # Created now, so a bad path fails before an epoch of work rather than after it.
        os.makedirs(os.path.dirname(os.path.abspath(os.fspath(checkpoint_path))), exist_ok=True)
    steps_per_epoch = len(train_loader)
    if track_gradients is True:
        track_every = log_every or max(1, steps_per_epoch // 10)
    else:
        track_every = int(track_gradients or 0)
    first_epoch = history.completed_epochs + 1
    saved_epoch = None
    epoch, step = first_epoch, 0
    bar = None
    try:
        for epoch in range(first_epoch, epochs + 1):
            started = time.perf_counter()
            bar = _progress_bar(steps_per_epoch, f"Epoch {epoch}/{epochs}", progress)
            # Step lines go through tqdm.write while a bar is drawn, so they don't tear it.
            log = bar.write if bar is not None and print_fn is print else print_fn
            loss_sum, correct_sum, seen, step = 0.0, 0, 0, 0
            model.train()
            for step, (inputs, targets) in enumerate(train_loader, start=1):
                optimizer.zero_grad()
                outputs = model(inputs)
                loss = loss_fn(outputs, targets)
                loss.backward()
                if track_every and (step % track_every == 0 or history.iterations == 0):
                    history.log_gradients(history.iterations + 1, model)
                optimizer.step()
                # Plain numbers only from here on: nothing keeps this step's graph alive.
                loss_value = loss.item()
                count = len(outputs)
                correct = _count_correct(outputs, targets)
                del outputs, loss
                accuracy = correct / count
                history.log_step(epoch, step, loss_value, accuracy)
                if scheduler is not None and scheduler_step == "batch":
                    _step_scheduler(scheduler, loss_value)
                loss_sum += loss_value * count
                correct_sum += correct
                seen += count
                if log_every and step % log_every == 0:
                    log(f"Epoch [{epoch}/{epochs}], Step [{step}/{steps_per_epoch}], "
                        f"Loss: {loss_value:.4f}, Accuracy: {100 * accuracy:.2f}%")
                if bar is not None:
                    bar.set_postfix_str(f"loss={loss_sum / seen:.4f}, acc={100 * correct_sum / seen:.2f}%",
                                        refresh=False)
                    bar.update(1)
            if bar is not None:
                bar.close()
                bar = None
            val_loss = val_accuracy = None
            if val_loader is not None:
                val_loss, val_accuracy = evaluate(model, val_loader, loss_fn)
            seconds = time.perf_counter() - started
            record = history.log_epoch(epoch, loss_sum / max(seen, 1), correct_sum / max(seen, 1),
                                       val_loss, val_accuracy, seconds)
            text = (f"Epoch [{epoch}/{epochs}] done in {seconds:.1f}s: Loss: {record['loss']:.4f}, "
                    f"Accuracy: {100 * record['accuracy']:.2f}%")
            if val_loss is not None:
                text += f", Val Loss: {val_loss:.4f}, Val Accuracy: {100 * val_accuracy:.2f}%"
            print_fn(text)
            if scheduler is not None and scheduler_step == "epoch":
                _step_scheduler(scheduler, record["loss"] if val_loss is None else val_loss)
            if checkpoint_path is not None:
                _save_checkpoint(checkpoint_path, model, optimizer, epoch, history, scheduler)
                saved_epoch = epoch
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        history.interrupted = True
        if saved_epoch is not None:
            where = f"the last checkpoint (epoch {saved_epoch}) is {os.fspath(checkpoint_path)}"
        elif checkpoint_path is not None and os.path.exists(checkpoint_path):
            where = f"the checkpoint from an earlier run is kept at {os.fspath(checkpoint_path)}"
        elif checkpoint_path is not None:
            where = "no epoch completed, so no checkpoint was written"
        else:
            where = "no checkpoint_path was given, so nothing was saved"
        print_fn(f"Training interrupted at epoch {epoch}, step {step}: {where}.")
    return history
