"""The recorded graph, drawn: which ops ran, on what shapes, and what each
keeps for ``backward()``.

    with viz.trace_modules(model):              # optional: remembers which module ran which op
        loss = F.cross_entropy(model(images), labels)
    dot_text = viz.to_dot(loss, params=dict(model.named_parameters()), show_saved=True)
    viz.render_graph(loss, "graph.svg", collapse_modules=True)   # needs Graphviz's `dot`
    viz.draw_graph(loss)                        # shows itself in Jupyter (SVG with `dot`, else matplotlib)

The walk starts at a tensor and follows each op's context to the tensors it
was computed from (``ctx.inputs``, with in-place rewrites resolved to the
values the op really saw), so it works on any recorded graph, the graphs of
gradients made with ``create_graph=True`` included. Draw before
``backward()``: without ``retain_graph=True`` backward frees what each op
saved, and the graph's edges with it (such ops are drawn as freed).

What an op "saves for backward" is counted from what its context holds: the
arrays its forward stored (``ctx.saved``: a max-pool mask, conv2d's im2col
matrix), the inputs its VJP reads (``saves=`` at registration: all inputs
unless the op says otherwise) and its output when the VJP reads it. Bytes are
those of the arrays' own buffers, each buffer counted once however many ops
keep it (a view counts as the buffer it views). Parameters (leaves that
require grad) are listed but not counted: their owner holds them anyway. Values that are not arrays or
Tensors (shapes, flags) are not counted.
"""
from __future__ import annotations

import base64
import contextlib
import io
import os
import shutil
import subprocess
import weakref
from dataclasses import dataclass, field

import numpy as np

from .._atomic import atomic_write
from ..inplace import parents as _parents
from ..autograd import tensors_in
from ..tensor import Tensor

__all__ = ["to_dot", "draw_graph", "AutogradGraph", "render_graph", "trace_modules", "ModuleTrace",
           "ModuleCall", "SavedValue", "saved_for_backward", "graph_nodes", "GraphvizNotFoundError", "format_bytes"]

_INSTALL_DOT = ("Graphviz's `dot` program was not found on PATH; install Graphviz "
                "(Debian/Ubuntu: sudo apt-get install graphviz; conda: conda install graphviz; "
                "macOS: brew install graphviz). viz.to_dot() still gives the DOT text without it.")


class GraphvizNotFoundError(RuntimeError):
    """Rendering needs Graphviz's ``dot`` program, and it is not installed."""


def format_bytes(count: int) -> str:
    """``1536`` -> ``'1.5 KiB'`` (binary units)."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


# --- walking the graph -------------------------------------------------------------------------

def graph_nodes(*roots) -> list:
    """Every tensor the roots were computed from, each once, inputs before the
    ops that use them (an iterative depth-first walk: deep graphs are fine)."""
    order, seen = [], set()
    for root in roots:
        if id(root) in seen:
            continue
        seen.add(id(root))
        stack = [(root, iter(_inputs_of(root)))]
        while stack:
            node, parents = stack[-1]
            for parent in parents:
                if id(parent) not in seen:
                    seen.add(id(parent))
                    stack.append((parent, iter(_inputs_of(parent))))
                    break
            else:
                stack.pop()
                order.append(node)
    return order


def _inputs_of(tensor) -> tuple:
    ctx = tensor._ctx
    if ctx is None or getattr(ctx, "inputs", None) is None:
        return ()
    return _parents(ctx)


@dataclass
class SavedValue:
    """One value an op keeps for its backward: ``what`` it is (``'input 0'``,
    ``'output'``, or the name the forward saved it under), its array, and
    whether it is a parameter (listed, but not counted as activation memory)."""

    what: str
    array: np.ndarray
    is_parameter: bool = False    # a leaf that requires grad: held by its owner, not by the graph
    tensor: object = None         # the input or output Tensor it is, when it is one

    @property
    def nbytes(self) -> int:
        return int(self.array.nbytes)

    @property
    def buffer(self) -> np.ndarray:
        """The array that owns the memory."""
        return buffer_of(self.array)


def buffer_of(array: np.ndarray) -> np.ndarray:
    """The array that owns ``array``'s memory (a view's base, followed to the end)."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def saved_for_backward(tensor) -> list:
    """What the op that computed ``tensor`` keeps for its backward (empty for
    leaves and for ops already freed by backward): a list of SavedValue.
    Inputs that are leaves requiring grad (parameters) are marked
    ``is_parameter``."""
    ctx = tensor._ctx
    if ctx is None or getattr(ctx, "inputs", None) is None:
        return []
    op = ctx.op
    result = []
    inputs = _parents(ctx)
    indices = range(len(inputs)) if op.saves_inputs is None else op.saves_inputs
    for index in indices:
        if index < len(inputs):
            value = inputs[index]
            is_parameter = value._ctx is None and value.requires_grad
            result.append(SavedValue(f"input {index}", value.data, is_parameter, value))
    if op.saves_output:
        result.append(SavedValue("output", tensor.data, False, tensor))
    for name, value in (ctx.saved or {}).items():
        for array in _arrays_in(value):
            result.append(SavedValue(name, array, False))
    return result


def _arrays_in(value):
    if isinstance(value, np.ndarray):
        if value.dtype != object:
            yield value
    elif isinstance(value, Tensor):
        yield value.data
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _arrays_in(item)


# --- which module ran which op --------------------------------------------------------------------

@dataclass(eq=False)
class ModuleCall:
    """One call of one module during a traced forward pass."""

    name: str                     # dotted name in the model ('' for the model itself)
    module: object
    index: int                    # 1 for the module's first call, 2 for its second, ...
    parent: "ModuleCall | None"
    output_shapes: list = field(default_factory=list)
    leaf: bool = True             # the module has no submodules
    arg_ids: frozenset = frozenset()   # ids of the Tensors passed to the call

    @property
    def label(self) -> str:
        name = self.name or type(self.module).__name__.lower()
        text = f"{name}: {type(self.module).__name__}"
        return text if self.index == 1 else f"{text} (call {self.index})"

    def within(self, other: "ModuleCall") -> bool:
        call = self
        while call is not None:
            if call is other:
                return True
            call = call.parent
        return False


# Context -> the module call that created it, for every traced forward. Keyed
# by id with a weak reference, so the table never keeps a graph alive and an
# entry leaves when its context is freed.
_OWNERS: dict = {}


def _set_owner(ctx, call) -> None:
    key = id(ctx)
    _OWNERS[key] = (weakref.ref(ctx, lambda _, key=key: _OWNERS.pop(key, None)), call)


def module_of(ctx):
    """The ModuleCall that ran the op of ``ctx`` in a traced forward, or None."""
    entry = _OWNERS.get(id(ctx))
    return entry[1] if entry is not None and entry[0]() is ctx else None


class ModuleTrace:
    """What :func:`trace_modules` recorded: ``calls``, one ModuleCall per module
    call, in the order the calls finished (children before their parents)."""

    def __init__(self, model):
        self.model = model
        self.calls: list[ModuleCall] = []
        self._stack: list = []
        self._counts: dict = {}
        self._handles: list = []

    def _pre_hook(self, module, args, name):
        count = self._counts[id(module)] = self._counts.get(id(module), 0) + 1
        call = ModuleCall(name, module, count, self._stack[-1][0] if self._stack else None,
                          leaf=not module._modules, arg_ids=frozenset(id(t) for t in tensors_in(args)))
        # the ops that produced the arguments are where this module's own ops end
        stop = {id(t._ctx) for t in tensors_in(args) if t._ctx is not None}
        self._stack.append((call, stop))

    def _hook(self, module, args, output):
        call, stop = self._stack.pop()
        outputs = list(tensors_in(output))
        call.output_shapes = [tuple(t.shape) for t in outputs]
        self.calls.append(call)
        # Walk back from the output to the arguments: an op nobody claimed yet
        # is this module's (children finished first and claimed theirs). Ops of
        # modules outside this call ran before it: the walk stops there.
        seen = set()
        pending = [t for t in outputs]
        while pending:
            ctx = pending.pop()._ctx
            if ctx is None or id(ctx) in stop or id(ctx) in seen or getattr(ctx, "inputs", None) is None:
                continue
            seen.add(id(ctx))
            owner = module_of(ctx)
            if owner is None:
                _set_owner(ctx, call)
            elif not owner.within(call):
                continue
            pending.extend(_parents(ctx))

    def install(self):
        for name, module in self.model.named_modules():
            self._handles.append(module.register_forward_pre_hook(
                lambda module, args, name=name: self._pre_hook(module, args, name)))
            self._handles.append(module.register_forward_hook(self._hook, always_call=False))
        return self

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._stack = []

    def owner(self, ctx):
        call = module_of(ctx)
        return call if call is not None and any(call is c for c in self.calls) else None


@contextlib.contextmanager
def trace_modules(model):
    """Record, during the forward passes inside the block, which module call
    created each op (forward hooks and pre-hooks on every module, removed when
    the block ends). Yields a ModuleTrace.

    An op belongs to the innermost module whose call created it: walking back
    from a module's output to its arguments, every op not already claimed by
    a submodule is the module's own (``F.relu`` inside ``Net.forward`` is
    ``Net``'s). Only recorded ops count (grad mode on, something requiring
    grad). ``to_dot(..., collapse_modules=True)`` and ``summary`` use it."""
    trace = ModuleTrace(model).install()
    try:
        yield trace
    finally:
        trace.remove()


# --- the drawing ---------------------------------------------------------------------------------

_OP_STYLE = {"shape": "box", "style": "rounded,filled", "fillcolor": "#dbe8f7", "fontname": "Helvetica"}
_MODULE_STYLE = {"shape": "box", "style": "filled", "fillcolor": "#d9f2d9", "fontname": "Helvetica"}
_PARAM_STYLE = {"shape": "ellipse", "style": "filled", "fillcolor": "#fff2b3", "fontname": "Helvetica"}
_INPUT_STYLE = {"shape": "ellipse", "style": "filled", "fillcolor": "#eeeeee", "fontname": "Helvetica"}
_ROOT_EXTRA = {"penwidth": "2.5"}


def _shape(tensor) -> str:
    return str(tuple(tensor.shape))


def _describe(roots, params=None, show_saved=False, collapse_modules=False):
    """(graph label, nodes [(id, lines, style)], edges [(from, to)]) for roots."""
    names = {}
    if params is not None:
        items = params.items() if isinstance(params, dict) else ((None, p) for p in params)
        for name, param in items:
            names.setdefault(id(param), name)
    order = graph_nodes(*roots)
    root_ids = {id(r) for r in roots}
    node_ids = {id(t): f"n{i}" for i, t in enumerate(order)}

    groups = {}          # id(tensor) -> ModuleCall whose node stands for its op
    if collapse_modules:
        for tensor in order:
            call = module_of(tensor._ctx) if tensor._ctx is not None else None
            if call is not None and call.leaf:
                groups[id(tensor)] = call
        if not groups:
            raise ValueError("to_dot: collapse_modules=True found no op recorded inside a module; run the "
                             "forward pass inside `with viz.trace_modules(model):` first")
        # a module's own parameters, and constants it made (a dropout mask),
        # are drawn inside its node; the tensors passed to it are not
        for tensor in order:
            if id(tensor) in groups:
                call = groups[id(tensor)]
                for parent in _inputs_of(tensor):
                    if parent._ctx is not None or id(parent) in groups or id(parent) in call.arg_ids:
                        continue
                    local = next((k for k, p in call.module._parameters.items() if p is parent), None)
                    if local is not None:
                        names.setdefault(id(parent), f"{call.name}.{local}" if call.name else local)
                    elif parent.requires_grad:
                        continue
                    groups[id(parent)] = call

    roles = _leaf_roles(order)
    counted = set()      # buffers already counted (each once)
    total_saved = 0
    nodes, edges, edge_set = [], [], set()
    module_nodes = {}    # ModuleCall -> node record [id, lines, style, saved bytes, params]

    for tensor in order:
        key = id(tensor)
        saved_lines, saved_bytes = [], 0
        if show_saved and tensor._ctx is not None:
            for value in saved_for_backward(tensor):
                buffer = value.buffer
                if value.is_parameter:
                    saved_lines.append(f"{value.what}: {names.get(id(value.tensor), 'parameter')} (parameter)")
                    continue
                fresh = id(buffer) not in counted
                if fresh:
                    counted.add(id(buffer))
                    saved_bytes += buffer.nbytes
                what = value.what
                if value.tensor is not None and id(value.tensor) in roles:
                    what += f" ({roles[id(value.tensor)]})"
                saved_lines.append(f"{what} {tuple(value.array.shape)}: "
                                   f"{format_bytes(value.nbytes)}{'' if fresh else ' (counted above)'}")
            total_saved += saved_bytes

        call = groups.get(key)
        if call is not None:
            record = module_nodes.get(call)
            if record is None:
                record = module_nodes[call] = {"id": f"m{len(module_nodes)}", "saved": 0, "params": [],
                                               "root": False}
            node_ids[key] = record["id"]
            record["saved"] += saved_bytes
            record["root"] |= key in root_ids
            if tensor._ctx is None:
                record["params"].append(f"{names.get(key) or roles.get(key, 'constant')} {_shape(tensor)}")
        elif tensor._ctx is None:
            if key in names:
                lines, style = [names[key], _shape(tensor)], dict(_PARAM_STYLE)
            elif tensor.requires_grad:
                lines, style = ["leaf (requires grad)", _shape(tensor)], dict(_PARAM_STYLE)
            else:
                lines, style = [roles.get(key, "input"), _shape(tensor)], dict(_INPUT_STYLE)
            if key in root_ids:
                style.update(_ROOT_EXTRA)
            nodes.append((node_ids[key], lines, style))
        else:
            ctx = tensor._ctx
            lines = [ctx.op.name, _shape(tensor)]
            if getattr(ctx, "inputs", None) is None:
                lines.append("(freed by backward)")
            if show_saved:
                lines += [f"saves {format_bytes(saved_bytes)}:" if saved_lines else "saves nothing"]
                lines += ["  " + line for line in saved_lines]
            style = dict(_OP_STYLE)
            if key in root_ids:
                style.update(_ROOT_EXTRA)
            nodes.append((node_ids[key], lines, style))

        for parent in _inputs_of(tensor):
            source, target = node_ids[id(parent)], node_ids[key]
            if source != target and (source, target) not in edge_set:
                edge_set.add((source, target))
                edges.append((source, target))

    for call, record in module_nodes.items():
        lines = [call.label] + [f"-> {shape}" for shape in call.output_shapes]
        lines += record["params"]
        if show_saved:
            lines.append(f"saves {format_bytes(record['saved'])}")
        style = dict(_MODULE_STYLE)
        if record["root"]:
            style.update(_ROOT_EXTRA)
        nodes.append((record["id"], lines, style))

    label = "forward graph (backward() walks the arrows in reverse)"
    if show_saved:
        label += f"; saved for backward: {format_bytes(total_saved)} (parameters not counted, each buffer once)"
    return label, nodes, edges


def _is_loss(op_name: str) -> bool:
    return op_name.endswith("_loss") or "cross_entropy" in op_name


def _leaf_roles(order) -> dict:
    """Names in a learner's words for leaves that are neither parameters nor
    named: what a loss compares against (``labels`` when integers, else
    ``targets``), and the mask a Dropout layer multiplied by (known when the
    forward ran inside :func:`trace_modules`)."""
    roles = {}
    for tensor in order:
        ctx = tensor._ctx
        if ctx is None:
            continue
        call = module_of(ctx)
        for index, parent in enumerate(_inputs_of(tensor)):
            if parent._ctx is not None or parent.requires_grad or id(parent) in roles:
                continue
            if _is_loss(ctx.op.name) and index > 0:
                roles[id(parent)] = "labels" if parent.data.dtype.kind in "iub" else "targets"
            elif call is not None and "Dropout" in type(call.module).__name__ and ctx.op.name == "mul":
                roles[id(parent)] = "dropout mask"
    return roles


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _label(lines) -> str:
    return "\\n".join(line.replace("\\", "\\\\").replace('"', '\\"') for line in lines)


def _roots_tuple(tensor):
    roots = (tensor,) if isinstance(tensor, Tensor) else tuple(tensor)
    if not roots or not all(isinstance(t, Tensor) for t in roots):
        raise TypeError(f"to_dot: expected a Tensor or a sequence of Tensors, got {type(tensor).__name__}")
    return roots


def to_dot(tensor, params=None, show_saved=False, collapse_modules=False) -> str:
    """The graph that computed ``tensor`` as Graphviz DOT text (no dependency).

    Args:
        tensor: a Tensor (e.g. the loss) or a sequence of Tensors.
        params: names for leaves, e.g. ``dict(model.named_parameters())``.
        show_saved: list, per op, what it keeps for backward and its bytes
            (see the module docstring for what is counted); the graph's
            label gives the total.
        collapse_modules: one node per call of a module without submodules
            (Conv2d, ReLU, ...), holding its parameters; needs the forward to
            have run inside :func:`trace_modules`. Ops outside modules (the
            loss) stay op nodes.

    Returns:
        DOT text: op nodes show the op's name and output shape, leaves their
        parameter name (or ``input``) and shape; edges go from each input to
        the op that used it.
    """
    return _dot_text(*_describe(_roots_tuple(tensor), params, show_saved, collapse_modules))


def draw_graph(tensor, params=None, show_saved=False, collapse_modules=False):
    """The graph of :func:`to_dot` as an object that shows itself in Jupyter
    and renders to a file (arguments as for :func:`to_dot`).

    In Jupyter (as a cell's last expression, or with ``display(graph)``) it
    is drawn as SVG by Graphviz's ``dot`` program; without ``dot``, as a
    layered drawing made with matplotlib, and its text form says how to
    install Graphviz (without matplotlib too, the text form is all there is).

    With the graphviz Python package installed (extra ``viz``) it is a
    ``graphviz.Digraph``; without it, an :class:`AutogradGraph`. Both have
    ``source`` (the DOT text, also ``str(graph)``), ``pipe(format=...)`` and
    ``render(...)``, which need ``dot`` and raise GraphvizNotFoundError,
    saying how to install it, when it is missing."""
    label, nodes, edges = _describe(_roots_tuple(tensor), params, show_saved, collapse_modules)
    try:
        import graphviz
    except ImportError:
        graph = AutogradGraph(_dot_text(label, nodes, edges))
    else:
        graph = _digraph_class(graphviz)(
            "autograd", graph_attr={"label": label, "labelloc": "t", "fontname": "Helvetica", "rankdir": "TB"},
            node_attr={"fontsize": "10"})
        for node_id, lines, style in nodes:
            graph.node(node_id, label=_label(lines), **style)
        for source, target in edges:
            graph.edge(source, target)
    graph._drawing = (label, nodes, edges)
    return graph


def _dot_text(label, nodes, edges) -> str:
    out = ["digraph autograd {",
           f"  graph [label={_quote(label)}, labelloc=t, fontname=Helvetica, rankdir=TB];",
           "  node [fontsize=10];"]
    for node_id, lines, style in nodes:
        attrs = "".join(f", {k}={_quote(v)}" for k, v in style.items())
        out.append(f'  {node_id} [label="{_label(lines)}"{attrs}];')
    for source, target in edges:
        out.append(f"  {source} -> {target};")
    out.append("}")
    return "\n".join(out) + "\n"


def _run_dot(source: str, format: str) -> bytes:
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizNotFoundError(_INSTALL_DOT)
    result = subprocess.run([dot, f"-T{format}"], input=source.encode(), capture_output=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"dot -T{format} failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout


class _ShowsInJupyter:
    """Display and text form of a drawn graph (``source`` is its DOT text,
    ``_drawing`` the (label, nodes, edges) it was made from)."""

    _drawing = None

    def _repr_svg_(self):
        if shutil.which("dot") is None:
            return None
        return _run_dot(self.source, "svg").decode("utf-8")

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        if shutil.which("dot") is not None:
            return {"image/svg+xml": self._repr_svg_()}
        bundle = {"text/plain": "Graphviz's `dot` is not installed, so this is the graph as DOT text; "
                                "for the drawing, install Graphviz (apt-get install graphviz, "
                                "conda install graphviz or brew install graphviz).\n" + self.source}
        if self._drawing is not None:
            png = _layered_png(*self._drawing)
            if png is not None:
                bundle["image/png"] = base64.b64encode(png).decode("ascii")
        return bundle

    def __repr__(self):
        if self._drawing is None:
            return f"<{type(self).__name__}>"
        label, nodes, edges = self._drawing
        return (f"<autograd graph: {len(nodes)} nodes, {len(edges)} edges; str(graph) is its DOT text, "
                f"graph.render('graph', format='svg') draws it with Graphviz's dot>")


class AutogradGraph(_ShowsInJupyter):
    """What :func:`draw_graph` returns when the graphviz Python package is
    not installed: the DOT text, rendered by Graphviz's ``dot`` program."""

    def __init__(self, source: str):
        self.source = source

    def __str__(self):
        return self.source

    def pipe(self, format: str = "svg") -> bytes:
        """The drawing as bytes in ``format`` (``'svg'``, ``'png'``, ``'pdf'``)."""
        return _run_dot(self.source, format)

    def render(self, filename: str = "autograd", format: str = "svg") -> str:
        """Write the drawing to ``filename.format`` (atomically); returns that path."""
        path = f"{os.fspath(filename)}.{format}"
        data = self.pipe(format)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with atomic_write(path, "wb") as file:
            file.write(data)
        return path


_DIGRAPH = None


def _digraph_class(graphviz):
    global _DIGRAPH
    if _DIGRAPH is None:
        class Digraph(_ShowsInJupyter, graphviz.Digraph):
            """graphviz.Digraph that shows itself without ``dot`` too, and whose
            rendering says how to install ``dot`` when it is missing."""

            def pipe(self, *args, **kwargs):
                try:
                    return super().pipe(*args, **kwargs)
                except graphviz.ExecutableNotFound as err:
                    raise GraphvizNotFoundError(_INSTALL_DOT) from err

            def render(self, *args, **kwargs):
                try:
                    return super().render(*args, **kwargs)
                except graphviz.ExecutableNotFound as err:
                    raise GraphvizNotFoundError(_INSTALL_DOT) from err

        Digraph.__module__ = __name__
        Digraph.__qualname__ = "Digraph"
        _DIGRAPH = Digraph
    return _DIGRAPH


# --- without Graphviz: a layered drawing with matplotlib ------------------------------------------

def _layers(nodes, edges) -> list:
    """Node ids in rows: each node one row below its lowest input (longest
    path from the leaves), each row ordered by where its inputs sit."""
    ids = [node_id for node_id, _, _ in nodes]
    inputs = {node_id: [] for node_id in ids}
    users = {node_id: [] for node_id in ids}
    for source, target in edges:
        inputs[target].append(source)
        users[source].append(target)
    pending = {node_id: len(inputs[node_id]) for node_id in ids}
    ready = [node_id for node_id in ids if not pending[node_id]]
    row_of = {}
    while ready:                                  # Kahn's order: iterative, any depth
        node_id = ready.pop()
        row_of[node_id] = max((row_of[p] + 1 for p in inputs[node_id]), default=0)
        for user in users[node_id]:
            pending[user] -= 1
            if not pending[user]:
                ready.append(user)
    rows = [[] for _ in range(max(row_of.values(), default=-1) + 1)]
    for node_id in ids:
        rows[row_of[node_id]].append(node_id)
    # Leaves sit one row above their first user, not all on the top row.
    for node_id in ids:
        if not inputs[node_id] and users[node_id]:
            row = min(row_of[user] for user in users[node_id]) - 1
            if row != row_of[node_id]:
                rows[row_of[node_id]].remove(node_id)
                rows[row].append(node_id)
                row_of[node_id] = row
    rows = [row for row in rows if row]
    position = {}
    for row in rows:
        for place, node_id in enumerate(row):
            position[node_id] = place
        # order by the mean place of the inputs, so edges cross less
        row.sort(key=lambda node_id: (sum(position[p] for p in inputs[node_id]) / len(inputs[node_id])
                                      if inputs[node_id] else position[node_id]))
        for place, node_id in enumerate(row):
            position[node_id] = place
    return rows


def _layered_png(label, nodes, edges):
    """PNG bytes of the graph drawn row by row with matplotlib (None without it)."""
    try:
        from ._figure import new_figure
    except ImportError:
        return None
    rows = _layers(nodes, edges)
    info = {node_id: (lines, style) for node_id, lines, style in nodes}
    widest = max(len(row) for row in rows)
    tallest = [max(len(info[node_id][0]) for node_id in row) for row in rows]
    chars = max(len(line) for lines, _ in info.values() for line in lines)
    row_height = [0.16 * lines + 0.45 for lines in tallest]
    width = max(4.0, widest * max(1.6, 0.075 * chars + 0.5))
    height = sum(row_height) + 0.5 + 0.15 * label.count("; ")
    figure = new_figure(width, height)
    axis = figure.add_axes((0, 0, 1, 1))
    axis.set_xlim(0, width)
    axis.set_ylim(0, height)
    axis.axis("off")
    title = label.replace("; ", "\n")
    axis.text(width / 2, height - 0.12, title, ha="center", va="top", fontsize=8, color="#444444")
    texts, top = {}, height - 0.3 - 0.15 * title.count("\n") - 0.15
    for row, size in zip(rows, row_height):
        y = top - size / 2
        for place, node_id in enumerate(row):
            lines, style = info[node_id]
            x = width * (place + 0.5) / len(row)
            box = "round,pad=0.35" if "rounded" in style.get("style", "") or style.get("shape") == "ellipse" \
                else "square,pad=0.35"
            texts[node_id] = axis.text(
                x, y, "\n".join(lines), ha="center", va="center", fontsize=7, family="DejaVu Sans",
                bbox={"boxstyle": box, "facecolor": style.get("fillcolor", "white"), "edgecolor": "#555555",
                      "linewidth": 1.8 if "penwidth" in style else 0.8})
        top -= size
    for source, target in edges:
        axis.annotate("", xy=(0.5, 1.0), xycoords=texts[target], xytext=(0.5, 0.0), textcoords=texts[source],
                      arrowprops={"arrowstyle": "->", "color": "#555555", "linewidth": 0.8,
                                  "shrinkA": 5, "shrinkB": 5})
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def render_graph(tensor, path, params=None, show_saved=False, collapse_modules=False, format=None) -> str:
    """Draw the graph of ``tensor`` to ``path`` (atomically) with Graphviz's
    ``dot`` program; the format comes from the suffix (``.svg``, ``.png``,
    ``.pdf``) unless given. No Python package is needed, only ``dot``:
    without it this raises GraphvizNotFoundError saying how to install it.
    Returns the path."""
    path = os.fspath(path)
    format = format or os.path.splitext(path)[1].lstrip(".") or "svg"
    text = to_dot(tensor, params=params, show_saved=show_saved, collapse_modules=collapse_modules)
    try:
        data = _run_dot(text, format)
    except RuntimeError as err:
        if isinstance(err, GraphvizNotFoundError):
            raise
        raise RuntimeError(f"render_graph: {err}") from None
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_write(path, "wb") as file:
        file.write(data)
    return path
