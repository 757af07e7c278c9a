"""The shape of the code, read from its syntax trees: no function over 80 lines and no class
over 300 lines in ``pipelines`` and ``flows`` (no import cycle among their modules:
``tests/test_import_cycles.py``).

A long function hides its steps from a newcomer. An exception is listed below with the reason
it stands; shrinking one below its limit means deleting its entry (the test says so).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pipelines", "flows")
MAX_FUNCTION_LINES = 80
MAX_CLASS_LINES = 300

# (module, qualified name) -> why it is still over its limit. Keep it short and honest.
ALLOWED_LONG: dict[tuple[str, str], str] = {}


def _modules() -> dict[str, Path]:
    """Every module of the packages, by dotted name (a package by its own name)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _definitions(tree: ast.Module) -> Iterator[tuple[str, ast.AST, int]]:
    """Every function and class with its qualified name and its length in lines (from its
    ``def``/``class`` line to its last, docstring included, decorators not)."""

    def walk(node: ast.AST, prefix: str) -> Iterator[tuple[str, ast.AST, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                assert child.end_lineno is not None
                yield name, child, child.end_lineno - child.lineno + 1
                yield from walk(child, f"{name}.")
            else:
                yield from walk(child, prefix)

    yield from walk(tree, "")


def _too_long() -> dict[tuple[str, str], str]:
    found = {}
    for module, path in _modules().items():
        for name, node, lines in _definitions(ast.parse(path.read_text(encoding="utf-8"))):
            is_class = isinstance(node, ast.ClassDef)
            limit = MAX_CLASS_LINES if is_class else MAX_FUNCTION_LINES
            if lines > limit:
                kind = "class" if is_class else "function"
                found[(module, name)] = f"{kind} of {lines} lines (limit {limit})"
    return found


class TestSize:
    def test_no_long_function_or_class(self) -> None:
        """Functions stay within 80 lines and classes within 300, but for the allowlist."""
        unexpected = {k: v for k, v in _too_long().items() if k not in ALLOWED_LONG}
        assert not unexpected, "over the limit, split or (with a reason) allow:\n" + "\n".join(
            f"{m}.{n}: {what}" for (m, n), what in sorted(unexpected.items())
        )

    @pytest.mark.parametrize("entry", sorted(ALLOWED_LONG), ids=".".join)
    def test_allowlist_entry_still_needed(self, entry: tuple[str, str]) -> None:
        """An allowed exception still exists and is still over its limit (else delete it)."""
        assert entry in _too_long(), f"{'.'.join(entry)} is within its limit now: drop it"
