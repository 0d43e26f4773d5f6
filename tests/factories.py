"""The test suite's factories: plain functions that make rows, shared by every app's tests.

The root `conftest.py` exposes them as fixtures (`station`, `staff_client`, `viewer_api`,
`operator_api`, `api`); call them directly where a test needs more than one row, or wrap
them in `sync_to_async` from an async test. Transaction messages have their own builders in
`transactions.tests.factories`.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from rest_framework.test import APIClient

from stations.models import ChargingStation
from tests.api_helpers import make_user

STATION_DEFAULTS: dict[str, Any] = {"identity": "UNIT-1", "protocol": "2.0.1"}


def station_create(**fields: Any) -> ChargingStation:
    """A charging station row (UNIT-1, OCPP 2.0.1 unless `fields` say otherwise)."""
    return ChargingStation.objects.create(**{**STATION_DEFAULTS, **fields})


def staff_user_create(username: str = "operator") -> User:
    """A superuser with staff access; no password, since hashing one only slows tests."""
    return User.objects.create(username=username, is_staff=True, is_superuser=True)


def api_client_create(username: str, role: str | None) -> APIClient:
    """A DRF test client authenticated with the API token of a Viewers/Operators user."""
    _, token = make_user(username, role)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client
