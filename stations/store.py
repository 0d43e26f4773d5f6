"""Where the station message path is hand-tuned: the only importer of its SQL.

Admission, connect, disconnect, connector status and the batched last-seen/heartbeat
times run for nearly every station message or connection, so their statements are written
once from the models' `_meta` (`csms.sql`) instead of compiled by the ORM on every call.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from csms.sql import Lookup, Statement
from stations.models import ChargingStation, Connector, Evse

# What admission reads, looked up without compiling a query per call: a reconnect storm
# admits thousands of stations at once. Other fields load on access.
_ADMISSION = Lookup(
    ChargingStation,
    "identity",
    [
        "id",
        "identity",
        "enabled",
        "security_profile",
        "password_hash",
        "password_pending_hash",
        "security_profile_pending",
        "registration_status",
        "is_online",
        "channel_name",
    ],
)


def station_by_identity(identity: str) -> ChargingStation | None:
    station: ChargingStation | None = _ADMISSION.get(identity)
    return station


_CONNECT_FIELDS = [
    "protocol",
    "is_online",
    "connected_since",
    "last_seen",
    "remote_address",
    "channel_name",
    "updated",
]


def _station_update(fields: list[str]) -> Statement:
    """UPDATE of the station `fields` by primary key (the last parameter)."""
    return Statement(
        lambda n: (
            f"UPDATE {n.table(ChargingStation)} SET {n.assign(ChargingStation, fields)} "
            f"WHERE {n.col(ChargingStation, 'id')} = %s"
        ),
        [*((ChargingStation, field) for field in fields), (ChargingStation, "id")],
    )


def _holder(n: Any) -> str:
    """The channel of the connection holding the station ('' when none holds it)."""
    return (
        f"CASE WHEN {n.col(ChargingStation, 'is_online')} "
        f"THEN {n.col(ChargingStation, 'channel_name')} ELSE '' END"
    )


def _station_claim(fields: list[str]) -> Statement:
    """UPDATE of the station `fields` by primary key, only if the connection holding it is
    still the expected one (the last two parameters: the key, the expected channel)."""
    return Statement(
        lambda n: (
            f"UPDATE {n.table(ChargingStation)} SET {n.assign(ChargingStation, fields)} "
            f"WHERE {n.col(ChargingStation, 'id')} = %s AND {_holder(n)} = %s"
        ),
        [
            *((ChargingStation, field) for field in fields),
            (ChargingStation, "id"),
            (ChargingStation, "channel_name"),
        ],
    )


# A reconnect storm runs these once per station.
_STATION_CONNECT = _station_claim(_CONNECT_FIELDS)
_STATION_CONNECT_WITH_ACCOUNT = _station_claim([*_CONNECT_FIELDS, "account"])

_HOLDER = Lookup(ChargingStation, "id", ["id", "is_online", "channel_name"])


def station_connect(
    *,
    station_pk: int,
    protocol: str,
    remote_address: str,
    channel_name: str,
    account: str,
    at: datetime,
    expected: str,
) -> bool:
    """Mark the station online on `channel_name`, in one statement, only if the connection
    holding it is still `expected` ('' for none): of several connections admitted at once
    with one id, exactly one claims the station. True if claimed."""
    values = [protocol, True, at, at, remote_address[:64], channel_name, at]
    if account:
        statement, values = _STATION_CONNECT_WITH_ACCOUNT, [*values, account[:64]]
    else:
        statement = _STATION_CONNECT
    return bool(statement.execute([*values, station_pk, expected]))


def station_holder(station_pk: int) -> str:
    """The channel of the connection holding the station now ('' for none)."""
    station = _HOLDER.get(station_pk)
    if station is None or not station.is_online:
        return ""
    return str(station.channel_name)


_STATION_DISCONNECT = Statement(
    lambda n: (
        f"UPDATE {n.table(ChargingStation)} "
        f"SET {n.assign(ChargingStation, ['is_online', 'channel_name', 'last_seen', 'updated'])} "
        f"WHERE {n.col(ChargingStation, 'id')} = %s "
        f"AND {n.col(ChargingStation, 'channel_name')} = %s"
    ),
    [
        (ChargingStation, "is_online"),
        (ChargingStation, "channel_name"),
        (ChargingStation, "last_seen"),
        (ChargingStation, "updated"),
        (ChargingStation, "id"),
        (ChargingStation, "channel_name"),
    ],
)


def station_disconnect(
    *, station_pk: int, channel_name: str, at: datetime, keep_channel: bool = False
) -> bool:
    """Mark the station offline unless a newer connection has taken over. True if marked.
    `keep_channel`: the channel name stays (an OCPP-S station's ChargePointService address)."""
    kept = channel_name if keep_channel else ""
    return bool(_STATION_DISCONNECT.execute([False, kept, at, at, station_pk, channel_name]))


# Connector statuses arrive for a large share of station messages: the UPDATE is written
# once (csms.sql) instead of compiled by the ORM on every call.
_CONNECTOR_STATUS_FIELDS = (
    "status",
    "error_code",
    "info",
    "vendor_id",
    "vendor_error_code",
    "status_timestamp",
    "updated",
)
# The stored status of a known connector, unless the stored one is newer (replayed queues).
_CONNECTOR_STATUS = Statement(
    lambda n: (
        f"UPDATE {n.table(Connector)} SET {n.assign(Connector, _CONNECTOR_STATUS_FIELDS)} "
        f"WHERE {n.col(Connector, 'connector_id')} = %s AND {n.col(Connector, 'evse')} = ("
        f"SELECT {n.col(Evse, 'id')} FROM {n.table(Evse)} "
        f"WHERE {n.col(Evse, 'station')} = %s AND {n.col(Evse, 'evse_id')} = %s) "
        f"AND ({n.col(Connector, 'status_timestamp')} IS NULL "
        f"OR {n.col(Connector, 'status_timestamp')} <= %s)"
    ),
    [
        *((Connector, field) for field in _CONNECTOR_STATUS_FIELDS),
        (Connector, "connector_id"),
        (Evse, "station"),
        (Evse, "evse_id"),
        (Connector, "status_timestamp"),
    ],
)


def connector_status(
    *, station_pk: int, evse_id: int, connector_id: int, values: dict[str, Any]
) -> bool:
    """Store a known connector's status unless the stored one is newer. True if stored."""
    update = [
        *(values[field] for field in _CONNECTOR_STATUS_FIELDS),
        connector_id,
        station_pk,
        evse_id,
        values["status_timestamp"],
    ]
    return bool(_CONNECTOR_STATUS.execute(update))


# Written in batches by `stations.liveness`.
SEEN = Statement(
    lambda n: (
        f"UPDATE {n.table(ChargingStation)} SET {n.assign(ChargingStation, ['last_seen'])} "
        f"WHERE {n.col(ChargingStation, 'id')} = %s "
        f"AND ({n.col(ChargingStation, 'last_seen')} IS NULL "
        f"OR {n.col(ChargingStation, 'last_seen')} < %s)"
    ),
    [(ChargingStation, "last_seen"), (ChargingStation, "id"), (ChargingStation, "last_seen")],
)
HEARTBEAT = Statement(
    lambda n: (
        f"UPDATE {n.table(ChargingStation)} "
        f"SET {n.assign(ChargingStation, ['last_heartbeat'])} "
        f"WHERE {n.col(ChargingStation, 'id')} = %s"
    ),
    [(ChargingStation, "last_heartbeat"), (ChargingStation, "id")],
)
