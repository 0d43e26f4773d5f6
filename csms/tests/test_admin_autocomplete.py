"""Foreign keys to long lists (stations, id tokens, transactions) are picked by autocomplete.

An operator of thousands of stations cannot scroll a <select> of every station, and the
admin must not render one option per row either: every editable foreign key to one of these
models, on every registered admin and its inlines, is an autocomplete field (or read-only).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.db import models

from stations.models import ChargingStation as Station
from transactions.models import IdToken, Transaction

LONG_LISTS = (Station, IdToken, Transaction)


def _editable_long_fks(model_admin: Any, model: type[models.Model]) -> list[str]:
    readonly = set(model_admin.readonly_fields or ())
    auto = set(model_admin.autocomplete_fields or ())
    missing = []
    for field in model._meta.get_fields():
        if not isinstance(field, models.ForeignKey | models.OneToOneField | models.ManyToManyField):
            continue
        if not field.editable:
            continue
        if field.related_model not in LONG_LISTS:
            continue
        declared = model_admin.fields
        if declared is not None and field.name not in declared:
            continue
        if field.name in readonly or field.name in auto:
            continue
        missing.append(f"{type(model_admin).__name__}.{field.name}")
    return missing


def test_every_editable_station_token_or_transaction_fk_is_autocomplete() -> None:
    missing: list[str] = []
    for model, model_admin in admin.site._registry.items():
        missing += _editable_long_fks(model_admin, model)
        for inline_class in model_admin.inlines:
            inline = inline_class(model, admin.site)
            missing += _editable_long_fks(inline, inline.model)
    assert missing == [], f"use autocomplete_fields for: {', '.join(sorted(missing))}"


def test_autocomplete_targets_are_searchable() -> None:
    # Django's admin.E039/E040 also say so at check time; this names the operator's search.
    for model in LONG_LISTS:
        assert admin.site._registry[model].search_fields, model


@pytest.mark.django_db
def test_station_autocomplete_finds_by_identity(admin_client: Any) -> None:
    Station.objects.create(identity="RDAM-0001")
    Station.objects.create(identity="UTR-0002")
    response = admin_client.get(
        "/admin/autocomplete/",
        {
            "term": "rdam",
            "app_label": "smartcharging",
            "model_name": "site",
            "field_name": "meter_station",
        },
    )
    assert response.status_code == 200, response.content
    assert [r["text"] for r in response.json()["results"]] == ["RDAM-0001"]
