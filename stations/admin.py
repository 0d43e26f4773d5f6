from django.contrib import admin, messages

from stations import passwords, services
from stations.models import (
    BootNotification,
    ChargingStation,
    Connector,
    Evse,
    OcppMessage,
    SecurityEvent,
)


class EvseInline(admin.TabularInline):
    model = Evse
    extra = 0
    readonly_fields = ["evse_id"]
    show_change_link = True


@admin.register(ChargingStation)
class ChargingStationAdmin(admin.ModelAdmin):
    list_display = [
        "identity",
        "is_online",
        "protocol",
        "registration_status",
        "vendor",
        "model",
        "firmware_version",
        "security_profile",
        "last_heartbeat",
        "enabled",
    ]
    list_filter = ["is_online", "protocol", "registration_status", "enabled", "security_profile"]
    search_fields = ["identity", "vendor", "model", "serial_number"]
    readonly_fields = [
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
        "is_online",
        "connected_since",
        "last_seen",
        "last_heartbeat",
        "remote_address",
        "channel_name",
        "status",
        "error_code",
        "created",
        "updated",
        "password_changed_at",
        "base_report_at",
    ]
    inlines = [EvseInline]
    actions = ["set_generated_password"]

    @admin.action(
        description="Generate a new Basic-auth password and set it on the charger",
        permissions=["change"],
    )
    def set_generated_password(self, request, queryset):
        # The password goes to the station and only its hash is stored: it is shown nowhere.
        for station in queryset:
            try:
                services.station_password_set(identity=station.identity, set_on_charger=True)
            except (
                services.StationNotConnected,
                services.PasswordNotSet,
                passwords.PasswordRejected,
            ) as exc:
                self.message_user(request, f"{station}: {exc}", messages.ERROR)
            else:
                self.message_user(
                    request, f"{station}: the station accepted a new password", messages.SUCCESS
                )


class ConnectorInline(admin.TabularInline):
    model = Connector
    extra = 0
    readonly_fields = ["connector_id", "status", "error_code", "info", "status_timestamp"]


@admin.register(Evse)
class EvseAdmin(admin.ModelAdmin):
    list_display = ["station", "evse_id"]
    search_fields = ["station__identity"]
    inlines = [ConnectorInline]


@admin.register(Connector)
class ConnectorAdmin(admin.ModelAdmin):
    list_display = ["evse", "connector_id", "status", "error_code", "status_timestamp"]
    list_filter = ["status"]
    search_fields = ["evse__station__identity"]


@admin.register(BootNotification)
class BootNotificationAdmin(admin.ModelAdmin):
    list_display = ["station", "timestamp", "protocol", "reason", "status", "firmware_version"]
    list_filter = ["status", "protocol"]
    search_fields = ["station__identity"]
    date_hierarchy = "timestamp"


@admin.register(OcppMessage)
class OcppMessageAdmin(admin.ModelAdmin):
    list_display = [
        "timestamp",
        "station",
        "direction",
        "message_type",
        "action",
        "message_id",
        "error_code",
    ]
    list_filter = ["direction", "message_type", "action", "station"]
    search_fields = ["station__identity", "message_id", "action"]
    list_select_related = ["station"]
    date_hierarchy = "timestamp"
    readonly_fields = [f.name for f in OcppMessage._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SecurityEvent)
class SecurityEventAdmin(admin.ModelAdmin):
    list_display = ["timestamp", "identity", "source", "type", "remote_address", "tech_info"]
    list_filter = ["source", "type"]
    search_fields = ["identity", "type", "remote_address"]
    date_hierarchy = "timestamp"
    readonly_fields = [f.name for f in SecurityEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
