"""OCPP dateTime values: RFC 3339 in UTC on the wire, aware datetimes inside."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_ocpp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ocpp_now() -> str:
    return to_ocpp(utcnow())


def from_ocpp(value: str | None) -> datetime | None:
    """Parse an OCPP dateTime; a value without offset is taken as UTC. None if unreadable."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
