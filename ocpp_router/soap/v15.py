"""OCPP 1.5 as OCPP 1.6: the explicit mapping that lets the 1.6 registry serve 1.5 stations.

Read from the two versions' official CentralSystemService WSDLs (2012/06 and 2015/10):

- BootNotification.conf `heartbeatInterval` is 1.6 `interval`; RegistrationStatus has no
  Pending in 1.5: Pending is answered Rejected (the station boots again after the interval).
- MeterValues `values` (MeterValue: `timestamp`, `value` text with the attributes context,
  format, measurand, location, unit) is 1.6 `meterValue` (`timestamp`, `sampledValue`).
- StopTransaction `transactionData` (TransactionData holding `values`) is 1.6
  `transactionData` (a MeterValue list); 1.5 has no `reason` (1.6: absent means Local).
- UnitOfMeasure Amp and Volt are 1.6 A and V.
- ChargePointStatus Occupied is split in 1.6 into Preparing, Charging, SuspendedEV,
  SuspendedEVSE and Finishing: taken as Charging.
- ChargePointErrorCode Mode3Error is 1.6 EVCommunicationError.
- DiagnosticsStatus, FirmwareStatus, ReadingContext, Measurand, Location: 1.6 only adds
  values.

Everything else of the ten station-initiated actions is the same in both versions.
"""

from __future__ import annotations

from typing import Any

UNITS = {"Amp": "A", "Volt": "V"}
STATUSES = {"Occupied": "Charging"}
ERROR_CODES = {"Mode3Error": "EVCommunicationError"}
REGISTRATION = {"Pending": "Rejected"}


def _meter_value(value: dict[str, Any]) -> dict[str, Any]:
    sampled = []
    for item in value.get("value", []):
        if not isinstance(item, dict):
            item = {"_value_1": item}
        sample = {"value": str(item.get("_value_1", item.get("value", "")))}
        for key in ("context", "format", "measurand", "location"):
            if item.get(key):
                sample[key] = item[key]
        if item.get("unit"):
            sample["unit"] = UNITS.get(item["unit"], item["unit"])
        sampled.append(sample)
    return {"timestamp": value.get("timestamp"), "sampledValue": sampled}


def request_to_16(action: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The 1.6 payload of a 1.5 station request."""
    if action == "MeterValues":
        out = {k: v for k, v in payload.items() if k != "values"}
        values = payload.get("values") or []
        if values:
            out["meterValue"] = [_meter_value(v) for v in values]
        return out
    if action == "StopTransaction":
        out = {k: v for k, v in payload.items() if k != "transactionData"}
        data = [
            _meter_value(v)
            for d in payload.get("transactionData") or []
            for v in d.get("values") or []
        ]
        if data:
            out["transactionData"] = data
        return out
    if action == "StatusNotification":
        return {
            **payload,
            "status": STATUSES.get(payload.get("status", ""), payload.get("status")),
            "errorCode": ERROR_CODES.get(payload.get("errorCode", ""), payload.get("errorCode")),
        }
    return payload


def response_to_15(action: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The 1.5 answer for a 1.6 handler's answer."""
    if action == "BootNotification":
        return {
            "status": REGISTRATION.get(payload["status"], payload["status"]),
            "currentTime": payload["currentTime"],
            "heartbeatInterval": payload["interval"],
        }
    return payload


# --- CSMS-initiated calls: the 1.6 payloads our services send, as a 1.5 ChargePointService
# takes them (read from the 2012/06 and 2015/10 ChargePointService WSDLs) ----------------
#
# - ClearChargingProfile, GetCompositeSchedule, SetChargingProfile and TriggerMessage are
#   1.6 additions (smart charging, remote trigger): a 1.5 station has no such operation.
# - RemoteStartTransaction has no `chargingProfile` in 1.5.
# - SendLocalList spells its list `localAuthorisationList` (AuthorisationData) and may carry
#   a `hash`; its answer may be HashError (1.6 has none: taken as Failed) and carry a `hash`.
# - UnlockConnector is answered Accepted or Rejected in 1.5, Unlocked / UnlockFailed /
#   NotSupported in 1.6: Accepted is Unlocked, Rejected is UnlockFailed.
# - ChangeConfiguration has no RebootRequired answer in 1.5 (a subset: nothing to map).
# - Every other operation (CancelReservation, ChangeAvailability, ChangeConfiguration,
#   ClearCache, DataTransfer, GetConfiguration, GetDiagnostics, GetLocalListVersion,
#   RemoteStopTransaction, ReserveNow, Reset, UpdateFirmware) is the same in both versions.
NOT_IN_15 = {
    "ClearChargingProfile": "smart charging profiles are an OCPP 1.6 addition",
    "GetCompositeSchedule": "smart charging profiles are an OCPP 1.6 addition",
    "SetChargingProfile": "smart charging profiles are an OCPP 1.6 addition",
    "TriggerMessage": "TriggerMessage is an OCPP 1.6 addition",
}
UNLOCK_STATUSES = {"Accepted": "Unlocked", "Rejected": "UnlockFailed"}
UPDATE_STATUSES = {"HashError": "Failed"}


def call_refusal_15(action: str, payload: dict[str, Any]) -> str:
    """Why the 1.6 call `action` cannot go to a 1.5 station, or "" when it maps."""
    if action in NOT_IN_15:
        return f"OCPP 1.5 stations have no {action} ({NOT_IN_15[action]})"
    if action == "RemoteStartTransaction" and payload.get("chargingProfile"):
        return (
            "OCPP 1.5 RemoteStartTransaction carries no chargingProfile (an OCPP 1.6 "
            "addition): send it without one"
        )
    return ""


def call_to_15(action: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The 1.5 request of a 1.6 CSMS-initiated call (after `call_refusal_15` found none)."""
    if action == "SendLocalList" and "localAuthorizationList" in payload:
        out = {k: v for k, v in payload.items() if k != "localAuthorizationList"}
        out["localAuthorisationList"] = payload["localAuthorizationList"]
        return out
    return payload


def answer_to_16(action: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The 1.6 answer payload of a 1.5 station's answer to our call."""
    if action == "UnlockConnector":
        status = payload.get("status", "")
        return {**payload, "status": UNLOCK_STATUSES.get(status, status)}
    if action == "SendLocalList":
        status = payload.get("status", "")
        return {"status": UPDATE_STATUSES.get(status, status)}
    return payload
