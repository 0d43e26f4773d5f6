"""Transactions, id tokens, meter values and tariffs in the operator's admin.

The station is the source of truth for transactions and meter values: they are read-only
here. The station page gets an "active transaction" panel; remote start and stop go through
the station page's command forms, which start from the defaults registered below.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404, HttpRequest, JsonResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

from dashboard.charts import power_energy_chart_html
from ocpp_router.datetimes import utcnow
from ocpp_router.rpc import V16
from stations.admin import (
    ReadOnlyAdmin,
    StationFilter,
    admin_link,
    changelist_url,
    pretty_json,
    when,
)
from stations.admin_commands import (
    CommandResult,
    command_defaults,
    command_field,
    command_followup,
    is_sendable,
    register_quick_action,
    request_id,
)
from stations.admin_panels import register_station_panel
from stations.models import ChargingStation, Connector, Evse, OcppMessage
from stations.services import StationNotConnected
from transactions import authorization, ending, remote, reservations, selectors, tariffs
from transactions.choices import AuthorizationStatus
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


def kwh(wh: Any) -> str:
    return "—" if wh is None else f"{float(wh) / 1000:.3f} kWh"


def duration_text(tx: Transaction) -> str:
    if tx.started_at is None:
        return "—"
    end = tx.stopped_at or (utcnow() if tx.is_active else tx.last_event_at)
    if end is None:
        return "—"
    seconds = max(int((end - tx.started_at).total_seconds()), 0)
    return str(timedelta(seconds=seconds))


@admin.register(IdToken)
class IdTokenAdmin(admin.ModelAdmin):
    autocomplete_fields = ["group_id_token"]
    list_display = [
        "value",
        "type",
        "status",
        "expiry_date",
        "group_id_token",
        "in_local_list",
        "transactions_link",
    ]
    list_filter = ["status", "type", "in_local_list"]
    search_fields = ["value"]
    readonly_fields = ["transactions_link"]

    @admin.display(description="Transactions")
    def transactions_link(self, token: IdToken) -> str:
        if token.pk is None:
            return "—"
        return format_html(
            '<a href="{}">transactions of {}</a>',
            changelist_url(Transaction, id_token__id__exact=token.pk),
            token.value,
        )


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
        "station_link",
        "evse_link",
        "connector_link",
        "id_token_link",
        "started_at",
        "duration",
        "energy_kwh",
        "cost",
        "is_active",
        "stop_reason",
    ]
    list_filter = ["is_active", "ocpp_version", "offline", "stop_reason", StationFilter]
    search_fields = ["transaction_id", "station__identity", "id_token_value"]
    list_select_related = ["station", "id_token"]
    date_hierarchy = "started_at"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "transaction_id",
                    "station_link",
                    "evse_link",
                    "connector_link",
                    "id_token_link",
                    "is_active",
                    "started_at",
                    "stopped_at",
                    "duration",
                    "energy_kwh",
                    "cost",
                    "stop_reason",
                    "ended_by",
                    "end_note",
                ]
            },
        ),
        ("Power and energy", {"fields": ["chart"]}),
        ("Records", {"fields": ["meter_values_link", "messages_link"]}),
        (
            "As reported",
            {
                "classes": ["collapse"],
                "fields": [
                    f.name
                    for f in Transaction._meta.fields
                    if f.name
                    not in (
                        "id",
                        "station",
                        "transaction_id",
                        "is_active",
                        "started_at",
                        "stopped_at",
                        "stop_reason",
                        "ended_by",
                        "end_note",
                    )
                ],
            },
        ),
    ]
    readonly_fields = [
        *(f.name for f in Transaction._meta.fields),
        "station_link",
        "evse_link",
        "connector_link",
        "id_token_link",
        "duration",
        "energy_kwh",
        "cost",
        "chart",
        "meter_values_link",
        "messages_link",
    ]
    inlines = [TransactionEventInline]
    actions = ["remote_stop", "end_record"]

    def has_add_permission(self, request):
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Transaction]:
        # The EVSE and connector rows a transaction names, without a query per row.
        evses = Evse.objects.filter(station=OuterRef("station"), evse_id=OuterRef("evse_id"))
        connectors = Connector.objects.filter(
            evse__station=OuterRef("station"),
            evse__evse_id=OuterRef("evse_id"),
            connector_id=OuterRef("connector_id"),
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                evse_pk=Subquery(evses.values("pk")[:1]),
                connector_pk=Subquery(connectors.values("pk")[:1]),
            )
        )

    @admin.display(description="Station", ordering="station__identity")
    def station_link(self, tx: Transaction) -> str:
        return admin_link(tx.station)

    @admin.display(description="EVSE", ordering="evse_id")
    def evse_link(self, tx: Transaction) -> str:
        if tx.evse_id is None:
            return "—"
        pk = getattr(tx, "evse_pk", None)
        if pk is None:
            return str(tx.evse_id)
        url = reverse("admin:stations_evse_change", args=[pk])
        return format_html('<a href="{}">EVSE {}</a>', url, tx.evse_id)

    @admin.display(description="Connector", ordering="connector_id")
    def connector_link(self, tx: Transaction) -> str:
        if tx.connector_id is None:
            return "—"
        pk = getattr(tx, "connector_pk", None)
        if pk is None:
            return str(tx.connector_id)
        url = reverse("admin:stations_connector_change", args=[pk])
        return format_html('<a href="{}">connector {}</a>', url, tx.connector_id)

    @admin.display(description="Id token", ordering="id_token_value")
    def id_token_link(self, tx: Transaction) -> str:
        if tx.id_token is not None:
            return admin_link(tx.id_token, tx.id_token_value or tx.id_token.value)
        return tx.id_token_value or "—"

    @admin.display(description="Duration")
    def duration(self, tx: Transaction) -> str:
        return duration_text(tx)

    @admin.display(description="Energy", ordering="energy_wh")
    def energy_kwh(self, tx: Transaction) -> str:
        return kwh(tx.energy_wh)

    @admin.display(description="Cost", ordering="total_cost")
    def cost(self, tx: Transaction) -> str:
        if tx.total_cost is None:
            return "—"
        return f"{tx.total_cost} {tx.currency}".strip()

    @admin.display(description="Chart")
    def chart(self, tx: Transaction) -> str:
        power, energy = selectors.transaction_power_energy(tx)
        return format_html(
            '<div id="transaction-chart">{}</div>',
            power_energy_chart_html(power, energy, title=f"Transaction {tx.transaction_id}"),
        )

    @admin.display(description="Meter values")
    def meter_values_link(self, tx: Transaction) -> str:
        count = tx.meter_values.count()
        return format_html(
            '<a href="{}">{} meter values</a>',
            changelist_url(MeterValue, transaction__id__exact=tx.pk),
            count,
        )

    @admin.display(description="Messages")
    def messages_link(self, tx: Transaction) -> str:
        """The station's message log over the transaction's time span."""
        start = tx.started_at or tx.created
        end = tx.stopped_at or tx.last_event_at
        filters: dict[str, Any] = {
            "station__id__exact": tx.station_id,
            "timestamp__gte": (start - timedelta(seconds=1)).isoformat(),
        }
        if end is not None and not tx.is_active:
            filters["timestamp__lte"] = (end + timedelta(seconds=5)).isoformat()
        return format_html(
            '<a href="{}">messages of {} during the transaction</a>',
            changelist_url(OcppMessage, **filters),
            tx.station,
        )

    @admin.action(description="Stop the selected transactions remotely")
    def remote_stop(self, request, queryset):
        for tx in queryset.filter(is_active=True).select_related("station"):
            try:
                outcome = remote.transaction_remote_stop(transaction_pk=tx.pk)
            except StationNotConnected as exc:
                self.message_user(request, str(exc), messages.ERROR)
                continue
            status = (outcome.response or {}).get("status", outcome.status)
            self.message_user(request, f"{tx}: {status}")

    @admin.action(
        description="End the selected transactions in the CSMS (the station does not end them)",
        permissions=["change"],
    )
    def end_record(self, request, queryset):
        ended = 0
        for pk in queryset.filter(is_active=True).values_list("pk", flat=True):
            result = ending.operator_end(
                transaction_pk=pk,
                user=request.user.get_username(),
                note="ended from the admin",
            )
            ended += result.ended is not None
        self.message_user(
            request,
            f"{ended} transaction(s) ended; a StopTransaction or Ended the station sends later "
            "is merged into them.",
        )


@admin.register(TransactionEvent)
class TransactionEventAdmin(ReadOnlyAdmin):
    list_display = ["timestamp", "station", "transaction", "kind", "seq_no", "offline"]
    list_filter = ["kind", "offline"]
    search_fields = ["station__identity", "transaction__transaction_id"]
    # A transaction names its station: joined, not fetched per row.
    list_select_related = ["station", "transaction__station"]
    readonly_fields = [*(f.name for f in TransactionEvent._meta.fields), "payload_pretty"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="Payload")
    def payload_pretty(self, event: TransactionEvent) -> str:
        return pretty_json(event.payload)


@admin.register(MeterValue)
class MeterValueAdmin(ReadOnlyAdmin):
    list_display = [
        "timestamp",
        "station",
        "transaction_link",
        "measurand",
        "phase",
        "value",
        "unit",
        "event_link",
    ]
    list_filter = ["measurand", "phase", "context"]
    search_fields = ["station__identity", "transaction__transaction_id"]
    list_select_related = ["station", "transaction"]
    readonly_fields = [f.name for f in MeterValue._meta.fields]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    @admin.display(description="Transaction", ordering="transaction__transaction_id")
    def transaction_link(self, row: MeterValue) -> str:
        if row.transaction is None:
            return "—"
        return admin_link(row.transaction, row.transaction.transaction_id)

    @admin.display(description="Message")
    def event_link(self, row: MeterValue) -> str:
        if row.event_id is None:
            return "—"
        url = reverse("admin:transactions_transactionevent_change", args=[row.event_id])
        return format_html('<a href="{}">event</a>', url)


@admin.register(Reservation)
class ReservationAdmin(admin.ModelAdmin):
    autocomplete_fields = ["station"]
    list_display = ["reservation_id", "station", "evse_id", "id_token_value", "expiry", "status"]
    list_filter = ["status"]
    search_fields = ["station__identity", "id_token_value"]
    actions = ["cancel"]

    @admin.action(description="Cancel the selected reservations at their stations")
    def cancel(self, request, queryset):
        for reservation in queryset:
            try:
                outcome = reservations.reservation_cancel(reservation_pk=reservation.pk)
            except StationNotConnected as exc:
                self.message_user(request, str(exc), messages.ERROR)
                continue
            status = (outcome.response or {}).get("status", outcome.status)
            self.message_user(request, f"{reservation}: {status}")


@admin.register(RemoteStart)
class RemoteStartAdmin(admin.ModelAdmin):
    autocomplete_fields = ["station"]
    list_display = ["created", "station", "remote_start_id", "id_token_value", "evse_id", "status"]
    list_filter = ["status"]
    search_fields = ["station__identity", "id_token_value"]
    list_select_related = ["station"]

    def get_urls(self):
        return [
            path(
                "<int:pk>/decision/",
                self.admin_site.admin_view(self.decision_view),
                name="transactions_remotestart_decision",
            ),
            *super().get_urls(),
        ]

    def decision_view(self, request: HttpRequest, pk: int) -> JsonResponse:
        """What the station and then the CSMS decided, for the command page to follow."""
        remote = RemoteStart.objects.filter(pk=pk).first()
        if remote is None or not self.has_view_permission(request, remote):
            raise Http404(f"No remote start {pk}")
        return JsonResponse(_decision_json(remote))


def _decision_json(remote: RemoteStart) -> dict[str, Any]:
    decision = selectors.remote_start_decision(remote, now=utcnow())
    url = ""
    if decision.transaction_pk is not None:
        url = reverse("admin:transactions_transaction_change", args=[decision.transaction_pk])
    return {**asdict(decision), "transaction_url": url}


# Until the CSMS has decided, the command page asks again every second (a small JSON read).
_FOLLOW_SCRIPT = """<script>(function () {
  const box = document.getElementById("remote-start-followup");
  const final = ["refused-by-station", "accepted", "refused", "no-transaction"];
  let tries = 0;
  function show(d) {
    box.dataset.state = d.state;
    box.dataset.csmsStatus = d.csms_status;
    const text = box.querySelector(".followup-text");
    text.textContent = d.text + " ";
    if (d.transaction_url) {
      const link = document.createElement("a");
      link.href = d.transaction_url;
      link.textContent = "Transaction " + d.transaction_id;
      text.appendChild(link);
    }
  }
  function poll() {
    if (final.includes(box.dataset.state) || ++tries > 600) return;
    fetch(box.dataset.url, {credentials: "same-origin"})
      .then((r) => r.json()).then(show).catch(() => {})
      .finally(() => setTimeout(poll, 1000));
  }
  setTimeout(poll, 500);
})();</script>"""


def _remote_start_followup(station: ChargingStation, result: CommandResult) -> str:
    """Under the station's answer to a remote start: what the CSMS then decided about the
    transaction it led to (the station's Accepted is not the end of the story)."""
    if result.outcome is None or not result.outcome.ok:
        return ""
    remote = selectors.remote_start_for_command(
        station_pk=station.pk, version=station.protocol, request=result.payload
    )
    if remote is None:
        return ""
    data = _decision_json(remote)
    link = (
        format_html(
            ' <a href="{}">Transaction {}</a>', data["transaction_url"], data["transaction_id"]
        )
        if data["transaction_url"]
        else ""
    )
    return format_html(
        '<div id="remote-start-followup" class="module" data-state="{}" data-csms-status="{}" '
        'data-url="{}"><h3>Then the CSMS</h3><p class="followup-text">{}{}</p></div>{}',
        data["state"],
        data["csms_status"],
        reverse("admin:transactions_remotestart_decision", args=[remote.pk]),
        data["text"],
        link,
        mark_safe(_FOLLOW_SCRIPT),  # a constant, no input in it
    )


command_followup("RemoteStartTransaction")(_remote_start_followup)
command_followup("RequestStartTransaction")(_remote_start_followup)


@admin.register(Tariff)
class TariffAdmin(admin.ModelAdmin):
    autocomplete_fields = ["station"]
    list_display = [
        "name",
        "station",
        "evse_id",
        "price_per_kwh",
        "price_per_minute",
        "session_fee",
        "currency",
        "active",
    ]
    list_filter = ["active", "currency"]
    actions = ["send_default"]

    @admin.action(description="Send as default tariff to its OCPP 2.1 station(s)")
    def send_default(self, request, queryset):
        for tariff in queryset:
            answers = tariffs.tariff_send_default(
                tariff_pk=tariff.pk, origin="admin", user=request.user
            )
            if not answers:
                self.message_user(
                    request, f"{tariff}: no OCPP 2.1 station online", messages.WARNING
                )
            for identity, status in answers:
                self.message_user(request, f"{tariff} to {identity}: {status}")


@admin.register(LocalAuthListEntry)
class LocalAuthListEntryAdmin(admin.ModelAdmin):
    list_display = ["station", "id_token_value", "id_token_type"]
    search_fields = ["station__identity", "id_token_value"]
    readonly_fields = ["station", "id_token_value", "id_token_type", "info"]


@admin.register(LocalAuthList)
class LocalAuthListAdmin(admin.ModelAdmin):
    autocomplete_fields = ["station"]
    list_display = ["station", "version", "reported_version", "last_status", "updated"]
    readonly_fields = ["version", "reported_version", "last_status", "updated"]
    actions = ["send_full", "send_differential"]

    def _send(self, request, queryset, full: bool):
        for state in queryset.select_related("station"):
            try:
                outcome = authorization.local_list_send(identity=state.station.identity, full=full)
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


# --- the station page ---------------------------------------------------------------------


@register_station_panel("active_transaction", "Active transaction", order=10)
def active_transaction_panel(request: HttpRequest, station: ChargingStation) -> str:
    active = list(selectors.active_transactions(station_pk=station.pk).order_by("evse_id"))
    every = format_html(
        '<p><a href="{}">All transactions of this station</a></p>',
        changelist_url(Transaction, station__id__exact=station.pk),
    )
    if not active:
        return format_html("<p>No transaction is running.</p>{}", every)
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
        "<td>{}</td></tr>",
        (
            (
                tx.evse_id if tx.evse_id is not None else "—",
                tx.connector_id if tx.connector_id is not None else "—",
                admin_link(tx, tx.transaction_id),
                tx.id_token_value or "—",
                when(tx.started_at),
                duration_text(tx),
                kwh(tx.energy_wh),
                _stop_link(station, tx),
            )
            for tx in active
        ),
    )
    return format_html(
        '<table id="active-transactions"><tr><th>EVSE</th><th>Connector</th>'
        "<th>Transaction</th><th>Id token</th><th>Started</th><th>Duration</th>"
        "<th>Energy so far</th><th></th></tr>{}</table>{}",
        rows,
        every,
    )


def _stop_link(station: ChargingStation, tx: Transaction) -> str:
    """The remote stop form of the station's protocol, prefilled with this transaction."""
    action = "RemoteStopTransaction" if station.protocol == V16 else "RequestStopTransaction"
    if not station.protocol or not is_sendable(station.protocol, action):
        return ""
    url = reverse("admin:stations_chargingstation_command", args=[station.pk, action])
    return format_html(
        '<a class="button" href="{}?{}">Stop</a>',
        url,
        urlencode({"f__transactionId": tx.transaction_id}),
    )


# --- remote start / stop from the station page ----------------------------------------------

for _action in (
    "RemoteStartTransaction",
    "RemoteStopTransaction",
    "RequestStartTransaction",
    "RequestStopTransaction",
):
    register_quick_action(_action)


def _first_active(station: ChargingStation | None) -> Transaction | None:
    if station is None:
        return None
    return selectors.active_transactions(station_pk=station.pk).order_by("-started_at").first()


def _free_evse(station: ChargingStation | None) -> int:
    """The first EVSE of the station with no transaction running, else 1."""
    if station is None:
        return 1
    busy = set(
        selectors.active_transactions(station_pk=station.pk).values_list("evse_id", flat=True)
    )
    for evse_id in station.evses.order_by("evse_id").values_list("evse_id", flat=True):
        if evse_id and evse_id not in busy:
            return evse_id
    return 1


# A remote start names a token the CSMS knows: picked from the known tokens as the operator
# types (no made-up default the CSMS would then refuse).
TOKEN_CHOICES_SHOWN = 500


class IdTokenInput(forms.TextInput):
    """A text input offering the Accepted id tokens as the operator types (HTML datalist)."""

    def render(self, name: str, value: Any, attrs: Any = None, renderer: Any = None) -> str:
        attrs = {**(attrs or {}), "list": f"{name}-tokens", "autocomplete": "off"}
        tokens = IdToken.objects.filter(status=AuthorizationStatus.ACCEPTED).order_by("value")
        options = format_html_join(
            "",
            '<option value="{}">{}</option>',
            tokens.values_list("value", "type")[:TOKEN_CHOICES_SHOWN],
        )
        return format_html(
            '{}<datalist id="{}-tokens">{}</datalist>',
            super().render(name, value, attrs, renderer),
            name,
            options,
        )


def validate_known_token(value: str) -> None:
    if value and not IdToken.objects.filter(value=value).exists():
        raise forms.ValidationError(
            f"No id token {value!r} is known: add it under Id tokens, or pick a known one."
        )


def _known_token_field(field: forms.Field) -> forms.Field:
    field.widget = IdTokenInput()
    field.validators.append(validate_known_token)
    field.help_text = "An id token the CSMS knows (type to search among the Accepted ones)."
    return field


command_field("RemoteStartTransaction", "idTag")(_known_token_field)
command_field("RequestStartTransaction", "idToken.idToken")(_known_token_field)


@command_defaults("RemoteStartTransaction")
def _remote_start_16(version: str, station: ChargingStation | None) -> dict[str, Any]:
    return {"connectorId": _free_evse(station)}


@command_defaults("RequestStartTransaction")
def _request_start(version: str, station: ChargingStation | None) -> dict[str, Any]:
    # The most common card type; the operator changes it for other kinds of tokens.
    return {
        "remoteStartId": request_id(),
        "idToken": {"type": "ISO14443"},
        "evseId": _free_evse(station),
    }


@command_defaults("RemoteStopTransaction")
def _remote_stop_16(version: str, station: ChargingStation | None) -> dict[str, Any]:
    tx = _first_active(station)
    if tx is None or tx.ocpp_version != V16 or not tx.transaction_id.isdigit():
        return {"transactionId": 0}
    return {"transactionId": int(tx.transaction_id)}


@command_defaults("RequestStopTransaction")
def _request_stop(version: str, station: ChargingStation | None) -> dict[str, Any]:
    tx = _first_active(station)
    return {"transactionId": tx.transaction_id if tx is not None else ""}


# --- OCPP 2.1 -------------------------------------------------------------------------


@admin.register(BatterySwap)
class BatterySwapAdmin(admin.ModelAdmin):
    autocomplete_fields = ["station"]
    list_display = ["at", "station", "request_id", "event_type", "id_token_value", "status"]
    list_filter = ["event_type"]
    list_select_related = ["station"]


@admin.register(Settlement)
class SettlementAdmin(admin.ModelAdmin):
    autocomplete_fields = ["station", "transaction"]
    list_display = [
        "settled_at",
        "station",
        "transaction_ref",
        "psp_ref",
        "amount",
        "status",
        "receipt_id",
    ]
    list_filter = ["status"]
    list_select_related = ["station"]


@admin.register(VatNumberCheck)
class VatNumberCheckAdmin(admin.ModelAdmin):
    autocomplete_fields = ["station"]
    list_display = ["at", "station", "vat_number", "evse_id", "status"]
    list_filter = ["status"]
    list_select_related = ["station"]


@admin.register(WebPayment)
class WebPaymentAdmin(admin.ModelAdmin):
    autocomplete_fields = ["station"]
    list_display = ["at", "station", "evse_id", "timeout"]
    list_filter = []
    list_select_related = ["station"]


@admin.register(StationTariff)
class StationTariffAdmin(admin.ModelAdmin):
    autocomplete_fields = ["station"]
    list_display = [
        "station",
        "evse_id",
        "tariff_id",
        "transaction_id",
        "currency",
        "status",
        "updated",
    ]
    list_filter = ["status", "currency"]
    list_select_related = ["station"]
    readonly_fields = ["priced"]
