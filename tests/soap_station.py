"""OCPP-S stations for tests, from zeep and lxml alone (none of the CSMS's or the emulator's
code): a zeep client of the official CentralSystemService WSDL as the station's sending side,
and a real HTTP server answering with the types of the official ChargePointService WSDL as
the station's ChargePointService, which the CSMS calls."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from lxml import etree
from zeep import Client
from zeep.helpers import serialize_object
from zeep.plugins import Plugin
from zeep.wsa import WsAddressingPlugin

WSDL_DIR = Path(__file__).resolve().parent.parent / "ocpp_router" / "soap" / "wsdl"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://www.w3.org/2005/08/addressing"
CENTRAL_SYSTEM = {
    "1.5": ("urn://Ocpp/Cs/2012/06/", "ocpp_centralsystemservice_1.5_final.wsdl"),
    "1.6": ("urn://Ocpp/Cs/2015/10/", "OCPP_CentralSystemService_1.6.wsdl"),
}
CHARGE_POINT = {
    "1.5": ("urn://Ocpp/Cp/2012/06/", "ocpp_chargepointservice_1.5_final.wsdl"),
    "1.6": ("urn://Ocpp/Cp/2015/10/", "OCPP_ChargePointService_1.6.wsdl"),
}


class From(Plugin):
    """WS-Addressing From: where the station's ChargePointService listens."""

    def __init__(self, address: str):
        self.address = address

    def egress(self, envelope, http_headers, operation, binding_options):
        header = envelope.find(f"{{{SOAP12}}}Header")
        sender = etree.SubElement(header, f"{{{WSA}}}From")
        etree.SubElement(sender, f"{{{WSA}}}Address").text = self.address
        return envelope, http_headers


def central_system_client(
    csms,
    identity: str,
    *,
    password: str = "",
    address: str = "http://cp.invalid/",
    version: str = "1.6",
) -> Callable[..., Any]:
    """A zeep client of the version's official CentralSystemService WSDL, as the station:
    `call("BootNotification", chargePointVendor=..., ...)`."""
    namespace, filename = CENTRAL_SYSTEM[version]
    client = Client(str(WSDL_DIR / filename), plugins=[WsAddressingPlugin(), From(address)])
    if password:
        client.transport.session.auth = (identity, password)
    service = client.create_service(
        f"{{{namespace}}}CentralSystemServiceSoap", f"{csms.http_url}/ocpp/soap/{version}"
    )

    def call(action: str, **payload: Any) -> Any:
        return getattr(service, action)(**payload, _soapheaders={"ChargeBoxIdentity": identity})

    return call


# What a station that does as it is told answers, per version.
ANSWERS: dict[str, dict[str, dict[str, Any]]] = {
    "1.6": {
        "Reset": {"status": "Accepted"},
        "RemoteStartTransaction": {"status": "Accepted"},
        "RemoteStopTransaction": {"status": "Accepted"},
        "ChangeConfiguration": {"status": "Accepted"},
        "UnlockConnector": {"status": "Unlocked"},
        "ChangeAvailability": {"status": "Accepted"},
        "TriggerMessage": {"status": "Accepted"},
        "GetConfiguration": {
            "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]
        },
        "SendLocalList": {"status": "Accepted"},
    },
    "1.5": {
        "Reset": {"status": "Accepted"},
        "RemoteStartTransaction": {"status": "Accepted"},
        "RemoteStopTransaction": {"status": "Accepted"},
        "ChangeConfiguration": {"status": "Accepted"},
        "UnlockConnector": {"status": "Accepted"},  # 1.5: Accepted / Rejected
        "ChangeAvailability": {"status": "Accepted"},
        "GetConfiguration": {
            "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]
        },
        "SendLocalList": {"status": "HashError"},
    },
}


@dataclass
class Received:
    """One request the ChargePointService received."""

    action: str
    identity: str
    payload: dict[str, Any]
    addressing: dict[str, str]
    content_type: str
    raw: bytes


@dataclass
class Reply:
    """A scripted answer: a payload, a SOAP fault, raw bytes, or a delay first."""

    payload: dict[str, Any] | None = None
    fault: tuple[str, str, str] | None = None  # (code, subcode, reason)
    raw: bytes | None = None
    delay: float = 0.0


@dataclass
class ChargePointService:
    """A station's ChargePointService on 127.0.0.1 (a real HTTP server in a thread)."""

    version: str
    replies: dict[str, Reply] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.namespace, filename = CHARGE_POINT[self.version]
        self.client = Client(str(WSDL_DIR / filename))
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, body = service.answer(raw, self.headers.get("Content-Type", ""))
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/soap+xml; charset=utf-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the CSMS stopped waiting (a test of its timeout)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/ChargePointService"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, raw: bytes, content_type: str) -> tuple[int, bytes]:
        root = etree.fromstring(raw)
        header, body = root.find(f"{{{SOAP12}}}Header"), root.find(f"{{{SOAP12}}}Body")
        node = body[0]
        name = etree.QName(node).localname
        action = name[0].upper() + name[1 : -len("Request")]
        element = self.client.wsdl.types.get_element(f"{{{self.namespace}}}{name}")
        value = serialize_object(element.parse(node, self.client.wsdl.types), dict) or {}
        addressing = {}
        for child in header:
            qname = etree.QName(child)
            if qname.namespace == WSA:
                if qname.localname == "From":
                    addressing["From"] = child.findtext(f"{{{WSA}}}Address") or ""
                else:
                    addressing[qname.localname] = child.text or ""
        identity = header.findtext(f"{{{self.namespace}}}chargeBoxIdentity") or ""
        self.received.append(Received(action, identity, dict(value), addressing, content_type, raw))
        reply = self.replies.get(action) or Reply(ANSWERS[self.version].get(action, {}))
        if reply.delay:
            time.sleep(reply.delay)
        if reply.raw is not None:
            return 200, reply.raw
        envelope = etree.Element(f"{{{SOAP12}}}Envelope", nsmap={"s": SOAP12, "a": WSA})
        answer_header = etree.SubElement(envelope, f"{{{SOAP12}}}Header")
        etree.SubElement(answer_header, f"{{{WSA}}}RelatesTo").text = addressing.get(
            "MessageID", ""
        )
        etree.SubElement(answer_header, f"{{{WSA}}}Action").text = f"/{action}Response"
        answer_body = etree.SubElement(envelope, f"{{{SOAP12}}}Body")
        if reply.fault is not None:
            code, subcode, reason = reply.fault
            fault = etree.SubElement(answer_body, f"{{{SOAP12}}}Fault")
            code_node = etree.SubElement(fault, f"{{{SOAP12}}}Code")
            etree.SubElement(code_node, f"{{{SOAP12}}}Value").text = f"s:{code}"
            sub = etree.SubElement(code_node, f"{{{SOAP12}}}Subcode")
            etree.SubElement(
                sub, f"{{{SOAP12}}}Value", nsmap={"o": self.namespace}
            ).text = f"o:{subcode}"
            text = etree.SubElement(
                etree.SubElement(fault, f"{{{SOAP12}}}Reason"), f"{{{SOAP12}}}Text"
            )
            text.text = reason
            return 500, etree.tostring(envelope, xml_declaration=True, encoding="utf-8")
        response = self.client.wsdl.types.get_element(
            f"{{{self.namespace}}}{name[: -len('Request')]}Response"
        )
        response.render(answer_body, response(**(reply.payload or {})))
        return 200, etree.tostring(envelope, xml_declaration=True, encoding="utf-8")
