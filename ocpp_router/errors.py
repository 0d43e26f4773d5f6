"""OCPP-J error codes, spelled per version (OCPP-J 1.6 section 4.2.3, 2.0.1 Part 4 section 4.3).

1.6 keeps the typos `FormationViolation` and `OccurenceConstraintViolation`; 2.0.1 and 2.1
spell them `FormatViolation` and `OccurrenceConstraintViolation` and add
`MessageTypeNotSupported` and `RpcFrameworkError`. Always take the code from the error
class with the connection's version: never send a 2.x spelling on a 1.6 connection.
"""

from __future__ import annotations

from typing import Any

V16 = "1.6"

# ErrorDescription is limited to 255 characters (OCPP-J 2.0.1 section 4.2.3).
MAX_DESCRIPTION = 255


class OcppError(Exception):
    """An error answered to the peer as a CALLERROR."""

    code_v16 = "GenericError"
    code_v2 = "GenericError"
    default_description = "Generic error"

    def __init__(self, description: str | None = None, details: dict[str, Any] | None = None):
        self.description = (description or self.default_description)[:MAX_DESCRIPTION]
        self.details = details or {}
        super().__init__(self.description)

    def code(self, version: str) -> str:
        return self.code_v16 if version == V16 else self.code_v2


class ActionNotImplemented(OcppError):
    code_v16 = code_v2 = "NotImplemented"
    default_description = "Requested action is not known by the CSMS"


class NotSupported(OcppError):
    code_v16 = code_v2 = "NotSupported"
    default_description = "Requested action is recognized but not supported by the CSMS"


class InternalError(OcppError):
    code_v16 = code_v2 = "InternalError"
    default_description = "The CSMS could not process the request"


class ProtocolError(OcppError):
    code_v16 = code_v2 = "ProtocolError"
    default_description = "Payload does not conform to the PDU structure"


class SecurityError(OcppError):
    code_v16 = code_v2 = "SecurityError"
    default_description = "Request refused for security reasons"


class FormatViolation(OcppError):
    code_v16 = "FormationViolation"
    code_v2 = "FormatViolation"
    default_description = "Payload is syntactically incorrect"


class PropertyConstraintViolation(OcppError):
    code_v16 = code_v2 = "PropertyConstraintViolation"
    default_description = "A field contains an invalid value"


class OccurrenceConstraintViolation(OcppError):
    code_v16 = "OccurenceConstraintViolation"
    code_v2 = "OccurrenceConstraintViolation"
    default_description = "A field violates occurrence constraints"


class TypeConstraintViolation(OcppError):
    code_v16 = code_v2 = "TypeConstraintViolation"
    default_description = "A field violates data type constraints"


class GenericError(OcppError):
    pass


class MessageTypeNotSupported(OcppError):
    code_v16 = "ProtocolError"  # 1.6 has no such code; it is never sent on 1.6 (we ignore there)
    code_v2 = "MessageTypeNotSupported"
    default_description = "Message type number is not supported"


class RpcFrameworkError(OcppError):
    code_v16 = "FormationViolation"  # 1.6 has no RpcFrameworkError
    code_v2 = "RpcFrameworkError"
    default_description = "Content is not a valid RPC request"
