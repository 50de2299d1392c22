"""The package layering: zoo < training < edge < tools, no import cycles, no probing of models.

Every ``import`` statement of a product module counts, function-level (lazy) ones included: a lazy
import is still a dependency.
"""

import ast
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("zoo", "training", "edge", "tools")
LAYER = {name: i for i, name in enumerate(PACKAGES)}


def _modules():
    mods = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            mods[name.removesuffix(".__init__")] = path
    return mods


def import_graph():
    """Edges ``(importer, imported)`` between product modules."""
    mods = _modules()

    def resolve(name):
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name

    edges = set()
    for mod, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            for target in targets:
                if target.split(".")[0] not in PACKAGES:
                    continue
                dep = resolve(target)
                # A package's own __init__ and a module's parent packages are not dependencies.
                if dep and dep != mod and not mod.startswith(dep + ".") and dep != mod.split(".")[0]:
                    edges.add((mod, dep))
    return edges


def cycles(edges):
    """Strongly connected components of more than one module (Tarjan)."""
    graph = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
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

    for v in list(graph):
        if v not in index:
            visit(v)
    return found


def test_imports_point_down_the_layers():
    upward = sorted((a, b) for a, b in import_graph()
                    if LAYER[b.split(".")[0]] > LAYER[a.split(".")[0]])
    assert not upward, f"imports against the layers zoo < training < edge < tools: {upward}"


def test_no_import_cycles():
    assert not cycles(import_graph())


def test_cycle_finder_finds_a_cycle():
    assert cycles({("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")}) == [["a", "b", "c"]]


# Ways of guessing what a model is instead of asking it (its ``task``, ``codec``, ``components``).
PROBES = [
    r"hasattr\(\s*\w*model\w*\s*,",
    r"getattr\(\s*\w*model\w*\s*,\s*[\"'](?!task\b)",
    r"is_bottom_up\(",
    r"codec\[[\"']type[\"']\]\s*==",
    r"codec\.get\([\"']type[\"']",
    r"\.codec\s*==\s*[\"']",
    r"_compiled\(|_predict_fn|_stage_fn",
    r"\.active_stage\b",
]


def test_code_outside_zoo_asks_models_instead_of_probing_them():
    found = []
    for package in PACKAGES[1:]:
        for path in sorted((ROOT / package).rglob("*.py")):
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if any(re.search(p, line) for p in PROBES):
                    found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not found, "\n".join(found)


def test_at_most_three_places_outside_zoo_choose_by_kind_of_model():
    """A choice by task is a lookup of ``.task.name`` (or ``.task.multi_person``) in a table."""
    places = set()
    for package in PACKAGES[1:]:
        for path in sorted((ROOT / package).rglob("*.py")):
            text = path.read_text()
            if re.search(r"task\.name\]|\.multi_person\b|BOTTOM_UP|TOP_DOWN|[\"'](top_down|bottom_up)[\"']\s*:", text):
                places.add(str(path.relative_to(ROOT)))
    assert len(places) <= 3, f"modules that choose by kind of model: {sorted(places)}"


def test_no_code_cites_a_file_outside_the_repository():
    cited = [f"{p.relative_to(ROOT)}" for package in PACKAGES for p in (ROOT / package).rglob("*.py")
             if "DESIGN.md" in p.read_text()]
    assert not cited, f"cite docs/evaluation.md, not DESIGN.md (not in the repository): {cited}"
