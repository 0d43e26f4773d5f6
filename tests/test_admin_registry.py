"""Every model registered in the admin, of every app, has a changelist and a change page that
render with data for a superuser."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.admin.utils import quote
from django.db import models
from django.urls import reverse

AT = datetime(2026, 11, 25, 10, tzinfo=UTC)
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


@pytest.mark.parametrize("model", REGISTERED, ids=lambda m: m._meta.label)
def test_changelist_and_change_page_render_with_data(staff_client, model):
    make(model)
    obj = model._default_manager.order_by("-pk").first()
    assert obj is not None
    meta = model._meta
    listing = staff_client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
    assert listing.status_code == 200, listing.content.decode()[:2000]
    change_url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[quote(obj.pk)])
    assert change_url in listing.content.decode()
    detail = staff_client.get(change_url)
    assert detail.status_code == 200, detail.content.decode()[:2000]
