"""Reads shared by the API, the admin and the services."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import pairwise

from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet

from transactions import store
from transactions.choices import ENERGY_REGISTER, AuthorizationStatus, RequestStatus
from transactions.models import (
    IdToken,
    MeterValue,
    RemoteStart,
    Reservation,
    Tariff,
    Transaction,
    TransactionEvent,
)


def id_token_list() -> QuerySet[IdToken]:
    return IdToken.objects.select_related("group_id_token")


def tariff_for_station(*, station_pk: int) -> Tariff | None:
    """The station's own active tariff, else the active default one."""
    return store.tariff_for_station(station_pk)


def transaction_list() -> QuerySet[Transaction]:
    return Transaction.objects.select_related("station", "id_token", "reservation", "tariff")


def transaction_detail() -> QuerySet[Transaction]:
    return transaction_list().prefetch_related(
        Prefetch("meter_values", queryset=MeterValue.objects.order_by("timestamp", "id")),
        Prefetch("events", queryset=TransactionEvent.objects.order_by("timestamp", "seq_no")),
    )


def meter_value_list() -> QuerySet[MeterValue]:
    return MeterValue.objects.select_related("station", "transaction")


def reservation_list() -> QuerySet[Reservation]:
    return Reservation.objects.select_related("station")


def reservation_for_use(*, station_pk: int, reservation_id: int) -> Reservation | None:
    return Reservation.objects.filter(station_id=station_pk, reservation_id=reservation_id).first()


def active_transactions(*, station_pk: int | None = None) -> QuerySet[Transaction]:
    qs = transaction_list().filter(is_active=True)
    return qs.filter(station_id=station_pk) if station_pk is not None else qs


def local_list_tokens() -> QuerySet[IdToken]:
    return id_token_list().filter(in_local_list=True)


def transactions_for_token(value: str) -> QuerySet[Transaction]:
    return transaction_list().filter(Q(id_token_value=value) | Q(stop_id_token_value=value))


POWER_IMPORT = "Power.Active.Import"

Point = tuple[datetime, float]


def _in_base_unit(value: Decimal, unit: str, multiplier: int, base: str) -> float:
    """A reading in W or Wh: the unit may carry a k prefix, 2.x a 10^multiplier."""
    scaled = value * (Decimal(10) ** multiplier)
    if unit.lower() == "k" + base.lower():
        scaled *= 1000
    return float(scaled)


def _per_moment(rows: list[MeterValue], base: str) -> list[Point]:
    """One value per timestamp: the whole-meter reading where there is one, else the sum of
    the phases (a station may report power per phase only)."""
    whole: dict[datetime, float] = {}
    phases: dict[datetime, float] = defaultdict(float)
    for row in rows:
        if row.value is None:
            continue
        value = _in_base_unit(row.value, row.unit, row.multiplier, base)
        if row.phase in ("", "N"):
            whole[row.timestamp] = value
        elif "-N" in row.phase or row.phase in ("L1", "L2", "L3"):
            phases[row.timestamp] += value
    points = dict(phases)
    points.update(whole)
    return sorted(points.items())


def transaction_power_energy(tx: Transaction) -> tuple[list[Point], list[Point]]:
    """Power (W) and energy charged so far (Wh) of a transaction over time, from its meter
    values: power from Power.Active.Import, or, where the station sends none, the average
    between consecutive Energy.Active.Import.Register readings; energy is the register
    reading less the reading at the start."""
    rows = list(
        MeterValue.objects.filter(
            transaction=tx, measurand__in=[ENERGY_REGISTER, POWER_IMPORT]
        ).order_by("timestamp", "id")
    )
    register = [
        (at, wh)
        for at, wh in _per_moment([r for r in rows if r.measurand == ENERGY_REGISTER], "Wh")
        if abs(wh) < 1e17  # no meter counts that far: a garbled reading
    ]
    start_wh = float(tx.meter_start) if tx.meter_start is not None else None
    if start_wh is None and register:
        start_wh = register[0][1]
    energy = [(at, max(wh - (start_wh or 0.0), 0.0)) for at, wh in register]
    power = _per_moment([r for r in rows if r.measurand == POWER_IMPORT], "W")
    if not power and len(register) > 1:
        # A sampled average holds until the next sample: each interval's mean power is drawn
        # from its start, and the last one is held to the last reading.
        for (t0, e0), (t1, e1) in pairwise(register):
            hours = (t1 - t0).total_seconds() / 3600
            if hours > 0:
                power.append((t0, max(e1 - e0, 0.0) / hours))
        if power:
            power.append((register[-1][0], power[-1][1]))
    return power, energy


def remote_start_for_command(*, station_pk: int, version: str, request: dict) -> RemoteStart | None:
    """The remote start record a RemoteStart/RequestStartTransaction command made (2.x by
    its remoteStartId; 1.6, which has none, the latest for its idTag)."""
    starts = RemoteStart.objects.filter(station_id=station_pk)
    if "remoteStartId" in request:
        return starts.filter(remote_start_id=request["remoteStartId"]).first()
    return starts.filter(id_token_value=request.get("idTag", "")).order_by("-created").first()


@dataclass(frozen=True)
class RemoteStartDecision:
    """What became of a remote start: the station's answer, then the CSMS's decision on the
    transaction it led to (the authorization status answered for its id token)."""

    state: str  # refused-by-station | waiting | accepted | refused | no-transaction
    station_status: str
    csms_status: str
    text: str
    transaction_pk: int | None = None
    transaction_id: str = ""


def remote_start_decision(remote: RemoteStart, *, now: datetime) -> RemoteStartDecision:
    token = remote.id_token_value
    if remote.status != RequestStatus.ACCEPTED:
        return RemoteStartDecision(
            "refused-by-station",
            remote.status,
            "",
            f"The station answered {remote.status}: no transaction starts.",
        )
    tx = remote.transactions.order_by("pk").first()
    if tx is None:
        waited = (now - remote.created).total_seconds()
        if waited > settings.CSMS_REMOTE_START_TIMEOUT:
            return RemoteStartDecision(
                "no-transaction",
                remote.status,
                "",
                f"The station accepted, but started no transaction within "
                f"{settings.CSMS_REMOTE_START_TIMEOUT} s.",
            )
        return RemoteStartDecision(
            "waiting",
            remote.status,
            "",
            "The station accepted; waiting for it to start the transaction and for the "
            f"CSMS's decision on id token {token}…",
        )
    where = f" on EVSE {tx.evse_id}" if tx.evse_id is not None else ""
    if not tx.auth_status:
        return RemoteStartDecision(
            "waiting",
            remote.status,
            "",
            f"Transaction {tx.transaction_id} started{where}; waiting for the station to "
            f"present id token {token} for the CSMS's decision…",
            tx.pk,
            tx.transaction_id,
        )
    if tx.auth_status == AuthorizationStatus.ACCEPTED:
        return RemoteStartDecision(
            "accepted",
            remote.status,
            tx.auth_status,
            f"The CSMS accepted id token {token}: transaction {tx.transaction_id} started{where}.",
            tx.pk,
            tx.transaction_id,
        )
    return RemoteStartDecision(
        "refused",
        remote.status,
        tx.auth_status,
        f"The CSMS refused id token {token} ({tx.auth_status}): transaction "
        f"{tx.transaction_id}{where} is not authorized and the station ends it.",
        tx.pk,
        tx.transaction_id,
    )
