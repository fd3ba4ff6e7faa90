"""The layers of the house (DESIGN.md): every import inside the package points
down a floor or stays on its own, and no modules import each other in a
circle. Read from the source with ``ast``, so lazy imports inside functions
count too: a dependency is a dependency, whenever it is imported.

DESIGN.md names the floors ops, engine, tensor, nn/optim, data/vision/
training/viz, testing. It puts ops first because they are the math the rest
stands on; in imports, an op's VJP speaks Tensor, so ``ops`` imports the
engine and ``tensor``, while the engine and ``tensor`` reach the ops only
through the registry, never by import. The floors below are in the order the
imports point.
"""
import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "tinygrad_cnn"

# floor -> the modules on it (a package stands for all its modules)
FLOORS = [
    ("base", {"_args", "_atomic", "_display", "errors", "_printing", "types", "spec", "random",
              "torch_alias"}),
    ("engine", {"grad_mode", "anomaly", "registry", "inplace", "engine", "grad_fn"}),
    ("tensor", {"tensor", "creation", "autograd"}),
    ("ops", {"ops"}),
    ("nn/optim", {"nn", "optim", "kernels", "serialization"}),
    ("data/vision/training/viz", {"data", "utils", "vision", "training", "viz"}),
    ("testing", {"testing"}),
]
# kernels sits beside ops (for ops) and beside optim (for optimizers): it may
# import them, but below the package's __init__ nothing may import it, so ops,
# nn, optim and Tensor never know which implementation ran.
KERNELS = "kernels"


def module_name(path: pathlib.Path) -> str:
    parts = ("tinygrad_cnn",) + path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: pathlib.Path, known: dict) -> set:
    """The package's modules that ``name`` imports (anywhere in the file)."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[:len(base) - node.level + (1 if is_package else 0)]
                base = ".".join(base + ([node.module] if node.module else []))
            else:
                base = node.module
            # ``from pkg import x`` imports the module pkg.x when there is one
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:       # ``import a.b.c`` -> the deepest module we know
                target = target.rpartition(".")[0]
            if target and target.startswith("tinygrad_cnn") and target != name:
                found.add(target)
    return found


def floor_of(name: str):
    parts = name.split(".")
    if len(parts) == 1:
        return None                                       # the package's __init__: above every floor
    for level, (_, members) in enumerate(FLOORS):
        if parts[1] in members:
            return level
    raise AssertionError(f"{name} is on no floor: add it to FLOORS in {__file__}")


def import_graph() -> dict:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def test_every_module_is_on_a_floor():
    for name in modules():
        floor_of(name)


def test_no_import_points_up_a_floor():
    upward = []
    for name, targets in import_graph().items():
        here = floor_of(name)
        for target in targets:
            there = floor_of(target)
            if here is not None and (there is None or there > here):
                upward.append(f"{name} ({FLOORS[here][0]}) imports {target} "
                              f"({'the package' if there is None else FLOORS[there][0]})")
    assert not upward, "imports up a floor:\n" + "\n".join(sorted(upward))


def test_kernels_import_only_what_they_accelerate():
    """kernels/ may use the floors below ops, ops itself and optim (for the
    optimizers' kernels) -- not nn, serialization or anything above."""
    allowed = {"ops", "optim", "kernels"} | {m for _, members in FLOORS[:3] for m in members}
    wrong = [f"{name} imports {target}" for name, targets in import_graph().items()
             if name.split(".")[1:2] == [KERNELS] for target in targets
             if target != "tinygrad_cnn" and target.split(".")[1] not in allowed]
    assert not wrong, "\n".join(wrong)


def test_only_the_package_imports_kernels():
    wrong = [f"{name} imports {target}" for name, targets in import_graph().items()
             for target in targets
             if target.split(".")[1:2] == [KERNELS] and name != "tinygrad_cnn"
             and name.split(".")[1:2] != [KERNELS] and floor_of(name) <= floor_of(target)]
    assert not wrong, "only the package's __init__ (or the floors above) may import kernels:\n" + "\n".join(wrong)


def cycles(graph: dict) -> list:
    """Every strongly connected group of more than one module (Tarjan's
    algorithm, iterative), each as a sorted list."""
    index, low, on_stack, stack, groups = {}, {}, set(), [], []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(sorted(group))
    return groups


def test_no_import_cycle():
    found = cycles(import_graph())
    assert not found, "modules that import each other in a circle:\n" + "\n".join(" <-> ".join(g) for g in found)


def test_the_checks_can_fail():
    """The two checks on made-up graphs: a circle is found, an upward import is."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    assert floor_of("tinygrad_cnn.ops.conv") < floor_of("tinygrad_cnn.testing.cases")
    known = modules()
    ops_file = PACKAGE / "ops" / "elementwise.py"
    assert "tinygrad_cnn.engine" in imports_of("tinygrad_cnn.ops.elementwise", ops_file, known)


# ops whose Specs still name their case factories by string at registration,
# until their rows move to tinygrad_cnn/testing/op_db.py
NAMED_BY_STRING = {"ops/conv.py", "ops/pool.py"}


def test_no_module_below_testing_names_a_test_module():
    """A string such as "tinygrad_cnn.testing.cases:clip_cases" is an import
    in disguise: test metadata lives on the testing side (op_db.py)."""
    wrong = []
    for name, path in modules().items():
        relative = path.relative_to(PACKAGE).as_posix()
        if floor_of(name) is None or FLOORS[floor_of(name)][0] == "testing" or relative in NAMED_BY_STRING:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and node.value.startswith("tinygrad_cnn.testing."):
                wrong.append(f"{relative}:{node.lineno}: {node.value!r}")
    assert not wrong, "test modules named by string below the testing floor:\n" + "\n".join(wrong)
