"""Version-agnostic operations mapped to the OCPP action and payload of a station's version.

Each builder takes the operation's parameters (already checked by the API serializer) and
returns `(action, payload)`; the payload is then checked against the official schema like
any message-API call, so a value the station's version cannot express is a 400 naming it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from ocpp_router.rpc import V16

Params = dict[str, Any]
Built = tuple[str, dict[str, Any]]


class OperationInvalid(Exception):
    """The parameters cannot be expressed in the station's OCPP version."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def _evse(params: Params) -> dict[str, Any] | None:
    if params.get("evse_id") is None:
        if params.get("connector_id") is not None:
            raise OperationInvalid("evse_id", "connector_id needs an evse_id")
        return None
    evse = {"id": params["evse_id"]}
    if params.get("connector_id") is not None:
        evse["connectorId"] = params["connector_id"]
    return evse


def _connector_16(params: Params, default: int | None = None) -> int | None:
    """1.6 addresses connectors only: each EVSE there is one connectorId with connector 1."""
    if params.get("connector_id") not in (None, 1):
        raise OperationInvalid("connector_id", "OCPP 1.6 stations address EVSEs only (use evse_id)")
    return params.get("evse_id", default) if params.get("evse_id") is not None else default


def start_session(version: str, params: Params) -> Built:
    if version == V16:
        payload: dict[str, Any] = {"idTag": params["id_token"]}
        if params.get("evse_id") is not None:
            payload["connectorId"] = params["evse_id"]
        return "RemoteStartTransaction", payload
    payload = {
        "idToken": {
            "idToken": params["id_token"],
            "type": params.get("id_token_type") or "Central",
        },
        # OCPP 2.0.1 F01.FR.01: the station echoes remoteStartId in its TransactionEvent.
        "remoteStartId": params.get("remote_start_id") or secrets.randbelow(2**31 - 1) + 1,
    }
    if params.get("evse_id") is not None:
        payload["evseId"] = params["evse_id"]
    return "RequestStartTransaction", payload


def stop_session(version: str, params: Params) -> Built:
    transaction_id = str(params["transaction_id"])
    if version == V16:
        try:
            number = int(transaction_id)
        except ValueError:
            raise OperationInvalid(
                "transaction_id", "OCPP 1.6 transaction ids are integers"
            ) from None
        return "RemoteStopTransaction", {"transactionId": number}
    return "RequestStopTransaction", {"transactionId": transaction_id}


RESET_TYPES = {"hard": ("Hard", "Immediate"), "soft": ("Soft", "OnIdle")}


def reset(version: str, params: Params) -> Built:
    type_16, type_2 = RESET_TYPES[params.get("type") or "soft"]
    if version == V16:
        if params.get("evse_id") is not None:
            raise OperationInvalid("evse_id", "OCPP 1.6 resets the whole station only")
        return "Reset", {"type": type_16}
    payload: dict[str, Any] = {"type": type_2}
    if params.get("evse_id") is not None:
        payload["evseId"] = params["evse_id"]
    return "Reset", payload


def unlock(version: str, params: Params) -> Built:
    if version == V16:
        return "UnlockConnector", {"connectorId": _connector_16(params)}
    return "UnlockConnector", {
        "evseId": params["evse_id"],
        "connectorId": params.get("connector_id") or 1,
    }


def change_availability(version: str, params: Params) -> Built:
    status = "Operative" if params["operative"] else "Inoperative"
    if version == V16:
        # connectorId 0 is the whole station.
        return "ChangeAvailability", {"connectorId": _connector_16(params, 0), "type": status}
    payload: dict[str, Any] = {"operationalStatus": status}
    evse = _evse(params)
    if evse is not None:
        payload["evse"] = evse
    return "ChangeAvailability", payload


def trigger_message(version: str, params: Params) -> Built:
    payload: dict[str, Any] = {"requestedMessage": params["message"]}
    if version == V16:
        connector = _connector_16(params)
        if connector is not None:
            payload["connectorId"] = connector
        return "TriggerMessage", payload
    evse = _evse(params)
    if evse is not None:
        payload["evse"] = evse
    return "TriggerMessage", payload


OPERATIONS: dict[str, Callable[[str, Params], Built]] = {
    "start-session": start_session,
    "stop-session": stop_session,
    "reset": reset,
    "unlock": unlock,
    "change-availability": change_availability,
    "trigger-message": trigger_message,
}


def build(operation: str, version: str, params: Params) -> Built:
    return OPERATIONS[operation](version, params)
