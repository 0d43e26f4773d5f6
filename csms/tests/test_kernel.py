"""`csms` is the project and a small shared kernel: it imports no functional app.

Only the project's wiring, `csms/urls.py` and `csms/asgi.py`, names the apps it mounts.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KERNEL = ROOT / "csms"
WIRING = {KERNEL / "urls.py", KERNEL / "asgi.py"}


def project_packages() -> set[str]:
    """Top-level packages of this repository (the apps, ocpp_router, server_runtime, ...)."""
    return {
        path.parent.name
        for path in ROOT.glob("*/__init__.py")
        if path.parent.name not in ("csms", ".venv")
    }


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module `path` imports, at its top or inside a function."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def test_csms_imports_no_functional_app():
    apps = project_packages()
    assert {"stations", "transactions", "commands", "ocpp_router"} <= apps
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sorted(KERNEL.rglob("*.py"))
        if path not in WIRING and "tests" not in path.relative_to(KERNEL).parts
        for line, module in imported_modules(path)
        if module.split(".")[0] in apps
    ]
    assert offenders == []
