"""OCPP 2.1 tariffs a station holds (I07-I11), as the CSMS records them.

SetDefaultTariff, ChangeTransactionTariff, ClearTariffs and GetTariffs answers keep
`StationTariff` true: what the station accepted is recorded, what it cleared or no longer
reports is removed. The cost of a transaction under such a tariff is `transactions.cost`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from transactions.models import StationTariff

Json = dict[str, Any]


def default_tariff_set_result(
    *, station_pk: int, request: Json, response: Json, at: datetime
) -> StationTariff | None:
    """SetDefaultTariff Accepted: the tariff is the default of the EVSE (0: of every EVSE),
    replacing the one it had (OCPP 2.1 I07)."""
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
    """ChangeTransactionTariff Accepted: the transaction's tariff from now on (I10)."""
    if response["status"] != "Accepted":
        return None
    from transactions.models import Transaction

    tariff = request["tariff"]
    transaction_id = request["transactionId"]
    evse_id = (
        Transaction.objects.filter(station_id=station_pk, transaction_id=transaction_id)
        .values_list("evse_id", flat=True)
        .first()
    )
    with transaction.atomic():
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
    """ClearTariffs: the tariffs the station cleared, or told us it does not hold, go (I11)."""
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
    """GetTariffs (I12): the default tariffs the station reports for the EVSE (0: all) are
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
