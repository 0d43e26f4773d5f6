"""Version-agnostic operations give the action and a schema-valid payload of each version."""

from __future__ import annotations

import pytest

from commands import conveniences
from ocpp_router import validation

VERSIONS = ["1.6", "2.0.1", "2.1"]

CASES = [
    ("start-session", {"id_token": "TAG-1", "evse_id": 2}),
    ("stop-session", {"transaction_id": "17"}),
    ("reset", {"type": "hard"}),
    ("unlock", {"evse_id": 2}),
    ("change-availability", {"operative": False}),
    ("change-availability", {"operative": True, "evse_id": 2}),
    ("trigger-message", {"message": "StatusNotification", "evse_id": 2}),
]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("operation", "params"), CASES)
def test_operation_payload_fits_the_official_schema(version, operation, params):
    action, payload = conveniences.build(operation, version, params)
    assert action in validation.actions(version)
    validation.check(version, action, "request", payload)


@pytest.mark.parametrize(
    ("operation", "params", "v16", "v2"),
    [
        (
            "start-session",
            {"id_token": "T", "evse_id": 2},
            ("RemoteStartTransaction", {"idTag": "T", "connectorId": 2}),
            "RequestStartTransaction",
        ),
        (
            "stop-session",
            {"transaction_id": "17"},
            ("RemoteStopTransaction", {"transactionId": 17}),
            ("RequestStopTransaction", {"transactionId": "17"}),
        ),
        ("reset", {"type": "hard"}, ("Reset", {"type": "Hard"}), ("Reset", {"type": "Immediate"})),
        ("reset", {"type": "soft"}, ("Reset", {"type": "Soft"}), ("Reset", {"type": "OnIdle"})),
        (
            "unlock",
            {"evse_id": 2},
            ("UnlockConnector", {"connectorId": 2}),
            ("UnlockConnector", {"evseId": 2, "connectorId": 1}),
        ),
        (
            "change-availability",
            {"operative": False},
            ("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}),
            ("ChangeAvailability", {"operationalStatus": "Inoperative"}),
        ),
        (
            "change-availability",
            {"operative": True, "evse_id": 3, "connector_id": 1},
            ("ChangeAvailability", {"connectorId": 3, "type": "Operative"}),
            (
                "ChangeAvailability",
                {"operationalStatus": "Operative", "evse": {"id": 3, "connectorId": 1}},
            ),
        ),
        (
            "trigger-message",
            {"message": "Heartbeat"},
            ("TriggerMessage", {"requestedMessage": "Heartbeat"}),
            ("TriggerMessage", {"requestedMessage": "Heartbeat"}),
        ),
    ],
)
def test_operation_maps_per_version(operation, params, v16, v2):
    assert conveniences.build(operation, "1.6", params) == v16
    action, payload = conveniences.build(operation, "2.0.1", params)
    if isinstance(v2, str):
        assert action == v2
    else:
        assert (action, payload) == v2


def test_start_session_2x_carries_a_remote_start_id():
    _, payload = conveniences.build("start-session", "2.1", {"id_token": "T", "remote_start_id": 9})
    assert payload["remoteStartId"] == 9
    assert payload["idToken"] == {"idToken": "T", "type": "Central"}


@pytest.mark.parametrize(
    ("operation", "params", "field"),
    [
        ("stop-session", {"transaction_id": "a-uuid"}, "transaction_id"),
        ("reset", {"type": "hard", "evse_id": 1}, "evse_id"),
        ("unlock", {"evse_id": 1, "connector_id": 2}, "connector_id"),
    ],
)
def test_what_16_cannot_express_is_refused(operation, params, field):
    with pytest.raises(conveniences.OperationInvalid) as raised:
        conveniences.build(operation, "1.6", params)
    assert raised.value.field == field


def test_connector_without_evse_is_refused_on_2x():
    with pytest.raises(conveniences.OperationInvalid):
        conveniences.build("change-availability", "2.0.1", {"operative": True, "connector_id": 1})
