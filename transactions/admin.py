from django.contrib import admin, messages

from stations.services import StationNotConnected
from transactions import services
from transactions.models import (
    IdToken,
    LocalAuthList,
    LocalAuthListEntry,
    MeterValue,
    RemoteStart,
    Reservation,
    Tariff,
    Transaction,
    TransactionEvent,
)


@admin.register(IdToken)
class IdTokenAdmin(admin.ModelAdmin):
    list_display = ["value", "type", "status", "expiry_date", "group_id_token", "in_local_list"]
    list_filter = ["status", "type", "in_local_list"]
    search_fields = ["value"]
    raw_id_fields = ["group_id_token"]


class TransactionEventInline(admin.TabularInline):
    model = TransactionEvent
    extra = 0
    fields = ["kind", "seq_no", "timestamp", "trigger_reason", "offline", "anomalies"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Transaction)
class TransactionAdmin(admin.ModelAdmin):
    list_display = [
        "transaction_id",
        "station",
        "evse_id",
        "id_token_value",
        "started_at",
        "stopped_at",
        "energy_wh",
        "total_cost",
        "currency",
        "is_active",
        "stop_reason",
    ]
    list_filter = ["is_active", "ocpp_version", "offline", "stop_reason"]
    search_fields = ["transaction_id", "station__identity", "id_token_value"]
    list_select_related = ["station"]
    date_hierarchy = "started_at"
    readonly_fields = [f.name for f in Transaction._meta.fields]
    inlines = [TransactionEventInline]
    actions = ["remote_stop"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Stop the selected transactions remotely")
    def remote_stop(self, request, queryset):
        for tx in queryset.filter(is_active=True).select_related("station"):
            try:
                outcome = services.transaction_remote_stop(transaction_pk=tx.pk)
            except StationNotConnected as exc:
                self.message_user(request, str(exc), messages.ERROR)
                continue
            status = (outcome.response or {}).get("status", outcome.status)
            self.message_user(request, f"{tx}: {status}")


@admin.register(TransactionEvent)
class TransactionEventAdmin(admin.ModelAdmin):
    list_display = ["timestamp", "station", "transaction", "kind", "seq_no", "offline"]
    list_filter = ["kind", "offline"]
    search_fields = ["station__identity", "transaction__transaction_id"]
    list_select_related = ["station", "transaction"]
    readonly_fields = [f.name for f in TransactionEvent._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(MeterValue)
class MeterValueAdmin(admin.ModelAdmin):
    list_display = ["timestamp", "station", "transaction", "measurand", "phase", "value", "unit"]
    list_filter = ["measurand"]
    search_fields = ["station__identity", "transaction__transaction_id"]
    list_select_related = ["station", "transaction"]
    readonly_fields = [f.name for f in MeterValue._meta.fields]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False


@admin.register(Reservation)
class ReservationAdmin(admin.ModelAdmin):
    list_display = ["reservation_id", "station", "evse_id", "id_token_value", "expiry", "status"]
    list_filter = ["status"]
    search_fields = ["station__identity", "id_token_value"]
    actions = ["cancel"]

    @admin.action(description="Cancel the selected reservations at their stations")
    def cancel(self, request, queryset):
        for reservation in queryset:
            try:
                outcome = services.reservation_cancel(reservation_pk=reservation.pk)
            except StationNotConnected as exc:
                self.message_user(request, str(exc), messages.ERROR)
                continue
            status = (outcome.response or {}).get("status", outcome.status)
            self.message_user(request, f"{reservation}: {status}")


@admin.register(RemoteStart)
class RemoteStartAdmin(admin.ModelAdmin):
    list_display = ["created", "station", "remote_start_id", "id_token_value", "evse_id", "status"]
    list_filter = ["status"]
    search_fields = ["station__identity", "id_token_value"]


@admin.register(Tariff)
class TariffAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "station",
        "price_per_kwh",
        "price_per_minute",
        "session_fee",
        "currency",
        "active",
    ]
    list_filter = ["active", "currency"]


@admin.register(LocalAuthListEntry)
class LocalAuthListEntryAdmin(admin.ModelAdmin):
    list_display = ["station", "id_token_value", "id_token_type"]
    search_fields = ["station__identity", "id_token_value"]
    readonly_fields = ["station", "id_token_value", "id_token_type", "info"]


@admin.register(LocalAuthList)
class LocalAuthListAdmin(admin.ModelAdmin):
    list_display = ["station", "version", "reported_version", "last_status", "updated"]
    readonly_fields = ["version", "reported_version", "last_status", "updated"]
    actions = ["send_full", "send_differential"]

    def _send(self, request, queryset, full: bool):
        for state in queryset.select_related("station"):
            try:
                outcome = services.local_list_send(identity=state.station.identity, full=full)
            except StationNotConnected as exc:
                self.message_user(request, str(exc), messages.ERROR)
                continue
            status = (outcome.response or {}).get("status", outcome.status)
            self.message_user(request, f"{state.station}: {status}")

    @admin.action(description="Send the full local list")
    def send_full(self, request, queryset):
        self._send(request, queryset, full=True)

    @admin.action(description="Send the changes to the local list")
    def send_differential(self, request, queryset):
        self._send(request, queryset, full=False)
