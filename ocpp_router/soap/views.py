"""The CentralSystemService endpoint of OCPP-S: a plain HTTP view, one URL per version.

Every request is a whole exchange: the station is admitted by the same connection gate as
a websocket (HTTP Basic on profiles 1-2, TLS, CSMS_ALLOW_UNKNOWN_STATIONS), its call goes
through `dispatch.handle_call` like an OCPP-J CALL, and the request itself counts as the
station being seen (it holds no socket).
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from ocpp_router import dispatch, errors, rpc
from ocpp_router.consumers import station_id_problem
from ocpp_router.outbound import SOAP_CHANNEL_PREFIX
from ocpp_router.registry import HOOKS
from ocpp_router.session import Handshake, Session
from ocpp_router.soap import client, envelope, v15
from ocpp_router.soap.envelope import CENTRAL_SYSTEM, Service, SoapFault

logger = logging.getLogger(__name__)

# Channel names of SOAP stations: no consumer holds them; what follows the prefix is the
# station's ChargePointService address (WS-Addressing From), where calls to it go.
CHANNEL_PREFIX = SOAP_CHANNEL_PREFIX

# OCPP-J error codes as OCPP-S faults (OCPP 1.5/1.6 SOAP: Sender SecurityError,
# IdentityMismatch, ProtocolError; Receiver InternalError, NotSupported).
_FAULTS = {
    "SecurityError": ("Sender", "SecurityError"),
    "NotImplemented": ("Receiver", "NotSupported"),
    "NotSupported": ("Receiver", "NotSupported"),
    "InternalError": ("Receiver", "InternalError"),
    "GenericError": ("Receiver", "InternalError"),
}


def soap_channel(version: str, address: str) -> str:
    return f"{CHANNEL_PREFIX}{version}:{address}"


def _fault_of(error: rpc.CallError) -> SoapFault:
    code, subcode = _FAULTS.get(error.code, ("Sender", "ProtocolError"))
    return SoapFault(
        code, subcode, error.description or error.code, 400 if code == "Sender" else 500
    )


def _answer(body: bytes, status: int = 200, **headers: str) -> HttpResponse:
    response = HttpResponse(body, status=status, content_type=envelope.CONTENT_TYPE)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _fault(
    fault: SoapFault, service: Service | None, relates_to: str = "", **headers: str
) -> HttpResponse:
    return _answer(envelope.render_fault(fault, service, relates_to), fault.status, **headers)


@csrf_exempt
async def central_system(request: HttpRequest, version: str) -> HttpResponseBase:
    service = CENTRAL_SYSTEM.get(version)
    if service is None:
        return HttpResponse(status=404)
    if request.method == "GET":
        if "wsdl" in {key.lower() for key in request.GET}:
            return FileResponse(service.path.open("rb"), content_type="text/xml; charset=utf-8")
        return HttpResponse(status=404)
    if request.method != "POST":
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    raw = request.body
    try:
        parsed = envelope.parse(raw, service)
    except SoapFault as refused:
        logger.warning("Refused an OCPP-S %s request: %s", version, refused.reason)
        return _fault(refused, service)
    problem = station_id_problem(parsed.charge_box_identity)
    if problem:
        return _fault(envelope.sender("IdentityMismatch", problem), service, parsed.message_id)
    session = await _admit(request, parsed, version)
    if isinstance(session, HttpResponse):
        return session
    message_id = parsed.message_id or str(uuid.uuid4())
    payload = parsed.payload
    if version == "1.5":
        payload = v15.request_to_16(parsed.action, payload)
    call = rpc.Call(message_id[:36], parsed.action, payload)
    call_log = _log(session, "in", rpc.MessageType.CALL, call, payload, raw)
    answer, ctx = await dispatch.handle_call(session, call)
    if isinstance(answer, rpc.CallError):
        fault = _fault_of(answer)
        body = envelope.render_fault(fault, service, parsed.message_id)
        _log(
            session,
            "out",
            rpc.MessageType.CALLERROR,
            call,
            answer.details,
            body,
            error_code=answer.code,
            error_description=answer.description,
            answers=call_log,
        )
        return _answer(body, fault.status)
    answer_payload = answer.payload
    if version == "1.5":
        answer_payload = v15.response_to_15(parsed.action, answer_payload)
    try:
        body = envelope.render_response(service, parsed.action, answer_payload, parsed.message_id)
    except Exception:
        logger.exception(
            "Rendering the %s answer to station %s failed", call.action, session.station_id
        )
        return _fault(envelope.receiver("InternalError", "Internal error"), service)
    _log(session, "out", rpc.MessageType.CALLRESULT, call, answer.payload, body, answers=call_log)
    # Calls that must follow our answer go to the station's ChargePointService: the task
    # starts once this view has returned (after worker-thread hops, past the answer).
    client.send_follow_ups(session, ctx.follow_ups)
    return _answer(body)


async def _admit(
    request: HttpRequest, parsed: envelope.Request, version: str
) -> Session | HttpResponse:
    gate = HOOKS.gate
    if gate is None:
        return HttpResponse(status=503)
    scope: dict[str, Any] = getattr(request, "scope", {}) or {}
    client = scope.get("client") or ("", 0)
    remote = client[0] if client else ""
    handshake = Handshake(
        station_id=parsed.charge_box_identity,
        version=rpc.V16,  # 1.5 and 1.6 stations are served by the 1.6 registry
        account="",
        remote_address=remote,
        headers={key.lower(): value for key, value in request.headers.items()},
        scope=scope,
    )
    try:
        session = await dispatch.run_in_worker(gate.admit, handshake)
    except Exception:
        logger.exception("Admitting SOAP station %r failed", parsed.charge_box_identity)
        return _fault(envelope.receiver("InternalError", "Internal error"), CENTRAL_SYSTEM[version])
    if session is None:
        logger.warning(
            "Refused OCPP-S request of station %r from %s (HTTP %s): %s",
            parsed.charge_box_identity,
            remote or "?",
            handshake.refusal_status,
            handshake.refusal_reason,
        )
        fault = SoapFault(
            "Sender", "SecurityError", "Not authorized", handshake.refusal_status or 401
        )
        # Locked out after failed attempts (429): when to try again.
        wait = (
            {"Retry_After": str(handshake.refusal_retry_after)}
            if handshake.refusal_retry_after
            else {}
        )
        return _fault(
            fault,
            CENTRAL_SYSTEM[version],
            parsed.message_id,
            WWW_Authenticate='Basic realm="OCPP", charset="UTF-8"',
            **wait,
        )
    address = parsed.from_address
    if not address or address == envelope.ANONYMOUS:
        # No From: keep the address we know (a station may omit it after its boot).
        known = session.previous_channel
        address = known.split(":", 2)[2] if known.startswith(CHANNEL_PREFIX) else ""
    session.channel_name = soap_channel(version, address)
    session.connected_at = datetime.now(UTC)
    session.extra["soap_version"] = version
    if session.previous_channel != session.channel_name:
        await dispatch.run_in_worker(gate.connected, session)
    else:
        await dispatch.run_in_worker(gate.seen, session)
    return session


def _log(
    session: Session,
    direction: str,
    message_type: int,
    call: rpc.Call,
    payload: Any,
    xml: bytes,
    *,
    error_code: str = "",
    error_description: str = "",
    answers: uuid.UUID | None = None,
) -> uuid.UUID | None:
    return client.record(
        session,
        direction,
        message_type,
        call.message_id,
        call.action,
        payload,
        xml,
        error_code=error_code,
        error_description=error_description,
        answers=answers,
    )


__all__ = ["CHANNEL_PREFIX", "central_system", "errors", "soap_channel"]
