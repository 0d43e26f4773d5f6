"""Reads shared by the API, the admin and the services."""

from __future__ import annotations

from django.db.models import F, Prefetch, Q, QuerySet

from transactions.models import (
    IdToken,
    MeterValue,
    Reservation,
    Tariff,
    Transaction,
    TransactionEvent,
)


def id_token_find(*, value: str, type: str = "") -> IdToken | None:
    """The token for a 2.x (value, type), or for a 1.6 idTag (`type` empty: value only)."""
    tokens = IdToken.objects.select_related("group_id_token").filter(value=value)
    if type:
        return tokens.filter(type=type).first()
    return tokens.order_by("id").first()


def id_token_list() -> QuerySet[IdToken]:
    return IdToken.objects.select_related("group_id_token")


def id_token_has_active_transaction(*, value: str, exclude_pk: int | None = None) -> bool:
    active = Transaction.objects.filter(id_token_value=value, is_active=True)
    if exclude_pk is not None:
        active = active.exclude(pk=exclude_pk)
    return active.exists()


def tariff_for_station(*, station_pk: int) -> Tariff | None:
    """The station's own active tariff, else the active default one."""
    return (
        Tariff.objects.filter(Q(station_id=station_pk) | Q(station__isnull=True), active=True)
        .order_by(F("station_id").asc(nulls_last=True))
        .first()
    )


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
