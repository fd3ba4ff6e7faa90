"""tinygrad_cnn.viz: the graph as DOT text (checked structurally, no
Graphviz needed), rendering when Graphviz's `dot` is installed, module
tracing, and the pictures (matplotlib's Agg canvas)."""
import base64
import importlib.util
import os
import re
import shutil
import sys

import numpy as np
import pytest

import tinygrad_cnn as tc
import tinygrad_cnn.nn as nn
import tinygrad_cnn.nn.functional as F
from tinygrad_cnn import Tensor, viz
from tinygrad_cnn.data import MNIST_MEAN, MNIST_STD, DataLoader, MNISTSample, Subset
from tinygrad_cnn.training import History, fit

NODE = re.compile(r'^\s*(\w+) \[label="((?:[^"\\]|\\.)*)"(.*)\];$')
EDGE = re.compile(r"^\s*(\w+) -> (\w+);$")


def parse_dot(text):
    """{node id: (label lines, attribute text)}, [(from, to)]."""
    nodes, edges = {}, []
    for line in text.splitlines():
        node, edge = NODE.match(line), EDGE.match(line)
        if node and node.group(1) not in ("graph", "node", "edge"):
            nodes[node.group(1)] = (node.group(2).split("\\n"), node.group(3))
        elif edge:
            edges.append((edge.group(1), edge.group(2)))
    return nodes, edges


def tinynet():
    tc.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1352, 10))


def tinynet_loss(model, traced=False):
    images = Tensor(np.linspace(0, 1, 2 * 28 * 28, dtype=np.float32).reshape(2, 1, 28, 28))
    labels = Tensor(np.array([3, 7]))
    if traced:
        with viz.trace_modules(model) as trace:
            return F.cross_entropy(model(images), labels), trace
    return F.cross_entropy(model(images), labels)


def by_first_line(nodes):
    return {lines[0]: node_id for node_id, (lines, _) in nodes.items()}


# --- the graph as DOT text -----------------------------------------------------------------------

def test_dot_has_every_op_with_its_shape_the_parameters_and_the_edges():
    model = tinynet()
    loss = tinynet_loss(model)
    text = viz.to_dot(loss, params=dict(model.named_parameters()))
    assert text.startswith("digraph autograd {") and text.rstrip().endswith("}")
    nodes, edges = parse_dot(text)
    names = by_first_line(nodes)
    shapes = {lines[0]: lines[1] for lines, _ in nodes.values()}
    assert shapes["conv2d"] == "(2, 8, 26, 26)" and shapes["relu"] == "(2, 8, 26, 26)"
    assert shapes["max_pool2d"] == "(2, 8, 13, 13)" and shapes["flatten"] == "(2, 1352)"
    assert shapes["linear"] == "(2, 10)" and shapes["nll_loss"] == "()"
    assert shapes["0.weight"] == "(8, 1, 3, 3)" and shapes["4.bias"] == "(10,)"
    # edges go from each input to the op that used it
    edge_set = {(nodes[a][0][0], nodes[b][0][0]) for a, b in edges}
    for pair in [("0.weight", "conv2d"), ("0.bias", "conv2d"), ("conv2d", "relu"), ("relu", "max_pool2d"),
                 ("max_pool2d", "flatten"), ("flatten", "linear"), ("4.weight", "linear"),
                 ("linear", "log_softmax")]:
        assert pair in edge_set, pair
    conv_inputs = [nodes[a][0] for a, b in edges if b == names["conv2d"]]
    assert ["input", "(2, 1, 28, 28)"] in conv_inputs and len(conv_inputs) == 3
    # the root is drawn bold; every edge ends at a declared node
    assert "penwidth" in nodes[names["nll_loss"]][1]
    assert all(a in nodes and b in nodes for a, b in edges)
    # without params, parameters are still leaves requiring grad
    plain, _ = parse_dot(viz.to_dot(loss))
    assert sum(lines[0] == "leaf (requires grad)" for lines, _ in plain.values()) == 4


def test_show_saved_lists_what_each_op_keeps_and_the_total_is_counted_once_per_buffer(fast_kernels):
    model = tinynet()
    loss = tinynet_loss(model)
    text = viz.to_dot(loss, params=dict(model.named_parameters()), show_saved=True)
    nodes, _ = parse_dot(text)
    labels = {lines[0]: lines for lines, _ in nodes.values()}
    # relu keeps its output, max_pool2d its winners (bool, one row per window corner), conv2d
    # (gathered at this size) its input and im2col matrix
    assert "saves 42.2 KiB:" in labels["relu"] and any(l.strip().startswith("output") for l in labels["relu"])
    assert any("winners (4, 2704): 10.6 KiB" in line for line in labels["max_pool2d"])
    assert any(line.strip().startswith("gather_cols") for line in labels["conv2d"])
    assert any("0.weight (parameter)" in line for line in labels["conv2d"])
    assert labels["flatten"][-1] == "saves nothing"
    # The total, counted independently: arrays that the contexts hold, deduplicated by shared memory.
    arrays = []
    for tensor in viz.graph_nodes(loss):
        ctx = tensor._ctx
        if ctx is None:
            continue
        read = range(len(ctx.inputs)) if ctx.op.saves_inputs is None else ctx.op.saves_inputs
        arrays += [ctx.inputs[i].data for i in read if not (ctx.inputs[i]._ctx is None and ctx.inputs[i].requires_grad)]
        if ctx.op.saves_output:
            arrays.append(tensor.data)
        for value in (ctx.saved or {}).values():     # an array, or a list of them (one per part)
            arrays += [v for v in (value if isinstance(value, (list, tuple)) else [value]) if isinstance(v, np.ndarray)]
    distinct = []
    for array in arrays:
        if not any(np.shares_memory(array, other) for other in distinct):
            distinct.append(array)
    total = sum(a.nbytes for a in distinct)
    assert f"saved for backward: {viz.format_bytes(total)}" in text


def test_collapse_modules_draws_one_node_per_layer_call():
    model = tinynet()
    loss, trace = tinynet_loss(model, traced=True)
    assert [call.label for call in trace.calls] == ["0: Conv2d", "1: ReLU", "2: MaxPool2d", "3: Flatten",
                                                     "4: Linear", "sequential: Sequential"]
    text = viz.to_dot(loss, collapse_modules=True, show_saved=True)
    nodes, edges = parse_dot(text)
    names = by_first_line(nodes)
    for layer in ("0: Conv2d", "1: ReLU", "2: MaxPool2d", "3: Flatten", "4: Linear"):
        assert layer in names
    assert "conv2d" not in names and "relu" not in names      # drawn inside their modules
    assert "log_softmax" in names and "nll_loss" in names      # the loss is not a module
    conv = nodes[names["0: Conv2d"]][0]
    assert "-> (2, 8, 26, 26)" in conv and "0.weight (8, 1, 3, 3)" in conv and "0.bias (8,)" in conv
    layer_edges = [(nodes[a][0][0], nodes[b][0][0]) for a, b in edges]
    chain = ["input", "0: Conv2d", "1: ReLU", "2: MaxPool2d", "3: Flatten", "4: Linear", "log_softmax"]
    for pair in zip(chain, chain[1:]):
        assert pair in layer_edges, pair
    assert not any(a == b for a, b in edges)
    # the trace's hooks are gone
    assert all(not module._forward_hooks and not module._forward_pre_hooks for module in model.modules())


def test_collapse_modules_without_a_trace_says_what_to_do():
    model = tinynet()
    loss = tinynet_loss(model)
    with pytest.raises(ValueError, match="trace_modules"):
        viz.to_dot(loss, collapse_modules=True)


def test_functional_ops_inside_a_forward_belong_to_that_module():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3)
            self.fc = nn.Linear(2 * 4 * 4, 3)

        def forward(self, x):
            x = F.relu(self.conv(x))
            return self.fc(x.flatten(1))

    model = Net()
    x = Tensor(np.ones((1, 1, 6, 6), dtype=np.float32))
    with viz.trace_modules(model):
        out = model(x)
    owners = {tensor._ctx.op.name: viz.graph.module_of(tensor._ctx).label
              for tensor in viz.graph_nodes(out) if tensor._ctx is not None}
    assert owners == {"conv2d": "conv: Conv2d", "relu": "net: Net", "flatten": "net: Net", "linear": "fc: Linear"}
    nodes, _ = parse_dot(viz.to_dot(out, collapse_modules=True))
    names = by_first_line(nodes)
    assert {"conv: Conv2d", "fc: Linear", "relu", "flatten"} <= set(names)


def test_gradients_of_gradients_and_freed_graphs():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x ** 3).sum()
    (dx,) = tc.grad(y, x, create_graph=True)     # 3 x^2, itself a recorded graph
    nodes, edges = parse_dot(viz.to_dot(dx, params={"x": x}))
    firsts = [lines[0] for lines, _ in nodes.values()]
    assert "x" in firsts and "pow" in firsts and len(edges) >= 3
    assert nodes[by_first_line(nodes)["x"]][0][1] == "(2,)"
    (d2x,) = tc.grad(dx.sum(), x, create_graph=True)     # second order: 6 x
    np.testing.assert_allclose(d2x.data, [6.0, 12.0])
    assert "x" in [lines[0] for lines, _ in parse_dot(viz.to_dot(d2x, params={"x": x}))[0].values()]
    # after backward without retain_graph, each op is drawn as freed
    z = (x * 2).sum()
    z.backward()
    nodes, edges = parse_dot(viz.to_dot(z))
    assert any("(freed by backward)" in lines for lines, _ in nodes.values()) and edges == []


def test_to_dot_refuses_what_is_not_a_tensor():
    with pytest.raises(TypeError, match="to_dot"):
        viz.to_dot([1, 2])


# --- graphviz ---------------------------------------------------------------------------------------

def test_draw_graph_gives_a_digraph_with_the_same_nodes():
    graphviz = pytest.importorskip("graphviz")
    model = tinynet()
    loss = tinynet_loss(model)
    graph = viz.draw_graph(loss, params=dict(model.named_parameters()))
    assert isinstance(graph, graphviz.Digraph)
    text = viz.to_dot(loss, params=dict(model.named_parameters()))
    for node_id in parse_dot(text)[0]:
        assert re.search(rf"^\s*{node_id} \[", graph.source, re.M)
    assert graph.source.count("->") == text.count("->")


def test_draw_graph_without_the_graphviz_package_is_an_autograd_graph(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "graphviz", None)
    model = tinynet()
    loss = tinynet_loss(model)
    graph = viz.draw_graph(loss, params=dict(model.named_parameters()))
    assert isinstance(graph, viz.AutogradGraph)
    assert graph.source == str(graph) == viz.to_dot(loss, params=dict(model.named_parameters()))
    nodes, edges = parse_dot(graph.source)
    assert re.fullmatch(rf"<autograd graph: {len(nodes)} nodes, {len(edges)} edges; .*>", repr(graph))
    monkeypatch.setattr(viz.graph.shutil, "which", lambda name: None)
    with pytest.raises(viz.GraphvizNotFoundError, match="apt-get install graphviz"):
        graph.pipe(format="svg")
    with pytest.raises(viz.GraphvizNotFoundError):
        graph.render(tmp_path / "graph")
    assert not os.listdir(tmp_path)


def test_a_graph_shows_itself_without_dot(monkeypatch):
    """In Jupyter, no `dot`: the DOT text with how to install Graphviz, and a matplotlib drawing."""
    model = tinynet()
    loss = tinynet_loss(model)
    monkeypatch.setattr(viz.graph.shutil, "which", lambda name: None)
    for graphviz_module in ([None] if importlib.util.find_spec("graphviz") is None else [None, "installed"]):
        if graphviz_module is None:
            monkeypatch.setitem(sys.modules, "graphviz", None)
        else:
            monkeypatch.delitem(sys.modules, "graphviz")
        graph = viz.draw_graph(loss)
        assert graph._repr_svg_() is None
        bundle = graph._repr_mimebundle_()
        assert "apt-get install graphviz" in bundle["text/plain"]
        assert viz.to_dot(loss).splitlines()[0] in bundle["text/plain"]
        assert "0x" not in repr(graph) and f"{len(parse_dot(viz.to_dot(loss))[1])} edges" in repr(graph)
        if importlib.util.find_spec("matplotlib") is not None:
            png = base64.b64decode(bundle["image/png"])
            assert png[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_a_graph_shows_itself_as_svg_with_dot(monkeypatch):
    model = tinynet()
    loss, _ = tinynet_loss(model, traced=True)
    for blocked in (False, True):
        if blocked:
            monkeypatch.setitem(sys.modules, "graphviz", None)
        graph = viz.draw_graph(loss, collapse_modules=True)
        svg = graph._repr_mimebundle_()["image/svg+xml"]
        assert "<svg" in svg and "0: Conv2d" in svg and svg == graph._repr_svg_()


def test_leaves_are_named_in_a_learners_words():
    tc.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 6), nn.Dropout(0.5), nn.Linear(6, 3))
    images = Tensor(np.linspace(-1, 1, 4 * 12, dtype=np.float32).reshape(4, 12))
    with viz.trace_modules(model):
        loss = F.cross_entropy(model(images), Tensor(np.array([0, 2, 1, 1])))
    nodes, _ = parse_dot(viz.to_dot(loss))
    assert sorted(lines[0] for lines, _ in nodes.values() if "#eeeeee" in _) == ["dropout mask", "input",
                                                                                  "labels"]
    collapsed, _ = parse_dot(viz.to_dot(loss, collapse_modules=True))
    dropout = next(lines for lines, _ in collapsed.values() if lines[0] == "1: Dropout")
    assert "dropout mask (4, 6)" in dropout
    assert "input 1 (labels) (4,): 32 B" in viz.to_dot(loss, show_saved=True)   # what nll_loss keeps
    targets = Tensor(np.full((4, 3), 1 / 3, dtype=np.float32))
    nodes, _ = parse_dot(viz.to_dot(F.mse_loss(model(images), targets)))
    assert "targets" in [lines[0] for lines, _ in nodes.values()]


def test_rendering_without_dot_says_how_to_install_it(monkeypatch, tmp_path):
    loss = tinynet_loss(tinynet())
    monkeypatch.setattr(viz.graph.shutil, "which", lambda name: None)
    with pytest.raises(viz.GraphvizNotFoundError, match="apt-get install graphviz") as info:
        viz.render_graph(loss, tmp_path / "graph.svg")
    assert "conda install graphviz" in str(info.value)
    assert not os.listdir(tmp_path)
    if pytest.importorskip("graphviz"):
        monkeypatch.setenv("PATH", str(tmp_path))     # no `dot` for the graphviz package either
        with pytest.raises(viz.GraphvizNotFoundError, match="apt-get install graphviz"):
            viz.draw_graph(loss).pipe(format="svg")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_render_graph_writes_an_svg(tmp_path):
    model = tinynet()
    loss, _ = tinynet_loss(model, traced=True)
    path = viz.render_graph(loss, tmp_path / "graph.svg", show_saved=True, collapse_modules=True)
    svg = open(path).read()
    assert "<svg" in svg and "0: Conv2d" in svg and "log_softmax" in svg
    assert os.listdir(tmp_path) == ["graph.svg"]
    png = viz.render_graph(loss, tmp_path / "graph.png")
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


# --- pictures ---------------------------------------------------------------------------------------

pytest.importorskip("matplotlib")


def pixels(figure):
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[..., :3]


def assert_picture(figure, path, size=None):
    image = pixels(figure)
    assert image.std() > 10, "blank picture"
    assert (image < 128).mean() > 0.005, "almost nothing drawn"
    if size is not None:
        assert image.shape[:2] == size
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert not [name for name in os.listdir(os.path.dirname(path)) if name.endswith(".part")]


def test_plot_filters_one_tile_per_filter_and_channel(tmp_path):
    tc.manual_seed(0)
    first = nn.Conv2d(1, 32, 5)
    figure = viz.plot_filters(first, tmp_path / "filters.png")
    assert_picture(figure, str(tmp_path / "filters.png"))
    mosaic = figure.axes[0].images[0].get_array()
    assert mosaic.shape == (4 * 6 - 1, 8 * 6 - 1)          # 4 rows of 8 5x5 tiles, 1-pixel gaps
    np.testing.assert_array_equal(np.asarray(mosaic)[6:11, 12:17], first.weight.data[10, 0])   # tile 10
    second = nn.Conv2d(3, 4, 3)
    mosaic = viz.plot_filters(second).axes[0].images[0].get_array()
    assert mosaic.shape == (4 * 4 - 1, 3 * 4 - 1)          # row = filter, column = input channel
    np.testing.assert_array_equal(np.asarray(mosaic)[4:7, 8:11], second.weight.data[1, 2])
    with pytest.raises(ValueError, match="plot_filters"):
        viz.plot_filters(nn.Linear(2, 3))


def test_plot_feature_maps_one_row_per_layer(tmp_path):
    model = tinynet()
    model.train()
    image = MNISTSample(train=False)[0][0]
    figure = viz.plot_feature_maps(model, image, tmp_path / "maps.png", max_channels=4)
    assert_picture(figure, str(tmp_path / "maps.png"))
    rows = [axis for axis in figure.axes if axis.get_title(loc="left")]
    assert len(rows) == 1 + 5                              # the input and each layer
    titles = [axis.get_title(loc="left") for axis in rows]
    assert titles[0].startswith("input (1, 28, 28)")
    assert titles[1] == "0: Conv2d (8, 26, 26): channels 0-3 of 8, one colour scale"
    assert titles[-1].startswith("4: Linear (10,): logits, the largest is class")
    logits = rows[-1]
    assert len(logits.patches) == 10                       # the logits as bars, each with its value
    assert len(logits.texts) == 10 and all(re.fullmatch(r"-?\d+\.\d\d", t.get_text()) for t in logits.texts)
    conv = rows[1].images[0]
    assert conv.get_array().shape == (26, 4 * 28 - 2)      # 4 channels, 2-pixel gaps
    maps = model[0](Tensor(image[None])).data[0, :4]
    np.testing.assert_allclose(conv.get_clim(), (maps.min(), maps.max()), rtol=1e-5)   # one scale per row
    assert len(figure.axes) - len(rows) == 5               # a colour bar for every row but the logits
    assert all(module.training for module in model.modules())
    assert all(not module._forward_hooks for module in model.modules())
    every = viz.plot_feature_maps(model, image, max_channels=None)
    assert [a.get_title(loc="left") for a in every.axes][2].endswith("all 8 channels, one colour scale")
    assert every.axes[2].images[0].get_array().shape == (26, 8 * 28 - 2)
    chosen = viz.plot_feature_maps(model, image, channels=[5, 2, 30], columns=2)
    assert "channels 5, 2 of 8" in chosen.axes[2].get_title(loc="left")
    assert chosen.axes[2].images[0].get_array().shape == (26, 2 * 28 - 2)


def test_fit_tracks_gradients_cheaply_and_plot_gradient_flow(tmp_path):
    tc.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3, stride=2), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 13 * 13, 10))
    loader = DataLoader(Subset(MNISTSample(train=True), range(60)), batch_size=10, normalize=(MNIST_MEAN, MNIST_STD))
    history = fit(model, tc.optim.SGD(model.parameters(), lr=0.1), loader, epochs=2, log_every=3,
                  progress=False, print_fn=lambda line: None, track_gradients=True)
    # the first step, then every logged step (3 and 6 of each 6-step epoch)
    assert [record["iteration"] for record in history.gradients] == [1, 3, 6, 9, 12]
    names = [name for name, _ in model.named_parameters()]
    last = history.gradients[-1]
    assert list(last["mean"]) == names
    # the last record is the last step's gradient (fit leaves it in .grad)
    for name, param in model.named_parameters():
        assert last["mean"][name] == pytest.approx(float(np.abs(param.grad.data).mean()), rel=1e-5)
        assert last["max"][name] == pytest.approx(float(np.abs(param.grad.data).max()), rel=1e-6)
    figure = viz.plot_gradient_flow(history, tmp_path / "flow.png")
    assert_picture(figure, str(tmp_path / "flow.png"))
    assert len(figure.axes) == 2
    assert len(figure.axes[0].get_lines()) == len(names)
    assert len(figure.axes[1].get_lines()) == 3 * len(names)    # mean, max and the line joining them
    means = [np.mean([record["mean"][name] for record in history.gradients]) for name in names]
    assert [text.get_text() for text in figure.axes[1].texts] == [f"{mean:.1e}" for mean in means]
    low, high = figure.axes[1].get_ylim()
    assert low < min(means) and high > max(max(record["max"].values()) for record in history.gradients)
    untracked = fit(model, tc.optim.SGD(model.parameters(), lr=0.1), loader, epochs=1, progress=False,
                    print_fn=lambda line: None)
    assert untracked.gradients == []
    with pytest.raises(ValueError, match="track_gradients"):
        viz.plot_gradient_flow(History())


def test_plot_predictions_marks_the_mistakes(tmp_path):
    model = tinynet()                                      # untrained: most answers are wrong
    test_set = MNISTSample(train=False)
    figure = viz.plot_predictions(model, test_set, tmp_path / "predictions.png", count=12,
                                  normalize=(MNIST_MEAN, MNIST_STD))
    assert_picture(figure, str(tmp_path / "predictions.png"))
    axes = [axis for axis in figure.axes if axis.images]
    assert len(axes) == 12
    logits = model(Tensor(np.stack([(test_set[i][0] - MNIST_MEAN) / MNIST_STD for i in range(12)])))
    predicted = logits.data.argmax(axis=1)
    truth = [test_set[i][1] for i in range(12)]
    wrong = [p != t for p, t in zip(predicted, truth)]
    red = [axis.title.get_color() == "red" for axis in axes]
    assert red == wrong and any(wrong)
    assert [axis.get_title() for axis in axes][0].startswith(str(predicted[0]))
    assert f"{sum(wrong)} of 12 wrong" in figure._suptitle.get_text()


def test_confusion_matrix_counts_and_plot(tmp_path):
    model = tinynet()
    subset = Subset(MNISTSample(train=False), range(50))
    loader = DataLoader(subset, batch_size=20, normalize=(MNIST_MEAN, MNIST_STD))
    counts = viz.confusion_matrix(model, loader, num_classes=10)
    images = np.stack([subset[i][0] for i in range(50)])
    predicted = model(Tensor((images - MNIST_MEAN) / MNIST_STD)).data.argmax(axis=1)
    expected = np.zeros((10, 10), dtype=np.int64)
    for truth, guess in zip([subset[i][1] for i in range(50)], predicted):
        expected[truth, guess] += 1
    np.testing.assert_array_equal(counts, expected)
    figure = viz.plot_confusion_matrix(model, loader, tmp_path / "confusion.png", num_classes=10)
    assert_picture(figure, str(tmp_path / "confusion.png"))
    np.testing.assert_array_equal(figure.confusion, expected)
    assert len(figure.axes[0].texts) == np.count_nonzero(expected)
    size = figure.get_size_inches() * figure.dpi
    assert pixels(figure).shape[:2] == (round(size[1]), round(size[0]))
