"""The pure core never imports the shell's machinery (asyncio, aiohttp, psutil), not even
through another minikubelet module it imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "minikubelet"
PURE = [
    "spec",
    "model",
    "status",
    "restart",
    "qos",
    "serialize",
    "expand",
    "manifest",
    "quantity",
    "timing",
]
FORBIDDEN = {"asyncio", "aiohttp", "psutil"}


def _module_path(module: str) -> Path | None:
    """The file of `minikubelet.<module>` (dotted for subpackages), if it exists."""
    base = PACKAGE.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path) -> set[str]:
    """Absolute names imported by the file (relative imports resolved within the package)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = "minikubelet." + base if base else "minikubelet"
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _forbidden_reach(module: str) -> dict[str, str]:
    """Forbidden top-level packages reachable from `minikubelet.<module>`, mapped to the
    minikubelet module that imports each."""
    seen: set[str] = set()
    found: dict[str, str] = {}
    todo = [module]
    while todo:
        current = todo.pop()
        path = _module_path(current)
        if current in seen or path is None:
            continue
        seen.add(current)
        for name in _imports(path):
            top = name.split(".")[0]
            if top in FORBIDDEN:
                found.setdefault(top, f"minikubelet.{current}")
            elif top == "minikubelet" and name != "minikubelet":
                todo.append(name.removeprefix("minikubelet."))
    return found


EXISTING = [m for m in PURE if _module_path(m) is not None]


@pytest.mark.parametrize("module", EXISTING)
def test_pure_module_does_not_reach_the_shell(module: str) -> None:
    assert _forbidden_reach(module) == {}


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    shell = tmp_path / "shell.py"
    shell.write_text("import asyncio\nfrom aiohttp import web\nimport psutil.tests\n")
    assert {name.split(".")[0] for name in _imports(shell)} >= FORBIDDEN


def test_core_modules_exist() -> None:
    assert {"spec", "model", "status", "restart", "qos", "serialize"} <= set(EXISTING)
