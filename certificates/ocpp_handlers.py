"""OCPP handlers of the certificate management block (A02/A03, M03-M06; 1.6 security extension)."""

from __future__ import annotations

from typing import Any

from certificates import plug_and_charge, services
from commands.services import command_after_reply
from ocpp_router.registry import ocpp_handler, ocpp_result, ocpp_sendable
from ocpp_router.rpc import V16, V21, V201
from ocpp_router.session import CallContext, ResultContext

ALL = (V16, V201, V21)


@ocpp_handler(V16, "SignCertificate")
@ocpp_handler(V201, "SignCertificate")
@ocpp_handler(V21, "SignCertificate")
def sign_certificate(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    certificate_type = payload.get("certificateType", "")
    outcome = services.certificate_sign_request(
        station_pk=ctx.station_pk,
        identity=ctx.session.station_id,
        csr=payload["csr"],
        certificate_type=certificate_type,
    )
    if not outcome.accepted:
        answer: dict[str, Any] = {"status": "Rejected"}
        if ctx.version != V16:
            answer["statusInfo"] = {
                "reasonCode": "InvalidCSR",
                "additionalInfo": outcome.reason[:512],
            }
        return answer
    # A02.FR.02: the signed certificate follows in a CertificateSigned request.
    signed = {"certificateChain": outcome.certificate_chain}
    if ctx.version != V16 and certificate_type:
        signed["certificateType"] = certificate_type
    command_after_reply(ctx, action="CertificateSigned", payload=signed, origin="certificates")
    return {"status": "Accepted"}


@ocpp_result(V16, "CertificateSigned")
@ocpp_result(V201, "CertificateSigned")
@ocpp_result(V21, "CertificateSigned")
def certificate_signed_result(ctx: ResultContext, request: dict, response: dict) -> None:
    services.certificate_signed_result(
        station_pk=ctx.station_pk, chain=request["certificateChain"], status=response["status"]
    )


@ocpp_result(V16, "GetInstalledCertificateIds")
@ocpp_result(V201, "GetInstalledCertificateIds")
@ocpp_result(V21, "GetInstalledCertificateIds")
def installed_certificate_ids_result(ctx: ResultContext, request: dict, response: dict) -> None:
    if ctx.version == V16:
        # 1.6 asks for one type and answers bare hash data.
        requested = [request["certificateType"]]
        chains = [
            {"certificateType": request["certificateType"], "certificateHashData": data}
            for data in response.get("certificateHashData", [])
        ]
    else:
        requested = request.get("certificateType", [])
        chains = response.get("certificateHashDataChain", [])
    if response["status"] in ("Accepted", "NotFound"):
        services.installed_certificates_reported(
            station_pk=ctx.station_pk, requested_types=requested, chains=chains
        )


@ocpp_result(V16, "InstallCertificate")
@ocpp_result(V201, "InstallCertificate")
@ocpp_result(V21, "InstallCertificate")
def install_certificate_result(ctx: ResultContext, request: dict, response: dict) -> None:
    if response["status"] == "Accepted":
        services.certificate_installed(
            station_pk=ctx.station_pk,
            certificate_type=request["certificateType"],
            certificate=request["certificate"],
        )


@ocpp_result(V16, "DeleteCertificate")
@ocpp_result(V201, "DeleteCertificate")
@ocpp_result(V21, "DeleteCertificate")
def delete_certificate_result(ctx: ResultContext, request: dict, response: dict) -> None:
    if response["status"] == "Accepted":
        services.certificate_deleted(
            station_pk=ctx.station_pk, hash_data=request["certificateHashData"]
        )


@ocpp_handler(V201, "GetCertificateStatus")
@ocpp_handler(V21, "GetCertificateStatus")
def get_certificate_status(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    outcome = services.certificate_status_lookup(request_data=payload["ocspRequestData"])
    if outcome.ok:
        return {"status": "Accepted", "ocspResult": outcome.ocsp_result}
    return {
        "status": "Failed",
        "statusInfo": {"reasonCode": "OCSPFailed", "additionalInfo": outcome.reason[:512]},
    }


for _version in ALL:
    ocpp_sendable(_version, "CertificateSigned")


@ocpp_handler(V201, "Get15118EVCertificate")
@ocpp_handler(V21, "Get15118EVCertificate")
def get_15118_ev_certificate(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    """OCPP 2.0.1 M01/M02: relayed to the contract-certificate service (EXI unchanged)."""
    return plug_and_charge.ev_certificate_get(
        identity=ctx.session.station_id, version=ctx.version, payload=payload
    )


@ocpp_handler(V21, "GetCertificateChainStatus")
def get_certificate_chain_status(ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "certificateStatus": services.certificate_chain_status(
            requests=payload["certificateStatusRequests"]
        )
    }
