"""CSMS-initiated calls to an OCPP-S station's ChargePointService.

A SOAP station's channel name (`soap:<version>:<address>`, see ocpp_router.soap.views) names
its ChargePointService, the WS-Addressing From of its requests. `ocpp_router.outbound.call`
hands such a call here, so that it is sent by the same one service as every call
(`commands.services`) and recorded in the same `Command`:

- the request is built by zeep from the official ChargePointService WSDL of the station's
  version, with the chargeBoxIdentity header and WS-Addressing (Action, MessageID, To, and
  From: our CentralSystemService at CSMS_PUBLIC_URL); 1.5 through ocpp_router.soap.v15;
- it is POSTed with httpx's async client (the event loop never waits on the network; zeep
  and lxml run in the worker pool), within the call's timeout;
- the answer is read with the WSDL's types and checked against the same OCPP 1.6 JSON schema
  as an OCPP-J answer; the result hook of the action runs as for a websocket answer;
- both frames go to the message log: the envelope and its OCPP-J payload.

Ends: the answer (completed), a SOAP fault or an answer outside the schema (error), no
answer in time once connected (timeout). A station whose address cannot be reached
(connection refused, unknown host, connect timeout) raises `StationOffline` naming the
address, and the station is marked offline; its address is kept, so that its next request
brings it back online. One call in flight per station in this process.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn

import httpx
from django.conf import settings
from lxml import etree
from zeep.helpers import serialize_object

from csms import metrics
from ocpp_router import dispatch, errors, rpc, validation
from ocpp_router import gate as boot_gate
from ocpp_router.outbound import (
    COMPLETED,
    ERROR,
    SOAP_CHANNEL_PREFIX,
    TIMEOUT,
    Outcome,
    Recipient,
    StationOffline,
)
from ocpp_router.registry import HOOKS
from ocpp_router.session import FollowUp, LogEntry, Session, uuid7
from ocpp_router.soap import envelope, v15
from ocpp_router.soap.envelope import CHARGE_POINT, SOAP12, WSA, Service

logger = logging.getLogger(__name__)

DEFAULT_PUBLIC_URL = "http://localhost:8000"
# One call in flight per station (as OCPP-J's one outstanding CALL), in this process: a lock
# per (event loop, station), dropped once no call holds or awaits it.
_locks: weakref.WeakValueDictionary[tuple[int, int], asyncio.Lock] = weakref.WeakValueDictionary()


def address_of(channel_name: str) -> tuple[str, str]:
    """(OCPP-S version, ChargePointService address) of a SOAP station's channel name."""
    version, _, address = channel_name.removeprefix(SOAP_CHANNEL_PREFIX).partition(":")
    return version, address


def central_system_url(version: str) -> str:
    """Our CentralSystemService, as a station reaches it (the From of our calls)."""
    base = (settings.CSMS_PUBLIC_URL or DEFAULT_PUBLIC_URL).rstrip("/")
    return f"{base}/ocpp/soap/{version}"


def refusal(channel_name: str, action: str, payload: dict[str, Any]) -> str:
    """Why `action` cannot be sent to the SOAP station of `channel_name`, or ""."""
    version, address = address_of(channel_name)
    service = CHARGE_POINT.get(version)
    if service is None:
        return f"Unknown OCPP-S version {version!r} in the station's channel name"
    if not address or address == envelope.ANONYMOUS:
        return (
            "The station has sent no ChargePointService address (WS-Addressing From) with its "
            "requests: configure it to send its ChargePointService URL as wsa:From"
        )
    if version == "1.5":
        problem = v15.call_refusal_15(action, payload)
        if problem:
            return problem
    if action not in service.operations():
        return (
            f"{action} has no operation in the OCPP {version} ChargePointService WSDL: a "
            "station speaking OCPP over SOAP cannot be sent it (connect it over OCPP-J)"
        )
    return ""


async def call(
    channel_name: str,
    action: str,
    payload: dict[str, Any],
    *,
    timeout: float,
    recipient: Recipient,
) -> Outcome:
    """Send `action` to the SOAP station of `channel_name`; see the module docstring."""
    session = Session(
        station_pk=recipient.station_pk,
        station_id=recipient.identity,
        version=rpc.V16,
        registration=recipient.registration,
        channel_name=channel_name,
        extra={"soap_version": address_of(channel_name)[0]},
    )
    return await send(session, action, payload, timeout=timeout)


async def send(
    session: Session, action: str, payload: dict[str, Any], *, timeout: float
) -> Outcome:
    """Send `action` to the SOAP station of `session` (its channel name names the address)."""
    outcome = await _send(session, action, payload, timeout=timeout)
    # Counted as the consumer counts an OCPP-J call's outcome.
    label = {COMPLETED: "ok", TIMEOUT: "Timeout"}.get(outcome.status, outcome.error_code or "Error")
    metrics.message("out", session.version, action, label)
    return outcome


async def _send(
    session: Session, action: str, payload: dict[str, Any], *, timeout: float
) -> Outcome:
    version, address = address_of(session.channel_name)
    problem = await dispatch.run_in_worker(refusal, session.channel_name, action, payload)
    if problem:
        if not address or address == envelope.ANONYMOUS:
            raise StationOffline(problem)
        return _error(action, payload, "NotSupported", problem)
    gate_refusal = boot_gate.send_refusal(session, action)
    if gate_refusal is not None:
        return _error(action, payload, gate_refusal.code(rpc.V16), gate_refusal.description)
    deadline = time.monotonic() + timeout
    key = (id(asyncio.get_running_loop()), session.station_pk)
    lock = _locks.get(key)
    if lock is None:
        lock = _locks[key] = asyncio.Lock()
    try:
        await asyncio.wait_for(lock.acquire(), timeout)
    except TimeoutError:
        return Outcome(status=TIMEOUT, action=action, request=payload)
    try:
        return await _exchange(session, CHARGE_POINT[version], address, action, payload, deadline)
    finally:
        lock.release()


_background: set[asyncio.Task[None]] = set()


def send_follow_ups(session: Session, follow_ups: list[FollowUp]) -> None:
    """The calls a handler queued to follow our answer (`CallContext.send_after_reply`),
    sent in order once the view has returned its answer, as the consumer does for OCPP-J."""
    if not follow_ups:
        return
    task = asyncio.get_running_loop().create_task(_follow_up(session, follow_ups))
    _background.add(task)
    task.add_done_callback(_background.discard)


async def _follow_up(session: Session, follow_ups: list[FollowUp]) -> None:
    for item in follow_ups:
        try:
            outcome = await send(
                session, item.action, item.payload, timeout=settings.CSMS_CALL_TIMEOUT
            )
        except StationOffline as exc:
            outcome = _error(item.action, item.payload, "StationOffline", str(exc))
        except Exception:
            logger.exception("Sending %s to station %s failed", item.action, session.station_id)
            continue
        if outcome.status != COMPLETED:
            logger.warning(
                "%s to station %s ended %s: %s",
                item.action,
                session.station_id,
                outcome.status,
                outcome.error_description or outcome.error_code,
            )
        if item.on_outcome is not None:
            try:
                await dispatch.run_in_worker(item.on_outcome, outcome)
            except Exception:
                logger.exception("Recording the outcome of %s failed", item.action)


def _error(action: str, payload: dict[str, Any], code: str, description: str) -> Outcome:
    return Outcome(
        status=ERROR,
        action=action,
        request=payload,
        error_code=code,
        error_description=description[:255],
    )


async def _exchange(
    session: Session,
    service: Service,
    address: str,
    action: str,
    payload: dict[str, Any],
    deadline: float,
) -> Outcome:
    version = service.version
    request = v15.call_to_15(action, payload) if version == "1.5" else payload
    try:
        body, message_id = await dispatch.run_in_worker(
            _build, service, address, session.station_id, action, request
        )
    except Exception as exc:  # zeep raises many types for values outside the XSD
        return _error(
            action,
            payload,
            "InternalError",
            f"{action} does not fit the OCPP {version} ChargePointService WSDL: {exc}",
        )
    call_log = record(session, "out", rpc.MessageType.CALL, message_id, action, payload, body)
    boot_gate.sent(session, action, payload)
    remaining = max(deadline - time.monotonic(), 0.1)
    connect = min(settings.CSMS_SOAP_CONNECT_TIMEOUT, remaining)
    limits = httpx.Timeout(remaining, connect=connect)
    try:
        async with httpx.AsyncClient(timeout=limits) as http:
            response = await http.post(
                address,
                content=body,
                headers={"Content-Type": f'{envelope.CONTENT_TYPE}; action="/{action}"'},
            )
    except httpx.ConnectTimeout:
        if connect < settings.CSMS_SOAP_CONNECT_TIMEOUT:
            # Our own deadline cut the connect short: the station is not known unreachable.
            return Outcome(status=TIMEOUT, action=action, request=payload, message_id=message_id)
        await _offline(session, address, f"no connection within {connect:g} s")
    except (httpx.ConnectError, httpx.UnsupportedProtocol) as exc:
        await _offline(session, address, _unreachable_reason(exc))
    except httpx.TimeoutException:
        logger.warning(
            "Station %s did not answer %s (%s) in time", session.station_id, action, message_id
        )
        return Outcome(status=TIMEOUT, action=action, request=payload, message_id=message_id)
    except httpx.HTTPError as exc:
        return _error(
            action,
            payload,
            "GenericError",
            f"The exchange with the station's ChargePointService at {address} failed: "
            f"{exc.__class__.__name__}: {exc}",
        )
    xml = response.content
    try:
        answer = await dispatch.run_in_worker(_read, service, action, xml)
    except _BadAnswer as bad:
        description = (
            f"The station's ChargePointService answered HTTP {response.status_code} with "
            f"{bad.reason}"
        )
        if response.status_code in (401, 403):
            description += ": it asks for credentials the CSMS does not send"
        record(
            session,
            "in",
            rpc.MessageType.CALLRESULT,
            message_id,
            action,
            {},
            xml,
            error_code="ProtocolError",
            error_description=description,
            answers=call_log,
        )
        outcome = _error(action, payload, "ProtocolError", description)
        outcome.message_id = message_id
        return outcome
    if isinstance(answer, _Fault):
        description = f"The station answered {action} with a SOAP fault: {answer.reason}"
        record(
            session,
            "in",
            rpc.MessageType.CALLERROR,
            message_id,
            action,
            {},
            xml,
            error_code=answer.subcode or answer.code,
            error_description=answer.reason,
            answers=call_log,
        )
        outcome = _error(action, payload, answer.subcode or answer.code, description)
        outcome.message_id = message_id
        return outcome
    result = v15.answer_to_16(action, answer) if version == "1.5" else answer
    try:
        validation.check(rpc.V16, action, "response", result)
    except errors.OcppError as exc:
        record(
            session,
            "in",
            rpc.MessageType.CALLRESULT,
            message_id,
            action,
            result,
            xml,
            error_code=exc.code(rpc.V16),
            error_description=exc.description,
            answers=call_log,
        )
        logger.warning(
            "Station %s answered %s outside the OCPP 1.6 schema: %s",
            session.station_id,
            action,
            exc.description,
        )
        outcome = _error(
            action,
            payload,
            exc.code(rpc.V16),
            f"The station's answer is invalid: {exc.description}",
        )
        outcome.response, outcome.message_id = result, message_id
        return outcome
    record(
        session, "in", rpc.MessageType.CALLRESULT, message_id, action, result, xml, answers=call_log
    )
    await dispatch.run_result_hook(session, message_id, action, payload, result)
    return Outcome(
        status=COMPLETED,
        action=action,
        request=payload,
        response=result,
        message_id=message_id,
    )


async def _offline(session: Session, address: str, reason: str) -> NoReturn:
    """The station's ChargePointService cannot be reached: mark it offline, fail the call."""
    logger.warning(
        "Station %s: its ChargePointService at %s cannot be reached (%s): marked offline",
        session.station_id,
        address,
        reason,
    )
    if HOOKS.gate is not None:
        await dispatch.run_in_worker(HOOKS.gate.disconnected, session)
    raise StationOffline(
        f"its ChargePointService at {address} cannot be reached ({reason}): check that the "
        "station is on and that the address it sends as WS-Addressing From is reachable from "
        "the CSMS"
    )


def _unreachable_reason(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.UnsupportedProtocol):
        return "not an http:// or https:// URL"
    return str(exc) or exc.__class__.__name__


def _build(
    service: Service, address: str, identity: str, action: str, request: dict[str, Any]
) -> tuple[bytes, str]:
    """The SOAP request of `action` (zeep, from the WSDL) and its WS-Addressing MessageID."""
    client = envelope.client(service)
    proxy = client.create_service(f"{{{service.namespace}}}ChargePointServiceSoap", address)
    # zeep adds Action, MessageID and To (the WSDL uses addressing); From is ours to add.
    node = client.create_message(
        proxy, action, **request, _soapheaders={"ChargeBoxIdentity": identity}
    )
    header = node.find(f"{{{SOAP12}}}Header")
    if header is None:
        header = etree.Element(f"{{{SOAP12}}}Header")
        node.insert(0, header)
    # zeep's create_message takes To from the WSDL's own port address, not the proxy's.
    to = header.find(f"{{{WSA}}}To")
    if to is None:
        to = etree.SubElement(header, f"{{{WSA}}}To")
    to.text = address
    sender = etree.SubElement(header, f"{{{WSA}}}From")
    etree.SubElement(sender, f"{{{WSA}}}Address").text = central_system_url(service.version)
    message_id = header.findtext(f"{{{WSA}}}MessageID") or f"urn:uuid:{uuid.uuid4()}"
    return bytes(etree.tostring(node, xml_declaration=True, encoding="utf-8")), message_id


class _BadAnswer(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Fault:
    code: str
    subcode: str
    reason: str


def _read(service: Service, action: str, raw: bytes) -> dict[str, Any] | _Fault:
    """The station's answer as the OCPP-J payload of `action`, or its fault."""
    if not raw:
        raise _BadAnswer("an empty body")
    try:
        root = etree.fromstring(raw, envelope._PARSER)
    except etree.XMLSyntaxError:
        raise _BadAnswer("a body that is not well-formed XML") from None
    if root.tag != f"{{{SOAP12}}}Envelope":
        raise _BadAnswer(f"a document that is not a SOAP 1.2 envelope ({root.tag[:80]})")
    body = root.find(f"{{{SOAP12}}}Body")
    if body is None or len(body) != 1:
        raise _BadAnswer("a SOAP body that does not hold exactly one element")
    node = body[0]
    if node.tag == f"{{{SOAP12}}}Fault":
        code = node.findtext(f"{{{SOAP12}}}Code/{{{SOAP12}}}Value") or ""
        subcode = node.findtext(f"{{{SOAP12}}}Code/{{{SOAP12}}}Subcode/{{{SOAP12}}}Value") or ""
        reason = node.findtext(f"{{{SOAP12}}}Reason/{{{SOAP12}}}Text") or ""
        return _Fault(code.rpartition(":")[2], subcode.rpartition(":")[2], reason.strip()[:200])
    name = action[0].lower() + action[1:] + "Response"
    if node.tag != f"{{{service.namespace}}}{name}":
        raise _BadAnswer(f"{etree.QName(node).localname[:64]} where {name} was expected")
    try:
        value = service.element(name).parse(node, envelope.client(service).wsdl.types)
    except Exception as exc:  # zeep raises many types for content outside the XSD
        raise _BadAnswer(f"a {name} that does not fit the WSDL: {exc}") from None
    payload = envelope.to_json(serialize_object(value, dict)) if value is not None else {}
    return payload if isinstance(payload, dict) else {}


def record(
    session: Session,
    direction: str,
    message_type: int,
    message_id: str,
    action: str,
    payload: Any,
    xml: bytes,
    *,
    error_code: str = "",
    error_description: str = "",
    answers: uuid.UUID | None = None,
) -> uuid.UUID | None:
    """One OCPP-S frame to the message log: its envelope beside its OCPP-J payload (the
    log redacts passwords from both)."""
    sinks = [sink for sink in HOOKS.sinks if getattr(sink, "enabled", True)]
    if not sinks:
        return None
    entry = LogEntry(
        id=uuid7(),
        station_pk=session.station_pk,
        direction=direction,
        message_type=int(message_type),
        message_id=message_id[:64],
        action=action,
        payload=payload,
        timestamp=datetime.now(UTC),
        error_code=error_code,
        error_description=error_description[:255],
        answers=answers,
        soap=xml.decode("utf-8", "replace")[:20000],
    )
    for sink in sinks:
        sink.record(entry)
    return entry.id
