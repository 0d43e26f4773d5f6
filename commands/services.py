"""Commands: every CSMS-initiated OCPP call, sent one way and recorded as a `Command`.

How to send a call to a station (the only way; nothing else calls `ocpp_router.outbound`):

    from commands.services import StationNotConnected, command_send, command_send_async

    outcome = command_send(                      # sync code: services, admin, manage.py
        identity="CP-1", action="Reset", payload={"type": "OnIdle"}, origin="firmware"
    )
    outcome = await command_send_async(...)      # async code, same keywords
    if outcome.ok: outcome.response              # else outcome.status / error_code

- `origin` names what sent it: "api", "admin", "manage.py", or the internal flow
  ("smartcharging", "transactions", "firmware", ...). `user` is who, where a person did;
  left out, it is the authenticated user of the HTTP request being served (the admin's or
  the API's, see `commands.middleware`), else none.
- It raises `StationNotConnected` for an unknown or offline station (nothing recorded); any
  other end (answer, CALLERROR, timeout, refusal by the connection) is the returned
  `ocpp_router.outbound.Outcome`, also written to the command record.
- Requests larger than the station announced (ItemsPerMessage/BytesPerMessage) are sent in
  parts and the answers merged (`commands.splitting`).
- A module keeping the old `station_call` shape binds its origin once:
  `station_call = command_sender("transactions")`.
- From an OCPP handler, a call that must follow our answer: `command_after_reply(ctx, ...)`.

The message API checks what it is given first (`command_create*`: unknown station 404,
offline or unsendable 409, payload outside the schema 400), stores the command, then sends
and awaits it (`command_execute`, a coroutine: the wait never holds a worker thread, let
alone Django's single thread-sensitive executor). Database work from async code runs in
threads that are not thread-sensitive. A finished command with a callback URL is stored with
its callback pending, then POSTed there (`callback_deliver`, header X-CSMS-Delivery); failed
attempts are retried with tenacity's back-off by the `commands.jobs.callbacks_retry` job, in
this or any process, after a restart too; every attempt is recorded. A command a stopped
process was still awaiting is reported failed by the node sweep (`command_sweep_orphaned`).
A call the station's connection did not send (its server stopping: a rolling restart) is
sent on the station's next connection, within the call's timeout (`_Route`).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx
from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import connection, transaction

from commands import conveniences, splitting
from commands.choices import CallbackStatus, CommandStatus
from commands.middleware import request_user
from commands.models import CallbackDelivery, Command
from csms import egress, metrics, retry
from csms.db import db
from csms.retry import Policy
from devicemodel.selectors import message_limits
from ocpp_router import errors, outbound, validation
from ocpp_router.datetimes import utcnow
from ocpp_router.registry import REGISTRIES
from ocpp_router.session import CallContext
from server_runtime.nodes import serving_node
from stations.models import ChargingStation
from stations.redaction import redact
from stations.services import StationNotConnected as StationNotConnected

logger = logging.getLogger(__name__)

OFFLINE = "StationOffline"
# The channel layer (Redis) is down: no call reaches a station until it is back.
UNAVAILABLE = "ChannelLayerUnavailable"
NOT_SENDABLE = "NotSendable"
# A single item larger than the station's BytesPerMessage (commands.splitting).
TOO_LARGE = "RequestTooLarge"
# A command whose serving process stopped before the station answered.
SERVER_STOPPED = "ServerStopped"
DELIVERY_HEADER = "X-CSMS-Delivery"


class CommandRefused(Exception):
    """The command cannot be sent; `status` is the HTTP status to answer."""

    status = 400

    def __init__(self, message: str, code: str = "", **details: Any):
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = details


class StationUnknown(CommandRefused):
    status = 404


class CommandConflict(CommandRefused):
    """Offline station, or an action its OCPP version does not have or we do not send."""

    status = 409


class PayloadInvalid(CommandRefused):
    status = 400


def sendable_actions() -> dict[str, list[str]]:
    """Per OCPP version, the actions the CSMS sends (read now: apps add to the registry)."""
    return {version: sorted(registry.sendable) for version, registry in REGISTRIES.items()}


def _station(identity: str) -> ChargingStation:
    station = ChargingStation.objects.filter(identity=identity).first()
    if station is None:
        raise StationUnknown(f"Unknown station {identity!r}")
    return station


def _check(station: ChargingStation, action: str, payload: Any) -> None:
    """Raise unless `action` with `payload` can go to `station` now."""
    if not station.is_online or not station.channel_name:
        raise CommandConflict(f"Station {station.identity!r} is offline", code=OFFLINE)
    version = station.protocol
    if action not in REGISTRIES[version].sendable:
        raise CommandConflict(
            f"{action} is not an action the CSMS sends on OCPP {version}, the version "
            f"station {station.identity!r} is connected with",
            code=NOT_SENDABLE,
            version=version,
        )
    _validate(version, action, payload)
    # What the station's transport cannot carry (an OCPP-S station: what its version's
    # ChargePointService lacks), refused before anything is stored.
    refusal = outbound.refusal(station.channel_name, action, payload)
    if refusal:
        raise CommandConflict(
            f"{action} cannot be sent to station {station.identity!r}: {refusal}",
            code=NOT_SENDABLE,
            version=version,
        )
    check = REGISTRIES[version].request_checks.get(action)
    if check is not None:
        try:
            check(station.pk, payload)
        except ValueError as exc:
            raise PayloadInvalid(str(exc), path="$", version=version) from None


def _validate(version: str, action: str, payload: Any) -> None:
    if not isinstance(payload, dict):
        raise PayloadInvalid("The body must be a JSON object: the OCPP request payload", path="$")
    try:
        validation.check(version, action, "request", payload)
    except errors.OcppError as exc:
        raise PayloadInvalid(
            f"Invalid {action} payload for OCPP {version}: {exc.description}",
            path=exc.details.get("path", "$"),
            version=version,
        ) from None


def command_create(
    *,
    identity: str,
    action: str,
    payload: Any,
    user: Any,
    callback_url: str = "",
    origin: str = "api",
) -> Command:
    """Check and store a command for `identity` (raises CommandRefused); send it with
    `command_execute`."""
    station = _station(identity)
    _check(station, action, payload)
    return _store(station, action, payload, user, callback_url, origin)


def command_create_operation(
    *,
    identity: str,
    operation: str,
    params: dict[str, Any],
    user: Any,
    callback_url: str = "",
    origin: str = "api",
) -> Command:
    """Check and store a version-agnostic operation, as the action of the station's version."""
    station = _station(identity)
    if not station.is_online or not station.channel_name:
        raise CommandConflict(f"Station {identity!r} is offline", code=OFFLINE)
    try:
        action, payload = conveniences.build(operation, station.protocol, params)
    except conveniences.OperationInvalid as exc:
        raise PayloadInvalid(exc.message, field=exc.field, version=station.protocol) from None
    _check(station, action, payload)
    return _store(station, action, payload, user, callback_url, origin)


def _user(user: Any) -> Any:
    """`user` if authenticated; when None, the authenticated user of the request served."""
    if user is None:
        user = request_user()
    return user if user is not None and user.is_authenticated else None


def _store(
    station: ChargingStation,
    action: str,
    payload: dict,
    user: Any,
    callback_url: str,
    origin: str,
    batch: uuid.UUID | None = None,
) -> Command:
    # A station password is never stored in plain text (OCPP 2.0.1 A01): not in the
    # record; the instance keeps the request as it is sent.
    command = Command.objects.create(
        station=station,
        action=action,
        protocol=station.protocol,
        request=redact(action, payload),
        created_by=_user(user),
        origin=origin,
        callback_url=callback_url,
        node=serving_node(),
        batch=batch,
        created=utcnow(),
    )
    command.request = payload
    return command


def command_create_many(
    *,
    stations: Iterable[ChargingStation],
    action: str,
    payloads: dict[str, Any],
    user: Any,
    callback_url: str = "",
    origin: str = "api",
    batch: uuid.UUID | None = None,
) -> list[Command]:
    """One command per station; `payloads` maps an OCPP version (or "*") to its payload.

    Every payload is checked first (a bad one refuses the whole request); a station that is
    offline or whose version lacks the action gets a command record that failed at once.
    The commands share one `batch` (a new one unless given): the records of one bulk send.
    """
    stations = list(stations)
    batch = batch or uuid.uuid4()
    for version, payload in payloads.items():
        if version != "*" and version not in REGISTRIES:
            raise PayloadInvalid(f"Unknown OCPP version {version!r}", field="payloads")
        if version != "*" and action in REGISTRIES[version].sendable:
            _validate(version, action, payload)
    commands = []
    now = utcnow()
    with transaction.atomic():
        for station in stations:
            payload = payloads.get(station.protocol, payloads.get("*"))
            try:
                if payload is None:
                    raise CommandConflict(
                        f"No payload given for OCPP {station.protocol}", code=NOT_SENDABLE
                    )
                _check(station, action, payload)
            except CommandConflict as exc:
                commands.append(
                    Command.objects.create(
                        station=station,
                        action=action,
                        protocol=station.protocol,
                        request=redact(action, payload) if isinstance(payload, dict) else {},
                        status=CommandStatus.ERROR,
                        error={
                            "code": exc.code,
                            "description": exc.message,
                            "details": exc.details,
                        },
                        created_by=_user(user),
                        origin=origin,
                        callback_url=callback_url,
                        callback_status=_callback_status(callback_url),
                        callback_next_at=_claimed() if callback_url else None,
                        batch=batch,
                        created=now,
                        completed=now,
                    )
                )
                metrics.COMMANDS.labels(action, CommandStatus.ERROR).inc()
                continue
            commands.append(_store(station, action, payload, user, callback_url, origin, batch))
    return commands


def _result_fields(
    action: str, outcome: outbound.Outcome | None, error: dict | None
) -> dict[str, Any]:
    """The columns of a finished command: the station's answer (passwords redacted), its
    CALLERROR, our timeout, or `error` (ours) when there is no outcome."""
    fields: dict[str, Any] = {"response": None, "error": None, "completed": utcnow()}
    if outcome is None:
        fields.update(status=CommandStatus.ERROR, error=error)
    elif outcome.status == outbound.COMPLETED:
        fields.update(status=CommandStatus.COMPLETED, response=redact(action, outcome.response))
    elif outcome.status == outbound.TIMEOUT:
        fields.update(
            status=CommandStatus.TIMEOUT,
            error={
                "code": "Timeout",
                "description": "The station did not answer in time",
                "details": {},
            },
        )
    else:
        fields.update(
            status=CommandStatus.ERROR,
            response=redact(action, outcome.response),
            error={
                "code": outcome.error_code,
                "description": outcome.error_description,
                "details": outcome.error_details,
            },
        )
    return fields


def _callback_status(callback_url: str) -> str:
    return CallbackStatus.PENDING if callback_url else CallbackStatus.NONE


def _claimed() -> datetime:
    """The due time of a delivery about to be attempted here: due for the retry job only if
    this process stops before the attempt is recorded."""
    return utcnow() + timedelta(seconds=settings.CSMS_DELIVERY_LEASE)


def _finish(command: Command, outcome: outbound.Outcome | None, error: dict | None) -> Command:
    for name, value in _result_fields(command.action, outcome, error).items():
        setattr(command, name, value)
    fields = ["status", "response", "error", "completed"]
    if command.callback_url and command.callback_status == CallbackStatus.NONE:
        # Stored with the result, before the first attempt: a restart resumes it.
        command.callback_status, command.callback_next_at = CallbackStatus.PENDING, _claimed()
        fields += ["callback_status", "callback_next_at"]
    command.save(update_fields=fields)
    metrics.COMMANDS.labels(command.action, command.status).inc()
    return command


def command_finish(*, command_id: int, outcome: outbound.Outcome | None, error: dict | None = None):
    """Record how a command ended: the station's answer, its CALLERROR, or our timeout."""
    command = Command.objects.select_related("station", "created_by").get(pk=command_id)
    return _finish(command, outcome, error)


class ChannelLayerUnavailable(StationNotConnected):
    """The station may well be connected, but the channel layer that reaches it is down."""


def _offline(exc: Exception) -> dict[str, Any]:
    code = UNAVAILABLE if isinstance(exc, ChannelLayerUnavailable) else OFFLINE
    return {"code": code, "description": str(exc), "details": {}}


# --- the one way to send ------------------------------------------------------------------

Parts = list[dict[str, Any]] | outbound.Outcome


def _connected(identity: str) -> ChargingStation:
    station = (
        ChargingStation.objects.filter(identity=identity)
        .only("pk", "identity", "protocol", "is_online", "channel_name", "registration_status")
        .first()
    )
    if station is None:
        raise StationNotConnected(f"Unknown station {identity!r}")
    if not station.is_online or not station.channel_name:
        raise StationNotConnected(f"Station {identity!r} is not connected")
    return station


def _parts(station: ChargingStation, action: str, request: Any) -> Parts:
    """The requests `request` goes out as, to fit the limits the station announced
    (commands.splitting); or the error outcome when one item alone is too large."""
    spec = splitting.splittable(station.protocol, action)
    if spec is None or not isinstance(request, dict):
        return [request]
    max_items, max_bytes = message_limits(
        station_pk=station.pk, version=station.protocol, action=action
    )
    try:
        return splitting.split(action, request, spec, max_items=max_items, max_bytes=max_bytes)
    except splitting.TooLarge as exc:
        return outbound.Outcome(
            status=outbound.ERROR,
            action=action,
            request=request,
            error_code=TOO_LARGE,
            error_description=str(exc),
        )


def _online_channel(identity: str) -> str:
    channel = (
        ChargingStation.objects.filter(identity=identity, is_online=True)
        .values_list("channel_name", flat=True)
        .first()
    )
    return channel or ""


class _Route:
    """Where a command's calls go: the station's connection; followed to its next one when a
    connection did not send a call (its server stopping, a rolling restart), so that such a
    call is not lost but sent once the station has reconnected, within the call's timeout.
    Only calls the station never received are sent again."""

    def __init__(
        self, identity: str, channel_name: str, recipient: outbound.Recipient | None = None
    ) -> None:
        self.identity = identity
        self.channel_name = channel_name
        self.recipient = recipient  # for an OCPP-S station (its channel names its address)

    async def call(
        self, action: str, payload: dict[str, Any], timeout: float | None
    ) -> outbound.Outcome:
        deadline = time.monotonic() + (settings.CSMS_CALL_TIMEOUT if timeout is None else timeout)
        while True:
            try:
                return await outbound.call(
                    self.channel_name,
                    action,
                    payload,
                    timeout=max(deadline - time.monotonic(), 0.1),
                    recipient=self.recipient,
                )
            except outbound.CallNotSent as exc:
                self.channel_name = await self._next_connection(str(exc), deadline)

    async def _next_connection(self, reason: str, deadline: float) -> str:
        while time.monotonic() < deadline:
            channel = await db(_online_channel)(self.identity)
            if channel and channel != self.channel_name:
                logger.info("Station %s reconnected: sending the call again there", self.identity)
                return channel
            await asyncio.sleep(0.2)
        raise outbound.StationOffline(f"{reason}; the station did not connect again in time")


Route = tuple[str, outbound.Recipient]


def _route(station: ChargingStation) -> Route:
    """Where a call to `station` goes: its channel, and the station (for OCPP-S)."""
    return station.channel_name, outbound.Recipient(
        station_pk=station.pk,
        identity=station.identity,
        registration=station.registration_status,
    )


async def _deliver(
    command: Command, route: Route, parts: Parts, timeout: float | None
) -> outbound.Outcome:
    """Send the command's call in its parts, one after the other; the answers merged into
    one outcome. Raises StationNotConnected when no live connection takes it."""
    if isinstance(parts, outbound.Outcome):
        return parts
    identity, action, request = command.station.identity, command.action, command.request
    channel_name, recipient = route
    sender = _Route(identity, channel_name, recipient)
    try:
        if len(parts) == 1:
            return await sender.call(action, parts[0], timeout)
        spec = splitting.splittable(command.protocol, action)
        assert spec is not None
        answers = []
        for index, part in enumerate(parts):
            if action == "GetReport":
                # Each part is a report of its own: requestId, requestId + 1, ...
                part = {**part, "requestId": request["requestId"] + index}
            outcome = await sender.call(action, part, timeout)
            if not outcome.ok:
                outcome.request = request
                outcome.error_description = (
                    f"part {index + 1} of {len(parts)}: {outcome.error_description}"
                ).strip()
                if answers:
                    outcome.response = splitting.merge(spec, answers)
                return outcome
            answers.append(outcome.response or {})
    except outbound.ChannelLayerUnavailable as exc:
        raise ChannelLayerUnavailable(f"Station {identity!r} cannot be reached: {exc}") from None
    except outbound.StationOffline as exc:
        raise StationNotConnected(f"Station {identity!r} is not connected: {exc}") from None
    logger.info(
        "%s to station %s sent in %d parts to fit its ItemsPerMessage/BytesPerMessage",
        action,
        identity,
        len(parts),
    )
    return outbound.Outcome(
        status=outbound.COMPLETED,
        action=action,
        request=request,
        response=splitting.merge(spec, answers),
        message_id=outcome.message_id,
    )


def _prepare(
    *, identity: str, action: str, payload: dict[str, Any], origin: str, user: Any
) -> tuple[Command, Route, Parts]:
    station = _connected(identity)
    command = _store(station, action, payload, user, "", origin)
    return command, _route(station), _parts(station, action, payload)


def command_send(
    *,
    identity: str,
    action: str,
    payload: dict[str, Any],
    origin: str,
    user: Any = None,
    timeout: float | None = None,
) -> outbound.Outcome:
    """Send `action` to a connected station, wait for its answer, record both as a Command.

    From synchronous code (services, the admin, management commands); see the module
    docstring. Raises StationNotConnected when the station is unknown or offline.
    """
    command, route, parts = _prepare(
        identity=identity, action=action, payload=payload, origin=origin, user=user
    )
    try:
        outcome = async_to_sync(_deliver)(command, route, parts, timeout)
    except StationNotConnected as exc:
        _finish(command, None, _offline(exc))
        raise
    _finish(command, outcome, None)
    return outcome


async def command_send_async(
    *,
    identity: str,
    action: str,
    payload: dict[str, Any],
    origin: str,
    user: Any = None,
    timeout: float | None = None,
) -> outbound.Outcome:
    """`command_send` for async code."""
    command, route, parts = await db(_prepare)(
        identity=identity, action=action, payload=payload, origin=origin, user=user
    )
    try:
        outcome = await _deliver(command, route, parts, timeout)
    except StationNotConnected as exc:
        await db(_finish)(command, None, _offline(exc))
        raise
    await db(_finish)(command, outcome, None)
    return outcome


class Sender(Protocol):
    def __call__(
        self,
        *,
        identity: str,
        action: str,
        payload: dict[str, Any],
        timeout: float | None = None,
    ) -> outbound.Outcome: ...


def command_sender(origin: str) -> Sender:
    """`command_send` with its origin bound, for a module that sends many calls."""

    def send(
        *, identity: str, action: str, payload: dict[str, Any], timeout: float | None = None
    ) -> outbound.Outcome:
        return command_send(
            identity=identity, action=action, payload=payload, origin=origin, timeout=timeout
        )

    return send


def command_after_reply(
    ctx: CallContext,
    *,
    action: str,
    payload: dict[str, Any],
    origin: str,
    on_outcome: Callable[[outbound.Outcome], None] | None = None,
) -> None:
    """From an OCPP handler: send `action` to the calling station once our answer is out
    (`CallContext.send_after_reply`), recorded as a Command when it ends: one write, after
    the answer, so the message path pays nothing before it. `on_outcome(outcome)` runs
    after that in a worker thread."""
    station_pk, version, created = ctx.station_pk, ctx.version, utcnow()

    def recorded(outcome: outbound.Outcome) -> None:
        try:
            fields = _result_fields(action, outcome, None)
            Command.objects.create(
                station_id=station_pk,
                action=action,
                protocol=version,
                request=redact(action, payload),
                origin=origin,
                created=created,
                **fields,
            )
            metrics.COMMANDS.labels(action, fields["status"]).inc()
        except Exception:
            logger.exception("Recording %s to station %s failed", action, station_pk)
        if on_outcome is not None:
            on_outcome(outcome)

    ctx.send_after_reply(action, payload, on_outcome=recorded)


def _route_and_parts(command: Command) -> tuple[Route, Parts]:
    station = _connected(command.station.identity)
    return _route(station), _parts(station, command.action, command.request)


async def command_execute(command: Command, *, timeout: float | None = None) -> Command:
    """Send a stored command, await the station's answer, record it; then the callback."""
    try:
        route, parts = await db(_route_and_parts)(command)
        outcome = await _deliver(command, route, parts, timeout)
    except StationNotConnected as exc:
        finished = await db(command_finish)(
            command_id=command.pk, outcome=None, error=_offline(exc)
        )
    else:
        finished = await db(command_finish)(command_id=command.pk, outcome=outcome)
    if finished.callback_url:
        spawn(callback_deliver(finished.pk))
    return finished


async def command_execute_many(
    commands: list[Command], *, timeout: float | None = None
) -> list[Command]:
    """Send commands concurrently (bounded); the consumer keeps one call in flight per station."""
    limit = asyncio.Semaphore(settings.CSMS_FANOUT_CONCURRENCY)

    async def one(command: Command) -> Command:
        if command.status != CommandStatus.PENDING:
            if command.callback_url:
                spawn(callback_deliver(command.pk))
            return command
        async with limit:
            return await command_execute(command, timeout=timeout)

    return list(await asyncio.gather(*(one(command) for command in commands)))


def command_record(command: Command) -> dict[str, Any]:
    """The API's view of `command`; a command not yet reloaded still holds the request as
    sent, so its station passwords are redacted here too."""
    from commands.api.serializers import CommandSerializer

    data = CommandSerializer(command).data
    data["request"] = redact(command.action, data["request"])
    return data


def _load(command_id: int) -> Command:
    return Command.objects.select_related("station", "created_by").get(pk=command_id)


def callback_policy() -> Policy:
    return Policy(
        attempts=settings.CSMS_CALLBACK_ATTEMPTS,
        base=settings.CSMS_CALLBACK_BACKOFF,
        maximum=settings.CSMS_CALLBACK_BACKOFF_MAX,
    )


def callback_attempt_record(*, command_id: int, status_code: int | None, error: str) -> Command:
    """Log one callback attempt; a failed one is due again after the policy's back-off, or
    the callback ends failed (with the reason) when out of attempts."""
    now = utcnow()
    with transaction.atomic():
        command = Command.objects.select_for_update().get(pk=command_id)
        command.callback_attempts += 1
        CallbackDelivery.objects.create(
            command_id=command_id,
            attempt=command.callback_attempts,
            at=now,
            status_code=status_code,
            error=error[:255],
            delivered=not error,
        )
        command.callback_error = error[:255]
        delay = None if not error else callback_policy().next_delay(command.callback_attempts)
        if not error:
            command.callback_status, command.callback_next_at = CallbackStatus.DELIVERED, None
        elif delay is None:
            command.callback_status, command.callback_next_at = CallbackStatus.FAILED, None
            metrics.WEBHOOK_FAILURES.labels("callback", "true").inc()
            logger.warning(
                "Callback of command %s to %s failed after %s attempts: %s",
                command_id,
                command.callback_url,
                command.callback_attempts,
                error,
            )
        else:
            metrics.WEBHOOK_FAILURES.labels("callback", "false").inc()
            # Retried here after `delay`; by the retry job if this process stops first.
            command.callback_next_at = now + timedelta(seconds=delay + settings.CSMS_DELIVERY_LEASE)
        command.save(
            update_fields=[
                "callback_attempts",
                "callback_error",
                "callback_status",
                "callback_next_at",
            ]
        )
    return command


def callbacks_claim(*, limit: int = 100) -> list[int]:
    """Pending callbacks that are due, claimed for CSMS_DELIVERY_LEASE seconds (SKIP LOCKED:
    several processes claim different ones): those whose attempt failed, and those a process
    that stopped left behind."""
    now = utcnow()
    with transaction.atomic():
        due = Command.objects.filter(
            callback_status=CallbackStatus.PENDING, callback_next_at__lte=now
        ).order_by("callback_next_at")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:limit])
        Command.objects.filter(pk__in=ids).update(
            callback_next_at=now + timedelta(seconds=settings.CSMS_DELIVERY_LEASE)
        )
    return ids


async def callback_deliver(command_id: int) -> bool:
    """POST the finished command to its callback URL until a 2xx answer or out of attempts
    (retried with `callback_policy`); whether it was delivered.

    The command was stored with its callback pending before this runs (`_finish`); what a
    stopped process left is resumed by the `commands.jobs.callbacks_retry` job. The receiver
    deduplicates on `X-CSMS-Delivery` (delivery is at least once)."""
    command = await db(_load)(command_id)
    if command.callback_status != CallbackStatus.PENDING:
        return command.callback_status == CallbackStatus.DELIVERED
    retrying = callback_policy().retrying(attempts_made=command.callback_attempts)
    return await retrying(_callback_attempt, command) == retry.DELIVERED


async def _callback_attempt(command: Command) -> str:
    from rest_framework.renderers import JSONRenderer

    command_id = command.pk
    body = JSONRenderer().render(command_record(command))
    status_code, error = None, ""
    try:
        async with egress.async_client(timeout=settings.CSMS_CALLBACK_TIMEOUT) as client:
            answer = await client.post(
                command.callback_url,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    DELIVERY_HEADER: callback_delivery_id(command_id),
                },
            )
        status_code = answer.status_code
        if not answer.is_success:
            error = f"HTTP {status_code}"
    except httpx.HTTPError as exc:
        error = f"{exc.__class__.__name__}: {exc}" if str(exc) else exc.__class__.__name__
    recorded = await db(callback_attempt_record)(
        command_id=command_id, status_code=status_code, error=error
    )
    if recorded.callback_status == CallbackStatus.PENDING:
        return retry.RETRY
    return retry.DELIVERED if recorded.callback_status == CallbackStatus.DELIVERED else retry.FAILED


def callback_delivery_id(command_id: int) -> str:
    """The X-CSMS-Delivery value of a command's callback: the same on every attempt."""
    return f"command-{command_id}"


def command_sweep_orphaned(*, live_channel_prefixes: list[str], before: datetime) -> int:
    """Commands still awaiting the station's answer in a serving process that is gone (not
    among the live nodes, created before `before`), or older than any call may wait, are
    reported failed; their callback, if any, is then delivered."""
    from server_runtime.nodes import channel_prefix

    now = utcnow()
    longest = max(settings.CSMS_CALL_TIMEOUT, settings.CSMS_API_MAX_CALL_TIMEOUT)
    pending = Command.objects.filter(status=CommandStatus.PENDING)
    orphaned = pending.filter(created__lt=before).exclude(node="").values_list("pk", "node")
    ids = [pk for pk, node in orphaned if channel_prefix(node) not in live_channel_prefixes]
    ids += list(
        pending.filter(created__lt=now - timedelta(seconds=longest + 60)).values_list(
            "pk", flat=True
        )
    )
    if not ids:
        return 0
    error = {
        "code": SERVER_STOPPED,
        "description": "The server process awaiting the station's answer stopped",
        "details": {},
    }
    marked = pending.filter(pk__in=ids).update(
        status=CommandStatus.ERROR, error=error, completed=now
    )
    Command.objects.filter(pk__in=ids, callback_status=CallbackStatus.NONE).exclude(
        callback_url=""
    ).update(callback_status=CallbackStatus.PENDING, callback_next_at=now)
    return marked


_background: set[asyncio.Task] = set()


def spawn(coro: Coroutine[Any, Any, Any]) -> asyncio.Task:
    """Run `coro` on the running loop after the request returns, keeping a reference."""
    task = asyncio.get_running_loop().create_task(coro)
    _background.add(task)
    task.add_done_callback(_done)
    return task


def _done(task: asyncio.Task) -> None:
    _background.discard(task)
    if not task.cancelled() and task.exception() is not None:
        logger.error("Background command work failed", exc_info=task.exception())
