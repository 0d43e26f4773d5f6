"""The station as every data-API endpoint names it: `station_id`, its OCPP identity.

Serializers declare `station_id = StationIdField()` (read-only) or
`StationIdField(queryset=...)` (writable); filter sets derive from `StationFilterSet`, which
adds the `station_id` filter (and `station`, the older spelling, kept as an alias).
"""

from __future__ import annotations

from typing import Any

import django_filters
from rest_framework import serializers


class StationIdField(serializers.SlugRelatedField):
    """A related station, read and written as its identity (`station_id`)."""

    def __init__(self, source: str = "station", **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "The station's OCPP identity.")
        if "queryset" not in kwargs:
            kwargs["read_only"] = True
        super().__init__(slug_field="identity", source=source, **kwargs)

    def get_attribute(self, instance: Any) -> Any:
        # A nullable station (or one missing along a dotted source) reads as null.
        try:
            return super().get_attribute(instance)
        except (AttributeError, KeyError):
            return None

    def to_representation(self, value: Any) -> Any:
        return None if value is None else super().to_representation(value)


class StationIdAliasMixin:
    """Accepts `station` in a request body as an alias of `station_id`."""

    def to_internal_value(self, data: Any) -> Any:
        if hasattr(data, "keys") and "station" in data and "station_id" not in data:
            data = {**{key: data[key] for key in data}, "station_id": data["station"]}
        return super().to_internal_value(data)  # type: ignore[misc]


class StationFilterSet(django_filters.FilterSet):
    """`station_id` filter on the lookup path `station_path` (the alias `station` too)."""

    station_path = "station__identity"

    station_id = django_filters.CharFilter(
        method="filter_station", label="Station identity (station_id)."
    )
    station = django_filters.CharFilter(
        method="filter_station", label="Deprecated alias of station_id."
    )

    def filter_station(self, queryset, name: str, value: str):
        return queryset.filter(**{self.station_path: value})


class StationScopedSerializer(serializers.ModelSerializer):
    """A model serializer of a row that belongs to a station, shown as `station_id`.

    Subclasses name the model and `exclude = ["station"]` (or list their fields)."""

    station_id = StationIdField()
