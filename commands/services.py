"""Commands: CSMS-initiated OCPP calls sent through the API, their records and callbacks.

A command is checked and stored (`command_create*`), then sent and awaited
(`command_execute`, a coroutine: the wait never holds a worker thread, let alone Django's
single thread-sensitive executor). Database work runs in threads that are not
thread-sensitive. A finished command with a callback URL is POSTed there
(`callback_deliver`), retried with exponential back-off, every attempt recorded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable
from typing import Any

import httpx
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, transaction

from commands import conveniences, splitting
from commands.choices import CommandStatus
from commands.models import CallbackDelivery, Command
from devicemodel.selectors import message_limits
from ocpp_router import errors, outbound, validation
from ocpp_router.datetimes import utcnow
from ocpp_router.registry import REGISTRIES
from stations.models import ChargingStation
from stations.services import StationNotConnected, station_call_async

logger = logging.getLogger(__name__)

OFFLINE = "StationOffline"
NOT_SENDABLE = "NotSendable"
# A single item larger than the station's BytesPerMessage (commands.splitting).
TOO_LARGE = "RequestTooLarge"


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


def db(func):
    """Run ORM work from async code in a thread that is not Django's thread-sensitive one.

    Like Channels' `database_sync_to_async`, it drops expired or broken connections before
    and after (the pool threads outlive requests, so nothing else would).
    """

    def run(*args, **kwargs):
        close_old_connections()
        try:
            return func(*args, **kwargs)
        finally:
            close_old_connections()

    return sync_to_async(run, thread_sensitive=False)


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
    *, identity: str, action: str, payload: Any, user: Any, callback_url: str = ""
) -> Command:
    """Check and store a command for `identity` (raises CommandRefused)."""
    station = _station(identity)
    _check(station, action, payload)
    return _store(station, action, payload, user, callback_url)


def command_create_operation(
    *, identity: str, operation: str, params: dict[str, Any], user: Any, callback_url: str = ""
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
    return _store(station, action, payload, user, callback_url)


def _store(
    station: ChargingStation, action: str, payload: dict, user: Any, callback_url: str
) -> Command:
    return Command.objects.create(
        station=station,
        action=action,
        protocol=station.protocol,
        request=payload,
        created_by=user if user is not None and user.is_authenticated else None,
        callback_url=callback_url,
        created=utcnow(),
    )


def command_create_many(
    *,
    stations: Iterable[ChargingStation],
    action: str,
    payloads: dict[str, Any],
    user: Any,
    callback_url: str = "",
) -> list[Command]:
    """One command per station; `payloads` maps an OCPP version (or "*") to its payload.

    Every payload is checked first (a bad one refuses the whole request); a station that is
    offline or whose version lacks the action gets a command record that failed at once.
    """
    stations = list(stations)
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
                        request=payload if isinstance(payload, dict) else {},
                        status=CommandStatus.ERROR,
                        error={
                            "code": exc.code,
                            "description": exc.message,
                            "details": exc.details,
                        },
                        created_by=user if user is not None and user.is_authenticated else None,
                        callback_url=callback_url,
                        created=now,
                        completed=now,
                    )
                )
                continue
            commands.append(_store(station, action, payload, user, callback_url))
    return commands


def command_finish(*, command_id: int, outcome: outbound.Outcome | None, error: dict | None = None):
    """Record how a command ended: the station's answer, its CALLERROR, or our timeout."""
    command = Command.objects.select_related("station", "created_by").get(pk=command_id)
    if outcome is None:
        command.status = CommandStatus.ERROR
        command.error = error
    elif outcome.status == outbound.COMPLETED:
        command.status = CommandStatus.COMPLETED
        command.response = outcome.response
    elif outcome.status == outbound.TIMEOUT:
        command.status = CommandStatus.TIMEOUT
        command.error = {
            "code": "Timeout",
            "description": "The station did not answer in time",
            "details": {},
        }
    else:
        command.status = CommandStatus.ERROR
        command.response = outcome.response
        command.error = {
            "code": outcome.error_code,
            "description": outcome.error_description,
            "details": outcome.error_details,
        }
    command.completed = utcnow()
    command.save(update_fields=["status", "response", "error", "completed"])
    return command


async def command_execute(command: Command, *, timeout: float | None = None) -> Command:
    """Send a stored command, await the station's answer, record it; then the callback."""
    try:
        outcome = await _call_in_parts(command, timeout=timeout)
    except StationNotConnected as exc:
        finished = await db(command_finish)(
            command_id=command.pk,
            outcome=None,
            error={"code": OFFLINE, "description": str(exc), "details": {}},
        )
    else:
        finished = await db(command_finish)(command_id=command.pk, outcome=outcome)
    if finished.callback_url:
        spawn(callback_deliver(finished.pk))
    return finished


async def _call_in_parts(command: Command, *, timeout: float | None) -> outbound.Outcome:
    """The command's call, in as many requests as the station's announced limits need
    (commands.splitting), one after the other; the answers merged into one outcome."""
    station = command.station
    identity, action, request = station.identity, command.action, command.request
    spec = splitting.splittable(station.protocol, action)
    parts = [request]
    if spec is not None and isinstance(request, dict):
        max_items, max_bytes = await db(message_limits)(
            station_pk=station.pk, version=station.protocol, action=action
        )
        try:
            parts = splitting.split(action, request, spec, max_items=max_items, max_bytes=max_bytes)
        except splitting.TooLarge as exc:
            return outbound.Outcome(
                status=outbound.ERROR,
                action=action,
                request=request,
                error_code=TOO_LARGE,
                error_description=str(exc),
            )
    if len(parts) == 1 or spec is None:
        return await station_call_async(
            identity=identity, action=action, payload=parts[0], timeout=timeout
        )
    answers = []
    for index, part in enumerate(parts):
        if action == "GetReport":
            # Each part is a report of its own: requestId, requestId + 1, ...
            part = {**part, "requestId": request["requestId"] + index}
        outcome = await station_call_async(
            identity=identity, action=action, payload=part, timeout=timeout
        )
        if not outcome.ok:
            outcome.request = request
            outcome.error_description = (
                f"part {index + 1} of {len(parts)}: {outcome.error_description}"
            ).strip()
            if answers:
                outcome.response = splitting.merge(spec, answers)
            return outcome
        answers.append(outcome.response or {})
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
    from commands.api.serializers import CommandSerializer

    return CommandSerializer(command).data


def _load(command_id: int) -> Command:
    return Command.objects.select_related("station", "created_by").get(pk=command_id)


def callback_delivery_record(
    *, command_id: int, attempt: int, status_code: int | None, error: str, delivered: bool
) -> CallbackDelivery:
    return CallbackDelivery.objects.create(
        command_id=command_id,
        attempt=attempt,
        at=utcnow(),
        status_code=status_code,
        error=error[:255],
        delivered=delivered,
    )


async def callback_deliver(command_id: int) -> bool:
    """POST the finished command to its callback URL until a 2xx answer or out of attempts."""
    from rest_framework.renderers import JSONRenderer

    command = await db(_load)(command_id)
    body = JSONRenderer().render(command_record(command))
    attempts = max(settings.CSMS_CALLBACK_ATTEMPTS, 1)
    async with httpx.AsyncClient(timeout=settings.CSMS_CALLBACK_TIMEOUT) as client:
        for attempt in range(1, attempts + 1):
            status_code, error = None, ""
            try:
                answer = await client.post(
                    command.callback_url,
                    content=body,
                    headers={"Content-Type": "application/json"},
                )
                status_code = answer.status_code
                if not answer.is_success:
                    error = f"HTTP {status_code}"
            except httpx.HTTPError as exc:
                error = f"{exc.__class__.__name__}: {exc}"
            await db(callback_delivery_record)(
                command_id=command_id,
                attempt=attempt,
                status_code=status_code,
                error=error,
                delivered=not error,
            )
            if not error:
                return True
            if attempt < attempts:
                await asyncio.sleep(settings.CSMS_CALLBACK_BACKOFF * 2 ** (attempt - 1))
    logger.warning(
        "Callback of command %s to %s failed after %s attempts: %s",
        command_id,
        command.callback_url,
        attempts,
        error,
    )
    return False


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
