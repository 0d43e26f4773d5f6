"""Message-log retention (stations.jobs.message_log_retention)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from ocpp_router.datetimes import utcnow
from stations.jobs import message_log_retention
from stations.models import OcppMessage


def _log(station, age: timedelta, n: int) -> None:
    at = utcnow() - age
    OcppMessage.objects.bulk_create(
        OcppMessage(
            id=uuid.uuid4(),
            station=station,
            timestamp=at,
            direction="in",
            message_type=2,
            message_id=str(i),
            action="Heartbeat",
            payload={},
        )
        for i in range(n)
    )


@pytest.mark.django_db
def test_message_log_retention_deletes_old_rows_only_in_batches(station, settings):
    settings.CSMS_MESSAGE_LOG_RETENTION_DAYS = 30
    settings.CSMS_MESSAGE_LOG_RETENTION_BATCH = 4
    _log(station, timedelta(days=31), 10)
    _log(station, timedelta(days=29), 3)
    assert message_log_retention() == 10
    kept = OcppMessage.objects.all()
    assert kept.count() == 3
    assert all(m.timestamp > utcnow() - timedelta(days=30) for m in kept)
    assert message_log_retention() == 0


@pytest.mark.django_db
def test_message_log_retention_zero_days_keeps_everything(station, settings):
    settings.CSMS_MESSAGE_LOG_RETENTION_DAYS = 0
    _log(station, timedelta(days=400), 2)
    assert message_log_retention() == 0
    assert OcppMessage.objects.count() == 2
