"""How an emulated station answers the CSMS-initiated actions that `stations.py` does not
handle itself: every CSMS -> station action of its version gets the answer a real station
gives, and where a real station follows up (firmware status, log upload, reports) so does
the emulator.

An action without behaviour of its own gets the smallest answer its official response
schema allows, choosing `Accepted` (or the most neutral status) where a status is asked for:
never `NotImplemented`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import ocpp
from ocpp.charge_point import camel_to_snake_case, snake_to_camel_case

if TYPE_CHECKING:
    from emulator.stations import EmulatedStation

SCHEMAS = Path(ocpp.__file__).parent
SCHEMA_DIRS = {"1.6": "v16", "2.0.1": "v201", "2.1": "v21"}

# CSMS -> station actions per version (1.6 with the security whitepaper's additions).
CSMS_ACTIONS_16 = (
    "CancelReservation ChangeAvailability ChangeConfiguration ClearCache ClearChargingProfile "
    "DataTransfer GetCompositeSchedule GetConfiguration GetDiagnostics GetLocalListVersion "
    "RemoteStartTransaction RemoteStopTransaction ReserveNow Reset SendLocalList "
    "SetChargingProfile TriggerMessage UnlockConnector UpdateFirmware CertificateSigned "
    "DeleteCertificate ExtendedTriggerMessage GetInstalledCertificateIds GetLog "
    "InstallCertificate SignedUpdateFirmware"
).split()
CSMS_ACTIONS_201 = (
    "CancelReservation CertificateSigned ChangeAvailability ClearCache ClearChargingProfile "
    "ClearDisplayMessage ClearVariableMonitoring CostUpdated CustomerInformation DataTransfer "
    "DeleteCertificate GetBaseReport GetChargingProfiles GetCompositeSchedule "
    "GetDisplayMessages GetInstalledCertificateIds GetLocalListVersion GetLog "
    "GetMonitoringReport GetReport GetTransactionStatus GetVariables InstallCertificate "
    "PublishFirmware RequestStartTransaction RequestStopTransaction ReserveNow Reset "
    "SendLocalList SetChargingProfile SetDisplayMessage SetMonitoringBase SetMonitoringLevel "
    "SetNetworkProfile SetVariableMonitoring SetVariables TriggerMessage UnlockConnector "
    "UnpublishFirmware UpdateFirmware"
).split()
CSMS_ACTIONS_21 = [
    *CSMS_ACTIONS_201,
    *(
        "SetDefaultTariff GetTariffs ClearTariffs ChangeTransactionTariff SetDERControl "
        "GetDERControl ClearDERControl AdjustPeriodicEventStream GetPeriodicEventStream "
        "UpdateDynamicSchedule UsePriorityCharging RequestBatterySwap "
        "NotifyAllowedEnergyTransfer NotifyWebPaymentStarted AFRRSignal"
    ).split(),
]
CSMS_ACTIONS = {"1.6": CSMS_ACTIONS_16, "2.0.1": CSMS_ACTIONS_201, "2.1": CSMS_ACTIONS_21}

# Where a status enum has no Accepted, the answer of a station with nothing to report.
NEUTRAL = ("Accepted", "NoFirmware", "NoProfiles", "NotFound", "Unknown", "EmptyResultSet")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@cache
def schema(version: str, action: str, response: bool) -> dict[str, Any]:
    folder = SCHEMAS / SCHEMA_DIRS[version] / "schemas"
    suffix = "Response" if response else ("" if version == "1.6" else "Request")
    return json.loads((folder / f"{action}{suffix}.json").read_text(encoding="utf-8-sig"))


def minimal(node: dict[str, Any], root: dict[str, Any]) -> Any:
    """The smallest value `node` of a JSON schema accepts (required properties only)."""
    if "$ref" in node:
        target: Any = root
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return minimal(target, root)
    if "enum" in node:
        return next((v for v in NEUTRAL if v in node["enum"]), node["enum"][0])
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        props = node.get("properties", {})
        return {k: minimal(props[k], root) for k in node.get("required", []) if k in props}
    if kind == "array":
        return [minimal(node.get("items", {}), root) for _ in range(node.get("minItems", 0))]
    if kind == "integer":
        return max(0, node.get("minimum", 0))
    if kind == "number":
        return float(max(0, node.get("minimum", 0)))
    if kind == "boolean":
        return False
    if node.get("format") == "date-time":
        return now()
    if node.get("format") == "uri":
        return "http://127.0.0.1/"
    return "x" * max(1, node.get("minLength", 1))


def minimal_payload(version: str, action: str, *, response: bool) -> dict[str, Any]:
    root = schema(version, action, response)
    return minimal(root, root)


def cert_hash(pem: str) -> dict[str, str] | None:
    """OCPP CertificateHashDataType of a PEM certificate, or None if it is not one."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        return None
    issuer_key = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "hashAlgorithm": "SHA256",
        "issuerNameHash": hashlib.sha256(cert.issuer.public_bytes()).hexdigest(),
        # Of the certificate's own key: the emulator keeps no issuer certificates.
        "issuerKeyHash": hashlib.sha256(issuer_key).hexdigest(),
        "serialNumber": format(cert.serial_number, "x"),
    }


class Answers:
    """The state and behaviour behind the answers of one emulated station."""

    def __init__(self, station: EmulatedStation) -> None:
        self.station = station
        self.version = station.version
        self.reservations: dict[int, int] = {}  # reservation id -> connector number
        self.local_list_version = 0
        self.local_list: dict[str, Any] = {}
        self.certificates: list[tuple[str, dict[str, str]]] = []  # (type, hash data)
        self.display_messages: dict[int, dict[str, Any]] = {}
        self.network_profiles: dict[int, dict[str, Any]] = {}
        self.uploads: list[str] = []  # where logs/diagnostics went, for tests and the curious

    def answer(self, action: str, request: dict[str, Any]) -> dict[str, Any]:
        """The camelCase answer to `action`; follow-up messages are scheduled."""
        method: Callable[[dict[str, Any]], dict[str, Any] | None] | None = getattr(
            self, f"on_{action}", None
        )
        if method is not None:
            answer = method(request)
            if answer is not None:
                return answer
        return minimal_payload(self.version, action, response=True)

    def later(self, coro_factory: Callable[[], Any]) -> None:
        self.station._later(coro_factory)

    async def send(self, action: str, payload: dict[str, Any]) -> Any:
        return await self.station.call(action, camel_to_snake_case(payload))

    # --- reservations (1.6 section 5.13, 2.0.1 H01) ---------------------------------------
    def on_ReserveNow(self, request: dict[str, Any]) -> dict[str, Any]:
        if self.version == "1.6":
            number, reservation = request["connectorId"], request["reservationId"]
        else:
            number, reservation = request.get("evseId"), request["id"]
        connector = self.station.find_connector(number or None)
        if connector is None:
            return {"status": "Rejected"}
        if not connector.operative:
            return {"status": "Unavailable"}
        taken = {n for r, n in self.reservations.items() if r != reservation}
        if connector.busy or connector.plugged or connector.number in taken:
            return {"status": "Occupied"}
        self.reservations[reservation] = connector.number
        connector.reserved = True
        self.later(lambda: self.station.send_status(connector))
        return {"status": "Accepted"}

    def on_CancelReservation(self, request: dict[str, Any]) -> dict[str, Any]:
        number = self.reservations.pop(request["reservationId"], None)
        if number is None:
            return {"status": "Rejected"}
        connector = self.station.connectors[number]
        connector.reserved = False
        self.later(lambda: self.station.send_status(connector))
        return {"status": "Accepted"}

    # --- local authorization list (1.6 section 5.15, 2.0.1 D01/D02) ------------------------
    def on_SendLocalList(self, request: dict[str, Any]) -> dict[str, Any]:
        version = request["listVersion" if self.version == "1.6" else "versionNumber"]
        entries = request.get("localAuthorizationList", [])
        if request["updateType"] == "Differential" and version <= self.local_list_version:
            return {"status": "VersionMismatch"}
        if request["updateType"] == "Full":
            self.local_list = {}
        for entry in entries:
            key = entry.get("idTag") or entry.get("idToken", {}).get("idToken", "")
            info = entry.get("idTagInfo") or entry.get("idTokenInfo")
            if info is None:
                self.local_list.pop(key, None)
            else:
                self.local_list[key] = info
        self.local_list_version = version
        return {"status": "Accepted"}

    def on_GetLocalListVersion(self, request: dict[str, Any]) -> dict[str, Any]:
        key = "listVersion" if self.version == "1.6" else "versionNumber"
        return {key: self.local_list_version}

    def on_ClearCache(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"status": "Accepted"}

    def on_DataTransfer(self, request: dict[str, Any]) -> dict[str, Any]:
        # A station without vendor extensions (1.6 section 5.6, 2.0.1 P01.FR.06).
        return {"status": "UnknownVendorId"}

    def on_CostUpdated(self, request: dict[str, Any]) -> dict[str, Any]:
        return {}

    # --- firmware (1.6 section 5.19, L01) --------------------------------------------------
    def on_UpdateFirmware(self, request: dict[str, Any]) -> dict[str, Any]:
        if self.version == "1.6":
            self.later(lambda: self._firmware(request["location"], None, signed=False))
            return {}
        firmware = request["firmware"]
        self.later(lambda: self._firmware(firmware["location"], request["requestId"], signed=True))
        return {"status": "Accepted"}

    def on_SignedUpdateFirmware(self, request: dict[str, Any]) -> dict[str, Any]:
        location = request["firmware"]["location"]
        self.later(lambda: self._firmware(location, request["requestId"], signed=True))
        return {"status": "Accepted"}

    async def _firmware(self, location: str, request_id: int | None, *, signed: bool) -> None:
        action = (
            "SignedFirmwareStatusNotification"
            if self.version == "1.6" and signed
            else "FirmwareStatusNotification"
        )

        async def status(value: str) -> None:
            payload: dict[str, Any] = {"status": value}
            if request_id is not None:
                payload["requestId"] = request_id
            await self.send(action, payload)

        await status("Downloading")
        try:
            async with httpx.AsyncClient(timeout=15) as client:
                response = await client.get(location)
                response.raise_for_status()
        except (httpx.HTTPError, ValueError):
            await status("DownloadFailed")
            return
        await status("Downloaded")
        if signed:
            await status("SignatureVerified")
        await status("Installing")
        await asyncio.sleep(0.2)
        await status("Installed")
        # The new firmware boots (2.0.1 L01.FR.xx: BootNotification reason FirmwareUpdate).
        self.station.boot_reason = "FirmwareUpdate"
        self.station._reconnect_now.set()

    # --- logs and diagnostics (1.6 section 5.9, N01) ---------------------------------------
    def on_GetDiagnostics(self, request: dict[str, Any]) -> dict[str, Any]:
        name = f"{self.station.config.identity}-diagnostics.log"
        self.later(lambda: self._upload(request["location"], name, None, diagnostics=True))
        return {"fileName": name}

    def on_GetLog(self, request: dict[str, Any]) -> dict[str, Any]:
        name = f"{self.station.config.identity}-{request['logType'].lower()}.log"
        location = request["log"]["remoteLocation"]
        self.later(lambda: self._upload(location, name, request["requestId"], diagnostics=False))
        return {"status": "Accepted", "filename": name}

    async def _upload(
        self, location: str, name: str, request_id: int | None, *, diagnostics: bool
    ) -> None:
        action = "DiagnosticsStatusNotification" if diagnostics else "LogStatusNotification"

        async def status(value: str) -> None:
            payload: dict[str, Any] = {"status": value}
            if request_id is not None:
                payload["requestId"] = request_id
            await self.send(action, payload)

        await status("Uploading")
        body = f"{now()} {self.station.config.identity}: emulated station log\n".encode()
        url = location + name if location.endswith("/") else location
        try:
            async with httpx.AsyncClient(timeout=15) as client:
                response = await client.post(
                    url,
                    content=body,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'},
                )
                response.raise_for_status()
        except (httpx.HTTPError, ValueError):
            await status("UploadFailed" if diagnostics else "UploadFailure")
            return
        self.uploads.append(url)
        await status("Uploaded")

    # --- device model reports (B07, B08) ---------------------------------------------------
    def _report_data(self, wanted: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
        data = []
        for (component, variable), (value, readonly) in self.station.variables.items():
            if wanted and not any(
                w["component"]["name"] == component
                and ("variable" not in w or w["variable"]["name"] == variable)
                for w in wanted
            ):
                continue
            data.append(
                {
                    "component": {"name": component},
                    "variable": {"name": variable},
                    "variableAttribute": [
                        {"value": value, "mutability": "ReadOnly" if readonly else "ReadWrite"}
                    ],
                }
            )
        return data

    def _notify_report(self, request_id: int, data: list[dict[str, Any]]) -> None:
        payload = {"requestId": request_id, "generatedAt": now(), "seqNo": 0, "tbc": False}
        if data:
            payload["reportData"] = data
        self.later(lambda: self.send("NotifyReport", payload))

    def on_GetBaseReport(self, request: dict[str, Any]) -> dict[str, Any]:
        self._notify_report(request["requestId"], self._report_data(None))
        return {"status": "Accepted"}

    def on_GetReport(self, request: dict[str, Any]) -> dict[str, Any]:
        data = self._report_data(request.get("componentVariable"))
        if not data:
            return {"status": "EmptyResultSet"}
        self._notify_report(request["requestId"], data)
        return {"status": "Accepted"}

    def on_GetMonitoringReport(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"status": "EmptyResultSet"}  # the emulator keeps no monitors

    def on_SetVariableMonitoring(self, request: dict[str, Any]) -> dict[str, Any]:
        results = [
            {
                "status": "Rejected",
                "type": item["type"],
                "severity": item["severity"],
                "component": item["component"],
                "variable": item["variable"],
            }
            for item in request["setMonitoringData"]
        ]
        return {"setMonitoringResult": results}

    def on_ClearVariableMonitoring(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"clearMonitoringResult": [{"status": "NotFound", "id": i} for i in request["id"]]}

    def on_CustomerInformation(self, request: dict[str, Any]) -> dict[str, Any]:
        if request.get("report"):
            payload = {
                "data": "no customer data held",
                "seqNo": 0,
                "generatedAt": now(),
                "requestId": request["requestId"],
                "tbc": False,
            }
            self.later(lambda: self.send("NotifyCustomerInformation", payload))
        return {"status": "Accepted"}

    def on_GetTransactionStatus(self, request: dict[str, Any]) -> dict[str, Any]:
        # Every message is sent before the next: nothing waits in a queue.
        answer: dict[str, Any] = {"messagesInQueue": False}
        if "transactionId" in request:
            answer["ongoingIndicator"] = any(
                str(c.transaction_id) == request["transactionId"]
                for c in self.station.connectors.values()
            )
        return answer

    def on_GetChargingProfiles(self, request: dict[str, Any]) -> dict[str, Any]:
        profiles = [p for p in self.station.profiles.values() if p.get("raw")]
        if not profiles:
            return {"status": "NoProfiles"}
        by_connector: dict[int, list[dict[str, Any]]] = {}
        for profile in profiles:
            by_connector.setdefault(profile["connector"], []).append(profile["raw"])

        async def report() -> None:
            numbers = sorted(by_connector)
            for index, number in enumerate(numbers):
                await self.send(
                    "ReportChargingProfiles",
                    {
                        "requestId": request["requestId"],
                        "chargingLimitSource": "CSO",
                        "evseId": number,
                        "chargingProfile": by_connector[number],
                        "tbc": index < len(numbers) - 1,
                    },
                )

        self.later(report)
        return {"status": "Accepted"}

    # --- certificates (1.6 security whitepaper, 2.0.1 M03-M05, A02) ------------------------
    def on_InstallCertificate(self, request: dict[str, Any]) -> dict[str, Any]:
        digest = cert_hash(request["certificate"])
        if digest is None:
            return {"status": "Rejected"}
        self.certificates.append((request["certificateType"], digest))
        return {"status": "Accepted"}

    def on_GetInstalledCertificateIds(self, request: dict[str, Any]) -> dict[str, Any]:
        wanted = request.get("certificateType")
        if self.version == "1.6":
            wanted = [wanted]
        found = [(t, h) for t, h in self.certificates if not wanted or t in wanted]
        if not found:
            return {"status": "NotFound"}
        if self.version == "1.6":
            return {"status": "Accepted", "certificateHashData": [h for _, h in found]}
        return {
            "status": "Accepted",
            "certificateHashDataChain": [
                {"certificateType": t, "certificateHashData": h} for t, h in found
            ],
        }

    def on_DeleteCertificate(self, request: dict[str, Any]) -> dict[str, Any]:
        serial = request["certificateHashData"]["serialNumber"]
        kept = [(t, h) for t, h in self.certificates if h["serialNumber"] != serial]
        if len(kept) == len(self.certificates):
            return {"status": "NotFound"}
        self.certificates = kept
        return {"status": "Accepted"}

    def on_CertificateSigned(self, request: dict[str, Any]) -> dict[str, Any]:
        chain = request["certificateChain"]
        return {"status": "Accepted" if cert_hash(chain) else "Rejected"}

    # --- display messages (O01-O06) --------------------------------------------------------
    def on_SetDisplayMessage(self, request: dict[str, Any]) -> dict[str, Any]:
        message = request["message"]
        self.display_messages[message["id"]] = message
        return {"status": "Accepted"}

    def on_GetDisplayMessages(self, request: dict[str, Any]) -> dict[str, Any]:
        ids = request.get("id")
        found = [m for i, m in self.display_messages.items() if not ids or i in ids]
        if not found:
            return {"status": "Unknown"}
        payload = {"requestId": request["requestId"], "messageInfo": found, "tbc": False}
        self.later(lambda: self.send("NotifyDisplayMessages", payload))
        return {"status": "Accepted"}

    def on_ClearDisplayMessage(self, request: dict[str, Any]) -> dict[str, Any]:
        found = self.display_messages.pop(request["id"], None)
        return {"status": "Accepted" if found else "Unknown"}

    def on_SetNetworkProfile(self, request: dict[str, Any]) -> dict[str, Any]:
        self.network_profiles[request["configurationSlot"]] = request["connectionData"]
        return {"status": "Accepted"}

    def on_ExtendedTriggerMessage(self, request: dict[str, Any]) -> dict[str, Any]:
        message = request["requestedMessage"]
        if message in ("BootNotification", "Heartbeat", "MeterValues", "StatusNotification"):
            return {"status": self.station.trigger(message, request.get("connectorId"))}
        if message == "FirmwareStatusNotification":
            self.later(lambda: self.send("SignedFirmwareStatusNotification", {"status": "Idle"}))
            return {"status": "Accepted"}
        if message == "LogStatusNotification":
            self.later(lambda: self.send("LogStatusNotification", {"status": "Idle"}))
            return {"status": "Accepted"}
        return {"status": "NotImplemented"}


def install(cp: Any, answers: Answers, result_module: Any) -> None:
    """Route every CSMS action of the station's version that `cp` has no handler for."""
    for action in CSMS_ACTIONS[answers.version]:
        if action in cp.route_map:
            continue
        cls = getattr(result_module, action)

        def handler(_action: str = action, _cls: Any = cls, **request: Any) -> Any:
            answer = answers.answer(_action, snake_to_camel_case(request))
            return _cls(**camel_to_snake_case(answer))

        cp.route_map[action] = {"_on_action": handler, "_skip_schema_validation": False}
