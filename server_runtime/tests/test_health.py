from unittest import mock

import pytest
from django.test import Client


def test_health_answers_without_io() -> None:
    response = Client().get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_ready_when_database_migrated_and_channel_layer_up() -> None:
    response = Client().get("/ready")
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_ready_names_the_fix_when_migrations_missing() -> None:
    with mock.patch(
        "django.db.migrations.executor.MigrationExecutor.migration_plan",
        return_value=[("x", False)],
    ):
        response = Client().get("/ready")
    assert response.status_code == 503
    assert "manage.py migrate" in response.json()["problems"]["migrations"]


@pytest.mark.django_db
def test_ready_names_the_fix_when_channel_layer_down() -> None:
    with mock.patch("server_runtime.health._channel_round_trip", side_effect=OSError("down")):
        response = Client().get("/ready")
    assert response.status_code == 503
    assert "REDIS_URL" in response.json()["problems"]["channel_layer"]
