from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from ocpp_router.datetimes import utcnow
from smartcharging import selectors, services
from smartcharging.charts import site_power_chart_html
from smartcharging.models import (
    ChargingLimit,
    ChargingProfile,
    CompositeSchedule,
    DERControl,
    DEREvent,
    DynamicScheduleUpdate,
    EvChargingNeeds,
    EvChargingSchedule,
    Grant,
    GridSignal,
    PriorityCharging,
    Site,
    SiteGroup,
    SiteMember,
)
from stations.admin import when

# Hours of power shown on a site's page.
CHART_HOURS = 2


@admin.register(ChargingProfile)
class ChargingProfileAdmin(admin.ModelAdmin):
    autocomplete_fields = ["station"]
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
    autocomplete_fields = ["station"]
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
    readonly_fields = ["comparison"]

    @admin.display(description="Expected by the CSMS beside reported by the station")
    def comparison(self, reported: CompositeSchedule) -> str:
        if reported.pk is None or not reported.schedule:
            return "—"
        result = selectors.composite_comparison(reported)
        rows = format_html_join(
            "",
            "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    mark_safe(' class="differs" style="background:#fff3bf"')
                    if row["differs"]
                    else "",
                    row["start_period"],
                    when(row["at"]),
                    "—" if row["expected"] is None else f"{row['expected']:g}",
                    "—" if row["reported"] is None else f"{row['reported']:g}",
                    "differs" if row["differs"] else "",
                )
                for row in result.rows
            ),
        )
        summary = (
            "The station's schedule differs from the one the CSMS expects from the profiles "
            "it accepted: check the flagged periods (a local limit, or a profile the CSMS "
            "does not know)."
            if result.differs
            else "The station applies the schedule the CSMS expects."
        )
        return format_html(
            '<p>{}</p><table id="composite-comparison"><thead><tr><th>start (s)</th>'
            "<th>at</th><th>expected ({})</th><th>reported</th><th></th></tr></thead>"
            "<tbody>{}</tbody></table>",
            summary,
            result.expected.unit,
            rows,
        )


@admin.register(ChargingLimit)
class ChargingLimitAdmin(admin.ModelAdmin):
    autocomplete_fields = ["station"]
    list_display = ["station", "evse_id", "source", "is_grid_critical", "reported", "cleared"]
    list_filter = ["source"]
    search_fields = ["station__identity"]


@admin.register(EvChargingNeeds)
class EvChargingNeedsAdmin(admin.ModelAdmin):
    autocomplete_fields = ["station"]
    list_display = ["station", "evse_id", "max_schedule_tuples", "received"]
    search_fields = ["station__identity"]


@admin.register(EvChargingSchedule)
class EvChargingScheduleAdmin(admin.ModelAdmin):
    autocomplete_fields = ["station"]
    list_display = ["station", "evse_id", "time_base", "received"]
    search_fields = ["station__identity"]


class SiteGroupInline(admin.TabularInline):
    model = SiteGroup
    extra = 0


class SiteMemberInline(admin.TabularInline):
    autocomplete_fields = ["station"]
    model = SiteMember
    extra = 0
    fields = ["station", "evse_id", "group", "fallback_current", "fallback_status"]
    readonly_fields = ["fallback_current", "fallback_status"]


class GrantInline(admin.TabularInline):
    model = Grant
    extra = 0
    can_delete = False
    verbose_name_plural = "grants of active sessions"
    fields = ["station", "evse_id", "transaction", "current", "accepted_current", "status"]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Grant]:
        return (
            super()
            .get_queryset(request)
            .filter(transaction__is_active=True)
            .select_related("station", "transaction")
        )

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    """A site: its limit, groups and members; the power chart shows the last hours."""

    autocomplete_fields = ["meter_station"]

    list_display = ["name", "limit", "unit", "enabled", "member_count", "active_grants"]
    list_filter = ["enabled"]
    search_fields = ["name"]
    inlines = [SiteGroupInline, SiteMemberInline, GrantInline]
    readonly_fields = ["power_chart", "other_consumption_at"]
    fieldsets = [
        (None, {"fields": ["name", "enabled", "limit", "unit", "safety_margin"]}),
        ("Power over time", {"fields": ["power_chart"]}),
        (
            "Sessions",
            {"fields": ["min_current", "max_current", "fallback_current", "voltage", "phases"]},
        ),
        (
            "Other consumption",
            {
                "fields": [
                    "meter_station",
                    "meter_evse_id",
                    "other_consumption",
                    "other_consumption_at",
                ]
            },
        ),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Site]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_members=Count("members", distinct=True),
                n_grants=Count(
                    "grants", filter=Q(grants__transaction__is_active=True), distinct=True
                ),
            )
        )

    @admin.display(description="members", ordering="n_members")
    def member_count(self, site: Site) -> int:
        return getattr(site, "n_members", 0)

    @admin.display(description="sessions", ordering="n_grants")
    def active_grants(self, site: Site) -> int:
        return getattr(site, "n_grants", 0)

    @admin.display(description="Total power and limit")
    def power_chart(self, site: Site) -> str:
        if site.pk is None:
            return "—"
        end = utcnow()
        start = end - timedelta(hours=CHART_HOURS)
        power = selectors.site_power(site, start, end)
        return format_html(
            '<div id="site-chart">{}</div><p class="help">The sum of the latest power each '
            "EVSE reported (Power.Active.Import) over the last {} hours; the dashed line is "
            "the site's limit.</p>",
            site_power_chart_html(
                power,
                limit_w=selectors.site_limit_watts(site),
                start=start,
                end=end,
                title=f"{site.name}: total charging power",
            ),
            CHART_HOURS,
        )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        services.site_changed(site_pk=form.instance.pk)


@admin.register(Grant)
class GrantAdmin(admin.ModelAdmin):
    list_display = [
        "site",
        "station",
        "evse_id",
        "current",
        "accepted_current",
        "status",
        "sent_at",
    ]
    list_filter = ["status", "site"]
    search_fields = ["station__identity"]
    list_select_related = ["site", "station"]
    readonly_fields = [f.name for f in Grant._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


# --- OCPP 2.1 -------------------------------------------------------------------------


@admin.register(DERControl)
class DERControlAdmin(admin.ModelAdmin):
    autocomplete_fields = ["station"]
    list_display = [
        "station",
        "control_id",
        "control_type",
        "is_default",
        "priority",
        "status",
        "active",
        "updated",
    ]
    list_filter = ["control_type", "status", "is_default", "active"]
    list_select_related = ["station"]


@admin.register(DEREvent)
class DEREventAdmin(admin.ModelAdmin):
    autocomplete_fields = ["station"]
    list_display = [
        "timestamp",
        "station",
        "kind",
        "control_type",
        "control_id",
        "grid_event_fault",
        "alarm_ended",
    ]
    list_filter = ["kind", "control_type"]
    list_select_related = ["station"]


@admin.register(DynamicScheduleUpdate)
class DynamicScheduleUpdateAdmin(admin.ModelAdmin):
    autocomplete_fields = ["station"]
    list_display = ["at", "station", "charging_profile_id", "origin", "status"]
    list_filter = ["origin", "status"]
    list_select_related = ["station"]


@admin.register(PriorityCharging)
class PriorityChargingAdmin(admin.ModelAdmin):
    autocomplete_fields = ["station", "transaction"]
    list_display = ["at", "station", "transaction_ref", "activated", "origin", "status"]
    list_filter = ["origin", "activated"]
    list_select_related = ["station"]


@admin.register(GridSignal)
class GridSignalAdmin(admin.ModelAdmin):
    autocomplete_fields = ["station"]
    list_display = ["timestamp", "station", "action", "transaction_id", "signal", "status"]
    list_filter = ["action", "status"]
    list_select_related = ["station"]
