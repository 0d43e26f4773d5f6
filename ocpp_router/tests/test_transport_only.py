"""ocpp_router is the transport (framing, validation, registry, dispatch, outbound calls, the
boot gate): it imports no functional app and nothing of the server runtime."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TRANSPORT = ROOT / "ocpp_router"
# The kernel (csms) is shared; the server runtime and its servers are not the transport's.
RUNTIME = {"server_runtime", "daphne", "twisted", "autobahn", "gc", "signal", "multiprocessing"}


def imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def test_transport_imports_no_functional_app_and_no_server_runtime():
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")}
    forbidden = (packages - {"ocpp_router", "csms"}) | RUNTIME
    offenders = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sorted(TRANSPORT.rglob("*.py"))
        if "tests" not in path.relative_to(TRANSPORT).parts
        for line, module in imports(path)
        if module.split(".")[0] in forbidden
    ]
    assert offenders == []
