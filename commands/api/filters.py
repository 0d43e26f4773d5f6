import django_filters

from commands.models import Command
from csms.api.stations import StationFilterSet


class CommandFilter(StationFilterSet):
    created_by = django_filters.CharFilter(field_name="created_by__username")
    since = django_filters.IsoDateTimeFilter(field_name="created", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created", lookup_expr="lt")

    class Meta:
        model = Command
        fields = ["action", "status", "protocol", "origin", "batch"]
