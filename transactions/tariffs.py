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
    *, tariff: Tariff, energy_wh: Decimal | None, started_at: datetime | None, until: datetime
) -> cost.Cost:
    """The cost of a session known by its totals: one charging period from its start (the
    flat per-minute price runs for the whole session, as it always did)."""
    start = started_at if started_at is not None and started_at <= until else until
    usage = [cost.Usage(start, until, energy_wh or Decimal(0))]
    return cost.session_cost(tariff_definition(tariff), usage)


def cost_details(
    *, tariff: Tariff, energy_wh: Decimal | None, started_at: datetime | None, until: datetime
) -> Json:
    """2.1 CostDetailsType of a session under `tariff`, for the API and the admin."""
    computed = tariff_session_cost(
        tariff=tariff, energy_wh=energy_wh, started_at=started_at, until=until
    )
    return {"totalCost": computed.total_cost(), "totalUsage": computed.total_usage()}


def default_tariff_set_result(
    *, station_pk: int, request: Json, response: Json, at: datetime
) -> StationTariff | None:
    """SetDefaultTariff Accepted: the tariff is the default of the EVSE (0: of every EVSE),
    replacing the one it had."""
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
                "status": "Accepted",
                "updated": at,
            },
        )
    return row


def transaction_tariff_change_result(
    *, station_pk: int, request: Json, response: Json, at: datetime
) -> StationTariff | None:
    """ChangeTransactionTariff Accepted: the transaction's tariff from now on."""
    if response["status"] != "Accepted":
        return None

    tariff = request["tariff"]
    transaction_id = request["transactionId"]
    evse_id = (
        Transaction.objects.filter(station_id=station_pk, transaction_id=transaction_id)
        .values_list("evse_id", flat=True)
        .first()
    )
    with transaction.atomic():
        # The CSMS prices the transaction with the tariff the station now applies.
        priced = Tariff.objects.create(
            name=f"{tariff['tariffId']} (transaction {transaction_id})"[:100],
            currency=tariff["currency"],
            price_per_kwh=Decimal(0),
            definition=tariff,
            active=False,
        )
        Transaction.objects.filter(station_id=station_pk, transaction_id=transaction_id).update(
            tariff=priced, currency=tariff["currency"]
        )
        StationTariff.objects.filter(station_id=station_pk, transaction_id=transaction_id).delete()
        return StationTariff.objects.create(
            station_id=station_pk,
            evse_id=evse_id or 0,
            tariff_id=tariff["tariffId"],
            transaction_id=transaction_id,
            currency=tariff["currency"],
            tariff=tariff,
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
    """Send a CSMS tariff as the default tariff (SetDefaultTariff) of the EVSE
    (0: every EVSE) to its station, or to every connected 2.1 station for a default tariff;
    (station, answer) for each. The answers are recorded by the SetDefaultTariff result."""
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
                payload={"evseId": evse_id, "tariff": definition},
                origin=origin,
                user=user,
            )
        except StationNotConnected as exc:
            answers.append((identity, str(exc)))
            continue
        answers.append((identity, (outcome.response or {}).get("status", outcome.status)))
    return answers
