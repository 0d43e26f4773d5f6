"""Services of the transactions block, called directly."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from ocpp_router.datetimes import utcnow
from transactions import answers, authorization, reservations, rules, services
from transactions.models import IdToken, MeterValue, Reservation, Tariff, Transaction

pytestmark = pytest.mark.django_db

T0 = utcnow().replace(microsecond=0) - timedelta(hours=2)


def event(seq_no, event_type="Updated", minutes=0, tx_id="U-1", **extra):
    from ocpp_router.datetimes import to_ocpp

    return {
        "eventType": event_type,
        "timestamp": to_ocpp(T0 + timedelta(minutes=minutes)),
        "triggerReason": "MeterValuePeriodic",
        "seqNo": seq_no,
        "transactionInfo": {"transactionId": tx_id},
        **extra,
    }


def reading(minutes, value, unit=None, multiplier=None):
    from ocpp_router.datetimes import to_ocpp

    sampled: dict = {"value": value}
    if unit or multiplier is not None:
        sampled["unitOfMeasure"] = {
            k: v for k, v in (("unit", unit), ("multiplier", multiplier)) if v is not None
        }
    return [{"timestamp": to_ocpp(T0 + timedelta(minutes=minutes)), "sampledValue": [sampled]}]


def test_to_wh_converts_kwh_and_applies_the_multiplier():
    assert rules.to_wh(Decimal("1.5"), "kWh") == Decimal("1500.0")
    assert rules.to_wh(Decimal("12"), "Wh", 3) == Decimal("12000")
    assert rules.to_wh(Decimal("7"), "") == Decimal("7")


def test_cost_adds_session_fee_energy_and_minutes(station):
    tariff = Tariff.objects.create(
        name="T",
        price_per_kwh=Decimal("0.40"),
        price_per_minute=Decimal("0.05"),
        session_fee=Decimal("0.99"),
    )
    cost = rules.cost_compute(
        tariff=tariff,
        energy_wh=Decimal("12345"),
        started_at=T0,
        until=T0 + timedelta(minutes=30),
    )
    assert cost == Decimal("7.43")  # 0.99 + 12.345 * 0.40 + 30 * 0.05 = 7.428


def test_station_tariff_wins_over_the_default(station):
    Tariff.objects.create(name="Default", price_per_kwh=Decimal("0.30"))
    own = Tariff.objects.create(name="Own", station=station, price_per_kwh=Decimal("0.20"))
    from transactions.selectors import tariff_for_station

    assert tariff_for_station(station_pk=station.pk) == own


def test_16_answers_map_2x_only_statuses_to_invalid():
    for status in ["NoCredit", "NotAllowedTypeEVSE", "NotAtThisLocation", "Unknown"]:
        assert answers.id_tag_info(answers.TokenInfo(status=status)) == {"status": "Invalid"}
    assert answers.id_token_info(answers.TokenInfo(status="NoCredit")) == {"status": "NoCredit"}


def test_group_token_is_parent_id_tag_in_16_and_group_id_token_in_2x():
    group = IdToken.objects.create(value="FLEET", type="Central")
    IdToken.objects.create(value="DRIVER", group_id_token=group)
    info16 = authorization.id_token_authorize(value="DRIVER", version="1.6")
    info2 = authorization.id_token_authorize(value="DRIVER", type="ISO14443", version="2.0.1")
    assert answers.id_tag_info(info16) == {"status": "Accepted", "parentIdTag": "FLEET"}
    assert answers.id_token_info(info2)["groupIdToken"] == {"idToken": "FLEET", "type": "Central"}


def test_concurrent_tx_check_can_be_switched_off(station, settings):
    IdToken.objects.create(value="BUSY")
    Transaction.objects.create(
        station=station,
        ocpp_version="1.6",
        transaction_id="1",
        id_token_value="BUSY",
        auth_status="Accepted",
    )
    assert authorization.id_token_authorize(value="BUSY", version="1.6").status == "ConcurrentTx"
    settings.CSMS_CONCURRENT_TX_CHECK = False
    assert authorization.id_token_authorize(value="BUSY", version="1.6").status == "Accepted"


def _certificate(not_after):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "EMAID")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(not_after - timedelta(days=365))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_c07_contract_certificate_we_cannot_validate_is_not_accepted():
    IdToken.objects.create(value="EMAID-1", type="eMAID")
    valid = _certificate(utcnow() + timedelta(days=30))
    expired = _certificate(utcnow() - timedelta(days=1))
    info, status = authorization.authorize(
        value="EMAID-1", type="eMAID", version="2.0.1", certificate=valid
    )
    assert (info.status, status) == ("Invalid", "CertChainError")
    _, status = authorization.authorize(
        value="EMAID-1", type="eMAID", version="2.0.1", certificate=expired
    )
    assert status == "CertificateExpired"
    info, status = authorization.authorize(value="EMAID-1", type="eMAID", version="2.0.1")
    assert (info.status, status) == ("Accepted", None)


def test_e12_out_of_order_events_give_the_energy_of_the_in_order_session(station):
    services.transaction_event_record(
        station_pk=station.pk,
        version="2.0.1",
        payload=event(2, "Ended", 20, meterValue=reading(20, 9, "kWh")),
    )
    services.transaction_event_record(
        station_pk=station.pk,
        version="2.0.1",
        payload=event(1, minutes=10, meterValue=reading(10, 5000)),
    )
    services.transaction_event_record(
        station_pk=station.pk,
        version="2.0.1",
        payload=event(0, "Started", 0, meterValue=reading(0, 1, "Wh", 3)),
    )
    tx = Transaction.objects.get(transaction_id="U-1")
    assert (tx.meter_start, tx.meter_stop, tx.energy_wh) == (1000, 9000, 8000)
    assert not tx.is_active and tx.started_at == T0
    assert tx.anomalies == ["out_of_order"]


def test_h04_reservation_expiry_marks_only_open_overdue_reservations(station):
    def make(status, minutes):
        return Reservation.objects.create(
            station=station,
            reservation_id=Reservation.objects.count() + 1,
            id_token_value="X",
            expiry=utcnow() + timedelta(minutes=minutes),
            status=status,
        )

    overdue, future, used = make("Accepted", -1), make("Accepted", 10), make("Used", -1)
    assert reservations.reservation_expire_overdue() == 1
    overdue.refresh_from_db(), future.refresh_from_db(), used.refresh_from_db()
    assert (overdue.status, future.status, used.status) == ("Expired", "Accepted", "Used")


def test_reservation_status_update_does_not_reopen_a_used_reservation(station):
    Reservation.objects.create(
        station=station, reservation_id=5, id_token_value="X", expiry=utcnow(), status="Used"
    )
    assert not reservations.reservation_status_update(
        station_pk=station.pk, reservation_id=5, status="Expired"
    )
    assert not reservations.reservation_status_update(
        station_pk=station.pk, reservation_id=99, status="Expired"
    )


def test_d01_local_list_differential_holds_only_changes_and_removals(station):
    IdToken.objects.create(value="A", in_local_list=True)
    IdToken.objects.create(value="B", in_local_list=True)
    version, entries = authorization.local_list_build(station_pk=station.pk, full=True)
    assert version == 1 and [e["idToken"]["idToken"] for e in entries] == ["A", "B"]
    authorization.local_list_record_answer(
        station_pk=station.pk,
        version="2.0.1",
        request={"versionNumber": 1, "updateType": "Full", "localAuthorizationList": entries},
        status="Accepted",
    )
    version, entries = authorization.local_list_build(station_pk=station.pk, full=False)
    assert (version, entries) == (2, [])
    IdToken.objects.filter(value="A").update(status="Blocked")
    IdToken.objects.filter(value="B").delete()
    _, entries = authorization.local_list_build(station_pk=station.pk, full=False)
    assert entries == [
        {"idToken": {"idToken": "A", "type": "ISO14443"}, "idTokenInfo": {"status": "Blocked"}},
        {"idToken": {"idToken": "B", "type": "ISO14443"}},
    ]


def test_d01_rejected_local_list_keeps_the_version(station):
    authorization.local_list_record_answer(
        station_pk=station.pk,
        version="1.6",
        request={"listVersion": 4, "updateType": "Full"},
        status="VersionMismatch",
    )
    state = station.local_auth_list
    assert (state.version, state.last_status) == (0, "VersionMismatch")


def test_e12_seq_gap_is_flagged_and_cleared_when_the_late_event_arrives(station):
    for seq in (0, 1, 3):
        services.transaction_event_record(
            station_pk=station.pk, version="2.0.1", payload=event(seq, minutes=seq)
        )
    assert "seq_gap" in Transaction.objects.get(transaction_id="U-1").anomalies
    services.transaction_event_record(
        station_pk=station.pk, version="2.0.1", payload=event(2, minutes=2)
    )
    tx = Transaction.objects.get(transaction_id="U-1")
    assert set(tx.anomalies) == {"started_missing", "out_of_order"}


def test_values_out_of_the_column_range_are_kept_raw_not_lost(station):
    outcome = services.transaction_event_record(
        station_pk=station.pk,
        version="2.0.1",
        payload=event(
            0,
            "Started",
            meterValue=[
                {
                    "timestamp": event(0)["timestamp"],
                    "sampledValue": [
                        {"value": 1e25, "measurand": "Power.Active.Import"},
                        {"value": 1.234567890123, "measurand": "Voltage"},
                    ],
                }
            ],
        ),
    )
    assert not outcome.duplicate
    huge, small = MeterValue.objects.order_by("id")
    # Kept as the station sent it (PostgreSQL's jsonb reads 1e25 back as an integer).
    assert huge.value is None and Decimal(str(huge.signed_data["value"])) == Decimal("1e25")
    assert small.value == Decimal("1.234567890")


def test_a_register_reading_no_meter_could_reach_does_not_break_the_energy(station):
    services.transaction_event_record(
        station_pk=station.pk, version="2.0.1", payload=event(0, meterValue=reading(0, 1000))
    )
    services.transaction_event_record(
        station_pk=station.pk,
        version="2.0.1",
        payload=event(1, minutes=1, meterValue=reading(1, 9e20, "kWh", 9)),
    )
    tx = Transaction.objects.get(transaction_id="U-1")
    assert tx.energy_wh == 0 and MeterValue.objects.filter(transaction=tx).count() == 2
