"""Requests cut to the size a station takes, and its answers put back together.

A station announces how many items and bytes one request may carry (OCPP 2.0.1
DeviceDataCtrlr / MonitoringCtrlr ItemsPerMessage and BytesPerMessage, instance = the
request: B06.FR.05, B07, N04, N06.FR.04; 1.6 GetConfigurationMaxKeys) and refuses a larger
one. An operator's request longer than that is sent in parts, one after the other, and the
command record holds one merged answer. Pure functions: no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]


@dataclass(frozen=True)
class Splittable:
    """Where an action's list of items is, in its request and in its answer."""

    request_list: str
    answer_lists: tuple[str, ...]


SPLITTABLE: dict[str, dict[str, Splittable]] = {
    "2.x": {
        "GetVariables": Splittable("getVariableData", ("getVariableResult",)),
        "SetVariables": Splittable("setVariableData", ("setVariableResult",)),
        "GetReport": Splittable("componentVariable", ()),
        "SetVariableMonitoring": Splittable("setMonitoringData", ("setMonitoringResult",)),
        "ClearVariableMonitoring": Splittable("id", ("clearMonitoringResult",)),
    },
    "1.6": {"GetConfiguration": Splittable("key", ("configurationKey", "unknownKey"))},
}


def splittable(version: str, action: str) -> Splittable | None:
    return SPLITTABLE["1.6" if version == "1.6" else "2.x"].get(action)


# A CALL frame: [2,"<message id of up to 36 characters>","<action>",<payload>].
def frame_bytes(action: str, payload: Json) -> int:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return len(f'[2,"{"x" * 36}","{action}",{body}]'.encode())


class TooLarge(ValueError):
    """One item alone does not fit the station's BytesPerMessage."""


def split(
    action: str,
    payload: Json,
    spec: Splittable,
    *,
    max_items: int | None,
    max_bytes: int | None,
) -> list[Json]:
    """`payload` as the requests the limits allow (one if it fits), in the original order."""
    items = payload.get(spec.request_list) or []
    if not items:
        return [payload]
    parts: list[list[Any]] = []
    current: list[Any] = []
    for item in items:
        candidate = [*current, item]
        too_many = max_items is not None and max_items > 0 and len(candidate) > max_items
        too_big = (
            max_bytes is not None
            and max_bytes > 0
            and frame_bytes(action, {**payload, spec.request_list: candidate}) > max_bytes
        )
        if current and (too_many or too_big):
            parts.append(current)
            current = [item]
        else:
            current = candidate
    parts.append(current)
    if max_bytes:
        for part in parts:
            if len(part) == 1 and frame_bytes(action, {**payload, spec.request_list: part}) > (
                max_bytes
            ):
                raise TooLarge(
                    f"one item of {action} takes "
                    f"{frame_bytes(action, {**payload, spec.request_list: part})} bytes, more "
                    f"than the {max_bytes} the station takes in one message (BytesPerMessage)"
                )
    return [{**payload, spec.request_list: part} for part in parts]


def merge(spec: Splittable, answers: list[Json]) -> Json:
    """The answers of the parts as one: lists joined in order; a `status` is Accepted only
    if every part was, else the first other status (with its statusInfo)."""
    merged: Json = {}
    for answer in answers:
        for key, value in answer.items():
            if key in spec.answer_lists:
                merged.setdefault(key, []).extend(value)
            elif key == "status":
                if merged.get("status", "Accepted") == "Accepted":
                    merged["status"] = value
                    if "statusInfo" in answer:
                        merged["statusInfo"] = answer["statusInfo"]
            elif key != "statusInfo":
                merged.setdefault(key, value)
    return merged
