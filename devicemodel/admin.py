from django.contrib import admin

from devicemodel.models import (
    Component,
    ConfigurationKey,
    DataTransferMessage,
    DeviceEvent,
    DisplayMessage,
    MonitoringSetting,
    ReportPart,
    ReportRequest,
    Variable,
    VariableAttribute,
    VariableCharacteristics,
    VariableMonitor,
    VariableOperation,
)


class VariableInline(admin.TabularInline):
    model = Variable
    extra = 0
    show_change_link = True


@admin.register(Component)
class ComponentAdmin(admin.ModelAdmin):
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
    list_display = ["station", "monitor_id", "variable", "type", "value", "severity", "updated"]
    list_filter = ["type", "severity", "station"]
    search_fields = ["station__identity", "variable__name", "variable__component__name"]
    list_select_related = ["station", "variable__component"]


@admin.register(MonitoringSetting)
class MonitoringSettingAdmin(admin.ModelAdmin):
    list_display = ["station", "monitoring_base", "monitoring_level", "updated"]
    search_fields = ["station__identity"]


@admin.register(DeviceEvent)
class DeviceEventAdmin(admin.ModelAdmin):
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
    list_display = ["station", "message_id", "priority", "state", "content", "last_status"]
    list_filter = ["state", "priority", "station"]
    search_fields = ["station__identity", "content"]
    list_select_related = ["station"]


@admin.register(DataTransferMessage)
class DataTransferMessageAdmin(admin.ModelAdmin):
    list_display = ["timestamp", "station", "direction", "vendor_id", "message_id", "status"]
    list_filter = ["direction", "status", "vendor_id"]
    search_fields = ["station__identity", "vendor_id", "message_id"]
    list_select_related = ["station"]
    date_hierarchy = "timestamp"
