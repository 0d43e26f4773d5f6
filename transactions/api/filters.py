from __future__ import annotations

import django_filters

from csms.api.stations import StationFilterSet
from transactions.models import (
    BatterySwap,
    IdToken,
    LocalAuthList,
    LocalAuthListEntry,
    MeterValue,
    RemoteStart,
    Reservation,
    Settlement,
    StationTariff,
    Tariff,
    Transaction,
    VatNumberCheck,
    WebPayment,
)


class IdTokenFilter(django_filters.FilterSet):
    class Meta:
        model = IdToken
        fields = {
            "value": ["exact", "icontains"],
            "type": ["exact"],
            "status": ["exact"],
            "in_local_list": ["exact"],
        }


class TransactionFilter(StationFilterSet):
    id_token = django_filters.CharFilter(field_name="id_token_value")
    active = django_filters.BooleanFilter(field_name="is_active")
    started_after = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    started_before = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="lt")

    class Meta:
        model = Transaction
        fields = ["id_token", "active", "transaction_id", "ocpp_version", "evse_id"]


class MeterValueFilter(StationFilterSet):
    after = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="gte")
    before = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="lt")
    # The names of every other time-stamped endpoint (after/before are kept as aliases).
    since = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="lt")

    class Meta:
        model = MeterValue
        fields = ["transaction", "measurand", "phase", "evse_id"]


class ReservationFilter(StationFilterSet):
    class Meta:
        model = Reservation
        fields = ["status", "id_token_value"]


class TariffFilter(StationFilterSet):
    class Meta:
        model = Tariff
        fields = ["active", "currency"]


class RemoteStartFilter(StationFilterSet):
    class Meta:
        model = RemoteStart
        fields = ["remote_start_id", "status", "id_token_value"]


class LocalAuthListFilter(StationFilterSet):
    class Meta:
        model = LocalAuthList
        fields = ["last_status"]


class LocalAuthListEntryFilter(StationFilterSet):
    class Meta:
        model = LocalAuthListEntry
        fields = ["id_token_value", "id_token_type"]


# --- OCPP 2.1 ---------------------------------------------------------------------


class BatterySwapFilter(StationFilterSet):
    class Meta:
        model = BatterySwap
        fields = ["event_type"]


class SettlementFilter(StationFilterSet):
    class Meta:
        model = Settlement
        fields = ["status"]


class VatNumberCheckFilter(StationFilterSet):
    class Meta:
        model = VatNumberCheck
        fields = ["status"]


class WebPaymentFilter(StationFilterSet):
    class Meta:
        model = WebPayment
        fields = []


class StationTariffFilter(StationFilterSet):
    class Meta:
        model = StationTariff
        fields = ["status", "currency"]
