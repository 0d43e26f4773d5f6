"""Every data endpoint of the router registry, found by walking the URL configuration:
list, detail, unknown id, the station_id filter, and who may read and write.

Rows are made from the models' own field definitions, so an endpoint added later is
covered without a line here (`ROW_OVERRIDES` for the few fields a constraint restricts).
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.db import models
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from rest_framework.test import APIClient
from rest_framework.viewsets import GenericViewSet

from commands.groups import OPERATORS, VIEWERS, project_app_labels
from csms.api.stations import StationFilterSet
from stations.models import ChargingStation
from tests.api_helpers import make_user

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 25, 10, tzinfo=UTC)


def _viewset_routes(patterns, found: dict[str, type]) -> dict[str, type]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            _viewset_routes(pattern.url_patterns, found)
        elif isinstance(pattern, URLPattern):
            cls = getattr(pattern.callback, "cls", None)
            actions = getattr(pattern.callback, "actions", None) or {}
            if cls and issubclass(cls, GenericViewSet) and actions.get("get") == "list":
                found.setdefault(pattern.name.removesuffix("-list"), cls)
    return found


ENDPOINTS = _viewset_routes(get_resolver().url_patterns, {})

# Field values a model's constraints narrow down (the generic filler would break them).
ROW_OVERRIDES: dict[str, dict[str, Any]] = {}

_counter = itertools.count(1)


def _value(field: models.Field, station: ChargingStation) -> Any:
    if field.choices:
        return field.choices[0][0]
    if isinstance(field, models.ForeignKey):
        related = field.related_model
        return station if related is ChargingStation else make_row(related, station)
    if field.name == "station":  # a station kept by identity (outliving the row)
        return station.identity
    n = next(_counter)
    match field:
        case models.UUIDField():
            return uuid.uuid4()
        case models.BooleanField():
            return False
        case models.DateTimeField():
            return T0 + timedelta(minutes=n)
        case models.DateField():
            return date(2026, 11, 25)
        case models.DecimalField():
            return Decimal(1)
        case models.FloatField():
            return 1.0
        case models.IntegerField():
            return n
        case models.DurationField():
            return timedelta(seconds=n)
        case models.JSONField():
            return {}
        case models.GenericIPAddressField():
            return "127.0.0.1"
        case models.URLField():
            return f"https://hooks.example.com/{n}"
        case models.FileField():
            return f"file-{n}.bin"
        case models.CharField() | models.TextField():
            return f"{station.identity}-{n}"[: field.max_length or 100]
    raise NotImplementedError(f"No test value for {field!r}")


def make_row(model: type[models.Model], station: ChargingStation) -> models.Model:
    """A row of `model` for `station`, filling every field that has no default."""
    values: dict[str, Any] = dict(ROW_OVERRIDES.get(model._meta.label, {}))
    for field in model._meta.concrete_fields:
        if field.name in values or getattr(field, "auto_now", False):
            continue
        if getattr(field, "auto_now_add", False) or isinstance(field, models.AutoField):
            continue
        if field.has_default() or (field.null and not isinstance(field, models.ForeignKey)):
            continue
        if isinstance(field, models.ForeignKey) and field.null:
            if field.related_model is not ChargingStation:
                continue
        values[field.name] = _value(field, station)
    return model.objects.create(**values)


def station_path(viewset: type) -> str | None:
    filterset = getattr(viewset, "filterset_class", None)
    if filterset and issubclass(filterset, StationFilterSet):
        return filterset.station_path
    return None


def client_for(role: str | None) -> APIClient:
    client = APIClient()
    if role:
        _, token = make_user(role, role)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def rows(request):
    """One row of the endpoint's model for each of two stations (or one, if unscoped)."""
    viewset = ENDPOINTS[request.param]
    model = viewset.queryset.model
    a = ChargingStation.objects.create(identity="CP-A", protocol="2.0.1")
    b = ChargingStation.objects.create(identity="CP-B", protocol="1.6")
    if model is ChargingStation:
        return request.param, viewset, [a, b]
    made = [make_row(model, a)]
    if station_path(viewset):
        made.append(make_row(model, b))
    return request.param, viewset, made


def detail_url(basename: str, viewset: type, obj: models.Model | str) -> str:
    kwarg = viewset.lookup_url_kwarg or viewset.lookup_field
    value = obj if isinstance(obj, str) else getattr(obj, viewset.lookup_field)
    return reverse(f"{basename}-detail", kwargs={kwarg: value})


def listed(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_every_app_with_an_api_is_found():
    assert {"station", "transaction", "meter-value", "command", "charging-profile"} <= set(
        ENDPOINTS
    )
    assert len(ENDPOINTS) >= 40


@pytest.mark.parametrize("rows", sorted(ENDPOINTS), indirect=True)
def test_endpoint_lists_retrieves_filters_and_404s(rows):
    basename, viewset, made = rows
    list_url = reverse(f"{basename}-list")
    assert resolve(list_url).func.cls is viewset  # no other route shadows it
    client = client_for("viewer")
    results = listed(client.get(list_url))
    pk_name = viewset.queryset.model._meta.pk.name
    key = "station_id" if viewset.queryset.model is ChargingStation else "id"
    assert len(results) >= len(made)
    detail = client.get(detail_url(basename, viewset, made[0]))
    assert detail.status_code == 200, detail.content
    assert str(detail.json()[key]) == str(
        made[0].identity if key == "station_id" else getattr(made[0], pk_name)
    )
    assert client.get(detail_url(basename, viewset, "999999")).status_code == 404

    path = station_path(viewset)
    if path is None:
        return
    expected = {
        str(pk)
        for pk in viewset.queryset.model.objects.filter(**{path: "CP-A"}).values_list(
            pk_name, flat=True
        )
    }
    assert expected
    for name in ("station_id", "station"):  # `station`: the older spelling, an alias
        filtered = listed(client.get(list_url, {name: "CP-A"}))
        assert {str(row[key]) for row in filtered} == (
            {"CP-A"} if key == "station_id" else expected
        )
        assert all(row.get("station_id", "CP-A") == "CP-A" for row in filtered)
    assert listed(client.get(list_url, {"station_id": "NOPE"})) == []


@pytest.mark.parametrize("rows", sorted(ENDPOINTS), indirect=True)
def test_endpoint_refuses_anonymous_and_viewer_writes(rows):
    basename, viewset, made = rows
    list_url = reverse(f"{basename}-list")
    item_url = detail_url(basename, viewset, made[0])
    anonymous = APIClient()
    assert anonymous.get(list_url).status_code == 401
    assert anonymous.post(list_url, {}, format="json").status_code == 401
    viewer = client_for("viewer")
    assert viewer.post(list_url, {}, format="json").status_code == 403
    assert viewer.patch(item_url, {}, format="json").status_code == 403
    assert viewer.delete(item_url).status_code == 403
    operator = client_for("operator")
    created = operator.post(list_url, {}, format="json")
    if "post" in viewset.http_method_names and hasattr(viewset, "create"):
        # Operators may write: an empty body fails validation, field by field.
        assert created.status_code == 400, created.content
        assert isinstance(created.json(), dict) and created.json()
        assert all(isinstance(errors, list) for errors in created.json().values())
    else:
        assert created.status_code == 405


def test_groups_cover_every_model_of_every_app():
    def perms(group: str) -> set[str]:
        rows = Group.objects.get(name=group).permissions.values_list(
            "content_type__app_label", "codename"
        )
        return {f"{label}.{codename}" for label, codename in rows}

    viewer, operator = perms(VIEWERS), perms(OPERATORS)
    for label in project_app_labels():
        for model in apps.get_app_config(label).get_models():
            name = f"{label}.%s_{model._meta.model_name}"
            assert name % "view" in viewer
            assert not {name % verb for verb in ("add", "change", "delete")} & viewer
            assert {name % verb for verb in ("view", "add", "change", "delete")} <= operator
    assert "commands.send_command" in operator - viewer


def test_api_root_lists_every_endpoint():
    body = client_for("viewer").get("/api/").json()
    assert {url.split("/api/", 1)[1].rstrip("/") for url in body.values()} == {
        reverse(f"{basename}-list").removeprefix("/api/").rstrip("/") for basename in ENDPOINTS
    }
    assert APIClient().get("/api/").status_code == 401


@pytest.mark.parametrize("key", ["station_id", "station"])
def test_written_station_is_named_station_id_or_its_alias(key):
    ChargingStation.objects.create(identity="CP-A")
    operator = client_for("operator")
    body = {"name": "Night", key: "CP-A", "price_per_kwh": "0.2100", "currency": "EUR"}
    created = operator.post("/api/tariffs/", body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["station_id"] == "CP-A"
    unknown = operator.post("/api/tariffs/", {**body, key: "NOPE"}, format="json")
    assert unknown.status_code == 400
    assert "station_id" in unknown.json()
