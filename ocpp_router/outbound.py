"""CSMS -> station calls through the channel layer, one in flight per station.

The caller, `commands.services` (the one way to send a call, which records it; the API, the
admin, management commands and internal flows on any process go through it), sends an
`ocpp.call` message to the channel of the consumer holding the station's websocket and waits
on a reply channel: first for an acknowledgement (no acknowledgement means no live
connection: `StationOffline`), then for the station's answer or our timeout. The consumer
queues calls so that at most one CALL is outstanding per station (OCPP-J section 4.1.1).

An OCPP-S (SOAP) station holds no connection: its channel name names its ChargePointService
and the call is a SOAP request to it from this process (`ocpp_router.soap.client`), with the
same outcomes.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings

from csms.outage import CHANNEL_LAYER
from ocpp_router.layers import ChannelLayerDown, layer_send

COMPLETED, ERROR, TIMEOUT = "completed", "error", "timeout"
# Channel names of OCPP-S stations (ocpp_router.soap.views): not channel-layer channels.
SOAP_CHANNEL_PREFIX = "soap:"


class StationOffline(Exception):
    """No live connection took the call."""


class ChannelLayerUnavailable(StationOffline):
    """The channel layer (Redis) cannot be reached: no call reaches any station until it is
    back (stations stay connected meanwhile)."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(
            "The channel layer (Redis) is unreachable: calls to stations fail until it is back"
            + (f" ({detail})" if detail else "")
        )


class CallNotSent(StationOffline):
    """The station's connection took the call but never sent it (its server began to stop,
    or the station went before the call's turn): the station never saw it, so it may be
    sent again on the station's next connection."""


# What a consumer answers instead of an outcome for a call it did not send.
NOT_SENT = "ocpp.call.not_sent"


@dataclass(frozen=True)
class Recipient:
    """The station a call goes to, for a transport that holds no session of it (OCPP-S)."""

    station_pk: int
    identity: str
    registration: str = ""


def refusal(channel_name: str, action: str, payload: dict[str, Any]) -> str:
    """Why `action` cannot go over the station's transport at all, or "" (checked before a
    command is stored; OCPP-J connections check at the consumer)."""
    if channel_name.startswith(SOAP_CHANNEL_PREFIX):
        from ocpp_router.soap import client

        return client.refusal(channel_name, action, payload)
    return ""


@dataclass
class Outcome:
    """What became of a CSMS-initiated call."""

    status: str  # completed | error | timeout
    action: str
    request: dict[str, Any]
    response: dict[str, Any] | None = None
    error_code: str = ""
    error_description: str = ""
    error_details: dict[str, Any] = field(default_factory=dict)
    message_id: str = ""

    @property
    def ok(self) -> bool:
        return self.status == COMPLETED

    def as_message(self) -> dict[str, Any]:
        return {"type": "ocpp.call.outcome", **asdict(self)}

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> Outcome:
        fields = {k: v for k, v in message.items() if k != "type"}
        return cls(**fields)


async def call(
    channel_name: str,
    action: str,
    payload: dict[str, Any],
    *,
    timeout: float | None = None,
    recipient: Recipient | None = None,
) -> Outcome:
    """Send `action` to the station whose consumer listens on `channel_name`; await the answer.

    `recipient` is required for an OCPP-S station (its channel name holds only its address).
    """
    if not channel_name:
        raise StationOffline("The station is not connected")
    timeout = settings.CSMS_CALL_TIMEOUT if timeout is None else timeout
    if channel_name.startswith(SOAP_CHANNEL_PREFIX):
        from ocpp_router.soap import client

        if recipient is None:
            raise StationOffline("An OCPP-S call needs the station it goes to")
        return await client.call(
            channel_name, action, payload, timeout=timeout, recipient=recipient
        )
    layer = get_channel_layer()
    # The default "specific." prefix: channels_redis serves every process-local channel of
    # one prefix with a single reader; another prefix would stall behind it.
    reply_to = await layer.new_channel()
    deadline = time.time() + timeout
    try:
        await layer_send(
            layer,
            channel_name,
            {
                "type": "ocpp.call",
                "action": action,
                "payload": payload,
                "reply_to": reply_to,
                "deadline": deadline,
            },
        )
    except ChannelLayerDown as exc:
        raise ChannelLayerUnavailable(str(exc)) from None
    try:
        # A live consumer only queues the call before it acknowledges; on a saturated
        # process that still takes a while (CSMS_CALL_ACK_TIMEOUT).
        ack = await asyncio.wait_for(
            layer.receive(reply_to), min(settings.CSMS_CALL_ACK_TIMEOUT, timeout + 1)
        )
    except TimeoutError:
        if CHANNEL_LAYER.down:
            raise ChannelLayerUnavailable() from None
        raise StationOffline("The station's connection did not take the call") from None
    if ack.get("type") == NOT_SENT:
        raise CallNotSent(ack.get("reason", "The station's connection did not send the call"))
    try:
        # The consumer enforces the deadline; the margin covers the hop back.
        message = await asyncio.wait_for(
            layer.receive(reply_to), max(deadline - time.time(), 0) + 2
        )
    except TimeoutError:
        return Outcome(status=TIMEOUT, action=action, request=payload)
    if message.get("type") == NOT_SENT:
        raise CallNotSent(message.get("reason", "The station's connection did not send the call"))
    return Outcome.from_message(message)
