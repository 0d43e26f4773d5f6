"""OCPP handlers of the transactions block: Authorize, transactions, meter values,
reservations; and what the CSMS sends: remote start/stop, reservations, local lists, cost."""

from __future__ import annotations

from typing import Any

from commands.services import command_after_reply
from ocpp_router.datetimes import from_ocpp, utcnow
from ocpp_router.registry import ocpp_handler, ocpp_result, ocpp_sendable
from ocpp_router.rpc import V16, V21, V201
from ocpp_router.session import CallContext, ResultContext
from transactions import answers, authorization, payments, remote, reservations, services, tariffs
from transactions.choices import RequestStatus

V2 = (V201, V21)


# --- Authorize ------------------------------------------------------------------------------


@ocpp_handler(V16, "Authorize")
def authorize_16(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    info, _ = authorization.authorize(value=payload["idTag"], version=V16)
    return {"idTagInfo": answers.id_tag_info(info)}


@ocpp_handler(V201, "Authorize")
@ocpp_handler(V21, "Authorize")
def authorize_2(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    token = payload["idToken"]
    info, certificate_status = authorization.authorize(
        value=token["idToken"],
        type=token["type"],
        version=ctx.version,
        certificate=payload.get("certificate"),
        hash_data=payload.get("iso15118CertificateHashData"),
    )
    answer: dict[str, Any] = {"idTokenInfo": answers.id_token_info(info)}
    if certificate_status:
        answer["certificateStatus"] = certificate_status
    return answer


# --- transactions ---------------------------------------------------------------------------


@ocpp_handler(V16, "StartTransaction")
def start_transaction_16(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    outcome = services.transaction_start_16(
        station_pk=ctx.station_pk,
        connector_id=payload["connectorId"],
        id_tag=payload["idTag"],
        meter_start=payload["meterStart"],
        timestamp=from_ocpp(payload["timestamp"]) or utcnow(),
        reservation_id=payload.get("reservationId"),
        payload=payload,
        identity=ctx.session.station_id,
    )
    return outcome.answer


@ocpp_handler(V16, "StopTransaction")
def stop_transaction_16(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    outcome = services.transaction_stop_16(
        station_pk=ctx.station_pk,
        transaction_id=payload["transactionId"],
        id_tag=payload.get("idTag", ""),
        meter_stop=payload["meterStop"],
        timestamp=from_ocpp(payload["timestamp"]) or utcnow(),
        reason=payload.get("reason", ""),
        transaction_data=payload.get("transactionData", []),
        payload=payload,
        identity=ctx.session.station_id,
    )
    return outcome.answer


@ocpp_handler(V16, "MeterValues")
def meter_values_16(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    services.meter_values_record_16(
        station_pk=ctx.station_pk,
        connector_id=payload["connectorId"],
        transaction_id=payload.get("transactionId"),
        meter_value=payload["meterValue"],
        payload=payload,
        identity=ctx.session.station_id,
    )
    return {}


@ocpp_handler(V201, "TransactionEvent")
@ocpp_handler(V21, "TransactionEvent")
def transaction_event(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    outcome = services.transaction_event_record(
        station_pk=ctx.station_pk,
        version=ctx.version,
        payload=payload,
        identity=ctx.session.station_id,
    )
    if outcome.cost_update:
        command_after_reply(
            ctx, action="CostUpdated", payload=outcome.cost_update, origin="transactions"
        )
    return outcome.answer


@ocpp_handler(V201, "MeterValues")
@ocpp_handler(V21, "MeterValues")
def meter_values_2(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    # 2.x MeterValues carry values outside transactions (those travel in TransactionEvent).
    services.meter_values_record_2(
        station_pk=ctx.station_pk,
        version=ctx.version,
        evse_id=payload["evseId"],
        meter_value=payload["meterValue"],
        payload=payload,
    )
    return {}


# --- reservations ---------------------------------------------------------------------------


@ocpp_handler(V201, "ReservationStatusUpdate")
@ocpp_handler(V21, "ReservationStatusUpdate")
def reservation_status_update(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    reservations.reservation_status_update(
        station_pk=ctx.station_pk,
        reservation_id=payload["reservationId"],
        status=payload["reservationUpdateStatus"],
    )
    return {}


# --- answers to what we send ----------------------------------------------------------------


def _remote_start_result(ctx: ResultContext, request: dict, response: dict) -> None:
    status = RequestStatus.ACCEPTED if response["status"] == "Accepted" else RequestStatus.REJECTED
    remote.remote_start_record_answer(
        station_pk=ctx.station_pk, version=ctx.version, request=request, status=status
    )


def _reserve_now_result(ctx: ResultContext, request: dict, response: dict) -> None:
    reservations.reservation_record_answer(
        station_pk=ctx.station_pk, version=ctx.version, request=request, status=response["status"]
    )


def _cancel_reservation_result(ctx: ResultContext, request: dict, response: dict) -> None:
    reservations.reservation_record_cancel(
        station_pk=ctx.station_pk,
        reservation_id=request["reservationId"],
        status=response["status"],
    )


def _send_local_list_result(ctx: ResultContext, request: dict, response: dict) -> None:
    authorization.local_list_record_answer(
        station_pk=ctx.station_pk, version=ctx.version, request=request, status=response["status"]
    )


def _local_list_version_result(ctx: ResultContext, request: dict, response: dict) -> None:
    key = "listVersion" if ctx.version == V16 else "versionNumber"
    authorization.local_list_record_version(station_pk=ctx.station_pk, reported=response[key])


ocpp_result(V16, "RemoteStartTransaction")(_remote_start_result)
for _version in V2:
    ocpp_result(_version, "RequestStartTransaction")(_remote_start_result)
for _version in (V16, *V2):
    ocpp_result(_version, "ReserveNow")(_reserve_now_result)
    ocpp_result(_version, "CancelReservation")(_cancel_reservation_result)
    ocpp_result(_version, "SendLocalList")(_send_local_list_result)
    ocpp_result(_version, "GetLocalListVersion")(_local_list_version_result)
    ocpp_sendable(_version, "ClearCache")

ocpp_sendable(V16, "RemoteStopTransaction")
for _version in V2:
    ocpp_sendable(_version, "RequestStopTransaction", "GetTransactionStatus", "CostUpdated")


# --- OCPP 2.1 tariffs (local cost calculation) ---------------------------------------


@ocpp_result(V21, "SetDefaultTariff")
def set_default_tariff_result(ctx: ResultContext, request: dict, response: dict) -> None:
    tariffs.default_tariff_set_result(
        station_pk=ctx.station_pk, request=request, response=response, at=utcnow()
    )


@ocpp_result(V21, "ChangeTransactionTariff")
def change_transaction_tariff_result(ctx: ResultContext, request: dict, response: dict) -> None:
    tariffs.transaction_tariff_change_result(
        station_pk=ctx.station_pk, request=request, response=response, at=utcnow()
    )


@ocpp_result(V21, "ClearTariffs")
def clear_tariffs_result(ctx: ResultContext, request: dict, response: dict) -> None:
    tariffs.tariffs_clear_result(station_pk=ctx.station_pk, request=request, response=response)


@ocpp_result(V21, "GetTariffs")
def get_tariffs_result(ctx: ResultContext, request: dict, response: dict) -> None:
    tariffs.tariffs_reported(
        station_pk=ctx.station_pk, request=request, response=response, at=utcnow()
    )


# --- OCPP 2.1 payments and battery swaps ------------------------------------------------


@ocpp_handler(V21, "NotifySettlement")
def notify_settlement(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    settlement = payments.settlement_record(station_pk=ctx.station_pk, payload=payload, at=utcnow())
    answer: dict[str, Any] = {}
    if settlement.receipt_url:
        answer["receiptUrl"] = settlement.receipt_url
    if settlement.receipt_id:
        answer["receiptId"] = settlement.receipt_id
    return answer


@ocpp_handler(V21, "VatNumberValidation")
def vat_number_validation(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    return payments.vat_number_validate(
        station_pk=ctx.station_pk,
        vat_number=payload["vatNumber"],
        evse_id=payload.get("evseId"),
        at=utcnow(),
    )


@ocpp_result(V21, "NotifyWebPaymentStarted")
def notify_web_payment_started_result(ctx: ResultContext, request: dict, response: dict) -> None:
    payments.web_payment_record(
        station_pk=ctx.station_pk,
        evse_id=request["evseId"],
        timeout=request["timeout"],
        at=utcnow(),
    )


@ocpp_handler(V21, "BatterySwap")
def battery_swap(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    payments.battery_swap_record(
        station_pk=ctx.station_pk,
        request_id=payload["requestId"],
        event_type=payload["eventType"],
        id_token=payload["idToken"],
        batteries=payload["batteryData"],
        at=utcnow(),
    )
    return {}


@ocpp_result(V21, "RequestBatterySwap")
def request_battery_swap_result(ctx: ResultContext, request: dict, response: dict) -> None:
    payments.battery_swap_record(
        station_pk=ctx.station_pk,
        request_id=request["requestId"],
        event_type="Requested",
        id_token=request["idToken"],
        batteries=[],
        status=response["status"],
        at=utcnow(),
    )
