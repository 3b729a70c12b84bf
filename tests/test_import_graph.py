"""The library's import graph, read with ``ast`` (function-level imports included): no cycles, and
no module imports from a layer above its own. Every module must be placed in LAYERS, so a new
module is placed deliberately. On the tree before issue 28 this found three cycles
(annotate <-> query_generator; grid <-> provenance <-> train; laws.fitting <-> laws.uncertainty).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "lib"

# Lowest first. A module may import modules of its own layer or of the layers below it.
LAYERS = [
    ("foundations", ["drscaling", "drscaling.paths", "drscaling.fileio", "drscaling.logs", "drscaling.flops",
                     "drscaling.narrative", "drscaling.provenance", "drscaling.config"]),
    ("data", ["drscaling.datasets", "drscaling.datasets.*", "drscaling.tokenizer"]),
    ("models and measures", ["drscaling.model", "drscaling.loss", "drscaling.cll", "drscaling.ranking",
                             "drscaling.tokens", "drscaling.device", "drscaling.evaluate"]),
    ("annotation methods", ["drscaling.annotation", "drscaling.annotation.copy_t5", "drscaling.annotation.generator",
                            "drscaling.annotation.methods", "drscaling.annotation.pairs"]),
    ("training", ["drscaling.train", "drscaling.step_times"]),
    ("grid", ["drscaling.grid", "drscaling.grid.*", "drscaling.fingerprint"]),
    ("laws and budget", ["drscaling.laws", "drscaling.laws.*", "drscaling.budget"]),
    ("analysis", ["drscaling.annotation.study", "drscaling.estimate", "drscaling.wall_estimate", "drscaling.plots",
                  "drscaling.preregistration"]),
    ("entry points", ["drscaling.notebook_runner", "drscaling.presentation", "drscaling.__main__"]),
]


def modules(lib: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py under ``lib``."""
    out = {}
    for path in sorted(lib.rglob("*.py")):
        parts = list(path.relative_to(lib).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def import_graph(lib: Path, root: str = "drscaling") -> dict[str, set[str]]:
    """Module -> the modules of ``root`` it imports anywhere in its code (``from x import name``
    counts as importing submodule ``x.name`` when there is one, else ``x``)."""
    mods = modules(lib)
    graph = {}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                for alias in node.names:
                    targets.add(f"{source}.{alias.name}" if f"{source}.{alias.name}" in mods else source)
        graph[name] = {t for t in targets if t in mods and t != name and t.split(".")[0] == root}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
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
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def layer_of(module: str) -> int | None:
    for i, (_, patterns) in enumerate(LAYERS):
        for pattern in patterns:
            if module == pattern or (pattern.endswith(".*") and module.startswith(pattern[:-1])):
                return i
    return None


def test_the_library_has_no_import_cycle():
    found = cycles(import_graph(LIB))
    assert not found, "import cycles in lib/drscaling: " + "; ".join(" <-> ".join(c) for c in found)


def test_every_module_is_in_a_layer_and_imports_only_its_own_or_lower_layers():
    graph = import_graph(LIB)
    unplaced = sorted(m for m in graph if layer_of(m) is None)
    assert not unplaced, f"modules in no layer of {__name__}.LAYERS: {unplaced}"
    upward = [f"{m} ({LAYERS[layer_of(m)][0]}) imports {t} ({LAYERS[layer_of(t)][0]})"
              for m, targets in sorted(graph.items()) for t in sorted(targets) if layer_of(t) > layer_of(m)]
    assert not upward, "imports from a lower layer to a higher one:\n" + "\n".join(upward)


def test_the_graph_sees_function_level_and_relative_imports_and_finds_a_cycle(tmp_path):
    """The checks can fail: a package whose modules import each other (one inside a function,
    relatively) is a cycle; a one-way import is not."""
    pkg = tmp_path / "drscaling"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..a import thing\n")
    (pkg / "c.py").write_text("import drscaling.a\n")
    graph = import_graph(tmp_path)
    assert graph["drscaling.a"] == {"drscaling.sub.b"} and graph["drscaling.sub.b"] == {"drscaling.a"}
    assert graph["drscaling.c"] == {"drscaling.a"}
    assert cycles(graph) == [["drscaling.a", "drscaling.sub.b"]]


@pytest.mark.parametrize("module", sorted(modules(LIB)))
def test_no_library_module_is_longer_than_450_lines(module):
    lines = len(modules(LIB)[module].read_text().splitlines())
    assert lines <= 450, f"{module}: {lines} lines; split it by concept"
