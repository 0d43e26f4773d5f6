"""OCPP-J RPC frames: parse and serialise. No Django imports.

CALL `[2, id, action, payload]`, CALLRESULT `[3, id, payload]`,
CALLERROR `[4, id, code, description, details]`; OCPP 2.1 adds
CALLRESULTERROR `[5, id, code, description, details]` and SEND `[6, id, action, payload]`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from ocpp_router import errors

V16, V201, V21 = "1.6", "2.0.1", "2.1"
VERSIONS = (V16, V201, V21)
SUBPROTOCOLS = {"ocpp1.6": V16, "ocpp2.0.1": V201, "ocpp2.1": V21}

MAX_MESSAGE_ID = 36
# Answer id for a frame whose own id cannot be read (OCPP-J 2.0.1 section 4.2.3).
UNREADABLE_ID = "-1"


class MessageType(IntEnum):
    CALL = 2
    CALLRESULT = 3
    CALLERROR = 4
    CALLRESULTERROR = 5
    SEND = 6


def message_types(version: str) -> frozenset[int]:
    if version == V21:
        return frozenset(MessageType)
    return frozenset({MessageType.CALL, MessageType.CALLRESULT, MessageType.CALLERROR})


@dataclass(frozen=True, slots=True)
class Call:
    message_id: str
    action: str
    payload: dict[str, Any]
    send: bool = False  # an OCPP 2.1 SEND: never answered

    def to_frame(self) -> list[Any]:
        kind = MessageType.SEND if self.send else MessageType.CALL
        return [int(kind), self.message_id, self.action, self.payload]


@dataclass(frozen=True, slots=True)
class CallResult:
    message_id: str
    payload: dict[str, Any]

    def to_frame(self) -> list[Any]:
        return [int(MessageType.CALLRESULT), self.message_id, self.payload]


@dataclass(frozen=True, slots=True)
class CallError:
    message_id: str
    code: str
    description: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    result_error: bool = False  # an OCPP 2.1 CALLRESULTERROR

    def to_frame(self) -> list[Any]:
        kind = MessageType.CALLRESULTERROR if self.result_error else MessageType.CALLERROR
        return [int(kind), self.message_id, self.code, self.description, self.details]


Frame = Call | CallResult | CallError


class FrameError(Exception):
    """A frame that cannot be understood; carries the error to answer and the id to answer with."""

    def __init__(self, error: errors.OcppError, message_id: str, answer: bool = True):
        super().__init__(error.description)
        self.error = error
        self.message_id = message_id
        self.answer = answer


def dumps(frame: Frame) -> str:
    return json.dumps(frame.to_frame(), separators=(",", ":"), ensure_ascii=False)


def error_frame(version: str, message_id: str, error: errors.OcppError) -> CallError:
    return CallError(message_id, error.code(version), error.description, error.details)


def parse(text: str | bytes, version: str) -> Frame:
    """Parse one websocket message into a frame, or raise FrameError naming the answer.

    Payload contents are not checked here: schema validation happens in dispatch.
    """
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise FrameError(
            errors.RpcFrameworkError("Message is not valid JSON")
            if version != V16
            else errors.FormatViolation("Message is not valid JSON"),
            UNREADABLE_ID,
        ) from None
    if not isinstance(data, list) or len(data) < 3:
        raise FrameError(_unreadable(version, "Message is not an OCPP-J array"), UNREADABLE_ID)
    message_id = data[1]
    if not isinstance(message_id, str) or not message_id or len(message_id) > MAX_MESSAGE_ID:
        raise FrameError(
            _unreadable(version, "Message id is not a string of 1 to 36 characters"),
            UNREADABLE_ID,
        )
    kind = data[0]
    if isinstance(kind, bool) or not isinstance(kind, int) or kind not in message_types(version):
        # OCPP-J 2.0.1 answers MessageTypeNotSupported; 1.6 and 2.1 ignore unknown types.
        raise FrameError(
            errors.MessageTypeNotSupported(f"Message type {kind!r} is not supported"),
            message_id,
            answer=version == V201,
        )
    if kind in (MessageType.CALL, MessageType.SEND):
        if len(data) != 4 or not isinstance(data[2], str) or not data[2]:
            raise FrameError(
                _structure(version, "A CALL is [2, id, action, payload]"),
                message_id,
                answer=kind == MessageType.CALL,
            )
        if not isinstance(data[3], dict):
            raise FrameError(
                _structure(version, "Payload must be a JSON object"),
                message_id,
                answer=kind == MessageType.CALL,
            )
        return Call(message_id, data[2], data[3], send=kind == MessageType.SEND)
    if kind == MessageType.CALLRESULT:
        if len(data) != 3 or not isinstance(data[2], dict):
            raise FrameError(
                _structure(version, "A CALLRESULT is [3, id, payload]"), message_id, answer=False
            )
        return CallResult(message_id, data[2])
    # CALLERROR and CALLRESULTERROR: be lenient with what we cannot answer anyway.
    code = data[2] if isinstance(data[2], str) else "GenericError"
    description = data[3] if len(data) > 3 and isinstance(data[3], str) else ""
    details = data[4] if len(data) > 4 and isinstance(data[4], dict) else {}
    return CallError(
        message_id, code, description, details, result_error=kind == MessageType.CALLRESULTERROR
    )


def _unreadable(version: str, description: str) -> errors.OcppError:
    if version == V16:
        return errors.FormatViolation(description)
    return errors.RpcFrameworkError(description)


def _structure(version: str, description: str) -> errors.OcppError:
    if version == V16:
        return errors.FormatViolation(description)
    return errors.ProtocolError(description)
