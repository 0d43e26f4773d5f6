from __future__ import annotations

from rest_framework import serializers

from csms.api.stations import StationIdAliasMixin, StationIdField, StationScopedSerializer
from stations.models import ChargingStation
from transactions import tariffs
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
    TransactionEvent,
    VatNumberCheck,
    WebPayment,
)


class IdTokenSerializer(serializers.ModelSerializer):
    group_id_token = serializers.PrimaryKeyRelatedField(
        queryset=IdToken.objects.all(), allow_null=True, required=False
    )

    class Meta:
        model = IdToken
        fields = [
            "id",
            "value",
            "type",
            "additional_info",
            "status",
            "expiry_date",
            "group_id_token",
            "language1",
            "language2",
            "personal_message",
            "personal_message_format",
            "charging_priority",
            "in_local_list",
            "created",
            "updated",
        ]
        read_only_fields = ["created", "updated"]


class MeterValueSerializer(StationScopedSerializer):
    class Meta:
        model = MeterValue
        fields = [
            "id",
            "station_id",
            "transaction",
            "evse_id",
            "connector_id",
            "timestamp",
            "measurand",
            "phase",
            "location",
            "context",
            "unit",
            "multiplier",
            "value",
            "signed_data",
        ]


class TransactionEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = TransactionEvent
        fields = [
            "id",
            "kind",
            "seq_no",
            "timestamp",
            "trigger_reason",
            "offline",
            "anomalies",
            "received_at",
        ]


TRANSACTION_FIELDS = [
    "id",
    "station_id",
    "ocpp_version",
    "transaction_id",
    "reported_transaction_id",
    "evse_id",
    "connector_id",
    "id_token",
    "id_token_value",
    "id_token_type",
    "auth_status",
    "stop_id_token_value",
    "is_active",
    "started_at",
    "stopped_at",
    "meter_start",
    "meter_stop",
    "energy_wh",
    "stop_reason",
    "charging_state",
    "trigger_reason",
    "max_seq_no",
    "event_count",
    "offline",
    "number_of_phases_used",
    "cable_max_current",
    "time_spent_charging",
    "remote_start_id",
    "reservation",
    "tariff",
    "total_cost",
    "currency",
    "station_cost",
    "tariff_history",
    "reserved_at",
    "anomalies",
    "ended_by",
    "end_note",
]


class TransactionSerializer(StationScopedSerializer):
    class Meta:
        model = Transaction
        fields = TRANSACTION_FIELDS


class TransactionEndSerializer(serializers.Serializer):
    """An operator ends a transaction the station will not end (or asks it to stop first)."""

    note = serializers.CharField(
        required=False, allow_blank=True, max_length=2000, help_text="Why, for the record."
    )
    stop_at_station = serializers.BooleanField(
        default=False,
        help_text="Ask the station to stop it too (1.6 RemoteStopTransaction, 2.x "
        "RequestStopTransaction); refused with 409 while the station is offline.",
    )


class TransactionDetailSerializer(TransactionSerializer):
    meter_values = MeterValueSerializer(many=True, read_only=True)
    events = TransactionEventSerializer(many=True, read_only=True)
    cost_details = serializers.SerializerMethodField(
        help_text="The CSMS's cost of the session as OCPP 2.1 costDetails (null: no tariff)."
    )

    class Meta(TransactionSerializer.Meta):
        fields = [*TRANSACTION_FIELDS, "cost_details", "events", "meter_values"]

    def get_cost_details(self, tx: Transaction) -> dict | None:
        if tx.tariff is None:
            return None
        until = tx.stopped_at or tx.last_event_at or tx.started_at
        if until is None:
            return None
        return tariffs.cost_details(
            tariff=tx.tariff,
            energy_wh=tx.energy_wh,
            started_at=tx.started_at,
            until=until,
            history=tx.tariff_history,
            reserved_at=tx.reserved_at,
        )


class ReservationSerializer(StationIdAliasMixin, serializers.ModelSerializer):
    station_id = StationIdField(queryset=ChargingStation.objects.all())

    class Meta:
        model = Reservation
        fields = [
            "id",
            "station_id",
            "reservation_id",
            "evse_id",
            "connector_type",
            "id_token_value",
            "id_token_type",
            "group_id_token_value",
            "expiry",
            "status",
            "created",
            "updated",
        ]
        read_only_fields = ["reservation_id", "status", "created", "updated"]


class TariffSerializer(StationIdAliasMixin, serializers.ModelSerializer):
    station_id = StationIdField(
        queryset=ChargingStation.objects.all(), allow_null=True, required=False
    )

    class Meta:
        model = Tariff
        fields = [
            "id",
            "name",
            "station_id",
            "evse_id",
            "currency",
            "price_per_kwh",
            "definition",
            "price_per_minute",
            "session_fee",
            "active",
            "created",
        ]
        read_only_fields = ["created"]


class RemoteStartSerializer(StationScopedSerializer):
    class Meta:
        model = RemoteStart
        exclude = ["station"]


class LocalAuthListSerializer(StationScopedSerializer):
    class Meta:
        model = LocalAuthList
        exclude = ["station"]


class LocalAuthListEntrySerializer(StationScopedSerializer):
    class Meta:
        model = LocalAuthListEntry
        exclude = ["station"]


# --- OCPP 2.1 ---------------------------------------------------------------------


class BatterySwapSerializer(StationScopedSerializer):
    class Meta:
        model = BatterySwap
        exclude = ["station"]


class SettlementSerializer(StationScopedSerializer):
    class Meta:
        model = Settlement
        exclude = ["station"]


class VatNumberCheckSerializer(StationScopedSerializer):
    class Meta:
        model = VatNumberCheck
        exclude = ["station"]


class WebPaymentSerializer(StationScopedSerializer):
    class Meta:
        model = WebPayment
        exclude = ["station"]


class StationTariffSerializer(StationScopedSerializer):
    class Meta:
        model = StationTariff
        exclude = ["station"]
