"""The house plan under test (docs/architecture.md): every import of the package, including the
ones inside functions, runs down the documented layer order, and no modules import each other in
a circle."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "starpose"

#: The layers, lowest first: a module may import from its own layer and the ones before it.
LAYERS = (
    ("errors", "io", "arrays", "metrics", "runlock"),
    ("data",),
    ("datasets",),
    ("models",),
    ("inference",),
    ("world",),
    ("evaluate",),
    ("formats",),
    ("video",),
    ("train", "lift", "mocap", "viz"),
    ("bench", "demo", "info"),
    ("commands",),
    ("cli", "__init__"),
)
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
#: The most modules that may lie loose at the top of the package (``__init__`` included).
MAX_LOOSE = 10


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 2 else parts)


def imports_of(path: Path) -> set[str]:
    """Every ``starpose.*`` module that ``path`` imports, anywhere in the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("starpose")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.startswith("starpose"):
            found |= {f"{node.module}.{a.name}" for a in node.names}  # resolved in graph()
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    edges = {}
    for name, path in modules.items():
        targets = set()
        for target in imports_of(path):
            while target not in modules and "." in target:  # `from pkg import name` of a non-module
                target = target.rsplit(".", 1)[0]
            if target in modules and target != name and target != "starpose":
                targets.add(target)
        edges[name] = targets
    return edges


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_module_belongs_to_a_layer():
    unknown = sorted({layer(m) for m in graph()} - set(RANK))
    assert not unknown, f"modules outside the documented layers: {unknown}"


def test_no_import_runs_up_the_layer_order():
    upward = [f"{a} -> {b}" for a, targets in graph().items() for b in targets
              if RANK.get(layer(b), -1) > RANK.get(layer(a), -1)]
    assert not upward, "imports up the layer order:\n" + "\n".join(sorted(upward))


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the components of more than one module (the circles)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_no_import_circle():
    assert strongly_connected(graph()) == []


def test_the_circle_finder_finds_a_circle():
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_few_modules_loose_at_the_top():
    loose = sorted(p.stem for p in PACKAGE.glob("*.py"))
    assert len(loose) <= MAX_LOOSE, loose


@pytest.mark.parametrize("folder", ["commands"])
def test_commands_define_no_classes_and_import_neither_numpy_nor_tqdm(folder):
    for path in (PACKAGE / folder).glob("*.py"):
        tree = ast.parse(path.read_text())
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)], path
        names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not names & {"numpy", "tqdm"}, (path, names & {"numpy", "tqdm"})
