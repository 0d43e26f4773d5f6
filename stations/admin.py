"""The operator's view of stations in the Django admin.

What the station reports (boot data, connection and connector state, the message log) is
read-only here: the station is the source of truth. Commands go to the station through
`stations.admin_commands`; other apps add panels and inlines to the station page through
`stations.admin_panels`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from asgiref.sync import async_to_sync
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from commands import conveniences
from commands import selectors as command_selectors
from commands import services as command_services
from ocpp_router.outbound import Outcome
from ocpp_router.rpc import V16
from stations import admin_commands, admin_panels, credentials, passwords, services
from stations.choices import MessageType
from stations.models import (
    BootNotification,
    ChargingStation,
    Connector,
    Evse,
    OcppMessage,
    SecurityEvent,
)

STATUS_COLOURS = {
    "Available": "#2b8a3e",
    "Faulted": "#c92a2a",
    "Unavailable": "#e67700",
    "Reserved": "#e67700",
}
BUSY_COLOUR = "#1864ab"
UNKNOWN_COLOUR = "#868e96"


def when(value: datetime | None, *, ms: bool = False, empty: str = "—") -> str:
    """A moment as the admin and the dashboard show every one: `YYYY-MM-DD HH:MM:SS` in
    CSMS_TIME_ZONE (csms/formats), with milliseconds where frames are told apart (`ms`)."""
    if value is None:
        return empty
    local = timezone.localtime(value)
    text = f"{local:%Y-%m-%d %H:%M:%S}"
    return f"{text}.{local.microsecond // 1000:03d}" if ms else text


def badge(text: str, colour: str) -> str:
    return format_html(
        '<span style="display:inline-block;padding:1px 7px;margin:1px;border-radius:8px;'
        'color:#fff;background:{};font-size:11px;font-weight:bold;white-space:nowrap">{}</span>',
        colour,
        text,
    )


def status_badge(status: str, prefix: str = "") -> str:
    if not status:
        return badge(f"{prefix}unknown", UNKNOWN_COLOUR)
    return badge(f"{prefix}{status}", STATUS_COLOURS.get(status, BUSY_COLOUR))


def pretty_json(value: Any) -> str:
    if value is None:
        return "—"
    return format_html(
        '<pre style="white-space:pre-wrap;margin:0;max-width:60em">{}</pre>',
        json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False),
    )


def admin_link(obj: Any, text: str | None = None) -> str:
    if obj is None:
        return "—"
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, text if text is not None else str(obj))


def changelist_url(model: type, **filters: Any) -> str:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


# --- stations --------------------------------------------------------------------------


class EvseInline(admin.TabularInline):
    model = Evse
    extra = 0
    fields = ["evse_id", "connector_states"]
    readonly_fields = ["evse_id", "connector_states"]
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Evse]:
        return super().get_queryset(request).prefetch_related("connectors")

    @admin.display(description="Connectors")
    def connector_states(self, evse: Evse) -> str:
        return format_html_join(
            " ",
            "{}",
            (
                (admin_link(c, status_badge(c.status, f"{c.connector_id}: ")),)
                for c in evse.connectors.all()
            ),
        )


def _command_actions() -> list[Any]:
    """Admin actions sending one command to every selected station, each in its protocol:
    the version-agnostic operations of the message API (`commands.conveniences`)."""

    def make(name: str, description: str, operation: str, params: dict[str, Any]):
        def run(modeladmin: ChargingStationAdmin, request: HttpRequest, queryset) -> Any:
            return modeladmin.send_to_selected(
                request,
                queryset,
                lambda version: conveniences.build(operation, version, params),
                label=description,
            )

        run.__name__ = name
        return admin.action(description=description, permissions=["change"])(run)

    def clear_cache(modeladmin: ChargingStationAdmin, request: HttpRequest, queryset) -> Any:
        return modeladmin.send_to_selected(
            request, queryset, lambda version: ("ClearCache", {}), label="Clear cache"
        )

    return [
        make("reset_soft", "Reset (soft / on idle)", "reset", {"type": "soft"}),
        make("reset_hard", "Reset (hard / immediately)", "reset", {"type": "hard"}),
        make(
            "make_operative",
            "Change availability: operative",
            "change-availability",
            {"operative": True},
        ),
        make(
            "make_inoperative",
            "Change availability: inoperative",
            "change-availability",
            {"operative": False},
        ),
        make(
            "trigger_status",
            "Trigger StatusNotification",
            "trigger-message",
            {"message": "StatusNotification"},
        ),
        make("trigger_heartbeat", "Trigger Heartbeat", "trigger-message", {"message": "Heartbeat"}),
        admin.action(description="Clear authorization cache", permissions=["change"])(clear_cache),
    ]


@admin.register(ChargingStation)
class ChargingStationAdmin(admin.ModelAdmin):
    change_form_template = "admin/stations/chargingstation/change_form.html"
    list_display = [
        "identity",
        "connection",
        "protocol",
        "registration_status",
        "connectors",
        "last_heartbeat",
        "firmware_version",
        "profile",
        "enabled",
    ]
    list_filter = [
        "is_online",
        "protocol",
        "registration_status",
        "security_profile",
        "enabled",
        "vendor",
    ]
    search_fields = ["identity", "vendor", "model", "serial_number", "firmware_version"]
    actions = [*_command_actions(), "get_configuration", "set_generated_password"]
    fieldsets = [
        (None, {"fields": ["identity", "enabled", "security_profile", "account"]}),
        (
            "Connection",
            {
                "fields": [
                    "connection",
                    "protocol",
                    "connected_since",
                    "last_seen",
                    "last_heartbeat",
                    "remote_address",
                    "channel_name",
                ]
            },
        ),
        (
            "Reported by the station",
            {
                "fields": [
                    "registration_status",
                    "last_boot_at",
                    "vendor",
                    "model",
                    "serial_number",
                    "firmware_version",
                    "iccid",
                    "imsi",
                    "meter_type",
                    "meter_serial_number",
                    "status",
                    "error_code",
                    "base_report_at",
                ]
            },
        ),
        ("Credentials", {"fields": ["password_changed_at"]}),
        ("Connectors", {"fields": ["connector_overview"]}),
        ("Boot history", {"fields": ["boot_history"]}),
        ("Recent messages", {"fields": ["recent_messages"]}),
        ("Security events", {"fields": ["recent_security_events"]}),
        ("Record", {"fields": ["created", "updated"], "classes": ["collapse"]}),
    ]
    readonly_fields = [
        "connection",
        "vendor",
        "model",
        "serial_number",
        "firmware_version",
        "iccid",
        "imsi",
        "meter_type",
        "meter_serial_number",
        "registration_status",
        "last_boot_at",
        "protocol",
        "connected_since",
        "last_seen",
        "last_heartbeat",
        "remote_address",
        "channel_name",
        "status",
        "error_code",
        "connector_overview",
        "boot_history",
        "recent_messages",
        "recent_security_events",
        "created",
        "updated",
        "password_changed_at",
        "base_report_at",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ChargingStation]:
        return super().get_queryset(request).prefetch_related("evses__connectors")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            # The identity is what the station connects with: renaming it here would
            # orphan the station; delete and re-add instead.
            fields.insert(0, "identity")
        return fields

    def get_fieldsets(self, request: HttpRequest, obj: Any = None):
        if obj is None:
            return [(None, {"fields": ["identity", "enabled", "security_profile", "account"]})]
        return super().get_fieldsets(request, obj)

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[Any]:
        if obj is None:
            return []
        return [EvseInline, *admin_panels.station_inlines()]

    # --- columns and read-only panels -----------------------------------------------------

    @admin.display(description="Connection", ordering="is_online")
    def connection(self, station: ChargingStation) -> str:
        if station.is_online:
            return badge("online", "#2b8a3e")
        return badge("offline", "#c92a2a")

    @admin.display(description="Security profile", ordering="security_profile")
    def profile(self, station: ChargingStation) -> str:
        return format_html(
            '<span title="{}">{}</span>',
            station.get_security_profile_display(),
            station.security_profile,
        )

    @admin.display(description="Connectors")
    def connectors(self, station: ChargingStation) -> str:
        parts = []
        if station.status:
            parts.append(status_badge(station.status, "station: "))
        for evse in station.evses.all():
            for connector in evse.connectors.all():
                parts.append(
                    status_badge(connector.status, f"{evse.evse_id}/{connector.connector_id} ")
                )
        return format_html_join(" ", "{}", ((p,) for p in parts)) if parts else "—"

    @admin.display(description="EVSEs and connectors")
    def connector_overview(self, station: ChargingStation) -> str:
        rows = [
            (
                admin_link(evse, f"EVSE {evse.evse_id}"),
                admin_link(connector, f"connector {connector.connector_id}"),
                status_badge(connector.status),
                connector.error_code or "—",
                connector.status_timestamp or "—",
            )
            for evse in station.evses.all()
            for connector in evse.connectors.all()
        ]
        if not rows:
            return "No connector has reported a status yet."
        return format_html(
            "<table><tr><th>EVSE</th><th>Connector</th><th>Status</th><th>Error</th>"
            "<th>Since</th></tr>{}</table>",
            format_html_join(
                "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows
            ),
        )

    @admin.display(description="Last boots")
    def boot_history(self, station: ChargingStation) -> str:
        boots = list(station.boots.all()[:10])
        if not boots:
            return "No BootNotification yet."
        return format_html(
            "<table><tr><th>At</th><th>Protocol</th><th>Reason</th><th>Firmware</th>"
            "<th>Answer</th></tr>{}</table><p><a href='{}'>All boots of this station</a></p>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (
                        admin_link(b, when(b.timestamp)),
                        b.protocol,
                        b.reason or "—",
                        b.firmware_version or "—",
                        b.status,
                    )
                    for b in boots
                ),
            ),
            changelist_url(BootNotification, station__id__exact=station.pk),
        )

    @admin.display(description="Last messages")
    def recent_messages(self, station: ChargingStation) -> str:
        count = settings.CSMS_ADMIN_RECENT_MESSAGES
        log = list(station.messages.order_by("-timestamp")[:count])
        if not log:
            return "No message logged yet."
        return format_html(
            "<table><tr><th>At</th><th>Direction</th><th>Type</th><th>Action</th>"
            "<th>Error</th></tr>{}</table><p><a href='{}'>All messages of this station</a></p>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (
                        admin_link(m, when(m.timestamp, ms=True)),
                        m.get_direction_display(),
                        m.get_message_type_display(),
                        m.action or "—",
                        m.error_code or "",
                    )
                    for m in log
                ),
            ),
            changelist_url(OcppMessage, station__id__exact=station.pk),
        )

    @admin.display(description="Last security events")
    def recent_security_events(self, station: ChargingStation) -> str:
        found = list(station.security_events.order_by("-timestamp")[:10])
        if not found:
            return "None."
        return format_html(
            "<ul>{}</ul><p><a href='{}'>All security events of this station</a></p>",
            format_html_join(
                "",
                "<li>{} {} {}</li>",
                ((admin_link(e, when(e.timestamp)), e.type, e.tech_info) for e in found),
            ),
            changelist_url(SecurityEvent, station__id__exact=station.pk),
        )

    # --- commands -------------------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/command/<str:action>/",
                view(self.command_view),
                name="stations_chargingstation_command",
            ),
            path(
                "<path:object_id>/operation/<str:key>/",
                view(self.operation_view),
                name="stations_chargingstation_operation",
            ),
            path(
                "<path:object_id>/command/",
                view(self.command_pick_view),
                name="stations_chargingstation_command_pick",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        station = self.get_object(request, object_id)
        extra_context = dict(extra_context or {})
        if station is not None:
            version = station.protocol
            sendable = admin_commands.sendable_actions(version)
            extra_context.update(
                station_panels=admin_panels.station_panels(request, station),
                quick_actions=[a for a in admin_commands.QUICK_ACTIONS if a in sendable],
                sendable_actions=sendable,
                station_operations=admin_panels.station_operations(station),
                can_send=self.has_change_permission(request, station),
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def command_pick_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        action = request.GET.get("action", "")
        if not action:
            return HttpResponseRedirect(
                reverse("admin:stations_chargingstation_change", args=[object_id])
            )
        return HttpResponseRedirect(
            reverse("admin:stations_chargingstation_command", args=[object_id, action])
        )

    def command_view(self, request: HttpRequest, object_id: str, action: str) -> HttpResponse:
        station = self.get_object(request, object_id)
        if station is None:
            raise Http404(f"No charging station with id {object_id!r}")
        if not self.has_change_permission(request, station):
            return HttpResponse("You may not send commands to stations.", status=403)
        station_url = reverse("admin:stations_chargingstation_change", args=[station.pk])
        version = station.protocol
        if not version:
            messages.error(request, f"{station} has never connected: its protocol is unknown.")
            return HttpResponseRedirect(station_url)
        if not admin_commands.is_sendable(version, action):
            messages.error(request, f"{action} is not an action the CSMS sends on OCPP {version}.")
            return HttpResponseRedirect(station_url)
        result = None
        if request.method == "POST":
            form = admin_commands.CommandForm(
                request.POST, version=version, action=action, station=station
            )
            if form.is_valid():
                result = admin_commands.send_command(
                    station.identity, action, form.cleaned_data["payload"], user=request.user
                )
                level = messages.SUCCESS if result.ok else messages.WARNING
                self.message_user(request, result.summary, level)
        else:
            # Links may prefill fields (?f__transactionId=...), over the action's defaults.
            prefill = {k: v for k, v in request.GET.items() if k.startswith("f__")}
            form = admin_commands.CommandForm(
                version=version, action=action, station=station, initial=prefill
            )
        context = {
            **self.admin_site.each_context(request),
            "title": f"{action} to {station}",
            "opts": self.model._meta,
            "original": station,
            "station": station,
            "station_url": station_url,
            "action": action,
            "version": version,
            "form": form,
            "result": result,
            "followup": (
                admin_commands.followup(station, result, nonce=str(request.csp_nonce))
                if result
                else ""
            ),
            "timeout": admin_commands.admin_timeout(),
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/stations/chargingstation/command.html", context)

    def operation_view(self, request: HttpRequest, object_id: str, key: str) -> HttpResponse:
        """A station-page operation registered by another app (firmware, logs, password)."""
        station = self.get_object(request, object_id)
        operation = admin_panels.station_operation(key)
        if station is None or operation is None:
            raise Http404(f"No charging station {object_id!r} or operation {key!r}")
        if not self.has_change_permission(request, station):
            return HttpResponse("You may not send commands to stations.", status=403)
        station_url = reverse("admin:stations_chargingstation_change", args=[station.pk])
        if not operation.offered_to(station):
            messages.error(request, f"{operation.label} is not offered on this station.")
            return HttpResponseRedirect(station_url)
        result = None
        form = operation.form(station, request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            result = operation.perform(request, station, form.cleaned_data)
            level = messages.SUCCESS if result.ok else messages.WARNING
            self.message_user(request, result.summary, level)
        context = {
            **self.admin_site.each_context(request),
            "title": f"{operation.label} on {station}",
            "opts": self.model._meta,
            "original": station,
            "station": station,
            "station_url": station_url,
            "action": operation.label,
            "version": station.protocol,
            "form": form,
            "result": result,
            "timeout": admin_commands.admin_timeout(),
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/stations/chargingstation/command.html", context)

    def send_to_selected(
        self,
        request: HttpRequest,
        queryset: QuerySet[ChargingStation],
        call: Callable[[str], tuple[str, dict[str, Any]]],
        *,
        label: str = "",
    ) -> TemplateResponse:
        """Send `call(version)` (an action and its payload) to each selected station, each in
        its protocol, all at once; answer with one summary of how they ended (accepted,
        rejected, offline, timed out) linked to the command records, which share a batch."""
        by_action: dict[str, tuple[list[ChargingStation], dict[str, Any]]] = {}
        stations_sent = queryset.prefetch_related(None).only(
            "pk", "identity", "protocol", "is_online", "channel_name"
        )
        for station in stations_sent:
            # A station that never connected is offline; its action is named as in 1.6.
            action, payload = call(station.protocol or V16)
            group = by_action.setdefault(action, ([], {}))
            group[0].append(station)
            group[1][station.protocol or "*"] = payload
        batch = uuid.uuid4()
        commands = []
        for action, (stations, payloads) in by_action.items():
            commands += command_services.command_create_many(
                stations=stations,
                action=action,
                payloads=payloads,
                user=request.user,
                origin="admin",
                batch=batch,
            )
        timeout = admin_commands.admin_timeout()
        commands = async_to_sync(command_services.command_execute_many)(commands, timeout=timeout)
        summary = command_selectors.batch_summary(commands)
        records = reverse("admin:commands_command_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": f"{label or ', '.join(by_action)} to {summary.total} stations",
            "opts": self.model._meta,
            "actions_sent": sorted(by_action),
            "summary": summary,
            "timeout": timeout,
            "records_url": f"{records}?{urlencode({'batch': str(batch)})}",
            "batch": batch,
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/stations/chargingstation/bulk_result.html", context)

    @admin.action(description="Get configuration / base report", permissions=["change"])
    def get_configuration(self, request: HttpRequest, queryset: QuerySet[ChargingStation]) -> Any:
        def inventory(version: str) -> tuple[str, dict[str, Any]]:
            action = "GetConfiguration" if version == V16 else "GetBaseReport"
            return action, admin_commands.default_payload(version, action)

        return self.send_to_selected(
            request, queryset, inventory, label="Get configuration / base report"
        )

    @admin.action(
        description="Generate a new Basic-auth password and set it on the charger",
        permissions=["change"],
    )
    def set_generated_password(self, request, queryset):
        # The password goes to the station and only its hash is stored: it is shown nowhere.
        for station in queryset:
            try:
                credentials.station_password_set(identity=station.identity, set_on_charger=True)
            except (
                services.StationNotConnected,
                credentials.PasswordNotSet,
                passwords.PasswordRejected,
            ) as exc:
                self.message_user(request, f"{station}: {exc}", messages.ERROR)
            else:
                self.message_user(
                    request, f"{station}: the station accepted a new password", messages.SUCCESS
                )


# --- EVSEs and connectors --------------------------------------------------------------


class ConnectorInline(admin.TabularInline):
    model = Connector
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["connector_id", "status", "error_code", "info", "status_timestamp"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Evse)
class EvseAdmin(admin.ModelAdmin):
    list_display = ["__str__", "station_link", "evse_id", "connector_states"]
    list_filter = ["station__protocol"]
    search_fields = ["station__identity"]
    list_select_related = ["station"]
    readonly_fields = ["station", "evse_id"]
    inlines = [ConnectorInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Evse]:
        return super().get_queryset(request).prefetch_related("connectors")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="Station", ordering="station__identity")
    def station_link(self, evse: Evse) -> str:
        return admin_link(evse.station)

    @admin.display(description="Connectors")
    def connector_states(self, evse: Evse) -> str:
        return format_html_join(
            " ",
            "{}",
            ((status_badge(c.status, f"{c.connector_id}: "),) for c in evse.connectors.all()),
        )


@admin.register(Connector)
class ConnectorAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "station_link",
        "evse_link",
        "connector_id",
        "status_badge",
        "error_code",
        "status_timestamp",
        "updated",
    ]
    list_filter = ["status", "error_code", "evse__station__protocol"]
    search_fields = ["evse__station__identity", "error_code", "info"]
    list_select_related = ["evse__station"]
    readonly_fields = [
        "evse",
        "connector_id",
        "status",
        "error_code",
        "info",
        "vendor_id",
        "vendor_error_code",
        "status_timestamp",
        "updated",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="Station", ordering="evse__station__identity")
    def station_link(self, connector: Connector) -> str:
        return admin_link(connector.evse.station)

    @admin.display(description="EVSE", ordering="evse__evse_id")
    def evse_link(self, connector: Connector) -> str:
        return admin_link(connector.evse, f"EVSE {connector.evse.evse_id}")

    @admin.display(description="Status", ordering="status")
    def status_badge(self, connector: Connector) -> str:
        return status_badge(connector.status)


# --- history: boots, messages, security events ----------------------------------------


class StationFilter(admin.SimpleListFilter):
    """Filter by station identity typed in (prefix, case-insensitive): a list of every
    station, as Django's own filter renders, is unusable at thousands of stations."""

    title = "station"
    parameter_name = "station_identity"
    template = "admin/csms/input_filter.html"
    # Where the identity is, from the filtered model.
    field = "station__identity"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("", "")]  # one input, not a list of choices

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        value = (self.value() or "").strip()
        if not value:
            return queryset
        return queryset.filter(**{f"{self.field}__istartswith": value})

    def choices(self, changelist: Any) -> Any:
        others = [
            (name, value)
            for name, value in changelist.get_filters_params().items()
            if name != self.parameter_name
            for value in (value if isinstance(value, list) else [value])
        ]
        yield {
            "parameter_name": self.parameter_name,
            "value": self.value() or "",
            "other_params": others,
            "placeholder": "identity starts with…",
            "selected": bool(self.value()),
            "query_string": "",
            "display": "",
        }


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records of what happened (append-only): viewable, never added, edited or deleted by
    hand; retention jobs prune them, the admin does not."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(BootNotification)
class BootNotificationAdmin(ReadOnlyAdmin):
    list_display = [
        "timestamp",
        "station_link",
        "protocol",
        "reason",
        "status",
        "vendor",
        "model",
        "firmware_version",
    ]
    list_filter = ["status", "protocol", "reason"]
    search_fields = ["station__identity", "vendor", "model", "firmware_version"]
    list_select_related = ["station"]
    date_hierarchy = "timestamp"
    fields = [
        "station",
        "timestamp",
        "protocol",
        "reason",
        "status",
        "interval",
        "vendor",
        "model",
        "serial_number",
        "firmware_version",
        "payload_pretty",
    ]
    readonly_fields = fields

    @admin.display(description="Station", ordering="station__identity")
    def station_link(self, boot: BootNotification) -> str:
        return admin_link(boot.station)

    @admin.display(description="Payload")
    def payload_pretty(self, boot: BootNotification) -> str:
        return pretty_json(boot.payload)


class HasErrorFilter(admin.SimpleListFilter):
    title = "error"
    parameter_name = "has_error"

    def lookups(self, request, model_admin):
        return [("yes", "CALLERROR or error code"), ("no", "No error")]

    def queryset(self, request, queryset):
        errors = Q(error_code__gt="") | Q(
            message_type__in=[
                MessageType.CALLERROR,
                MessageType.CALLRESULTERROR,
                MessageType.INVALID,
            ]
        )
        if self.value() == "yes":
            return queryset.filter(errors)
        if self.value() == "no":
            return queryset.exclude(errors)
        return queryset


@admin.register(OcppMessage)
class OcppMessageAdmin(ReadOnlyAdmin):
    change_form_template = "admin/stations/ocppmessage/change_form.html"
    list_display = [
        "timestamp_ms",
        "station_link",
        "direction",
        "message_type",
        "action",
        "message_id",
        "error_code",
        "answer_link",
    ]
    list_filter = [
        HasErrorFilter,
        "direction",
        "message_type",
        "action",
        # Typed in, not a list of every station: usable at thousands of stations.
        StationFilter,
    ]
    # The payload too (its JSON text): find every ConcurrentTx, an idTag, a transaction id.
    search_fields = ["station__identity", "message_id", "action", "error_code", "payload"]
    search_help_text = "Station, message id, action, error code, or any text of the payload."
    list_select_related = ["station"]
    date_hierarchy = "timestamp"
    show_full_result_count = False
    fields = [
        "station",
        "timestamp",
        "direction",
        "message_type",
        "message_id",
        "action",
        "error_code",
        "error_description",
        "answers",
        "payload_pretty",
    ]
    readonly_fields = fields

    @admin.display(description="Timestamp", ordering="timestamp")
    def timestamp_ms(self, message: OcppMessage) -> str:
        return when(message.timestamp, ms=True)

    @admin.display(description="Station", ordering="station__identity")
    def station_link(self, message: OcppMessage) -> str:
        return admin_link(message.station)

    @admin.display(description="Answers")
    def answer_link(self, message: OcppMessage) -> str:
        if message.answers_id is None:
            return ""
        return format_html(
            '<a href="{}">the CALL</a>',
            reverse("admin:stations_ocppmessage_change", args=[message.answers_id]),
        )

    @admin.display(description="Payload")
    def payload_pretty(self, message: OcppMessage) -> str:
        return pretty_json(message.payload)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        message = self.get_object(request, object_id)
        extra_context = dict(extra_context or {})
        if message is not None:
            extra_context["exchange"] = self.exchange(message)
        return super().change_view(request, object_id, form_url, extra_context)

    def exchange(self, message: OcppMessage) -> dict[str, Any]:
        """The CALL and its answer(s), for the side-by-side view."""
        if message.answers_id is not None:
            call = OcppMessage.objects.filter(pk=message.answers_id).first()
        elif message.message_type in (MessageType.CALL, MessageType.SEND):
            call = message
        else:
            call = None
        answers = list(call.answered_by.order_by("timestamp")) if call is not None else []
        if call is None:
            answers = [message]

        def side(m: OcppMessage) -> dict[str, Any]:
            return {
                "message": m,
                "at": when(m.timestamp, ms=True),
                "url": reverse("admin:stations_ocppmessage_change", args=[m.pk]),
                "current": m.pk == message.pk,
                "json": json.dumps(m.payload, indent=2, ensure_ascii=False),
            }

        return {
            "call": side(call) if call is not None else None,
            "answers": [side(a) for a in answers],
        }


@admin.register(SecurityEvent)
class SecurityEventAdmin(ReadOnlyAdmin):
    autocomplete_fields = ["station"]
    list_display = [
        "timestamp",
        "station_link",
        "identity",
        "source",
        "type",
        "severity",
        "count",
        "last_seen",
        "tech_info",
        "remote_address",
    ]
    list_filter = ["source", "type", "severity"]
    search_fields = ["identity", "station__identity", "type", "tech_info", "remote_address"]
    list_select_related = ["station"]
    date_hierarchy = "timestamp"

    @admin.display(description="Station", ordering="station__identity")
    def station_link(self, event: SecurityEvent) -> str:
        return admin_link(event.station)


# --- station-page operations of this app -----------------------------------------------


class PasswordForm(forms.Form):
    password = forms.CharField(
        required=False,
        widget=forms.PasswordInput,
        help_text="16-64 characters; leave empty to generate one (never shown).",
    )

    def __init__(self, station: ChargingStation, data: Any = None) -> None:
        super().__init__(data)

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        problem = passwords.password_problem(password) if password else ""
        if problem:
            raise forms.ValidationError(problem)
        return password


def _set_password(
    request: HttpRequest, station: ChargingStation, cleaned: dict[str, Any]
) -> admin_commands.CommandResult:
    """Send a new Basic-auth password (OCPP 2.0.1 A01); it is stored once accepted."""
    action = "ChangeConfiguration" if station.protocol == V16 else "SetVariables"
    shown = {"password": "(not shown)"}
    try:
        credentials.station_password_set(
            identity=station.identity,
            password=cleaned.get("password") or None,
            set_on_charger=True,
        )
    except (
        services.StationNotConnected,
        credentials.PasswordNotSet,
        passwords.PasswordRejected,
    ) as exc:
        return admin_commands.CommandResult(station.identity, action, shown, problem=str(exc))
    accepted = Outcome(
        status="completed", action=action, request=shown, response={"status": "Accepted"}
    )
    return admin_commands.CommandResult(station.identity, action, shown, outcome=accepted)


admin_panels.register_station_operation(
    "set_password", "Set password", form=PasswordForm, perform=_set_password
)
