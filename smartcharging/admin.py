from django.contrib import admin

from smartcharging.models import (
    ChargingLimit,
    ChargingProfile,
    CompositeSchedule,
    EvChargingNeeds,
    EvChargingSchedule,
)


@admin.register(ChargingProfile)
class ChargingProfileAdmin(admin.ModelAdmin):
    list_display = [
        "station",
        "evse_id",
        "profile_id",
        "purpose",
        "kind",
        "stack_level",
        "status",
        "valid_from",
        "valid_to",
        "updated",
    ]
    list_filter = ["status", "purpose", "kind", "protocol"]
    search_fields = ["station__identity", "transaction_id"]
    list_select_related = ["station"]
    readonly_fields = ["created", "updated"]


@admin.register(CompositeSchedule)
class CompositeScheduleAdmin(admin.ModelAdmin):
    list_display = [
        "station",
        "evse_id",
        "status",
        "schedule_start",
        "requested_duration",
        "received",
    ]
    list_filter = ["status"]
    search_fields = ["station__identity"]


@admin.register(ChargingLimit)
class ChargingLimitAdmin(admin.ModelAdmin):
    list_display = ["station", "evse_id", "source", "is_grid_critical", "reported", "cleared"]
    list_filter = ["source"]
    search_fields = ["station__identity"]


@admin.register(EvChargingNeeds)
class EvChargingNeedsAdmin(admin.ModelAdmin):
    list_display = ["station", "evse_id", "max_schedule_tuples", "received"]
    search_fields = ["station__identity"]


@admin.register(EvChargingSchedule)
class EvChargingScheduleAdmin(admin.ModelAdmin):
    list_display = ["station", "evse_id", "time_base", "received"]
    search_fields = ["station__identity"]
