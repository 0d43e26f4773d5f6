"""Importing the transport (every ocpp_router module) leaves Daphne, Twisted and autobahn as
they ship; only the server runtime adjusts them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Run in a fresh interpreter: this test process has long imported the server runtime.
PROBE = """
import importlib, json, pkgutil, sys

from autobahn import util
from autobahn.twisted import websocket as autobahn_twisted
from autobahn.websocket import protocol as autobahn_protocol
from daphne import server as daphne_server, ws_protocol
from twisted.internet import tcp


def snapshot():
    seen = {}
    for name, module in [
        ("autobahn.util", util),
        ("autobahn.twisted.websocket", autobahn_twisted),
        ("autobahn.websocket.protocol", autobahn_protocol),
    ]:
        for attr, value in vars(module).items():
            seen[f"{name}.{attr}"] = id(value)
    for cls in [
        daphne_server.Server,
        ws_protocol.WebSocketProtocol,
        ws_protocol.WebSocketFactory,
        autobahn_protocol.WebSocketServerProtocol,
        autobahn_protocol.WebSocketProtocol,
        tcp.Connection,
        tcp.Server,
    ]:
        for attr, value in vars(cls).items():
            seen[f"{cls.__module__}.{cls.__qualname__}.{attr}"] = id(value)
    return seen


before = snapshot()
import django

django.setup()
import ocpp_router

for info in pkgutil.walk_packages(ocpp_router.__path__, "ocpp_router."):
    importlib.import_module(info.name)
imported = sorted(name for name in sys.modules if name.startswith("ocpp_router"))
if sys.argv[1:] == ["--with-runtime"]:
    importlib.import_module("server_runtime.server")
after = snapshot()
print(json.dumps({
    "imported": imported,
    "changed": sorted(k for k in before if after.get(k) != before[k]),
    "runtime": sorted(name for name in sys.modules if name.startswith("server_runtime.")),
}))
"""


def _probe(*args: str) -> dict:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "csms.settings", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_transport_patches_nothing():
    result = _probe()
    # Every module of the transport was imported, the consumer and dispatch among them.
    assert {"ocpp_router.consumers", "ocpp_router.dispatch", "ocpp_router.outbound"} <= set(
        result["imported"]
    )
    assert result["changed"] == []
    assert "server_runtime.server" not in result["runtime"]


def test_the_server_runtime_is_what_adjusts_autobahn():
    # The probe sees a patch when there is one: the server runtime's own adjustments.
    result = _probe("--with-runtime")
    assert "autobahn.websocket.protocol.create_xor_masker" in result["changed"]
    assert "autobahn.websocket.protocol.pformat" in result["changed"]
