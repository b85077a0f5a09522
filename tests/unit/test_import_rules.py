"""Import rules, read from the source with ast (nothing is imported): dependencies point one way (pipelines ->
components -> rgan; bench and tests use rgan, never the reverse), and rgan's modules form no import cycle. Every
import statement counts, at module level or inside a function, and so does import_module("literal" or a module-level
constant)."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

# Top-level names rgan must not import: the repository's other folders and their installed names (setup.py).
OUTSIDE = {"pipelines", "components", "rgan_pipelines", "rgan_components", "bench", "tests", "conftest"}
# Imports inside a function that close a cycle, and why each is sound. A module-level import never may: a cycle of
# those breaks at import time. Each entry must still be a function-level import (a stale entry fails the test).
DEFERRED_CYCLES: dict[tuple[str, str], str] = {}


def modules(root: Path, package: str) -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package's __init__) for every .py of the package in root."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_init = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_init else parts)] = (path, is_init)
    return out


class _Imports(ast.NodeVisitor):
    """(imported module, line, inside a function) for every import in one module."""

    def __init__(self, name: str, package: bool, tree: ast.Module):
        self.base = name.split(".") if package else name.split(".")[:-1]  # what a relative import starts from
        self.depth = 0
        self.constants = {t.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)  # for import_module(NAME)
                          and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
                          for t in node.targets if isinstance(t, ast.Name)}
        self.found: list[tuple[str, list[str], int, bool]] = []

    def _function(self, node) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def _add(self, module: str, names: list[str], node: ast.AST) -> None:
        self.found.append((module, names, node.lineno, self.depth > 0))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, [], node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.base[: len(self.base) - node.level + 1]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        self._add(module, [alias.name for alias in node.names], node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if called in ("import_module", "__import__") and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                self._add(arg.value, [], node)
            elif isinstance(arg, ast.Name) and arg.id in self.constants:
                self._add(self.constants[arg.id], [], node)
        self.generic_visit(node)


def imports(root: Path, package: str) -> dict[str, list[tuple[str, int, bool]]]:
    """Module -> (imported module, line, deferred) for every module of the package; `from pkg import mod` imports pkg.mod."""
    known = modules(root, package)
    out = {}
    for name, (path, package) in known.items():
        tree = ast.parse(path.read_text(), str(path))
        visitor = _Imports(name, package, tree)
        visitor.visit(tree)
        found = []
        for module, names, line, deferred in visitor.found:
            found.append((module, line, deferred))
            found += [(f"{module}.{n}", line, deferred) for n in names if f"{module}.{n}" in known]
        out[name] = found
    return out


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path (first node repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


SRC = ROOT / "src"


def test_the_rules_see_every_kind_of_import():
    graph = imports(SRC, "rgan")
    edges = {(m, t): deferred for m, found in graph.items() for t, _, deferred in found}
    assert edges[("rgan.kubeflow.steps", "rgan.kubeflow.document")] is False  # module level
    assert edges[("rgan.cli", "rgan.kubeflow.pipeline")] is True  # inside a function
    assert ("rgan.tuning.validation" in {t for t, _, _ in graph["rgan.kubeflow.steps"]})  # from rgan.tuning import validation
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_rgan_imports_nothing_outside_its_package():
    wrong = [f"{name}: line {line} imports {target}"
             for name, found in imports(SRC, "rgan").items() for target, line, _ in found if target.split(".")[0] in OUTSIDE]
    assert not wrong, "rgan must not import the KFP definitions, benchmarks or tests:\n" + "\n".join(wrong)


def test_components_do_not_import_pipelines():
    wrong = [f"{name}: line {line} imports {target}"
             for name, found in imports(ROOT, "components").items() for target, line, _ in found
             if target.split(".")[0] in ("pipelines", "rgan_pipelines")]
    assert not wrong, "\n".join(wrong)


def test_rgan_modules_form_no_import_cycle():
    graph = imports(SRC, "rgan")
    for (module, target), why in DEFERRED_CYCLES.items():
        kinds = {deferred for t, _, deferred in graph.get(module, []) if t == target}
        assert kinds == {True}, f"DEFERRED_CYCLES lists {module} -> {target} ({why}), but it is no longer a function-level import"
    edges = {m: {t for t, _, _ in found if t in graph and t != m and (m, t) not in DEFERRED_CYCLES} for m, found in graph.items()}
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)
