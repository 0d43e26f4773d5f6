"""OCPP 2.1 tariffs: the CSMS's own priced with the 2.1 engine, and those a station holds
(I07-I12: local cost calculation) as the CSMS records them.

SetDefaultTariff, ChangeTransactionTariff, ClearTariffs and GetTariffs answers keep
`StationTariff` true: what the station accepted is recorded, what it cleared or no longer
reports is removed. The cost of a transaction under such a tariff is `transactions.cost`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction

from ocpp_router.datetimes import from_ocpp, to_ocpp
from transactions import cost
from transactions.models import StationTariff, Tariff, Transaction

Json = dict[str, Any]


def tariff_definition(tariff: Tariff) -> Json:
    """`tariff` as an OCPP 2.1 TariffType: its `definition`, else its flat prices."""
    if tariff.definition:
        return {"tariffId": str(tariff.pk), **tariff.definition, "currency": tariff.currency}
    return cost.flat_tariff(
        tariff_id=str(tariff.pk),
        currency=tariff.currency,
        price_per_kwh=tariff.price_per_kwh,
        price_per_minute=tariff.price_per_minute,
        session_fee=tariff.session_fee,
    )


def tariff_session_cost(
    *,
    tariff: Tariff,
    energy_wh: Decimal | None,
    started_at: datetime | None,
    until: datetime,
    history: list[Json] | None = None,
    reserved_at: datetime | None = None,
) -> cost.Cost:
    """The cost of a session known by its totals: one charging period from its start (the
    flat per-minute price runs for the whole session, as it always did), or one per tariff
    where `history` (Transaction.tariff_history) holds the tariffs it replaced (OCPP 2.1
    I11: energy and time before a change at the old tariff, after it at the new one).
    `reserved_at`: when the reservation the session used began (its reservation prices)."""
    start = started_at if started_at is not None and started_at <= until else until
    total = energy_wh or Decimal(0)
    segments: list[tuple[Json, list[cost.Usage]]] = []
    since, energy_before = start, Decimal(0)
    for change in history or []:
        changed_at = min(max(from_ocpp(change["until"]) or since, since), until)
        energy_then = min(max(Decimal(change["energyWh"]), energy_before), total)
        usage = cost.Usage(since, changed_at, energy_then - energy_before)
        segments.append((change["tariff"], [usage]))
        since, energy_before = changed_at, energy_then
    segments.append((tariff_definition(tariff), [cost.Usage(since, until, total - energy_before)]))
    reservation = (reserved_at, start) if reserved_at is not None else None
    return cost.split_session_cost(segments, reservation=reservation)


def transaction_cost(tx: Transaction, *, until: datetime) -> cost.Cost:
    """The cost of `tx` (which has a tariff) up to `until`."""
    assert tx.tariff is not None
    return tariff_session_cost(
        tariff=tx.tariff,
        energy_wh=tx.energy_wh,
        started_at=tx.started_at,
        until=until,
        history=tx.tariff_history,
        reserved_at=tx.reserved_at,
    )


def cost_details(
    *,
    tariff: Tariff,
    energy_wh: Decimal | None,
    started_at: datetime | None,
    until: datetime,
    history: list[Json] | None = None,
    reserved_at: datetime | None = None,
) -> Json:
    """2.1 CostDetailsType of a session under `tariff`, for the API and the admin."""
    computed = tariff_session_cost(
        tariff=tariff,
        energy_wh=energy_wh,
        started_at=started_at,
        until=until,
        history=history,
        reserved_at=reserved_at,
    )
    return {"totalCost": computed.total_cost(), "totalUsage": computed.total_usage()}


def _held_copy(*, station_pk: int, tariff: Json, label: str) -> Tariff:
    """The CSMS's copy of a tariff a station applies, pricing what it applies to (never
    chosen by itself: inactive)."""
    return Tariff.objects.create(
        name=f"{tariff['tariffId']} ({label})"[:100],
        station_id=station_pk,
        currency=tariff["currency"],
        price_per_kwh=Decimal(0),
        definition=tariff,
        active=False,
    )


def default_tariff_set_result(
    *, station_pk: int, request: Json, response: Json, at: datetime
) -> StationTariff | None:
    """SetDefaultTariff Accepted (OCPP 2.1 I07): the tariff is the default of the EVSE
    (0: of every EVSE), replacing the one it had; transactions that start on the EVSE from
    then on are priced by it (`statements.tariff_for`), as the station prices them."""
    tariff = request["tariff"]
    evse_id = request["evseId"]
    if response["status"] != "Accepted":
        StationTariff.objects.filter(
            station_id=station_pk, evse_id=evse_id, tariff_id=tariff["tariffId"], transaction_id=""
        ).update(status=response["status"], updated=at)
        return None
    with transaction.atomic():
        StationTariff.objects.filter(
            station_id=station_pk, evse_id=evse_id, transaction_id=""
        ).exclude(tariff_id=tariff["tariffId"]).delete()
        row, _ = StationTariff.objects.update_or_create(
            station_id=station_pk,
            evse_id=evse_id,
            tariff_id=tariff["tariffId"],
            transaction_id="",
            defaults={
                "currency": tariff["currency"],
                "tariff": tariff,
                "priced": _held_copy(
                    station_pk=station_pk,
                    tariff=tariff,
                    label=f"default of EVSE {evse_id}" if evse_id else "default of the station",
                ),
                "status": "Accepted",
                "updated": at,
            },
        )
    return row


def transaction_tariff_change_result(
    *, station_pk: int, request: Json, response: Json, at: datetime
) -> StationTariff | None:
    """ChangeTransactionTariff Accepted (OCPP 2.1 I11): the transaction's tariff from now
    on. The tariff it replaces goes to the transaction's `tariff_history` with the energy
    so far, and keeps pricing the part of the session before the change."""
    if response["status"] != "Accepted":
        return None

    tariff = request["tariff"]
    transaction_id = request["transactionId"]
    with transaction.atomic():
        tx = (
            Transaction.objects.select_for_update(of=("self",))
            .select_related("tariff")
            .filter(station_id=station_pk, transaction_id=transaction_id)
            .first()
        )
        if tx is not None:
            replaced = {"tariffId": "", "currency": tariff["currency"]}  # unpriced so far
            if tx.tariff is not None:
                replaced = tariff_definition(tx.tariff)
            tx.tariff_history = [
                *tx.tariff_history,
                {
                    "tariff": replaced,
                    "until": to_ocpp(at),
                    "energyWh": str(tx.energy_wh or 0),
                },
            ]
            tx.tariff = _held_copy(
                station_pk=station_pk, tariff=tariff, label=f"transaction {transaction_id}"
            )
            tx.currency = tariff["currency"]
            tx.save(update_fields=["tariff_history", "tariff", "currency", "updated"])
        StationTariff.objects.filter(station_id=station_pk, transaction_id=transaction_id).delete()
        return StationTariff.objects.create(
            station_id=station_pk,
            evse_id=(tx.evse_id if tx is not None else None) or 0,
            tariff_id=tariff["tariffId"],
            transaction_id=transaction_id,
            currency=tariff["currency"],
            tariff=tariff,
            priced=tx.tariff if tx is not None else None,
            status="Accepted",
            updated=at,
        )


def tariffs_clear_result(*, station_pk: int, request: Json, response: Json) -> int:
    """ClearTariffs: the tariffs the station cleared, or told us it does not hold, go."""
    rows = StationTariff.objects.filter(station_id=station_pk, transaction_id="")
    if "evseId" in request:
        rows = rows.filter(evse_id=request["evseId"])
    removed = 0
    for result in response["clearTariffsResult"]:
        if result["status"] not in ("Accepted", "NoTariff"):
            continue
        if "tariffId" in result:
            removed += rows.filter(tariff_id=result["tariffId"]).delete()[0]
        elif request.get("tariffIds"):
            removed += rows.filter(tariff_id__in=request["tariffIds"]).delete()[0]
        else:
            removed += rows.delete()[0]
    return removed


def tariffs_reported(*, station_pk: int, request: Json, response: Json, at: datetime) -> int:
    """GetTariffs: the default tariffs the station reports for the EVSE (0: all) are
    what it holds; ours it does not report are removed, the ones we did not know are kept
    by id (their content is unknown until set again)."""
    evse_id = request["evseId"]
    rows = StationTariff.objects.filter(station_id=station_pk, transaction_id="")
    if evse_id:
        rows = rows.filter(evse_id=evse_id)
    if response["status"] == "NoTariff":
        return rows.delete()[0]
    if response["status"] != "Accepted":
        return 0
    held: set[tuple[int, str]] = set()
    with transaction.atomic():
        for assignment in response.get("tariffAssignments", []):
            if assignment["tariffKind"] != "DefaultTariff":
                continue
            for evse in assignment.get("evseIds") or [evse_id]:
                held.add((evse, assignment["tariffId"]))
                StationTariff.objects.get_or_create(
                    station_id=station_pk,
                    evse_id=evse,
                    tariff_id=assignment["tariffId"],
                    transaction_id="",
                    defaults={"currency": "", "tariff": {}, "status": "Reported", "updated": at},
                )
        gone = [row.pk for row in rows if (row.evse_id, row.tariff_id) not in held]
        StationTariff.objects.filter(pk__in=gone).delete()
    return len(gone)


def tariff_send_default(
    *, tariff_pk: int, evse_id: int = 0, origin: str, user: Any = None
) -> list[tuple[str, str]]:
    """Send a CSMS tariff as the default tariff (SetDefaultTariff) of its EVSE, else of
    `evse_id` (0: every EVSE), to its station, or to every connected 2.1 station for a
    default tariff; (station, answer) for each. The answers are recorded by the
    SetDefaultTariff result."""
    from commands.services import StationNotConnected, command_send
    from stations.models import ChargingStation

    tariff = Tariff.objects.get(pk=tariff_pk)
    definition = tariff_definition(tariff)
    definition["tariffId"] = f"csms-{tariff.pk}"
    stations = ChargingStation.objects.filter(protocol="2.1", is_online=True)
    if tariff.station_id is not None:
        stations = stations.filter(pk=tariff.station_id)
    answers = []
    for identity in stations.order_by("identity").values_list("identity", flat=True):
        try:
            outcome = command_send(
                identity=identity,
                action="SetDefaultTariff",
                payload={
                    "evseId": tariff.evse_id if tariff.evse_id is not None else evse_id,
                    "tariff": definition,
                },
                origin=origin,
                user=user,
            )
        except StationNotConnected as exc:
            answers.append((identity, str(exc)))
            continue
        answers.append((identity, (outcome.response or {}).get("status", outcome.status)))
    return answers
