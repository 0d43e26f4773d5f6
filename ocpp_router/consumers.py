"""The OCPP websocket consumer: subprotocol, identity, frames in and out. No ORM here.

Station lifecycle (who may connect, online state) is the connection gate's business and
every action the registered handler's; this module only moves frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import unicodedata
import uuid
import weakref
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings

from csms import logs, metrics
from csms.conf import hot_settings
from csms.outage import is_connection_error
from ocpp_router import dispatch, errors, rpc, validation
from ocpp_router import gate as boot_gate  # the B02 rules; `gate` below is the connection gate
from ocpp_router.extensions import PING, REFUSAL_HEADERS, refusal_close_code
from ocpp_router.layers import ChannelLayerDown, is_layer_error, layer_send
from ocpp_router.outbound import COMPLETED, ERROR, NOT_SENT, TIMEOUT, Outcome
from ocpp_router.registry import HOOKS, REGISTRIES
from ocpp_router.session import Handshake, LogEntry, Session, uuid7

logger = logging.getLogger(__name__)

# Fire-and-forget tasks, referenced until done so they are not garbage-collected mid-flight.
_background: set[asyncio.Future[Any]] = set()


def _spawn(coro: Any) -> None:
    task = asyncio.ensure_future(coro)
    _background.add(task)
    task.add_done_callback(_background.discard)


# A message for another process that could not be sent (the channel layer was down) is sent
# again this often, for at most this long.
RESEND_SECONDS = 2.0
RESEND_FOR_SECONDS = 600.0


async def _send_when_reachable(layer: Any, channel_name: str, message: dict[str, Any]) -> None:
    deadline = time.monotonic() + RESEND_FOR_SECONDS
    while time.monotonic() < deadline:
        await asyncio.sleep(RESEND_SECONDS)
        try:
            await layer_send(layer, channel_name, message)
            return
        except ChannelLayerDown:
            continue


MAX_STATION_ID = 48
# Characters that cannot stand in one path segment once decoded.
FORBIDDEN_ID_CHARACTERS = frozenset("/\\?#")


def station_path(raw_path: bytes | str) -> tuple[str, str] | None:
    """(station id, account) from `/ocpp/<id>[/<account>]` or `/<id>`, percent-decoded."""
    if isinstance(raw_path, bytes):
        raw_path = raw_path.decode("latin-1")
    raw_path = raw_path.split("?", 1)[0]
    segments = [segment for segment in raw_path.split("/") if segment]
    if segments and segments[0] == "ocpp":
        segments = segments[1:]
        if len(segments) == 2:
            return _decode(segments[0]), _decode(segments[1])
    if len(segments) != 1:
        return None
    return _decode(segments[0]), ""


def _decode(segment: str) -> str:
    return unquote(segment, encoding="utf-8", errors="strict")


def station_id_problem(station_id: str) -> str:
    """Why `station_id` cannot be used, or "" if it can."""
    if not station_id:
        return "the station id is empty"
    if len(station_id) > MAX_STATION_ID:
        return f"the station id is longer than {MAX_STATION_ID} characters"
    for char in station_id:
        if char in FORBIDDEN_ID_CHARACTERS or unicodedata.category(char) in (
            "Cc",
            "Cf",
            "Zl",
            "Zp",
        ):
            return "the station id holds a character that cannot stand in a path segment"
    return ""


def negotiate(offered: list[str]) -> str | None:
    """The newest OCPP version we enable that the station offers."""
    offered_versions = {rpc.SUBPROTOCOLS[p] for p in offered if p in rpc.SUBPROTOCOLS}
    for version in settings.CSMS_OCPP_VERSIONS:
        if version in offered_versions:
            return version
    return None


# How long a live consumer takes at most to acknowledge a probe: no acknowledgement means
# the connection's process is gone (a crash leaves stations "online" in the database).
PROBE_ACK_TIMEOUT = 1.0


async def probe(channel_layer: Any, channel_name: str, timeout: float) -> bool:
    """True if the consumer on `channel_name` answers and its station answers a ping.
    Raises ChannelLayerDown when the channel layer cannot be reached."""
    local = LOCAL.get(channel_name)
    if local is not None:
        # A connection of this process: asked directly, with or without the channel layer.
        return await local.alive(timeout)
    reply_to = await channel_layer.new_channel()
    await layer_send(
        channel_layer,
        channel_name,
        {"type": "ocpp.probe", "reply_to": reply_to, "timeout": timeout},
    )
    try:
        await asyncio.wait_for(channel_layer.receive(reply_to), min(PROBE_ACK_TIMEOUT, timeout))
        answer = await asyncio.wait_for(channel_layer.receive(reply_to), timeout + 0.5)
    except TimeoutError:
        return False
    return bool(answer.get("alive"))


@dataclass
class PendingCall:
    action: str
    payload: dict[str, Any]
    reply_to: str | None
    deadline: float
    message_id: str = ""
    log_id: uuid.UUID | None = None
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)
    on_outcome: Any = None  # called in a worker thread with the Outcome (follow-ups only)


@dataclass(frozen=True)
class _SourceFailed:
    """A consumer's message source raised: the consumer ends with that error, as in Channels."""

    error: BaseException


class _Inbox:
    """A consumer's queue of messages: many writers, one reader (its loop).

    asyncio.Queue would do, at about a kilobyte more per connection (its getter and putter
    deques, its Event) for features one reader never uses.
    """

    __slots__ = ("items", "waiter")

    def __init__(self) -> None:
        self.items: deque[Any] = deque()
        self.waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        self.items.append(item)
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> Any:
        while not self.items:
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        return self.items.popleft()


async def _feed(source: Any, inbox: _Inbox) -> None:
    """Put every message `source()` gives into `inbox`, until cancelled or it fails.

    An unreachable channel layer is not a failure of the connection: its station stays
    connected and served, and its channel is read again once the layer is back."""
    while True:
        try:
            inbox.put_nowait(await source())
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if is_layer_error(error):
                await asyncio.sleep(1.0)
                continue
            inbox.put_nowait(_SourceFailed(error))
            return


# The station connections this process holds (for a graceful shutdown to see what is in
# flight: server_runtime.shutdown).
CONNECTED: weakref.WeakSet[OcppConsumer] = weakref.WeakSet()
# The same by channel name: a second connection of a station held by this process reaches
# the first directly, whether the channel layer is up or not.
LOCAL: weakref.WeakValueDictionary[str, OcppConsumer] = weakref.WeakValueDictionary()


# The action label of frames that are no OCPP call at all (csms_ocpp_messages).
INVALID_FRAME = "(invalid frame)"
UNKNOWN_ACTION = "(unknown action)"


def _outcome_label(outcome: Outcome) -> str:
    if outcome.status == COMPLETED:
        return "ok"
    if outcome.status == TIMEOUT:
        return "Timeout"
    return outcome.error_code or "Error"


_taking_calls = True


def stop_taking_calls() -> None:
    """From now on CSMS-initiated calls are answered "not sent" instead of being queued: the
    server is stopping, and the caller sends them on the station's next connection
    (server_runtime.shutdown; commands.services)."""
    global _taking_calls
    _taking_calls = False


def calls_pending() -> int:
    """CSMS-initiated calls awaiting a station's answer or queued behind one."""
    return sum(
        (consumer.in_flight is not None) + len(consumer.outbox) for consumer in list(CONNECTED)
    )


# How often a connection tries to claim its station while others with the same id keep
# claiming it first.
CLAIM_ATTEMPTS = 5


class OcppConsumer(AsyncWebsocketConsumer):
    session: Session | None = None
    groups: list[str] = []
    # This connection's child of csms_stations_connected, while it counts there.
    connected_gauge: Any = None
    # The websocket handshake is complete (a connection still in its handshake has just
    # claimed its station: it counts as alive).
    accepted = False

    # --- the consumer's loop -------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Channels' `AsyncConsumer.__call__` with a cheaper loop, same semantics: frames
        and channel-layer messages are dispatched one at a time, in arrival order.

        Channels waits on both sources with a new task and an `asyncio.wait` for every
        message; here one long-lived task per source feeds one queue (about 0.03 ms less
        server CPU per message in the benchmark's `mix`).
        """
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.base_send = send
        inbox = self.inbox = _Inbox()
        sources = [receive]
        if self.channel_layer is not None:
            self.channel_name = await self.channel_layer.new_channel()
            sources.append(functools.partial(self.channel_layer.receive, self.channel_name))
        feeders = [asyncio.ensure_future(_feed(source, inbox)) for source in sources]
        try:
            while True:
                message = await inbox.get()
                if isinstance(message, _SourceFailed):
                    raise message.error
                await self.dispatch(message)
        except StopConsumer:
            pass
        finally:
            for feeder in feeders:
                feeder.cancel()
            for feeder in feeders:
                with contextlib.suppress(asyncio.CancelledError):
                    await feeder

    # --- message dispatch ----------------------------------------------------------------
    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels' own dispatch runs `close_old_connections` before every message, in its
        # single thread-sensitive executor: one thread hop per frame that every station
        # queues behind. This consumer runs no ORM itself; the handler pool keeps its own
        # connections healthy (ocpp_router.dispatch).
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        # As Channels' own, without its per-connection `close_old_connections` hop.
        await self.disconnect(message["code"])
        raise StopConsumer()

    # --- handshake -------------------------------------------------------------------
    async def connect(self) -> None:
        self.outbox: deque[PendingCall] = deque()
        self.in_flight: PendingCall | None = None
        client = self.scope.get("client") or ("", 0)
        remote = client[0] if client else ""
        try:
            parsed = station_path(self.scope.get("raw_path") or self.scope["path"])
        except UnicodeDecodeError:
            parsed = None
        if parsed is None:
            return await self._refuse(404, "", remote, "the path is not /ocpp/<station id>")
        station_id, account = parsed
        # Every log line of this connection names the station (csms.logs).
        logs.STATION_ID.set(station_id)
        problem = station_id_problem(station_id)
        if problem:
            return await self._refuse(400, station_id, remote, problem)
        version = negotiate(self.scope.get("subprotocols") or [])
        if version is None:
            # OCPP 2.0.1 Part 4 section 3.1.2 / OCTT TC_B_58_CSMS: no common subprotocol,
            # refuse the upgrade.
            return await self._refuse(
                400,
                station_id,
                remote,
                f"no common OCPP subprotocol in {self.scope.get('subprotocols') or []!r}",
            )
        handshake = Handshake(
            station_id=station_id,
            version=version,
            account=account,
            remote_address=remote,
            headers={
                k.decode("latin-1").lower(): v.decode("latin-1")
                for k, v in self.scope.get("headers", [])
            },
            scope=self.scope,
        )
        gate = HOOKS.gate
        if gate is None:
            return await self._refuse(503, station_id, remote, "no connection gate is installed")
        try:
            session = await dispatch.run_in_worker(gate.admit, handshake, retry=True)
        except Exception as error:
            if is_connection_error(error):
                # Logged once as an outage (csms.outage); the station tries again later.
                return await self._refuse(503, station_id, remote, "the database is unreachable")
            logger.exception("Admitting station %r failed", station_id)
            return await self._refuse(500, station_id, remote, "admission failed")
        if session is None:
            return await self._refuse(
                handshake.refusal_status or 403,
                station_id,
                remote,
                handshake.refusal_reason,
                handshake.refusal_retry_after,
            )
        session.channel_name = self.channel_name
        session.connected_at = datetime.now(UTC)
        session.last_seen_recorded = time.monotonic()
        # Several connections with one id may be admitted at once, in this process or in
        # others: each deals with the connection holding the station, then claims it only if
        # that one still holds it (one atomic statement in the database). Exactly one claims;
        # the others see who did and deal with that one in turn.
        for _ in range(CLAIM_ATTEMPTS):
            previous = session.previous_channel
            if previous and previous != self.channel_name:
                refusal = await self._displace(session, previous)
                if refusal is not None:
                    return await self._refuse(refusal[0], station_id, remote, refusal[1])
            try:
                claimed = await dispatch.run_in_worker(gate.connected, session, retry=True)
            except Exception as error:
                if is_connection_error(error):
                    return await self._refuse(503, station_id, remote, "the database is down")
                logger.exception("Connecting station %r failed", station_id)
                return await self._refuse(500, station_id, remote, "admission failed")
            if claimed:
                break
        else:
            return await self._refuse(
                409, station_id, remote, "other connections with this id kept taking it"
            )
        self.session = session
        CONNECTED.add(self)
        LOCAL[self.channel_name] = self
        await self.accept(subprotocol=f"ocpp{version}")
        self.accepted = True
        node = getattr(self.channel_layer, "client_prefix", "") or "local"
        self.connected_gauge = metrics.STATIONS_CONNECTED.labels(version, node)
        self.connected_gauge.inc()
        logger.info(
            "Station %s connected from %s speaking OCPP %s", station_id, remote or "?", version
        )

    async def _displace(self, session: Session, previous: str) -> tuple[int, str] | None:
        """The station's id is held by the connection on `previous`: close that one, or say
        why this one is refused (HTTP status, reason)."""
        station_id = session.station_id
        gate = HOOKS.gate
        assert gate is not None
        if session.extra.get("authenticated"):
            # A second connection that authenticated as the station (Basic auth, client
            # certificate): the station reconnected, its old socket is stale; it goes.
            logger.warning(
                "Station %s connected again and authenticated; its previous connection is closed",
                station_id,
            )
            await self._close_other(previous)
            return None
        # A second connection with the id of a connected station and no authentication
        # (profile 0). OCPP says nothing; taking over blindly is a known hijack (CWE-613).
        # Keep a first connection whose station still answers a ping and refuse this one;
        # else close the first.
        try:
            alive = await probe(self.channel_layer, previous, settings.CSMS_DUPLICATE_PROBE_TIMEOUT)
        except ChannelLayerDown:
            return (
                503,
                "the channel layer is unreachable: the station's connection cannot be checked",
            )
        if alive:
            await dispatch.run_in_worker(gate.duplicate_refused, session)
            return 409, "the station is already connected and answers pings"
        logger.warning(
            "Station %s connected again; its previous connection does not answer and is closed",
            station_id,
        )
        await self._close_other(previous)
        return None

    async def _close_other(self, channel_name: str) -> None:
        """Close the connection on `channel_name` (in this process or another)."""
        close = {"type": "ocpp.close", "code": 1000}
        local = LOCAL.get(channel_name)
        if local is not None:
            local.inbox.put_nowait(close)
            return
        try:
            await layer_send(self.channel_layer, channel_name, close)
        except ChannelLayerDown:
            # Its process is told once the channel layer is back.
            _spawn(_send_when_reachable(self.channel_layer, channel_name, close))

    async def _refuse(
        self, status: int, station_id: str, remote: str, reason: str, retry_after: int = 0
    ) -> None:
        logger.warning(
            "Refused websocket for station %r from %s (HTTP %s): %s",
            station_id,
            remote or "?",
            status,
            reason,
        )
        if retry_after:
            await self.base_send(
                {
                    "type": "websocket.close",
                    "code": refusal_close_code(status),
                    REFUSAL_HEADERS: [(b"retry-after", str(retry_after).encode())],
                }
            )
            return
        await self.close(code=refusal_close_code(status))

    async def disconnect(self, code: int) -> None:
        session = self.session
        if session is None:
            return
        if self.connected_gauge is not None:
            self.connected_gauge.dec()
            self.connected_gauge = None
        if LOCAL.get(self.channel_name) is self:
            del LOCAL[self.channel_name]
        for pending in [*([self.in_flight] if self.in_flight else []), *self.outbox]:
            if pending.timer:
                pending.timer.cancel()
            if pending is not self.in_flight and pending.reply_to and pending.on_outcome is None:
                # Never sent: the caller may send it on the station's next connection.
                with contextlib.suppress(ChannelLayerDown):
                    await layer_send(
                        self.channel_layer,
                        pending.reply_to,
                        {"type": NOT_SENT, "reason": "The station disconnected before its turn"},
                    )
                continue
            await self._reply(
                pending,
                Outcome(
                    status=ERROR,
                    action=pending.action,
                    request=pending.payload,
                    error_description="The station disconnected before answering",
                    message_id=pending.message_id,
                ),
            )
        self.in_flight = None
        self.outbox.clear()
        if HOOKS.gate is not None:
            await dispatch.run_in_worker(HOOKS.gate.disconnected, session, retry=True)
        logger.info("Station %s disconnected (code %s)", session.station_id, code)

    # --- frames from the station -----------------------------------------------------
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        session = self.session
        if session is None:
            return
        raw = text_data if text_data is not None else bytes_data or b""
        self._maybe_seen(session)
        try:
            frame = rpc.parse(raw, session.version)
        except rpc.FrameError as exc:
            self._log_invalid(session, raw, exc)
            if exc.answer:
                await self._send_frame(rpc.error_frame(session.version, exc.message_id, exc.error))
            return
        # Log lines while this frame is handled name its message id (csms.logs).
        token = logs.MESSAGE_ID.set(frame.message_id)
        try:
            if isinstance(frame, rpc.Call):
                await self._on_call(session, frame)
            else:
                await self._on_answer(session, frame)
        finally:
            logs.MESSAGE_ID.reset(token)

    async def _on_call(self, session: Session, call: rpc.Call) -> None:
        kind = rpc.MessageType.SEND if call.send else rpc.MessageType.CALL
        call_log_id = self._log(session, "in", kind, call.message_id, call.action, call.payload)
        answer, ctx = await dispatch.handle_call(session, call)
        metrics.message(
            "in",
            session.version,
            # A station may send any action name: only the schemas' own become labels.
            call.action if call.action in validation.actions(session.version) else UNKNOWN_ACTION,
            answer.code if isinstance(answer, rpc.CallError) else "ok",
        )
        if call.send:
            # OCPP 2.1 SEND is never answered, not even with an error.
            if isinstance(answer, rpc.CallError):
                logger.warning(
                    "SEND %s from station %s refused: %s",
                    call.action,
                    session.station_id,
                    answer.description,
                )
            return
        await self._send_frame(answer, action=call.action, answers=call_log_id)
        for follow_up in ctx.follow_ups:
            await self._enqueue(
                PendingCall(
                    follow_up.action,
                    follow_up.payload,
                    None,
                    time.time() + settings.CSMS_CALL_TIMEOUT,
                    on_outcome=follow_up.on_outcome,
                )
            )

    async def _on_answer(self, session: Session, frame: rpc.CallResult | rpc.CallError) -> None:
        pending = self.in_flight
        if pending is None or frame.message_id != pending.message_id:
            self._log(
                session,
                "in",
                frame.to_frame()[0],
                frame.message_id,
                "",
                frame.payload if isinstance(frame, rpc.CallResult) else frame.details,
                error_code="UnexpectedAnswer" if isinstance(frame, rpc.CallResult) else frame.code,
                error_description="No call of ours is waiting for this answer",
            )
            logger.warning(
                "Station %s answered message %r, which no call of ours awaits",
                session.station_id,
                frame.message_id,
            )
            return
        if pending.timer:
            pending.timer.cancel()
        self.in_flight = None
        if isinstance(frame, rpc.CallError):
            self._log(
                session,
                "in",
                frame.to_frame()[0],
                frame.message_id,
                pending.action,
                frame.details,
                error_code=frame.code,
                error_description=frame.description,
                answers=pending.log_id,
            )
            outcome = Outcome(
                status=ERROR,
                action=pending.action,
                request=pending.payload,
                error_code=frame.code,
                error_description=frame.description,
                error_details=frame.details,
                message_id=frame.message_id,
            )
        else:
            outcome = await self._on_result(session, pending, frame)
        await self._reply(pending, outcome)
        await self._pump()

    async def _on_result(
        self, session: Session, pending: PendingCall, frame: rpc.CallResult
    ) -> Outcome:
        try:
            validation.check(session.version, pending.action, "response", frame.payload)
        except errors.OcppError as exc:
            self._log(
                session,
                "in",
                rpc.MessageType.CALLRESULT,
                frame.message_id,
                pending.action,
                frame.payload,
                error_code=exc.code(session.version),
                error_description=exc.description,
                answers=pending.log_id,
            )
            logger.warning(
                "Station %s answered %s outside the OCPP %s schema: %s",
                session.station_id,
                pending.action,
                session.version,
                exc.description,
            )
            if session.version == rpc.V21:
                await self._send_frame(
                    rpc.CallError(
                        frame.message_id,
                        exc.code(session.version),
                        exc.description,
                        exc.details,
                        result_error=True,
                    ),
                    action=pending.action,
                )
            return Outcome(
                status=ERROR,
                action=pending.action,
                request=pending.payload,
                response=frame.payload,
                error_code=exc.code(session.version),
                error_description=f"The station's answer is invalid: {exc.description}",
                message_id=frame.message_id,
            )
        self._log(
            session,
            "in",
            rpc.MessageType.CALLRESULT,
            frame.message_id,
            pending.action,
            frame.payload,
            answers=pending.log_id,
        )
        await dispatch.run_result_hook(
            session, frame.message_id, pending.action, pending.payload, frame.payload
        )
        return Outcome(
            status=COMPLETED,
            action=pending.action,
            request=pending.payload,
            response=frame.payload,
            message_id=frame.message_id,
        )

    # --- calls to the station ----------------------------------------------------------
    async def ocpp_call(self, message: dict[str, Any]) -> None:
        """A CSMS-initiated call from any process (see `ocpp_router.outbound.call`)."""
        reply_to = message.get("reply_to")
        if reply_to and not _taking_calls:
            with contextlib.suppress(ChannelLayerDown):
                await layer_send(
                    self.channel_layer,
                    reply_to,
                    {"type": NOT_SENT, "reason": "The station's server is stopping"},
                )
            return
        if reply_to:
            try:
                await layer_send(self.channel_layer, reply_to, {"type": "ocpp.call.accepted"})
            except ChannelLayerDown:
                return  # the caller is told the station did not take the call
        await self._enqueue(
            PendingCall(message["action"], message["payload"], reply_to, float(message["deadline"]))
        )

    async def ocpp_close(self, message: dict[str, Any]) -> None:
        """Close this connection (a newer connection took over, or the operator asked)."""
        await self.close(code=int(message.get("code", 1000)))

    async def ocpp_probe(self, message: dict[str, Any]) -> None:
        """Another connection claims this station's id: is this one alive? Ping the station
        and answer `reply_to`; a connection whose station does not answer closes itself."""
        task = asyncio.ensure_future(self._probe(message))
        _background.add(task)
        task.add_done_callback(_background.discard)

    async def _probe(self, message: dict[str, Any]) -> None:
        timeout = float(message.get("timeout", 3.0))
        try:
            await layer_send(self.channel_layer, message["reply_to"], {"type": "ocpp.probe.ack"})
            alive = await self.alive(timeout)
            await layer_send(
                self.channel_layer,
                message["reply_to"],
                {"type": "ocpp.probe.result", "alive": alive},
            )
        except ChannelLayerDown:
            return

    async def alive(self, timeout: float) -> bool:
        """Another connection claims this station's id: is this one alive? Pings the
        station; a connection whose station does not answer closes itself."""
        if self.session is None:
            return False
        if not self.accepted:
            return True  # it claimed the station moments ago and is completing its handshake
        if PING not in (self.scope.get("extensions") or {}):
            # A server without the ping extension: that we answer is all we know.
            return True
        self._pong = asyncio.Event()
        await self.base_send({"type": "websocket.ping"})
        try:
            await asyncio.wait_for(self._pong.wait(), timeout)
            return True
        except TimeoutError:
            pass
        if self.session is not None:
            logger.warning(
                "Station %s did not answer a ping while another connection claims its id",
                self.session.station_id,
            )
            await self.close(code=1000)
        return False

    async def websocket_pong(self, message: dict[str, Any]) -> None:
        pong = getattr(self, "_pong", None)
        if pong is not None:
            pong.set()

    async def _enqueue(self, pending: PendingCall) -> None:
        session = self.session
        if session is None:
            return
        refusal = self._refusal(session, pending)
        if refusal is not None:
            await self._reply(
                pending,
                Outcome(
                    status=ERROR,
                    action=pending.action,
                    request=pending.payload,
                    error_code=refusal.code(session.version),
                    error_description=refusal.description,
                    error_details=refusal.details,
                ),
            )
            return
        self.outbox.append(pending)
        await self._pump()

    def _refusal(self, session: Session, pending: PendingCall) -> errors.OcppError | None:
        if pending.action not in REGISTRIES[session.version].sendable:
            return errors.NotSupported(
                f"{pending.action} is not an action the CSMS sends on OCPP {session.version}"
            )
        try:
            validation.check(session.version, pending.action, "request", pending.payload)
        except errors.OcppError as exc:
            return exc
        return boot_gate.send_refusal(session, pending.action)

    async def _pump(self) -> None:
        session = self.session
        while session is not None and self.in_flight is None and self.outbox:
            pending = self.outbox.popleft()
            remaining = pending.deadline - time.time()
            if remaining <= 0:
                await self._reply(
                    pending, Outcome(status=TIMEOUT, action=pending.action, request=pending.payload)
                )
                continue
            pending.message_id = str(uuid.uuid4())
            call = rpc.Call(pending.message_id, pending.action, pending.payload)
            pending.log_id = await self._send_frame(call, action=pending.action)
            boot_gate.sent(session, pending.action, pending.payload)
            self.in_flight = pending
            pending.timer = asyncio.get_running_loop().call_later(
                remaining, self._schedule_expiry, pending
            )

    def _schedule_expiry(self, pending: PendingCall) -> None:
        task = asyncio.ensure_future(self._expire(pending))
        _background.add(task)
        task.add_done_callback(_background.discard)

    async def _expire(self, pending: PendingCall) -> None:
        if self.in_flight is not pending:
            return
        self.in_flight = None
        logger.warning(
            "Station %s did not answer %s (%s) in time",
            self.session.station_id if self.session else "?",
            pending.action,
            pending.message_id,
        )
        await self._reply(
            pending,
            Outcome(
                status=TIMEOUT,
                action=pending.action,
                request=pending.payload,
                message_id=pending.message_id,
            ),
        )
        await self._pump()

    async def _reply(self, pending: PendingCall, outcome: Outcome) -> None:
        if self.session is not None:
            metrics.message("out", self.session.version, pending.action, _outcome_label(outcome))
        if pending.on_outcome is not None:
            try:
                await dispatch.run_in_worker(pending.on_outcome, outcome)
            except Exception:
                logger.exception("Recording the outcome of %s failed", pending.action)
        if pending.reply_to:
            with contextlib.suppress(ChannelLayerDown):
                # The caller cannot be told; it gives up at its own timeout.
                await layer_send(self.channel_layer, pending.reply_to, outcome.as_message())
        elif outcome.status != COMPLETED:
            logger.warning(
                "%s to station %s ended %s: %s",
                pending.action,
                self.session.station_id if self.session else "?",
                outcome.status,
                outcome.error_description or outcome.error_code,
            )

    # --- output and message log ---------------------------------------------------------
    async def _send_frame(
        self, frame: rpc.Frame, *, action: str = "", answers: uuid.UUID | None = None
    ) -> uuid.UUID | None:
        await self.send(text_data=rpc.dumps(frame))
        session = self.session
        if session is None:
            return None
        if isinstance(frame, rpc.CallError):
            return self._log(
                session,
                "out",
                frame.to_frame()[0],
                frame.message_id,
                action,
                frame.details,
                error_code=frame.code,
                error_description=frame.description,
                answers=answers,
            )
        return self._log(
            session,
            "out",
            frame.to_frame()[0],
            frame.message_id,
            action,
            frame.payload,
            answers=answers,
        )

    def _log(
        self,
        session: Session,
        direction: str,
        message_type: int,
        message_id: str,
        action: str,
        payload: Any,
        *,
        error_code: str = "",
        error_description: str = "",
        answers: uuid.UUID | None = None,
    ) -> uuid.UUID | None:
        sinks = [sink for sink in HOOKS.sinks if getattr(sink, "enabled", True)]
        if not sinks:
            return None
        entry = LogEntry(
            id=uuid7(),
            station_pk=session.station_pk,
            direction=direction,
            message_type=int(message_type),
            message_id=message_id,
            action=action,
            payload=payload,
            timestamp=datetime.now(UTC),
            error_code=error_code,
            error_description=error_description,
            answers=answers,
        )
        for sink in sinks:
            sink.record(entry)
        return entry.id

    def _log_invalid(self, session: Session, raw: str | bytes, exc: rpc.FrameError) -> None:
        metrics.message("in", session.version, INVALID_FRAME, exc.error.code(session.version))
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        self._log(
            session,
            "in",
            0,
            exc.message_id,
            "",
            {"raw": text[:2000]},
            error_code=exc.error.code(session.version),
            error_description=exc.error.description,
        )

    def _maybe_seen(self, session: Session) -> None:
        now = time.monotonic()
        if now - session.last_seen_recorded < hot_settings.CSMS_LAST_SEEN_INTERVAL:
            return
        session.last_seen_recorded = now
        if HOOKS.gate is not None:
            task = asyncio.ensure_future(
                dispatch.run_in_worker(HOOKS.gate.seen, session, retry=True)
            )
            _background.add(task)
            task.add_done_callback(_background.discard)
