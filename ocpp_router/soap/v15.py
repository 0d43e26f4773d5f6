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
