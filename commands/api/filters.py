import django_filters

from commands.models import Command


class CommandFilter(django_filters.FilterSet):
    station_id = django_filters.CharFilter(field_name="station__identity")
    created_by = django_filters.CharFilter(field_name="created_by__username")
    since = django_filters.IsoDateTimeFilter(field_name="created", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created", lookup_expr="lt")

    class Meta:
        model = Command
        fields = ["action", "status", "protocol"]
