from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from devicemodel.models import (
    Component,
    ConfigurationKey,
    DataTransferMessage,
    DeviceEvent,
    DisplayMessage,
    MonitoringSetting,
    PeriodicEventStream,
    PeriodicEventStreamValue,
    ReportPart,
    ReportRequest,
    Variable,
    VariableAttribute,
    VariableCharacteristics,
    VariableMonitor,
    VariableOperation,
)
from ocpp_router.rpc import V16
from stations.admin import admin_link, changelist_url, when
from stations.admin_panels import register_station_panel
from stations.models import ChargingStation

# Configuration keys listed on the station page; the rest are one link away.
PANEL_ROWS = 15


class VariableInline(admin.TabularInline):
    model = Variable
    extra = 0
    show_change_link = True


@admin.register(Component)
class ComponentAdmin(admin.ModelAdmin):
    autocomplete_fields = ["station"]
    list_display = ["station", "name", "instance", "evse_id", "connector_id"]
    list_filter = ["name", "station"]
    search_fields = ["station__identity", "name", "instance"]
    list_select_related = ["station"]
    inlines = [VariableInline]


class VariableAttributeInline(admin.TabularInline):
    model = VariableAttribute
    extra = 0


class VariableCharacteristicsInline(admin.StackedInline):
    model = VariableCharacteristics
    extra = 0


@admin.register(Variable)
class VariableAdmin(admin.ModelAdmin):
    list_display = ["component", "name", "instance"]
    list_filter = ["component__station", "component__name"]
    search_fields = ["component__station__identity", "component__name", "name"]
    list_select_related = ["component__station"]
    inlines = [VariableAttributeInline, VariableCharacteristicsInline]


@admin.register(VariableAttribute)
class VariableAttributeAdmin(admin.ModelAdmin):
    list_display = ["variable", "type", "value", "mutability", "persistent", "constant", "updated"]
    list_filter = ["type", "mutability", "variable__component__station"]
    search_fields = [
        "variable__component__station__identity",
        "variable__component__name",
        "variable__name",
        "value",
    ]
    list_select_related = ["variable__component__station"]


@admin.register(VariableOperation)
class VariableOperationAdmin(admin.ModelAdmin):
    autocomplete_fields = ["station"]
    list_display = [
        "timestamp",
        "station",
        "kind",
        "component_name",
        "variable_name",
        "attribute_type",
        "value",
        "status",
    ]
    list_filter = ["kind", "status", "station"]
    search_fields = ["station__identity", "component_name", "variable_name"]
    list_select_related = ["station"]
    date_hierarchy = "timestamp"


@admin.register(ConfigurationKey)
class ConfigurationKeyAdmin(admin.ModelAdmin):
    autocomplete_fields = ["station"]
    list_display = ["station", "key", "value", "readonly", "unknown", "reboot_required", "updated"]
    list_filter = ["readonly", "unknown", "reboot_required", "station"]
    search_fields = ["station__identity", "key", "value"]
    list_select_related = ["station"]


class ReportPartInline(admin.TabularInline):
    model = ReportPart
    extra = 0
    readonly_fields = ["seq_no", "tbc", "generated_at", "received_at", "payload"]


@admin.register(ReportRequest)
class ReportRequestAdmin(admin.ModelAdmin):
    autocomplete_fields = ["station"]
    list_display = [
        "station",
        "kind",
        "request_id",
        "status",
        "parts_received",
        "requested_at",
        "completed_at",
    ]
    list_filter = ["kind", "status", "station"]
    search_fields = ["station__identity"]
    list_select_related = ["station"]
    inlines = [ReportPartInline]


@admin.register(VariableMonitor)
class VariableMonitorAdmin(admin.ModelAdmin):
    autocomplete_fields = ["station"]
    list_display = ["station", "monitor_id", "variable", "type", "value", "severity", "updated"]
    list_filter = ["type", "severity", "station"]
    search_fields = ["station__identity", "variable__name", "variable__component__name"]
    list_select_related = ["station", "variable__component"]


@admin.register(MonitoringSetting)
class MonitoringSettingAdmin(admin.ModelAdmin):
    autocomplete_fields = ["station"]
    list_display = ["station", "monitoring_base", "monitoring_level", "updated"]
    search_fields = ["station__identity"]


@admin.register(DeviceEvent)
class DeviceEventAdmin(admin.ModelAdmin):
    autocomplete_fields = ["station"]
    list_display = [
        "timestamp",
        "station",
        "event_id",
        "trigger",
        "component_name",
        "variable_name",
        "actual_value",
        "tech_code",
        "cleared",
    ]
    list_filter = ["trigger", "cleared", "event_notification_type", "station"]
    search_fields = ["station__identity", "component_name", "variable_name", "tech_code"]
    list_select_related = ["station"]
    date_hierarchy = "timestamp"


@admin.register(DisplayMessage)
class DisplayMessageAdmin(admin.ModelAdmin):
    autocomplete_fields = ["station"]
    list_display = ["station", "message_id", "priority", "state", "content", "last_status"]
    list_filter = ["state", "priority", "station"]
    search_fields = ["station__identity", "content"]
    list_select_related = ["station"]


@admin.register(DataTransferMessage)
class DataTransferMessageAdmin(admin.ModelAdmin):
    autocomplete_fields = ["station"]
    list_display = ["timestamp", "station", "direction", "vendor_id", "message_id", "status"]
    list_filter = ["direction", "status", "vendor_id"]
    search_fields = ["station__identity", "vendor_id", "message_id"]
    list_select_related = ["station"]
    date_hierarchy = "timestamp"


# --- the station page ---------------------------------------------------------------------


@register_station_panel("device_model", "Device model / configuration", order=40)
def device_model_panel(request: HttpRequest, station: ChargingStation) -> str:
    """1.6: the configuration keys; 2.x: the device model reported (components, variables)."""
    if station.protocol == V16 or station.configuration_keys.exists():
        keys = list(station.configuration_keys.order_by("key")[:PANEL_ROWS])
        total = station.configuration_keys.count()
        listing = changelist_url(ConfigurationKey, station__id__exact=station.pk)
        if not keys:
            return format_html(
                "<p>No configuration key known yet: send GetConfiguration.</p>"
                '<p><a href="{}">Configuration keys</a></p>',
                listing,
            )
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (admin_link(k, k.key), "—" if k.value is None else k.value, _yes(k.readonly))
                for k in keys
            ),
        )
        return format_html(
            '<table id="configuration-keys"><tr><th>Key</th><th>Value</th><th>Read-only</th>'
            '</tr>{}</table><p><a href="{}">All {} configuration keys of this station</a></p>',
            rows,
            listing,
            total,
        )
    components = station.components.count()
    attributes = VariableAttribute.objects.filter(variable__component__station=station)
    if not components:
        return format_html(
            "<p>No device model reported yet: send GetBaseReport.</p>"
            '<p><a href="{}">Components</a></p>',
            changelist_url(Component, station__id__exact=station.pk),
        )
    return format_html(
        '<p id="device-model-summary">{} components, {} variables, {} attributes'
        " (last full report: {}).</p>"
        '<p><a href="{}">Components</a> · <a href="{}">Variables</a> · '
        '<a href="{}">Attributes</a></p>',
        components,
        Variable.objects.filter(component__station=station).count(),
        attributes.count(),
        when(station.base_report_at, empty="never"),
        changelist_url(Component, station__id__exact=station.pk),
        changelist_url(Variable, component__station__id__exact=station.pk),
        changelist_url(VariableAttribute, variable__component__station__id__exact=station.pk),
    )


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


# --- OCPP 2.1 -------------------------------------------------------------------------


@admin.register(PeriodicEventStream)
class PeriodicEventStreamAdmin(admin.ModelAdmin):
    autocomplete_fields = ["station"]
    list_display = [
        "station",
        "stream_id",
        "variable_monitoring_id",
        "variable",
        "interval",
        "values",
        "is_open",
        "opened_at",
        "closed_at",
    ]
    list_filter = ["is_open"]
    list_select_related = ["station", "variable"]


@admin.register(PeriodicEventStreamValue)
class PeriodicEventStreamValueAdmin(admin.ModelAdmin):
    list_display = ["stream", "timestamp", "value"]
    list_filter = []
    list_select_related = ["stream"]
