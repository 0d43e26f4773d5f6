"""Certificate expiry warnings (certificates.jobs.certificates_expiry_warn)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from certificates.jobs import EXPIRING, certificates_expiry_warn
from certificates.models import CertificateSigningRequest
from csms import events
from ocpp_router.datetimes import utcnow
from stations.models import SecurityEvent
from tests.certs import Authority


@pytest.fixture
def published():
    seen: list[events.Event] = []
    events.subscribe(seen.append)
    yield seen
    events._subscribers.remove(seen.append)


@pytest.mark.django_db(transaction=True)
def test_certificate_expiry_warning_fires_once_a_day_for_ca_and_station_certificates(
    station, settings, tmp_path, caplog, published
):
    ca = Authority(tmp_path, "csms-ca")  # valid two more days
    settings.CSMS_CA_CERT_FILE = str(ca.path)
    settings.CSMS_CERT_EXPIRY_WARN_DAYS = 7
    now = utcnow()
    CertificateSigningRequest.objects.create(
        station=station,
        certificate_type="ChargingStationCertificate",
        csr="-",
        status="Delivered",
        serial_number="0A1B",
        not_after=now + timedelta(days=3),
        received=now,
    )
    CertificateSigningRequest.objects.create(
        station=station,
        certificate_type="V2GCertificate",
        csr="-",
        status="Delivered",
        serial_number="FAR",
        not_after=now + timedelta(days=300),
        received=now,
    )
    with caplog.at_level(logging.WARNING, logger="certificates.jobs"):
        assert certificates_expiry_warn() == 2
        assert certificates_expiry_warn() == 0  # once per certificate per day
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert any("CSMS_CA_CERT_FILE" in w for w in warnings)
    assert any("0A1B" in w and station.identity in w for w in warnings)
    assert SecurityEvent.objects.filter(type=EXPIRING).count() == 2
    kinds = [e for e in published if e.kind == "security.event" and e.data["type"] == EXPIRING]
    assert len(kinds) == 2


@pytest.mark.django_db
def test_certificate_expiry_warning_ignores_certificates_far_from_expiry(
    station, settings, tmp_path
):
    settings.CSMS_CA_CERT_FILE = str(Authority(tmp_path, "ca").path)
    settings.CSMS_CERT_EXPIRY_WARN_DAYS = 1
    assert certificates_expiry_warn() == 0
