"""The emulator answers every CSMS-initiated action of its version as a real station does."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jsonschema
import pytest

from emulator import stations
from emulator.answers import CSMS_ACTIONS, install, minimal_payload, schema
from emulator.stations import CHARGE_POINTS, RESULTS, EmulatedStation, StationConfig


class Wire:
    def __init__(self) -> None:
        self.sent: list[list[Any]] = []

    async def send(self, message: str) -> None:
        self.sent.append(json.loads(message))

    async def recv(self) -> str:
        await asyncio.sleep(3600)
        return ""


def station_on_wire(version: str) -> tuple[EmulatedStation, Any, Wire]:
    station = EmulatedStation(StationConfig(identity=f"ANS-{version}", version=version))
    wire = Wire()
    cp = CHARGE_POINTS[version](station, wire)
    install(cp, station.answers, RESULTS[version])
    return station, cp, wire


async def ask(cp: Any, wire: Wire, action: str, payload: dict[str, Any]) -> list[Any]:
    await cp.route_message(json.dumps([2, str(len(wire.sent)), action, payload]))
    return wire.sent[-1]


@pytest.mark.parametrize("version", ["1.6", "2.0.1", "2.1"])
async def test_every_csms_action_gets_a_schema_valid_answer(version):
    _station, cp, wire = station_on_wire(version)
    for action in CSMS_ACTIONS[version]:
        request = minimal_payload(version, action, response=False)
        if action in ("RemoteStartTransaction", "RequestStartTransaction"):
            continue  # starts a session: covered by the live emulator test
        frame = await ask(cp, wire, action, request)
        assert frame[0] == 3, (action, frame)
        jsonschema.validate(frame[2], schema(version, action, True))
    for task in list(stations._tasks):
        task.cancel()


async def test_2x_cost_updated_and_local_list_as_a_station_keeps_them():
    _station, cp, wire = station_on_wire("2.0.1")
    assert (await ask(cp, wire, "CostUpdated", {"totalCost": 1.5, "transactionId": "t"}))[2] == {}
    full = {"versionNumber": 3, "updateType": "Full"}
    assert (await ask(cp, wire, "SendLocalList", full))[2]["status"] == "Accepted"
    assert (await ask(cp, wire, "GetLocalListVersion", {}))[2]["versionNumber"] == 3
    stale = {"versionNumber": 2, "updateType": "Differential"}
    assert (await ask(cp, wire, "SendLocalList", stale))[2]["status"] == "VersionMismatch"
    assert (await ask(cp, wire, "DataTransfer", {"vendorId": "x"}))[2]["status"] == (
        "UnknownVendorId"
    )


@pytest.fixture
def files():
    """An HTTP server: GET serves a firmware image, POST takes an upload."""
    uploads: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/fw.bin" else 404)
            self.end_headers()
            self.wfile.write(b"firmware")

        def do_POST(self) -> None:
            uploads.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(201)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", uploads
    server.shutdown()


async def _follow_ups(station: EmulatedStation, count: int) -> list[tuple[str, dict]]:
    sent: list[tuple[str, dict]] = []

    async def call(action: str, payload: dict[str, Any]) -> None:
        sent.append((action, payload))

    station.call = call  # type: ignore[method-assign]
    for _ in range(100):
        if len(sent) >= count:
            break
        await asyncio.sleep(0.05)
    return sent


async def test_l01_update_firmware_reports_each_step_then_reboots(files):
    base, _uploads = files
    station, cp, wire = station_on_wire("2.0.1")
    request = {
        "requestId": 7,
        "firmware": {"location": f"{base}/fw.bin", "retrieveDateTime": "2026-01-01T00:00:00Z"},
    }
    assert (await ask(cp, wire, "UpdateFirmware", request))[2]["status"] == "Accepted"
    sent = await _follow_ups(station, 5)
    assert [p["status"] for _, p in sent] == [
        "Downloading",
        "Downloaded",
        "SignatureVerified",
        "Installing",
        "Installed",
    ]
    assert {a for a, _ in sent} == {"FirmwareStatusNotification"}
    assert station.boot_reason == "FirmwareUpdate"


async def test_1_6_get_diagnostics_uploads_a_file_to_the_location(files):
    base, uploads = files
    station, cp, wire = station_on_wire("1.6")
    answer = await ask(cp, wire, "GetDiagnostics", {"location": f"{base}/up/"})
    assert answer[2]["fileName"].endswith(".log")
    sent = await _follow_ups(station, 2)
    assert [p["status"] for _, p in sent] == ["Uploading", "Uploaded"]
    assert uploads and b"emulated station log" in uploads[0]


async def test_b07_get_base_report_is_followed_by_notify_report():
    station, cp, wire = station_on_wire("2.1")
    answer = await ask(cp, wire, "GetBaseReport", {"requestId": 4, "reportBase": "FullInventory"})
    assert answer[2]["status"] == "Accepted"
    sent = await _follow_ups(station, 1)
    action, payload = sent[0]
    assert action == "NotifyReport" and payload["request_id"] == 4
    assert payload["report_data"]


async def test_1_6_start_answered_invalid_is_stopped():
    station = EmulatedStation(StationConfig(identity="INV-1", version="1.6"))
    calls: list[tuple[str, dict]] = []

    class Answer:
        id_tag_info = {"status": "Invalid"}
        transaction_id = 99

    async def call(action: str, payload: dict[str, Any]) -> Any:
        calls.append((action, payload))
        return Answer() if action == "StartTransaction" else None

    station.call = call  # type: ignore[method-assign]
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(station.charge(station.connectors[1], "BAD", authorize=False), 5)
    stop = next(p for a, p in calls if a == "StopTransaction")
    assert stop["transaction_id"] == 99 and stop["reason"] == "DeAuthorized"
    assert station.stats.refused == 1 and station.stats.sessions == 0
