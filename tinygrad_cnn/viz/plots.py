"""Pictures of a CNN and its training, drawn with matplotlib's Agg canvas
(no display needed, pyplot's global state left alone).

Each function returns the matplotlib Figure and, when ``path`` is given,
also writes it there as a PNG (atomically). In Jupyter the figure shows
inline as soon as it is drawn, last expression of its cell or not (once: a
cell ending with the figure does not show it again); scripts show nothing.
matplotlib is the optional extra ``plot``: ``pip install -e '.[plot]'``.
"""
from __future__ import annotations

import math
import os

import numpy as np

from .._atomic import atomic_write
from ..grad_mode import no_grad
from ..nn.module import training_mode
from ..tensor import Tensor

__all__ = ["plot_filters", "plot_feature_maps", "plot_gradient_flow", "plot_predictions",
           "plot_confusion_matrix", "confusion_matrix"]


def _figure(width, height, dpi=100):
    try:
        from ._figure import new_figure
    except ImportError:
        raise ImportError("tinygrad_cnn.viz plots need matplotlib: pip install matplotlib "
                          "(or, in a checkout, pip install -e '.[plot]')") from None
    return new_figure(width, height, dpi)


def _finish(figure, path):
    """Write the PNG when asked, show the figure when a Jupyter kernel runs."""
    from ._figure import finish
    if path is not None:
        save_png(figure, path)
    return finish(figure)


def save_png(figure, path) -> str:
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_write(path, "wb") as file:
        figure.savefig(file, format="png")
    return path


def _array(value) -> np.ndarray:
    return np.asarray(value.data if isinstance(value, Tensor) else value)


def _mosaic(tiles: np.ndarray, columns: int, gap: int = 1) -> np.ndarray:
    """Tiles (T, h, w) laid out row by row, ``columns`` per row, separated by
    ``gap`` pixels of NaN (drawn as background)."""
    count, h, w = tiles.shape
    rows = math.ceil(count / columns)
    canvas = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap), np.nan, dtype=np.float32)
    for index in range(count):           # one assignment per tile, not per pixel
        r, c = divmod(index, columns)
        canvas[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = tiles[index]
    return canvas


def _colormap(name, background="#cccccc"):
    import matplotlib
    return matplotlib.colormaps[name].with_extremes(bad=background)


# --- filters ---------------------------------------------------------------------------------------

def plot_filters(conv_layer, path=None, columns=None):
    """The learned kernels of a Conv2d: one tile per filter and input channel.

    A layer with one input channel (the first conv on grey images) is drawn
    as a grid of its F filters, ``columns`` per row (default: up to 8); with
    C input channels, row f holds filter f's C kernels. All tiles share one
    colour scale centred on 0 (red positive, blue negative), so magnitudes
    compare across filters.

    Args:
        conv_layer: an ``nn.Conv2d`` (or its weight, a Tensor/array (F, C, KH, KW)).
        path: where to write the PNG (optional).

    Returns:
        The Figure; its one image axes holds the mosaic (``figure.axes[0]``).
    """
    weight = _array(getattr(conv_layer, "weight", conv_layer))
    if weight.ndim != 4:
        raise ValueError(f"plot_filters: expected a Conv2d or a weight of shape (F, C, KH, KW), "
                         f"got shape {weight.shape}")
    filters, channels, kh, kw = weight.shape
    if channels == 1:
        columns = columns or min(8, filters)
        tiles = weight[:, 0]
    else:
        columns = channels
        tiles = weight.reshape(filters * channels, kh, kw)
    canvas = _mosaic(tiles.astype(np.float32), columns)
    rows = math.ceil(len(tiles) / columns)
    limit = float(np.abs(weight).max()) or 1.0
    scale = 0.35 if channels == 1 else 0.12
    figure = _figure(max(4.0, columns * (kw + 1) * scale / 2 + 1.5), max(3.0, rows * (kh + 1) * scale / 2 + 1.0))
    axis = figure.add_subplot(1, 1, 1)
    image = axis.imshow(canvas, cmap=_colormap("RdBu_r"), vmin=-limit, vmax=limit, interpolation="nearest")
    figure.colorbar(image, ax=axis, fraction=0.04, pad=0.02, label="weight")
    if channels == 1:
        axis.set_title(f"{filters} filters, {kh}x{kw}")
        axis.set_xticks([])
        axis.set_yticks([])
    else:
        axis.set_title(f"{filters} filters x {channels} input channels, {kh}x{kw}")
        axis.set_xlabel("input channel")
        axis.set_ylabel("filter")
        step = max(1, channels // 8)
        axis.set_xticks([c * (kw + 1) + (kw - 1) / 2 for c in range(0, channels, step)],
                        [str(c) for c in range(0, channels, step)])
        step = max(1, filters // 8)
        axis.set_yticks([f * (kh + 1) + (kh - 1) / 2 for f in range(0, filters, step)],
                        [str(f) for f in range(0, filters, step)])
    figure.tight_layout()
    return _finish(figure, path)


# --- feature maps ----------------------------------------------------------------------------------

def plot_feature_maps(model, image, path=None, max_channels=8, channels=None, columns=8):
    """What each layer makes of one input: the output of every module without
    submodules, recorded with forward hooks during one forward pass (eval
    mode, no_grad; modes are restored).

    One row per layer, the input first. Images (C, H, W) show the channels
    named in the row's title ("channels 0-7 of 32"), ``columns`` per line,
    on one colour scale for the whole row, with its colour bar. Vectors show
    as a strip with a colour bar, and the last layer's output (the logits)
    as bars with their values, the largest marked.

    Args:
        model: an ``nn.Module``.
        image: one input, (C, H, W) or (1, C, H, W), as the model takes it
            (normalised as in training).
        path: where to write the PNG (optional).
        max_channels: how many channels of each image layer to show, from
            the first (None: all of them).
        channels: which channels to show instead (a list of indices; those
            a layer does not have are skipped).
        columns: channels per line of a row.

    Returns:
        The Figure: one axes per row (the input and each layer), then the
        colour bars.
    """
    x = _array(image).astype(np.float32, copy=False)
    if x.ndim == 3:
        x = x[None]
    if x.ndim < 2 or x.shape[0] != 1:
        raise ValueError(f"plot_feature_maps: expected one input (C, H, W) or (1, C, H, W), got shape {x.shape}")
    outputs = []
    handles = [module.register_forward_hook(
                   lambda module, args, output, name=name: outputs.append((name, module, _array(output))))
               for name, module in model.named_modules() if not module._modules]
    try:
        with training_mode(model, False), no_grad():
            model(Tensor(x))
    finally:
        for handle in handles:
            handle.remove()
    rows = [("input", None, x)] + outputs

    def chosen(count, is_input=False):
        if is_input:                    # the image itself: all of its channels (up to a line)
            return list(range(min(count, columns)))
        if channels is not None:
            return [c for c in channels if 0 <= c < count]
        return list(range(count if max_channels is None else min(max_channels, count)))

    heights = []
    for name, module, value in rows:
        sample = value[0]
        lines = max(1, math.ceil(len(chosen(sample.shape[0], module is None)) / columns)) if sample.ndim == 3 else 1
        heights.append(1.0 + 0.9 * (lines - 1))
    figure = _figure(1.3 * columns + 2.3, 1.35 * sum(heights) + 0.4)
    grid = figure.add_gridspec(len(rows), 1, height_ratios=heights)
    for index, (name, module, value) in enumerate(rows):
        axis = figure.add_subplot(grid[index])
        title = f"{name}: {type(module).__name__} {tuple(value.shape[1:])}" if module is not None else \
            f"input {tuple(value.shape[1:])}"
        axis.set_xticks([])
        axis.set_yticks([])
        sample = value[0]
        if index == len(rows) - 1 and sample.ndim == 1 and sample.size <= 100:
            best = int(sample.argmax())
            colors = ["tab:orange" if i == best else "tab:blue" for i in range(sample.size)]
            bars = axis.bar(range(sample.size), sample, color=colors)
            axis.bar_label(bars, fmt="%.2f", fontsize=7, padding=1)
            axis.axhline(0, color="#666666", linewidth=0.6)
            low, high = float(min(sample.min(), 0)), float(max(sample.max(), 0))
            margin = 0.18 * ((high - low) or 1.0)
            axis.set_ylim(low - margin, high + margin)
            axis.set_xticks(range(sample.size))
            axis.tick_params(labelsize=7)
            title += f": logits, the largest is class {best} (orange)"
        elif sample.ndim == 3 and not chosen(sample.shape[0], module is None):
            axis.axis("off")
            title += f": none of the chosen channels (it has {sample.shape[0]})"
        elif sample.ndim == 3:
            shown = chosen(sample.shape[0], module is None)
            maps = sample[shown].astype(np.float32)
            low, high = float(maps.min()), float(maps.max())
            image_artist = axis.imshow(_mosaic(maps, min(columns, len(maps)), gap=2),
                                       cmap=_colormap("viridis", "white"), vmin=low,
                                       vmax=high if high > low else low + 1, interpolation="nearest",
                                       aspect="equal")
            figure.colorbar(image_artist, ax=axis, fraction=0.025, pad=0.01).ax.tick_params(labelsize=6)
            axis.set_anchor("W")              # every row starts at the left edge
            if sample.shape[0] > 1 or module is not None:
                title += f": {_channel_text(shown, sample.shape[0])}, one colour scale"
        else:
            strip = sample.reshape(1, -1).astype(np.float32)
            image_artist = axis.imshow(strip, cmap="viridis", aspect="auto", interpolation="nearest")
            figure.colorbar(image_artist, ax=axis, fraction=0.025, pad=0.01).ax.tick_params(labelsize=6)
            title += f": {strip.size} values"
            if "Dropout" in type(module).__name__:
                title += " (eval mode: passed through unchanged)"
        axis.set_title(title, fontsize=8, loc="left")
    figure.tight_layout(h_pad=0.3)
    return _finish(figure, path)


def _channel_text(shown, count) -> str:
    if len(shown) == count:
        return f"all {count} channels" if count > 1 else "1 channel"
    if shown == list(range(shown[0], shown[0] + len(shown))):
        return f"channels {shown[0]}-{shown[-1]} of {count}"
    return f"channels {', '.join(map(str, shown))} of {count}"


# --- gradient flow ---------------------------------------------------------------------------------

def plot_gradient_flow(history, path=None):
    """Mean and max |gradient| of every parameter tensor over training, from
    ``fit(..., track_gradients=True)`` (``history.gradients``).

    Top: mean |grad| of each parameter tensor against the iteration (log
    scale): a layer whose line sinks towards zero has vanishing gradients.
    Bottom: per parameter tensor, in model order, the mean |grad| averaged
    over the records (a dot, its value written beside it) and the largest
    |grad| seen (a triangle), joined by a line; log scale, limits taken from
    the values, so every one of them reads (an exact zero is drawn on the
    bottom edge and labelled 0).

    Returns:
        The Figure (two axes).
    """
    from matplotlib.ticker import MaxNLocator
    records = getattr(history, "gradients", None)
    if not records:
        raise ValueError("plot_gradient_flow: the history holds no gradient records; train with "
                         "fit(..., track_gradients=True)")
    names = list(records[0]["mean"])
    iterations = [record["iteration"] for record in records]
    means = np.array([[record["mean"][name] for name in names] for record in records], dtype=np.float64)
    maxes = np.array([[record["max"][name] for name in names] for record in records], dtype=np.float64)
    positive = np.concatenate([means[means > 0], maxes[maxes > 0]])
    low = positive.min() / 3 if positive.size else 1e-12
    high = positive.max() * 3 if positive.size else 1.0
    figure = _figure(10, 7.5)
    top = figure.add_subplot(2, 1, 1)
    colors = [f"C{i % 10}" for i in range(len(names))]
    for column, name in enumerate(names):
        top.plot(iterations, np.maximum(means[:, column], low), color=colors[column], linewidth=1.2,
                 marker="." if len(iterations) < 40 else None, label=name)
    top.set_yscale("log")
    top.set_ylim(low, high)
    top.xaxis.set_major_locator(MaxNLocator(integer=True))
    top.set_xlabel("iteration")
    top.set_ylabel("mean |grad| (log scale)")
    top.set_title("Gradient flow: mean |grad| of each parameter tensor")
    top.grid(alpha=0.3, which="both")
    top.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)   # off the lines
    bottom = figure.add_subplot(2, 1, 2)
    positions = np.arange(len(names))
    mean_of_means, largest = means.mean(axis=0), maxes.max(axis=0)
    for position, mean, peak, color in zip(positions, mean_of_means, largest, colors):
        bottom.plot([position, position], [max(mean, low), max(peak, low)], color=color, linewidth=1.5, alpha=0.5)
        bottom.plot(position, max(mean, low), "o", color=color, markersize=7)
        bottom.plot(position, max(peak, low), "^", color=color, markersize=7, markerfacecolor="white")
        bottom.annotate(f"{mean:.1e}" if mean > 0 else "0", (position, max(mean, low)), textcoords="offset points",
                        xytext=(7, 0), va="center", fontsize=7)
    bottom.set_yscale("log")
    bottom.set_ylim(low, high)
    bottom.set_xlim(-0.5, len(names) - 0.3)
    bottom.set_xticks(positions, names, rotation=45, ha="right", fontsize=8)
    bottom.set_ylabel("|grad| (log scale)")
    bottom.set_title(f"over {len(records)} records: mean |grad| (dot, value beside it) "
                     f"and max |grad| (triangle)", fontsize=10)
    bottom.grid(alpha=0.3, axis="y", which="both")
    figure.tight_layout()
    return _finish(figure, path)


# --- predictions and the confusion matrix ----------------------------------------------------------

def _predict(model, images: np.ndarray) -> np.ndarray:
    with training_mode(model, False), no_grad():
        logits = model(Tensor(images))
    return _array(logits).argmax(axis=1)


def plot_predictions(model, dataset, path=None, count=25, normalize=None, start=0, classes=None):
    """A grid of ``count`` images from ``dataset`` with the model's prediction
    and the true label; mistakes are titled in red and framed.

    Args:
        model: a classifier returning logits (N, C).
        dataset: items ``(image, label)``, images (C, H, W) or (H, W), uint8
            or floats in [0, 1] (as ``MNISTSample`` and ``vision.datasets``
            give them).
        normalize: ``(mean, std)`` applied before the model sees the images
            (as the DataLoader's ``normalize=`` in training).
        start: index of the first item shown.
        classes: names for the class indices (default: the indices).

    Returns:
        The Figure: one axes per image.
    """
    from ..data.datasets import to_float32
    count = min(count, len(dataset) - start)
    if count <= 0:
        raise ValueError(f"plot_predictions: nothing to show (dataset of {len(dataset)} items, start={start})")
    items = [dataset[start + i] for i in range(count)]
    raw = np.stack([_array(image) for image, _ in items])
    labels = [int(_array(label)) for _, label in items]
    predicted = _predict(model, to_float32(raw, normalize))
    pictures = to_float32(raw)
    columns = min(count, math.ceil(math.sqrt(count)))
    rows = math.ceil(count / columns)
    figure = _figure(1.4 * columns, 1.55 * rows + 0.4)
    name = (lambda k: str(classes[k])) if classes is not None else str
    mistakes = 0
    for index in range(count):
        axis = figure.add_subplot(rows, columns, index + 1)
        picture = pictures[index]
        axis.imshow(picture[0] if picture.shape[0] == 1 else picture.transpose(1, 2, 0), cmap="gray",
                    vmin=0, vmax=1, interpolation="nearest")
        wrong = predicted[index] != labels[index]
        mistakes += wrong
        axis.set_title(f"{name(predicted[index])} ({name(labels[index])})" if wrong else name(predicted[index]),
                       fontsize=9, color="red" if wrong else "black")
        axis.set_xticks([])
        axis.set_yticks([])
        for spine in axis.spines.values():
            spine.set_color("red" if wrong else "#999999")
            spine.set_linewidth(2.5 if wrong else 0.5)
    figure.suptitle(f"predicted (true label when wrong): {mistakes} of {count} wrong", fontsize=10)
    figure.tight_layout()
    return _finish(figure, path)


def confusion_matrix(model, loader, num_classes=None) -> np.ndarray:
    """Counts (num_classes, num_classes): row = true class, column = predicted
    class, over every batch of ``loader`` (eval mode, no_grad)."""
    truth, guesses = [], []
    for inputs, targets in loader:
        guesses.append(_predict(model, _array(inputs)))
        target = _array(targets)
        truth.append(target.argmax(axis=1) if target.ndim == 2 else target)
    truth = np.concatenate(truth).astype(np.int64)
    guesses = np.concatenate(guesses).astype(np.int64)
    if num_classes is None:
        num_classes = int(max(truth.max(), guesses.max())) + 1
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (truth, guesses), 1)
    return counts


def plot_confusion_matrix(model, loader, path=None, num_classes=None, classes=None):
    """Which classes the model confuses: counts of true (rows) against
    predicted (columns) classes over ``loader``, each cell annotated,
    correct ones on the diagonal.

    Returns:
        The Figure; ``figure.confusion`` holds the count matrix.
    """
    counts = confusion_matrix(model, loader, num_classes)
    k = counts.shape[0]
    names = [str(c) for c in (classes if classes is not None else range(k))]
    figure = _figure(0.55 * k + 2.5, 0.5 * k + 1.8)
    axis = figure.add_subplot(1, 1, 1)
    image = axis.imshow(counts, cmap="Blues", interpolation="nearest")
    from matplotlib.ticker import MaxNLocator
    figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04, label="examples",
                    ticks=MaxNLocator(integer=True))     # counts: no 2.5 on the scale
    threshold = counts.max() / 2
    for (row, column), value in np.ndenumerate(counts):   # k*k labels: small k
        if value:
            axis.text(column, row, str(value), ha="center", va="center", fontsize=7,
                      color="white" if value > threshold else "black")
    axis.set_xticks(range(k), names)
    axis.set_yticks(range(k), names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    accuracy = np.trace(counts) / max(counts.sum(), 1)
    axis.set_title(f"confusion matrix ({counts.sum()} examples, {100 * accuracy:.2f}% correct)", fontsize=10)
    figure.tight_layout()
    figure.confusion = counts
    return _finish(figure, path)
