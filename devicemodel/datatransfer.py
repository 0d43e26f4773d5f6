"""Vendor DataTransfer: JSON schemas for the `data` field and handlers, keyed as CitrineOS
keys them: `<protocol>-<vendorId>[-<messageId>]`, protocol being the subprotocol name
(`ocpp1.6`, `ocpp2.0.1`, `ocpp2.1`).

Register a schema from code or put `<key>.json` files in CSMS_DATATRANSFER_SCHEMA_DIR:

    register_schema("ocpp2.0.1-com.acme-Price", {"type": "object", ...})

and handle a vendor's messages (the data arrives parsed and validated):

    @datatransfer_handler("ocpp2.0.1", "com.acme", "Price")
    def price(ctx: CallContext, data: Any) -> DataTransferAnswer:
        return DataTransferAnswer("Accepted", {"price": 0.3})

What the CSMS answers (OCPP 1.6 section 4.3, 2.0.1 P01/P02): a vendor with no schema or
handler -> UnknownVendorId; a known vendor but an unknown messageId -> UnknownMessageId;
data that does not parse or fit the schema -> Rejected; otherwise the handler's answer, or
Accepted when only a schema is registered.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from jsonschema import validators

if TYPE_CHECKING:
    from ocpp_router.session import CallContext

logger = logging.getLogger(__name__)

ACCEPTED = "Accepted"
REJECTED = "Rejected"
UNKNOWN_VENDOR = "UnknownVendorId"
UNKNOWN_MESSAGE = "UnknownMessageId"


@dataclass(frozen=True)
class DataTransferAnswer:
    status: str
    data: Any = None
    info: str = ""


Handler = Callable[["CallContext", Any], DataTransferAnswer]

_schemas: dict[str, Any] = {}
_validators: dict[str, Any] = {}
_handlers: dict[str, Handler] = {}


def protocol_name(version: str) -> str:
    return f"ocpp{version}"


def key_of(protocol: str, vendor_id: str, message_id: str | None = None) -> str:
    return f"{protocol}-{vendor_id}" + (f"-{message_id}" if message_id else "")


def register_schema(key: str, schema: dict[str, Any]) -> None:
    """Register the JSON schema that `data` of DataTransfers keyed `key` must fit."""
    cls = validators.validator_for(schema)
    cls.check_schema(schema)
    _schemas[key] = schema
    _validators[key] = cls(schema)


def unregister(key: str) -> None:
    _schemas.pop(key, None)
    _validators.pop(key, None)
    _handlers.pop(key, None)


def datatransfer_handler(
    protocol: str, vendor_id: str, message_id: str | None = None
) -> Callable[[Handler], Handler]:
    """Handle DataTransfers from stations for `vendor_id` (and `message_id`, if given).

    `protocol` is an OCPP version ("1.6", "2.0.1", "2.1") or a subprotocol name ("ocpp1.6").
    The handler runs in a worker thread and returns a DataTransferAnswer.
    """
    if not protocol.startswith("ocpp"):
        protocol = protocol_name(protocol)

    def register(func: Handler) -> Handler:
        _handlers[key_of(protocol, vendor_id, message_id)] = func
        return func

    return register


def load_schema_dir(directory: Path) -> int:
    """Register every `<key>.json` schema of `directory`; returns how many."""
    count = 0
    for path in sorted(directory.glob("*.json")):
        with path.open(encoding="utf-8-sig") as fh:
            register_schema(path.stem, json.load(fh))
        count += 1
    return count


def load_schema_dir_from_settings() -> None:
    directory = settings.CSMS_DATATRANSFER_SCHEMA_DIR
    if not directory:
        return
    path = Path(directory)
    if not path.is_dir():
        logger.error("CSMS_DATATRANSFER_SCHEMA_DIR %s is not a folder", directory)
        return
    logger.info("Loaded %d DataTransfer schemas from %s", load_schema_dir(path), directory)


def _vendor_known(protocol: str, vendor_id: str) -> bool:
    prefix = key_of(protocol, vendor_id)
    return any(key == prefix or key.startswith(prefix + "-") for key in (*_schemas, *_handlers))


def _parse(data: Any) -> Any:
    # 1.6 `data` is a string (mostly JSON text); 2.x `data` is any JSON value.
    if isinstance(data, str):
        try:
            return json.loads(data)
        except ValueError:
            return data
    return data


def resolve(
    ctx: CallContext | None, version: str, vendor_id: str, message_id: str, data: Any
) -> tuple[DataTransferAnswer, Any]:
    """Decide the answer to a station's DataTransfer; returns it with the parsed data."""
    protocol = protocol_name(version)
    if not _vendor_known(protocol, vendor_id):
        return DataTransferAnswer(UNKNOWN_VENDOR), data
    keys = [key_of(protocol, vendor_id, message_id)] if message_id else []
    keys.append(key_of(protocol, vendor_id))
    key = next((k for k in keys if k in _schemas or k in _handlers), None)
    if key is None:
        return DataTransferAnswer(UNKNOWN_MESSAGE), data
    parsed = _parse(data)
    validator = _validators.get(key)
    if validator is not None:
        error = next(iter(validator.iter_errors(parsed)), None)
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "data"
            return DataTransferAnswer(REJECTED, info=f"{where}: {error.message}"[:255]), parsed
    handler = _handlers.get(key)
    if handler is None:
        return DataTransferAnswer(ACCEPTED), parsed
    return handler(ctx, parsed), parsed


def encode_for(version: str, data: Any) -> Any:
    """`data` as the version's schema wants it: 1.6 takes a string, 2.x any JSON value."""
    if version == "1.6" and not isinstance(data, str):
        return json.dumps(data, separators=(",", ":"))
    return data
