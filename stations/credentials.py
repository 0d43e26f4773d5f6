"""A station's Basic-auth password change (OCPP 2.0.1 A01, 1.6 security whitepaper): sent
to the station, stored as a salted hash once it accepts."""

from __future__ import annotations

import logging

from django.db import transaction

from ocpp_router.datetimes import utcnow
from stations import passwords, redaction
from stations.models import ChargingStation

logger = logging.getLogger(__name__)


class PasswordNotSet(Exception):
    """The station did not take the new password, so it was not stored."""


# Where the Basic-auth password lives on the station (OCPP 2.0.1 A01, 1.6 security
# whitepaper): every stored copy of these values is redacted (stations.redaction).
PASSWORD_COMPONENT = redaction.PASSWORD_COMPONENT
PASSWORD_VARIABLE = redaction.PASSWORD_VARIABLE
PASSWORD_KEY_16 = redaction.PASSWORD_KEY_16


def station_password_set(
    *, identity: str, password: str | None = None, set_on_charger: bool = False
) -> str:
    """Give a station a new Basic-auth password (OCPP 2.0.1 A01) and return it.

    `password` is the operator's (16-64 passwordString characters) or, when None, one we
    generate (40 characters; 20 for 1.6 stations, whose AuthorizationKey holds 16-20 bytes).
    With `set_on_charger` false the password is already on the station and is only stored;
    otherwise it is sent first (2.x SetVariables SecurityCtrlr.BasicAuthPassword, 1.6
    ChangeConfiguration AuthorizationKey, hex-encoded) and stored only once the station
    accepts it. Only a salted hash is stored. Raises ChargingStation.DoesNotExist,
    passwords.PasswordRejected, StationNotConnected or PasswordNotSet.
    """
    station = ChargingStation.objects.get(identity=identity)
    if password is None:
        length = passwords.GENERATED_LENGTH
        if station.protocol == "1.6":
            length = passwords.GENERATED_LENGTH_16
        password = passwords.password_generate(length)
    else:
        problem = passwords.password_problem(password)
        if problem:
            raise passwords.PasswordRejected(problem)
    encoded = passwords.password_hash(password)
    if set_on_charger:
        # Admitted while the call is under way: the station may reconnect with it at once.
        ChargingStation.objects.filter(pk=station.pk).update(password_pending_hash=encoded)
        try:
            _password_push(station, password)
        except BaseException:
            ChargingStation.objects.filter(pk=station.pk, password_pending_hash=encoded).update(
                password_pending_hash=""
            )
            raise
    with transaction.atomic():
        station = ChargingStation.objects.select_for_update().get(pk=station.pk)
        station.password_hash = encoded
        station.password_changed_at = utcnow()
        fields = ["password_hash", "password_changed_at", "updated"]
        if station.password_pending_hash == encoded:
            station.password_pending_hash = ""
            fields.append("password_pending_hash")
        station.save(update_fields=fields)
    logger.info(
        "New Basic-auth password stored for station %s%s",
        identity,
        " after the station accepted it" if set_on_charger else "",
    )
    return password


def _password_push(station: ChargingStation, password: str) -> None:
    # Imported here: commands depends on stations (a command belongs to a station).
    from commands.services import command_sender

    station_call = command_sender("stations.password")
    if station.protocol == "1.6":
        outcome = station_call(
            identity=station.identity,
            action="ChangeConfiguration",
            payload={"key": PASSWORD_KEY_16, "value": passwords.hex_encode(password)},
        )
        status = (outcome.response or {}).get("status", "")
    else:
        outcome = station_call(
            identity=station.identity,
            action="SetVariables",
            payload={
                "setVariableData": [
                    {
                        "attributeType": "Actual",
                        "attributeValue": password,
                        "component": {"name": PASSWORD_COMPONENT},
                        "variable": {"name": PASSWORD_VARIABLE},
                    }
                ]
            },
        )
        results = (outcome.response or {}).get("setVariableResult") or [{}]
        status = results[0].get("attributeStatus", "")
    if not outcome.ok:
        raise PasswordNotSet(
            f"the station did not answer the password change ({outcome.status}: "
            f"{outcome.error_code or outcome.error_description or 'no answer'})"
        )
    # RebootRequired: the station stored the password and uses it from its next start.
    if status not in ("Accepted", "RebootRequired"):
        raise PasswordNotSet(f"the station answered {status or 'nothing'} to the new password")
