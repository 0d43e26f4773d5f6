"""SOAP 1.2 envelopes of OCPP-S: parse a request, render an answer or a fault. No Django.

Bodies are read and written with the types of the official WSDL through zeep's XSD model
(`Service.element(...)`), envelopes and headers with lxml; nothing is built from strings.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree
from zeep import Client
from zeep.exceptions import LookupError as ZeepLookupError
from zeep.helpers import serialize_object

SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
WSA = "http://www.w3.org/2005/08/addressing"
ANONYMOUS = f"{WSA}/anonymous"
CONTENT_TYPE = "application/soap+xml; charset=utf-8"

WSDL_DIR = Path(__file__).resolve().parent / "wsdl"


@dataclass(frozen=True)
class Service:
    """One official service description (a version's CentralSystem- or ChargePointService)."""

    version: str  # the OCPP version of the station's SOAP dialect: "1.5" or "1.6"
    namespace: str
    filename: str

    @property
    def path(self) -> Path:
        return WSDL_DIR / self.filename

    def element(self, name: str) -> Any:
        return _client(self.path).wsdl.types.get_element(f"{{{self.namespace}}}{name}")

    def operations(self) -> list[str]:
        """The OCPP actions of this service, as its WSDL names them."""
        bindings = _client(self.path).wsdl.bindings.values()
        return sorted({name for binding in bindings for name in binding._operations})

    def has_element(self, name: str) -> bool:
        try:
            self.element(name)
        except (LookupError, ZeepLookupError):
            return False
        return True


CENTRAL_SYSTEM = {
    "1.5": Service("1.5", "urn://Ocpp/Cs/2012/06/", "ocpp_centralsystemservice_1.5_final.wsdl"),
    "1.6": Service("1.6", "urn://Ocpp/Cs/2015/10/", "OCPP_CentralSystemService_1.6.wsdl"),
}
# The station's side, which the CSMS calls (ocpp_router.soap.client).
CHARGE_POINT = {
    "1.5": Service("1.5", "urn://Ocpp/Cp/2012/06/", "ocpp_chargepointservice_1.5_final.wsdl"),
    "1.6": Service("1.6", "urn://Ocpp/Cp/2015/10/", "OCPP_ChargePointService_1.6.wsdl"),
}


def client(service: Service) -> Client:
    """The zeep client of `service`'s WSDL (parsed once per process)."""
    return _client(service.path)


@cache
def _client(path: Path) -> Client:
    # Local file, no network: zeep reads only the vendored description.
    return Client(str(path))


class SoapFault(Exception):
    """A fault to answer. Codes of OCPP-S: Sender with SecurityError, IdentityMismatch,
    UrlMismatch or ProtocolError; Receiver with InternalError or NotSupported; SOAP 1.2's
    own VersionMismatch for an envelope that is not SOAP 1.2."""

    def __init__(self, code: str, subcode: str, reason: str, status: int = 500):
        super().__init__(reason)
        self.code = code
        self.subcode = subcode
        self.reason = reason[:255]
        self.status = status


def sender(subcode: str, reason: str) -> SoapFault:
    return SoapFault("Sender", subcode, reason, 400)


def receiver(subcode: str, reason: str) -> SoapFault:
    return SoapFault("Receiver", subcode, reason, 500)


@dataclass
class Request:
    """A parsed OCPP-S request."""

    action: str  # the OCPP action, e.g. "BootNotification"
    payload: dict[str, Any]  # the body in the shape of the OCPP-J payload of `action`
    charge_box_identity: str
    message_id: str = ""
    from_address: str = ""
    wsa_action: str = ""
    headers: dict[str, str] = field(default_factory=dict)


_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=True
)


def parse(raw: bytes, service: Service) -> Request:
    """Parse a SOAP 1.2 request to `service`; raise SoapFault naming what is wrong."""
    try:
        root = etree.fromstring(raw, _PARSER)
    except etree.XMLSyntaxError:
        raise sender("ProtocolError", "The request is not well-formed XML") from None
    if root.tag == f"{{{SOAP11}}}Envelope":
        raise SoapFault("VersionMismatch", "", "OCPP-S uses SOAP 1.2 envelopes", 400)
    if root.tag != f"{{{SOAP12}}}Envelope":
        raise SoapFault("VersionMismatch", "", "The document is not a SOAP 1.2 envelope", 400)
    header = root.find(f"{{{SOAP12}}}Header")
    body = root.find(f"{{{SOAP12}}}Body")
    if body is None or len(body) != 1:
        raise sender("ProtocolError", "The SOAP body must hold exactly one request element")
    values: dict[str, str] = {}
    from_address = ""
    if header is not None:
        for child in header:
            if not isinstance(child.tag, str):
                continue
            qname = etree.QName(child)
            if qname.namespace == WSA and qname.localname == "From":
                from_address = (child.findtext(f"{{{WSA}}}Address") or "").strip()
            else:
                values[qname.localname] = (child.text or "").strip()
    node = body[0]
    qname = etree.QName(node)
    name = qname.localname
    if qname.namespace != service.namespace or not name.endswith("Request"):
        raise receiver("NotSupported", f"{name[:64]} is not an OCPP {service.version} request")
    action = name[0].upper() + name[1 : -len("Request")]
    if not service.has_element(name):
        raise receiver("NotSupported", f"{action[:64]} is not an OCPP {service.version} request")
    identity = values.get("chargeBoxIdentity", "")
    if not identity:
        raise sender("ProtocolError", "The chargeBoxIdentity header is missing")
    try:
        value = service.element(name).parse(node, _client(service.path).wsdl.types)
    except Exception as exc:  # zeep raises many types for content outside the XSD
        raise sender("ProtocolError", f"{action} does not fit the WSDL: {exc}") from None
    payload = to_json(serialize_object(value, dict)) if value is not None else {}
    return Request(
        action=action,
        payload=payload if isinstance(payload, dict) else {},
        charge_box_identity=identity,
        message_id=values.get("MessageID", ""),
        from_address=from_address,
        wsa_action=values.get("Action", ""),
        headers=values,
    )


def to_json(value: Any) -> Any:
    """A deserialised XSD value as OCPP-J JSON: absent elements omitted, times in ISO 8601."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if item is None or item == []:
                continue
            out[key] = to_json(item)
        return out
    if isinstance(value, list):
        return [to_json(item) for item in value]
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _envelope(headers: list[etree._Element]) -> tuple[etree._Element, etree._Element]:
    envelope = etree.Element(f"{{{SOAP12}}}Envelope", nsmap={"s": SOAP12, "a": WSA})
    header = etree.SubElement(envelope, f"{{{SOAP12}}}Header")
    for item in headers:
        header.append(item)
    body = etree.SubElement(envelope, f"{{{SOAP12}}}Body")
    return envelope, body


def _addressing(action: str, relates_to: str) -> list[etree._Element]:
    items = []
    for name, text in (
        ("Action", action),
        ("MessageID", f"urn:uuid:{uuid.uuid4()}"),
        ("RelatesTo", relates_to),
        ("To", ANONYMOUS),
    ):
        if not text:
            continue
        element = etree.Element(f"{{{WSA}}}{name}")
        element.text = text
        items.append(element)
    return items


def render_response(
    service: Service, action: str, payload: dict[str, Any], relates_to: str
) -> bytes:
    """The answer to `action`: the OCPP-J answer payload rendered with the WSDL's types."""
    name = action[0].lower() + action[1:] + "Response"
    element = service.element(name)
    envelope, body = _envelope(_addressing(f"/{action}Response", relates_to))
    element.render(body, element(**payload))
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="utf-8"))


def render_fault(fault: SoapFault, service: Service | None, relates_to: str = "") -> bytes:
    envelope, body = _envelope(_addressing(f"{WSA}/fault", relates_to))
    element = etree.SubElement(body, f"{{{SOAP12}}}Fault")
    code = etree.SubElement(element, f"{{{SOAP12}}}Code")
    value = etree.SubElement(code, f"{{{SOAP12}}}Value")
    value.text = f"s:{fault.code}"
    if fault.subcode and service is not None:
        subcode = etree.SubElement(code, f"{{{SOAP12}}}Subcode")
        sub_value = etree.SubElement(subcode, f"{{{SOAP12}}}Value", nsmap={"o": service.namespace})
        sub_value.text = f"o:{fault.subcode}"
    reason = etree.SubElement(element, f"{{{SOAP12}}}Reason")
    text = etree.SubElement(reason, f"{{{SOAP12}}}Text")
    text.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
    text.text = fault.reason
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="utf-8"))
