"""Id-token decisions: a token's status, expiry, group and language, concurrent
transactions (CSMS_CONCURRENT_TX_CHECK), contract certificates (2.x Authorize), and the
local authorization lists stations hold (SendLocalList, GetLocalListVersion, ClearCache).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction

from commands.services import command_sender
from ocpp_router.datetimes import utcnow
from ocpp_router.outbound import Outcome
from ocpp_router.rpc import V16
from stations.models import ChargingStation
from transactions import answers, selectors, store
from transactions.answers import TokenInfo
from transactions.choices import AuthorizationStatus, IdTokenType
from transactions.models import IdToken, LocalAuthList, LocalAuthListEntry

# Every call this module sends is recorded as a Command sent by "transactions".
station_call = command_sender("transactions")


def id_token_authorize(
    *,
    value: str,
    type: str = "",
    version: str,
    exclude_transaction_pk: int | None = None,
    at: datetime | None = None,
) -> TokenInfo:
    """Decide the IdTokenInfo for a token (1.6: `type` empty, matched on the value).

    Unknown tokens are Unknown (1.6: Invalid); a token's own status (Blocked, NoCredit, ...)
    wins over its expiry; an expired token is Expired; with CSMS_CONCURRENT_TX_CHECK a token
    already in another active transaction is ConcurrentTx. Statuses are mapped to the
    version's enumeration by `answers`.
    """
    return token_decision(
        value=value,
        type=type,
        version=version,
        exclude_transaction_pk=exclude_transaction_pk,
        at=at,
    )[0]


def token_decision(
    *,
    value: str,
    type: str,
    version: str,
    exclude_transaction_pk: int | None,
    at: datetime | None,
) -> tuple[TokenInfo, int | None]:
    """`id_token_authorize`, and the primary key of the token found (None: no token). The
    token is read at every request, in one statement: an operator's Blocked applies at once."""
    if type == IdTokenType.NO_AUTHORIZATION:
        # 2.x IdTokenEnumType NoAuthorization: a transaction started with no authorization.
        token = store.id_token_row(
            value=value, type=type, concurrent_check=False, exclude_transaction_pk=None
        )
        return TokenInfo(status=AuthorizationStatus.ACCEPTED), token.pk if token else None
    token = store.id_token_row(
        value=value,
        type="" if version == V16 else type,
        concurrent_check=settings.CSMS_CONCURRENT_TX_CHECK,
        exclude_transaction_pk=exclude_transaction_pk,
    )
    if token is None:
        unknown = AuthorizationStatus.INVALID if version == V16 else AuthorizationStatus.UNKNOWN
        return TokenInfo(status=unknown), None
    status = token.status
    if status == AuthorizationStatus.ACCEPTED:
        if token.expiry_date and token.expiry_date <= (at or utcnow()):
            status = AuthorizationStatus.EXPIRED
        elif token.in_active_transaction:
            status = AuthorizationStatus.CONCURRENT_TX
    info = TokenInfo(
        status=status,
        expiry=token.expiry_date,
        group_value=token.group_value or "",
        group_type=token.group_type or "",
        language1=token.language1,
        language2=token.language2,
        personal_message=token.personal_message,
        message_format=token.personal_message_format,
        charging_priority=token.charging_priority,
    )
    return info, token.pk


def contract_certificate_status(
    *, certificate: str | None, hash_data: list[dict[str, Any]] | None, at: datetime | None = None
) -> str | None:
    """certificateStatus for a 2.x Authorize carrying a contract certificate (OCPP 2.0.1 C07).

    The CSMS holds no trusted MO/V2G root store and runs no OCSP client, so it cannot
    establish a contract certificate as valid: an unreadable certificate is SignatureError,
    an expired one CertificateExpired, any other one CertChainError (its chain cannot be
    validated); OCSP hash data alone, which we cannot check, is NoCertificateAvailable.
    None when neither was sent. A status other than Accepted makes the token not Accepted.
    """
    if certificate:
        from cryptography import x509

        try:
            cert = x509.load_pem_x509_certificate(certificate.encode())
        except ValueError:
            return "SignatureError"
        if cert.not_valid_after_utc <= (at or utcnow()):
            return "CertificateExpired"
        return "CertChainError"
    if hash_data:
        return "NoCertificateAvailable"
    return None


def authorize(
    *,
    value: str,
    type: str = "",
    version: str,
    certificate: str | None = None,
    hash_data: list[dict[str, Any]] | None = None,
) -> tuple[TokenInfo, str | None]:
    """Authorize request of any version: the token's info and, for 2.x, certificateStatus."""
    info = id_token_authorize(value=value, type=type, version=version)
    cert_status = contract_certificate_status(certificate=certificate, hash_data=hash_data)
    if cert_status not in (None, "Accepted") and info.accepted:
        info = TokenInfo(status=AuthorizationStatus.INVALID)
    return info, cert_status


# --- local authorization list ---------------------------------------------------------------


def _local_entry(token: IdToken, version: str) -> tuple[str, str, dict[str, Any]]:
    info = id_token_authorize_static(token)
    if version == V16:
        return token.value, "", answers.id_tag_info(info)
    return token.value, token.type, answers.id_token_info(info)


def id_token_authorize_static(token: IdToken) -> TokenInfo:
    """A token's info as a local list carries it (no per-request checks such as ConcurrentTx)."""
    group = token.group_id_token
    return TokenInfo(
        status=token.status,
        expiry=token.expiry_date,
        group_value=group.value if group else "",
        group_type=group.type if group else "",
        language1=token.language1,
        language2=token.language2,
        personal_message=token.personal_message,
        message_format=token.personal_message_format,
        charging_priority=token.charging_priority,
    )


def local_list_build(*, station_pk: int, full: bool) -> tuple[int, list[dict[str, Any]]]:
    """The next list version and the entries of a SendLocalList (Full: every token marked
    for local lists; Differential: what changed since the list the station accepted, with
    removed tokens sent without info, which deletes them)."""
    station = ChargingStation.objects.get(pk=station_pk)
    version = station.protocol or V16
    state, _ = LocalAuthList.objects.get_or_create(station=station)
    wanted = {
        (value, type_): info
        for value, type_, info in (
            _local_entry(token, version) for token in selectors.local_list_tokens()
        )
    }
    if full:
        changes = [(key, info) for key, info in wanted.items()]
    else:
        held = {
            (entry.id_token_value, entry.id_token_type): entry.info
            for entry in LocalAuthListEntry.objects.filter(station=station)
        }
        changes = [(key, info) for key, info in wanted.items() if held.get(key) != info]
        changes += [(key, None) for key in held if key not in wanted]
    entries = []
    for (value, type_), info in sorted(changes, key=lambda item: item[0]):
        if version == V16:
            entry: dict[str, Any] = {"idTag": value}
            if info is not None:
                entry["idTagInfo"] = info
        else:
            entry = {"idToken": {"idToken": value, "type": type_}}
            if info is not None:
                entry["idTokenInfo"] = info
        entries.append(entry)
    return state.version + 1, entries


def local_list_send(*, identity: str, full: bool = True, timeout: float | None = None) -> Outcome:
    """SendLocalList, Full or Differential, built from the tokens; the version is tracked
    per station when the station accepts it."""
    station = ChargingStation.objects.get(identity=identity)
    version, entries = local_list_build(station_pk=station.pk, full=full)
    update_type = "Full" if full else "Differential"
    if station.protocol == V16:
        payload: dict[str, Any] = {"listVersion": version, "updateType": update_type}
    else:
        payload = {"versionNumber": version, "updateType": update_type}
    if entries:
        payload["localAuthorizationList"] = entries
    return station_call(identity=identity, action="SendLocalList", payload=payload, timeout=timeout)


def local_list_record_answer(
    *, station_pk: int, version: str, request: dict[str, Any], status: str
) -> None:
    """Record a SendLocalList answer: on Accepted, the station holds this version and list."""
    with transaction.atomic():
        state, _ = LocalAuthList.objects.select_for_update().get_or_create(station_id=station_pk)
        state.last_status = status
        if status != "Accepted":
            state.save(update_fields=["last_status", "updated"])
            return
        state.version = request["listVersion" if version == V16 else "versionNumber"]
        state.save(update_fields=["version", "last_status", "updated"])
        entries = LocalAuthListEntry.objects.filter(station_id=station_pk)
        if request["updateType"] == "Full":
            entries.delete()
        for item in request.get("localAuthorizationList", []):
            if version == V16:
                value, type_, info = item["idTag"], "", item.get("idTagInfo")
            else:
                value, type_ = item["idToken"]["idToken"], item["idToken"]["type"]
                info = item.get("idTokenInfo")
            if info is None:
                entries.filter(id_token_value=value, id_token_type=type_).delete()
            else:
                LocalAuthListEntry.objects.update_or_create(
                    station_id=station_pk,
                    id_token_value=value,
                    id_token_type=type_,
                    defaults={"info": info},
                )


def local_list_version_request(*, identity: str, timeout: float | None = None) -> Outcome:
    return station_call(
        identity=identity, action="GetLocalListVersion", payload={}, timeout=timeout
    )


def local_list_record_version(*, station_pk: int, reported: int) -> None:
    LocalAuthList.objects.update_or_create(
        station_id=station_pk, defaults={"reported_version": reported}
    )


def auth_cache_clear(*, identity: str, timeout: float | None = None) -> Outcome:
    """ClearCache: the station forgets the tokens it cached (not its local list)."""
    return station_call(identity=identity, action="ClearCache", payload={}, timeout=timeout)
