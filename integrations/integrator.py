"""The integrator webhook: station calls answered by the integrator's HTTP endpoint.

Registered with `ocpp_router.registry.add_call_interceptor`; runs on the event loop after
the request passed schema validation and the boot gate. The HTTP call is asynchronous, and
the webhook settings come from the in-memory snapshot (`integrations.config`), so a
forwarded call costs one HTTP round trip and no database query (BootNotification aside,
whose registration decision is stored so the station stays registered on reconnection).
"""

from __future__ import annotations

import json
import logging
import weakref
from asyncio import AbstractEventLoop, get_running_loop
from typing import Any

import httpx

from csms import egress
from integrations import config, services
from integrations.choices import AuthType, FailureMode
from ocpp_router import errors, gate, validation
from ocpp_router.datetimes import utcnow
from ocpp_router.dispatch import run_in_worker
from ocpp_router.session import CallContext

logger = logging.getLogger(__name__)

# Bodies quoted in the log are cut to this many characters.
LOGGED_BODY = 2000

_clients: weakref.WeakKeyDictionary[AbstractEventLoop, httpx.AsyncClient] = (
    weakref.WeakKeyDictionary()
)


def _client() -> httpx.AsyncClient:
    """One pooled client per event loop (an httpx client belongs to the loop it runs on)."""
    loop = get_running_loop()
    client = _clients.get(loop)
    if client is None:
        client = egress.async_client()
        _clients[loop] = client
    return client


def request_body(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "identity": ctx.session.station_id,
        "uniqueId": ctx.message_id,
        "action": ctx.action,
        "payload": payload,
        "account": ctx.session.account,
    }


def _auth(target: config.IntegratorTarget) -> tuple[httpx.Auth | None, dict[str, str]]:
    if target.auth_type == AuthType.BASIC:
        return httpx.BasicAuth(target.username, target.password), {}
    if target.auth_type == AuthType.BEARER:
        return None, {"Authorization": f"Bearer {target.token}"}
    return None, {}


async def _snapshot() -> config.Snapshot:
    return config.current() if config.is_fresh() else await run_in_worker(config.refresh)


async def claims(version: str, action: str) -> bool:
    """Whether an integrator takes `action`: it may answer actions we do not handle."""
    return (await _snapshot()).integrator_for(version, action) is not None


async def intercept(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any] | None:
    """Forward the call to the integrator that takes its action; None lets our handler run."""
    target = (await _snapshot()).integrator_for(ctx.version, ctx.action)
    if target is None:
        return None
    auth, headers = _auth(target)
    try:
        response = await _client().post(
            target.url,
            json=request_body(ctx, payload),
            auth=auth or httpx.USE_CLIENT_DEFAULT,
            headers=headers,
            timeout=target.timeout,
        )
        response.raise_for_status()
    except httpx.HTTPStatusError as exc:
        return _failed(target, ctx, f"HTTP {exc.response.status_code}", exc.response.text)
    except httpx.TimeoutException:
        return _failed(target, ctx, f"no answer within {target.timeout:g} s", "")
    except httpx.HTTPError as exc:
        return _failed(target, ctx, f"{type(exc).__name__}: {exc}", "")
    answer = _answer_payload(target, ctx, response.text)
    if ctx.action == "BootNotification":
        await _apply_boot(ctx, payload, answer)
    return answer


def _failed(
    target: config.IntegratorTarget, ctx: CallContext, reason: str, body: str
) -> dict[str, Any] | None:
    if target.on_failure == FailureMode.FALLBACK:
        logger.warning(
            "Integrator %s failed on %s from station %s (%s): the CSMS answers itself. Body: %s",
            target.name,
            ctx.action,
            ctx.session.station_id,
            reason,
            body[:LOGGED_BODY],
        )
        return None
    logger.error(
        "Integrator %s failed on %s from station %s (%s): answering a CALLERROR. Body: %s",
        target.name,
        ctx.action,
        ctx.session.station_id,
        reason,
        body[:LOGGED_BODY],
    )
    raise errors.InternalError(f"The integration endpoint failed to answer {ctx.action}")


def _answer_payload(target: config.IntegratorTarget, ctx: CallContext, body: str) -> dict:
    """The `payload` of the integrator's answer, checked against the OCPP response schema."""
    try:
        answer = json.loads(body).get("payload")
        if not isinstance(answer, dict):
            raise ValueError('the answer has no "payload" object')
        validation.check(ctx.version, ctx.action, "response", answer)
    except (ValueError, AttributeError, errors.OcppError) as exc:
        reason = exc.description if isinstance(exc, errors.OcppError) else str(exc)
        logger.error(
            "Integrator %s answered %s from station %s with an invalid OCPP %s answer (%s). "
            "Body: %s",
            target.name,
            ctx.action,
            ctx.session.station_id,
            ctx.version,
            reason,
            body[:LOGGED_BODY],
        )
        raise errors.InternalError(
            f"The integration endpoint's answer to {ctx.action} is invalid"
        ) from None
    return answer


async def _apply_boot(ctx: CallContext, payload: dict[str, Any], answer: dict[str, Any]) -> None:
    # The boot gate of this connection follows the integrator's decision, and the decision
    # is stored: a station reconnecting without a new BootNotification keeps it.
    status = answer["status"]
    await run_in_worker(
        lambda: services.integrator_boot_record(
            station_pk=ctx.station_pk,
            protocol=ctx.version,
            payload=payload,
            status=status,
            interval=int(answer.get("interval", 0)),
            at=utcnow(),
        )
    )
    gate.booted(ctx.session, status)
