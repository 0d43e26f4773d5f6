from django.contrib import admin

from commands.models import CallbackDelivery, Command


class CallbackDeliveryInline(admin.TabularInline):
    model = CallbackDelivery
    extra = 0
    readonly_fields = ["attempt", "at", "status_code", "error", "delivered"]
    can_delete = False


@admin.register(Command)
class CommandAdmin(admin.ModelAdmin):
    list_display = [
        "created",
        "station",
        "action",
        "status",
        "origin",
        "created_by",
        "completed",
        "callback_status",
    ]
    list_filter = ["status", "callback_status", "origin", "action", "protocol"]
    search_fields = ["station__identity", "action"]
    list_select_related = ["station", "created_by"]
    date_hierarchy = "created"
    readonly_fields = [f.name for f in Command._meta.fields]
    inlines = [CallbackDeliveryInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
