"""IdTokenInfo as each OCPP version spells it on the wire.

Services store the answers they give to transaction messages (a duplicate gets the same
answer again), so the translation from the domain to the wire lives here, shared by the
services and the handlers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ocpp_router.datetimes import to_ocpp
from ocpp_router.rpc import V16
from transactions.choices import STATUSES_16, AuthorizationStatus


@dataclass(frozen=True)
class TokenInfo:
    """The authorization decision for one id token, version-neutral."""

    status: str
    expiry: datetime | None = None
    group_value: str = ""
    group_type: str = ""
    language1: str = ""
    language2: str = ""
    personal_message: str = ""
    message_format: str = "UTF8"
    charging_priority: int | None = None

    @property
    def accepted(self) -> bool:
        return self.status == AuthorizationStatus.ACCEPTED


def status_for_version(status: str, version: str) -> str:
    """Map a status to the version's enumeration: 1.6 knows no NoCredit, Unknown, NotAt..."""
    if version == V16 and status not in STATUSES_16:
        return AuthorizationStatus.INVALID
    return status


def id_tag_info(info: TokenInfo) -> dict[str, Any]:
    """OCPP 1.6 IdTagInfo."""
    answer: dict[str, Any] = {"status": str(status_for_version(info.status, V16))}
    if info.expiry:
        answer["expiryDate"] = to_ocpp(info.expiry)
    if info.group_value:
        answer["parentIdTag"] = info.group_value[:20]
    return answer


def id_token_info(info: TokenInfo) -> dict[str, Any]:
    """OCPP 2.0.1 / 2.1 IdTokenInfoType."""
    answer: dict[str, Any] = {"status": str(info.status)}
    if info.expiry:
        answer["cacheExpiryDateTime"] = to_ocpp(info.expiry)
    if info.charging_priority is not None:
        answer["chargingPriority"] = info.charging_priority
    if info.group_value:
        answer["groupIdToken"] = {"idToken": info.group_value, "type": info.group_type or "Central"}
    if info.language1:
        answer["language1"] = info.language1
    if info.language2:
        answer["language2"] = info.language2
    if info.personal_message:
        message = {"format": info.message_format, "content": info.personal_message}
        if info.language1:
            message["language"] = info.language1
        answer["personalMessage"] = message
    return answer


def token_info_for_version(info: TokenInfo, version: str) -> dict[str, Any]:
    return id_tag_info(info) if version == V16 else id_token_info(info)
