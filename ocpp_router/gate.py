"""The boot gate (B02/B03): what a station that is not Accepted may send, and be sent.

All of the rule lives here; the dispatcher asks `may_receive` before a station's request
reaches its handler, the consumer asks `send_refusal` before a call of ours is queued and
tells `sent` when it goes out, and whoever answers a BootNotification tells `booted`.

- OCPP 2.0.1 B02.FR.09 / B03.FR.07, OCTT TC_B_30_CSMS; 1.6 section 4.2.1: until the station
  is Accepted it may only boot; anything else gets CALLERROR SecurityError.
- While Pending it may also send what the CSMS asked for (B02.FR.02; 1.6: "unless
  instructed by the Central System with a TriggerMessage.req"): NotifyReport after
  GetBaseReport/GetReport, the message a TriggerMessage names. An unsolicited Heartbeat,
  StatusNotification or SecurityEventNotification gets SecurityError.
- While Pending the CSMS sends only what configures or inventories the station
  (B02.FR.05, errata 2023-12); to a Rejected station it sends nothing. B02.FR.01 (fetching
  the inventory of a Pending station) is the stations app's decision (`station_boot`).

The registration lives in the database (a reconnecting station need not boot again) and is
loaded into `Session.registration` by the connection gate when the station connects.
"""

from __future__ import annotations

from typing import Any

from ocpp_router import errors
from ocpp_router.session import Session

ACCEPTED, PENDING, REJECTED = "Accepted", "Pending", "Rejected"

# What a station may always send.
BEFORE_BOOT = frozenset({"BootNotification"})

# OCPP 2.0.1 B02.FR.05 / errata 2023-12: what the CSMS may send while the station is Pending.
SENDABLE_WHILE_PENDING = frozenset(
    {
        "GetBaseReport",
        "GetReport",
        "GetMonitoringReport",
        "GetVariables",
        "SetVariables",
        "SetNetworkProfile",
        "GetConfiguration",
        "ChangeConfiguration",
        "TriggerMessage",
        "ExtendedTriggerMessage",
        "DataTransfer",
    }
)

# What a station may send while Pending because the CSMS asked for it (OCPP 2.0.1 B02.FR.02,
# 1.6 section 4.2.1: "unless it has been instructed by the Central System to do so").
REPORTS_REQUESTED_BY = {
    "GetBaseReport": "NotifyReport",
    "GetReport": "NotifyReport",
    "GetMonitoringReport": "NotifyMonitoringReport",
}
# TriggerMessage requestedMessage values that name another action than themselves.
TRIGGERED_ACTIONS = {
    "SignChargingStationCertificate": "SignCertificate",
    "SignV2GCertificate": "SignCertificate",
    "SignCombinedCertificate": "SignCertificate",
}


def solicited_by(action: str, payload: dict[str, Any]) -> str:
    """The station request our call `action` asks for, or ""."""
    if action in REPORTS_REQUESTED_BY:
        return REPORTS_REQUESTED_BY[action]
    if action in ("TriggerMessage", "ExtendedTriggerMessage"):
        requested = str(payload.get("requestedMessage", ""))
        return TRIGGERED_ACTIONS.get(requested, requested)
    return ""


def may_receive(session: Session, action: str) -> bool:
    """May the station's request `action` reach its handler now?"""
    if session.accepted or action in BEFORE_BOOT:
        return True
    if session.registration == PENDING:
        return action in session.solicited
    return False


def receive_refusal(session: Session, action: str) -> errors.SecurityError:
    return errors.SecurityError(
        f"{action} refused: the station is not accepted "
        f"(registration {session.registration or 'none'}); send BootNotification first"
    )


def send_refusal(session: Session, action: str) -> errors.SecurityError | None:
    """Why our call `action` cannot go to the station now, or None if it can."""
    if session.registration == REJECTED:
        return errors.SecurityError("The station's registration is Rejected: nothing is sent to it")
    if not session.accepted and action not in SENDABLE_WHILE_PENDING:
        return errors.SecurityError(f"{action} cannot be sent before the station is accepted")
    return None


def sent(session: Session, action: str, payload: dict[str, Any]) -> None:
    """Our call went out: while not Accepted, the station may now send what it asks for."""
    if not session.accepted:
        solicited = solicited_by(action, payload)
        if solicited:
            session.solicited.add(solicited)


def booted(session: Session, status: str) -> None:
    """The station's BootNotification was answered with `status`: the gate follows it, and
    what it was asked for before that boot is forgotten."""
    session.registration = status
    session.solicited.clear()
