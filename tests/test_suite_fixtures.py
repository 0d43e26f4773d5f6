"""One set of factories: the shared fixtures are defined once, in the root conftest.py."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = {"station", "staff_client", "viewer_api", "operator_api", "api", "csms", "live_csms"}


def fixtures_defined(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for decorator in node.decorator_list:
            target = decorator.func if isinstance(decorator, ast.Call) else decorator
            if isinstance(target, ast.Attribute) and target.attr == "fixture":
                names.add(node.name)
    return names


def test_shared_fixtures_are_not_defined_again():
    tops = [top for top in ROOT.iterdir() if top.is_dir() and not top.name.startswith(".")]
    homes = {ROOT / "conftest.py", ROOT / "tests" / "conftest.py"}
    again = sorted(
        f"{path.relative_to(ROOT)} defines {name}"
        for top in tops
        for path in top.rglob("*.py")
        if path not in homes and (path.name.startswith("test_") or path.name == "conftest.py")
        for name in fixtures_defined(path) & SHARED
    )
    assert again == []
