"""Services of the device model block, tested directly."""

from __future__ import annotations

from datetime import timedelta

import pytest

from devicemodel import services
from devicemodel.models import Component, ReportRequest, VariableAttribute
from ocpp_router.datetimes import utcnow

pytestmark = pytest.mark.station(identity="UNIT-1", protocol="")


def part(station, seq_no, tbc, request_id=1, generated_at=None):
    return services.report_part_store(
        station_pk=station.pk,
        kind="BaseReport",
        request_id=request_id,
        seq_no=seq_no,
        tbc=tbc,
        generated_at=generated_at,
        payload={"seqNo": seq_no},
        at=utcnow(),
    )


@pytest.mark.django_db
def test_report_completes_only_when_every_part_up_to_the_last_arrived(station):
    assert part(station, 2, False).status == "Receiving"
    assert part(station, 0, True).status == "Receiving"
    report = part(station, 1, True)
    assert (report.status, report.parts_received) == ("Complete", 3)


@pytest.mark.django_db
def test_a_repeated_part_replaces_the_stored_one(station):
    part(station, 0, True)
    report = part(station, 0, False)
    assert (report.status, report.parts_received) == ("Complete", 1)


@pytest.mark.django_db
def test_a_newer_report_under_a_reused_request_id_starts_afresh(station):
    first = utcnow()
    part(station, 0, True, generated_at=first)
    part(station, 1, False, generated_at=first)
    # The last part sent again (its answer was lost) changes nothing.
    assert part(station, 1, False, generated_at=first).parts_received == 2
    report = part(station, 0, False, generated_at=first + timedelta(hours=1))
    assert (report.status, report.parts_received) == ("Complete", 1)


@pytest.mark.django_db
def test_parts_before_the_answer_are_not_lost(station):
    part(station, 0, False)
    report = services.report_request_answered(
        station_pk=station.pk,
        kind="Report",
        request_id=1,
        criteria={"reportBase": "FullInventory"},
        status="Accepted",
        at=utcnow(),
    )
    assert (report.kind, report.status, report.parts_received) == ("Report", "Complete", 1)
    assert ReportRequest.objects.filter(station=station).count() == 1


@pytest.mark.django_db
def test_rejected_report_request_is_final(station):
    services.report_request_answered(
        station_pk=station.pk,
        kind="Report",
        request_id=4,
        criteria={"componentCriteria": ["Problem"]},
        status="EmptyResultSet",
        at=utcnow(),
    )
    report = ReportRequest.objects.get(station=station, request_id=4)
    assert report.status == "EmptyResultSet"
    assert report.completed_at is not None


@pytest.mark.django_db
def test_components_differ_by_evse_and_connector(station):
    data = [
        {
            "component": {"name": "Connector", "evse": {"id": evse, "connectorId": connector}},
            "variable": {"name": "Available"},
            "variableAttribute": [{"value": "true"}],
        }
        for evse, connector in [(1, 1), (1, 2), (2, 1)]
    ]
    services.device_model_apply(station_pk=station.pk, report_data=data + data, at=utcnow())
    assert Component.objects.filter(station=station).count() == 3
    attribute = VariableAttribute.objects.first()
    # OCPP 2.0.1 VariableAttributeType defaults apply when the station leaves them out.
    assert (attribute.type, attribute.mutability, attribute.persistent, attribute.constant) == (
        "Actual",
        "ReadWrite",
        False,
        False,
    )


def test_security_event_severity_from_the_spec_list():
    assert services.security_event_severity("FirmwareUpdated") == services.SEVERITY_CRITICAL
    assert services.security_event_severity("InvalidMessages") == services.SEVERITY_NOTICE
    assert services.security_event_severity("VendorSpecific") is None
