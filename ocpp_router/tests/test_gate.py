"""The boot gate (B02/B03) in one module: its rules, and that no other module holds them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ocpp_router import gate
from ocpp_router.session import Session

ROOT = Path(__file__).resolve().parents[2]


def session(registration: str) -> Session:
    return Session(station_pk=1, station_id="GATE-1", version="2.0.1", registration=registration)


@pytest.mark.parametrize("registration", ["", "Pending", "Rejected"])
def test_b02_fr_09_before_acceptance_a_station_may_only_boot(registration):
    station = session(registration)
    assert gate.may_receive(station, "BootNotification")
    for action in ("Heartbeat", "StatusNotification", "SecurityEventNotification"):
        assert not gate.may_receive(station, action)
        assert gate.receive_refusal(station, action).code("2.0.1") == "SecurityError"


def test_b02_fr_02_a_pending_station_may_send_what_the_csms_asked_for():
    station = session("Pending")
    gate.sent(station, "GetBaseReport", {"requestId": 1, "reportBase": "FullInventory"})
    gate.sent(station, "TriggerMessage", {"requestedMessage": "SignV2GCertificate"})
    assert gate.may_receive(station, "NotifyReport")
    assert gate.may_receive(station, "SignCertificate")
    assert not gate.may_receive(station, "StatusNotification")
    gate.booted(station, "Pending")
    assert not gate.may_receive(station, "NotifyReport")


def test_b02_fr_05_a_pending_station_is_sent_only_configuration_and_inventory():
    station = session("Pending")
    assert gate.send_refusal(station, "GetBaseReport") is None
    assert gate.send_refusal(station, "SetVariables") is None
    assert gate.send_refusal(station, "Reset") is not None
    assert gate.send_refusal(session("Rejected"), "GetBaseReport") is not None
    assert gate.send_refusal(session("Accepted"), "Reset") is None


def test_b02_an_accepted_station_may_send_anything_and_asks_for_nothing():
    station = session("")
    gate.booted(station, "Accepted")
    assert gate.may_receive(station, "Heartbeat")
    gate.sent(station, "GetBaseReport", {"requestId": 1, "reportBase": "FullInventory"})
    assert station.solicited == set()


def _project_modules() -> list[Path]:
    tops = [
        top
        for top in ROOT.iterdir()
        if top.is_dir()
        and not top.name.startswith(".")
        and top.name not in ("emulator", "benchmarks", "tests")
    ]
    return [
        path
        for top in tops
        for path in top.rglob("*.py")
        if "tests" not in path.relative_to(ROOT).parts
    ]


def test_b02_rules_live_only_in_the_gate_module():
    """Outside ocpp_router/gate.py no module writes a session's registration or solicited
    requests, nor tests a registration (the session's own `accepted` aside)."""
    allowed = {ROOT / "ocpp_router" / "gate.py", ROOT / "ocpp_router" / "session.py"}
    offenders = []
    for path in _project_modules():
        if path in allowed:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("registration", "solicited"):
                if not isinstance(node.ctx, ast.Load):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} writes {node.attr}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                target = node.func.value
                if isinstance(target, ast.Attribute) and target.attr == "solicited":
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} changes solicited")
            if isinstance(node, ast.Compare):
                names = [node.left, *node.comparators]
                if any(isinstance(n, ast.Attribute) and n.attr == "registration" for n in names):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} tests registration")
    assert offenders == []
