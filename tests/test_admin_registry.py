"""Every model registered in the admin, of every app, has a changelist and a change page that
render with data for a superuser, every date on them in the one format with seconds; the
append-only records cannot be deleted from the admin."""

from __future__ import annotations

import itertools
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.db import models
from django.urls import reverse

# Seconds and microseconds, so that a date shown any other way than the console's one
# format (`YYYY-MM-DD HH:MM:SS`) shows.
AT = datetime(2026, 11, 25, 10, 0, 7, 123456, tzinfo=UTC)
OTHER_DATE_FORMATS = re.compile(
    r"\d\d:\d\d:\d\d\.\d{4,}"  # str(datetime): microseconds
    r"|\d\d:\d\d:\d\d[+-]\d\d:\d\d"  # str(datetime): offset
    r"|\d{4}-\d\d-\d\d \d\d:\d\d(?![:\d])"  # no seconds
    r"|\b(?:a\.m\.|p\.m\.|noon|midnight)"  # Django's default TIME_FORMAT
    r"|\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.? \d{1,2}, \d{4}"
)
_counter = itertools.count(1)


def _value(field: models.Field) -> Any:
    """A plain value a column of this kind accepts, unique enough for unique constraints."""
    n = next(_counter)
    if field.choices:
        return field.choices[0][0]
    if isinstance(field, models.JSONField):
        return {}
    if isinstance(field, models.UUIDField):
        return uuid.uuid4()
    if isinstance(field, models.BooleanField):
        return False
    if isinstance(field, models.DateTimeField):
        return AT
    if isinstance(field, models.DateField):
        return date(2026, 11, 25)
    if isinstance(field, models.DurationField):
        return timedelta(seconds=n)
    if isinstance(field, models.DecimalField):
        return Decimal(1)
    if isinstance(field, models.FloatField):
        return 1.0
    if isinstance(field, models.IntegerField):
        return n
    if isinstance(field, models.GenericIPAddressField):
        return "127.0.0.1"
    if isinstance(field, models.EmailField):
        return f"admin{n}@example.com"
    if isinstance(field, models.URLField):
        return f"https://example.com/{n}"
    if isinstance(field, models.FileField):
        return f"admin-test/{n}.bin"
    if isinstance(field, models.BinaryField):
        return b""
    if isinstance(field, models.CharField | models.TextField):
        text = f"T{n}"
        return text[: field.max_length] if field.max_length else text
    raise TypeError(f"no sample value for {field!r}")


def make(model: type[models.Model]) -> models.Model:
    """A saved row of `model` with every required column filled, related rows made too."""
    model = model._meta.concrete_model
    values: dict[str, Any] = {}
    for field in model._meta.concrete_fields:
        if field.primary_key and isinstance(field, models.AutoField):
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            continue
        if field.is_relation:
            if field.null:
                continue
            values[field.name] = make(field.related_model)
            continue
        if field.has_default():
            continue
        if field.null or (field.blank and not field.choices):
            # Optional: leave it empty, as a station leaving it out would.
            if field.null or isinstance(field, models.CharField | models.TextField):
                continue
        values[field.name] = _value(field)
    return model._default_manager.create(**values)


REGISTERED = sorted(admin.site._registry, key=lambda m: m._meta.label)


def _with_every_date(model: type[models.Model]) -> models.Model:
    """A row of `model` whose every date and time column (optional ones too) holds AT."""
    obj = make(model)
    moments = [f.name for f in model._meta.concrete_fields if isinstance(f, models.DateTimeField)]
    if moments:
        model._default_manager.filter(pk=obj.pk).update(**dict.fromkeys(moments, AT))
    return obj


def _dates_in_other_formats(page: str) -> list[str]:
    return [m[0] for m in OTHER_DATE_FORMATS.finditer(page)]


@pytest.mark.parametrize("model", REGISTERED, ids=lambda m: m._meta.label)
def test_changelist_and_change_page_render_with_data_and_dates_with_seconds(staff_client, model):
    _with_every_date(model)
    obj = model._default_manager.order_by("-pk").first()
    assert obj is not None
    meta = model._meta
    listing = staff_client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
    assert listing.status_code == 200, listing.content.decode()[:2000]
    change_url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[quote(obj.pk)])
    assert change_url in listing.content.decode()
    detail = staff_client.get(change_url)
    assert detail.status_code == 200, detail.content.decode()[:2000]
    for page in (listing, detail):
        assert _dates_in_other_formats(page.content.decode()) == [], page.request["PATH_INFO"]


def test_station_page_panels_show_dates_with_seconds(staff_client):
    """The station page's own tables (boots, messages, security events, the running
    transaction, the device model) and the live dashboard's page."""
    from devicemodel.models import Component
    from stations.models import BootNotification, ChargingStation, OcppMessage, SecurityEvent
    from transactions.models import Transaction

    station = ChargingStation.objects.create(identity="DATES-1", protocol="2.0.1")
    ChargingStation.objects.filter(pk=station.pk).update(base_report_at=AT, last_seen=AT)
    BootNotification.objects.create(
        station=station, timestamp=AT, protocol="2.0.1", status="Accepted", interval=300, payload={}
    )
    OcppMessage.objects.create(
        id=1,
        station=station,
        timestamp=AT,
        direction="in",
        message_type=2,
        message_id="1",
        action="Heartbeat",
        payload={},
    )
    SecurityEvent.objects.create(station=station, timestamp=AT, type="Test")
    Transaction.objects.create(station=station, transaction_id="TX-1", started_at=AT, evse_id=1)
    Component.objects.create(station=station, name="OCPPCommCtrlr")
    page = staff_client.get(
        reverse("admin:stations_chargingstation_change", args=[station.pk])
    ).content.decode()
    assert page.count("2026-11-25 10:00:07") >= 5
    assert "2026-11-25 10:00:07.123" in page  # the message log tells frames apart by ms
    assert _dates_in_other_formats(page) == []
    assert _dates_in_other_formats(staff_client.get("/admin/").content.decode()) == []


APPEND_ONLY = [
    "stations.OcppMessage",
    "stations.BootNotification",
    "stations.SecurityEvent",
    "transactions.MeterValue",
    "transactions.TransactionEvent",
]


@pytest.mark.parametrize("label", APPEND_ONLY)
def test_append_only_records_cannot_be_deleted_from_the_admin(staff_client, label):
    from django.apps import apps

    model = apps.get_model(label)
    obj = _with_every_date(model)
    meta = model._meta
    listing_url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
    listing = staff_client.get(listing_url).content.decode()
    assert 'value="delete_selected"' not in listing
    change = staff_client.get(
        reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[quote(obj.pk)])
    ).content.decode()
    assert "deletelink" not in change
    delete_url = reverse(f"admin:{meta.app_label}_{meta.model_name}_delete", args=[quote(obj.pk)])
    assert staff_client.get(delete_url).status_code == 403
    assert staff_client.post(delete_url, {"post": "yes"}).status_code == 403
    staff_client.post(
        listing_url, {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"}
    )
    assert model._default_manager.filter(pk=obj.pk).exists()


def test_a_station_with_logged_messages_cannot_be_deleted_with_them(staff_client):
    from stations.models import ChargingStation, OcppMessage

    station = ChargingStation.objects.create(identity="KEEP-LOG")
    OcppMessage.objects.create(
        id=1,
        station=station,
        timestamp=AT,
        direction="in",
        message_type=2,
        message_id="1",
        action="Heartbeat",
        payload={},
    )
    url = reverse("admin:stations_chargingstation_delete", args=[station.pk])
    page = staff_client.get(url).content.decode()
    assert "<title>Cannot delete charging station" in page
    assert "permission to delete the following types of objects" in page
    assert staff_client.post(url, {"post": "yes"}).status_code == 403
    assert OcppMessage.objects.filter(pk=1).exists()
