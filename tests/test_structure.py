"""The shape of the code that keeps it easy to follow: the rules (service/core) know nothing of
the web, and no module of the service imports itself back through others."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from service import config

SERVICE = config.ROOT / "service"
WEB = ("flask", "flask_smorest", "werkzeug", "webargs", "apispec")


def test_the_core_loads_without_the_web_framework():
    """Every module under service/core imports, and with it none of the web's packages,
    directly or through other modules of the project."""
    script = (
        "import importlib, pkgutil, sys\n"
        "import service.core as core\n"
        "for m in pkgutil.iter_modules(core.__path__):\n"
        "    importlib.import_module('service.core.' + m.name)\n"
        f"print(sorted({{n.split('.')[0] for n in sys.modules}} & set({WEB!r})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=config.ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def _module_name(path: Path) -> str:
    rel = path.relative_to(config.ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, known: set[str]) -> set[str]:
    """Project modules `path` imports, at module level or inside functions alike."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            if target in known and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    files = sorted(SERVICE.rglob("*.py"))
    known = {_module_name(f) for f in files}
    # `from . import x` in a package's face names the package, not a module it imports.
    return {_module_name(f): _imports(f, known) - {"service"} for f in files}


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def test_no_module_of_the_service_imports_itself_back():
    circles = _circles(import_graph())
    assert not circles, "import circles:\n" + "\n".join(" <-> ".join(c) for c in circles)
