"""OCPP 2.1 payments and battery swaps: NotifySettlement, VatNumberValidation,
NotifyWebPaymentStarted, BatterySwap and RequestBatterySwap, each stored with the station
(and the transaction) it belongs to.

VAT numbers are checked by the callable named in `CSMS_VAT_VALIDATOR` (dotted path), which
takes the number and returns a `VatCheck`; the default is `local_vat_rules`: the EU/EFTA
formats, no external call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from ocpp_router.datetimes import from_ocpp
from transactions.models import BatterySwap, Settlement, Transaction, VatNumberCheck, WebPayment


@dataclass(frozen=True)
class VatCheck:
    valid: bool
    company: dict[str, str] | None = None  # AddressType: name, address1, city, country...
    reason: str = ""


# Country prefix -> the national part's pattern (VIES formats).
_VAT_FORMATS = {
    "AT": r"U\d{8}",
    "BE": r"[01]\d{9}",
    "BG": r"\d{9,10}",
    "CH": r"E\d{9}(MWST|TVA|IVA)?",
    "CY": r"\d{8}[A-Z]",
    "CZ": r"\d{8,10}",
    "DE": r"\d{9}",
    "DK": r"\d{8}",
    "EE": r"\d{9}",
    "EL": r"\d{9}",
    "ES": r"[0-9A-Z]\d{7}[0-9A-Z]",
    "FI": r"\d{8}",
    "FR": r"[0-9A-Z]{2}\d{9}",
    "HR": r"\d{11}",
    "HU": r"\d{8}",
    "IE": r"\d[0-9A-Z+*]\d{5}[A-Z]{1,2}",
    "IT": r"\d{11}",
    "LT": r"(\d{9}|\d{12})",
    "LU": r"\d{8}",
    "LV": r"\d{11}",
    "MT": r"\d{8}",
    "NL": r"\d{9}B\d{2}",
    "NO": r"\d{9}(MVA)?",
    "PL": r"\d{10}",
    "PT": r"\d{9}",
    "RO": r"\d{2,10}",
    "SE": r"\d{12}",
    "SI": r"\d{8}",
    "SK": r"\d{10}",
}


def local_vat_rules(vat_number: str) -> VatCheck:
    """The format of the number's country (no registry lookup: a syntactically valid number
    of a known country is Accepted, without company data)."""
    number = re.sub(r"[\s.\-]", "", vat_number).upper()
    pattern = _VAT_FORMATS.get(number[:2])
    if pattern is None:
        return VatCheck(False, reason="UnknownCountry")
    if not re.fullmatch(pattern, number[2:]):
        return VatCheck(False, reason="InvalidFormat")
    return VatCheck(True)


def vat_number_validate(
    *, station_pk: int, vat_number: str, evse_id: int | None, at: datetime
) -> dict[str, Any]:
    """VatNumberValidation: the configured validator's verdict, stored, as the answer."""
    validator = import_string(settings.CSMS_VAT_VALIDATOR)
    check: VatCheck = validator(vat_number)
    status = "Accepted" if check.valid else "Rejected"
    VatNumberCheck.objects.create(
        station_id=station_pk,
        vat_number=vat_number,
        evse_id=evse_id,
        status=status,
        company=check.company,
        at=at,
    )
    answer: dict[str, Any] = {"vatNumber": vat_number, "status": status}
    if evse_id is not None:
        answer["evseId"] = evse_id
    if check.company:
        answer["company"] = check.company
    if check.reason:
        answer["statusInfo"] = {"reasonCode": check.reason}
    return answer


def _transaction(station_pk: int, transaction_id: str) -> Transaction | None:
    if not transaction_id:
        return None
    return (
        Transaction.objects.filter(station_id=station_pk, transaction_id=transaction_id)
        .only("pk")
        .first()
    )


def settlement_record(*, station_pk: int, payload: dict[str, Any], at: datetime) -> Settlement:
    """NotifySettlement: the amount settled, on the transaction it pays for (a repeated
    notification of the same pspRef updates the row)."""
    transaction_id = payload.get("transactionId", "")
    with transaction.atomic():
        settlement, _ = Settlement.objects.update_or_create(
            station_id=station_pk,
            psp_ref=payload["pspRef"],
            defaults={
                "transaction": _transaction(station_pk, transaction_id),
                "transaction_ref": transaction_id,
                "status": payload["status"],
                "status_info": payload.get("statusInfo", ""),
                "amount": Decimal(str(payload["settlementAmount"])),
                "settled_at": from_ocpp(payload["settlementTime"]),
                "receipt_id": payload.get("receiptId", ""),
                "receipt_url": payload.get("receiptUrl", ""),
                "vat_number": payload.get("vatNumber", ""),
                "vat_company": payload.get("vatCompany"),
                "received_at": at,
            },
        )
    return settlement


def web_payment_record(*, station_pk: int, evse_id: int, timeout: int, at: datetime) -> None:
    WebPayment.objects.create(station_id=station_pk, evse_id=evse_id, timeout=timeout, at=at)


def battery_swap_record(
    *,
    station_pk: int,
    request_id: int,
    event_type: str,
    id_token: dict[str, Any],
    batteries: list[dict[str, Any]],
    status: str = "",
    at: datetime,
) -> BatterySwap:
    """A BatterySwap event of the station, or our RequestBatterySwap with its answer."""
    return BatterySwap.objects.create(
        station_id=station_pk,
        request_id=request_id,
        event_type=event_type,
        id_token_value=id_token["idToken"],
        id_token_type=id_token["type"],
        batteries=batteries,
        status=status,
        at=at,
    )
