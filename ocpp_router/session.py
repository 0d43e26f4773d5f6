"""What the transport hands to the functional apps: the handshake, the session, call contexts."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ocpp_router.outbound import Outcome


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 version 7): log rows stay in index order as written.

    The 74 random bits come from the process's seeded generator, not os.urandom: these are
    row keys, not secrets, and a system call per frame is measurable on the event loop.
    """
    ms = time.time_ns() // 1_000_000
    rand = random.getrandbits(74)
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= (rand >> 62) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


@dataclass
class Handshake:
    """A station's websocket upgrade request, before we answer it."""

    station_id: str
    version: str
    account: str
    remote_address: str
    headers: dict[str, str]
    scope: dict[str, Any]
    refusal_status: int = 0
    refusal_reason: str = ""
    refusal_retry_after: int = 0

    def refuse(self, status: int, reason: str, retry_after: int = 0) -> None:
        """Refuse the upgrade with HTTP `status` (and a Retry-After of `retry_after` seconds
        if given); `reason` goes to the log, never to the station."""
        self.refusal_status = status
        self.refusal_reason = reason
        self.refusal_retry_after = retry_after


@dataclass
class Session:
    """One open station connection; its registration state is loaded from the database."""

    station_pk: int
    station_id: str
    version: str
    remote_address: str = ""
    account: str = ""
    registration: str = ""  # Accepted, Pending, Rejected, or "" before any BootNotification
    channel_name: str = ""
    connected_at: datetime | None = None
    last_seen_recorded: float = 0.0
    # Station requests the CSMS asked for while the station is not Accepted (NotifyReport
    # after GetBaseReport, what a TriggerMessage names): the boot gate (ocpp_router.gate)
    # lets these through.
    solicited: set[str] = field(default_factory=set)
    # Channel of another connection the database says holds this station (see the consumer's
    # duplicate check); "" if none.
    previous_channel: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.registration == "Accepted"


@dataclass
class FollowUp:
    action: str
    payload: dict[str, Any]
    # Called in a worker thread with the Outcome once the station answered (or did not).
    on_outcome: Callable[[Outcome], None] | None = None


@dataclass
class CallContext:
    """Passed to a handler with the payload of the station's CALL."""

    session: Session
    message_id: str
    action: str
    follow_ups: list[FollowUp] = field(default_factory=list)

    @property
    def station_pk(self) -> int:
        return self.session.station_pk

    @property
    def version(self) -> str:
        return self.session.version

    def send_after_reply(
        self,
        action: str,
        payload: dict[str, Any],
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> None:
        """Queue a CSMS-initiated call to this station once our answer has been sent;
        `on_outcome(outcome)` runs in a worker thread when it is answered or times out."""
        self.follow_ups.append(FollowUp(action, payload, on_outcome))


@dataclass
class ResultContext:
    """Passed to a result hook with our request and the station's CALLRESULT."""

    session: Session
    message_id: str
    action: str

    @property
    def station_pk(self) -> int:
        return self.session.station_pk

    @property
    def version(self) -> str:
        return self.session.version


@dataclass
class LogEntry:
    """One frame for the message log."""

    id: uuid.UUID
    station_pk: int
    direction: str  # "in" (station -> CSMS) or "out"
    message_type: int
    message_id: str
    action: str
    payload: Any
    timestamp: datetime
    error_code: str = ""
    error_description: str = ""
    answers: uuid.UUID | None = None
    soap: str = ""  # the SOAP envelope of an OCPP-S frame; payload is its OCPP-J equivalent
