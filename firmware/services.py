"""Firmware updates and publication, diagnostics and log requests, and their files."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Any

from django.conf import settings
from django.core.files import File
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.db import transaction
from django.utils.text import get_valid_filename

from commands.services import StationNotConnected, command_send
from firmware import links
from firmware.choices import FirmwareUpdateKind, LogRequestKind, LogType
from firmware.models import FirmwareFile, FirmwarePublication, FirmwareUpdate, LogRequest
from ocpp_router.datetimes import from_ocpp, to_ocpp, utcnow
from ocpp_router.outbound import Outcome
from ocpp_router.rpc import V16
from stations.models import ChargingStation

logger = logging.getLogger(__name__)

Json = dict[str, Any]


class UploadTooLarge(Exception):
    """The uploaded file exceeds CSMS_LOG_UPLOAD_MAX_BYTES."""


@dataclass
class Prepared:
    """A tracked request ready to send: the record, the OCPP action and its payload."""

    record: Any
    action: str
    payload: Json


def _history(record: Any, status: str, at: datetime, **extra: Any) -> None:
    record.history = [*record.history, {"status": status, "at": to_ocpp(at), **extra}]


def _station(station_pk: int) -> ChargingStation:
    return ChargingStation.objects.only("identity", "protocol").get(pk=station_pk)


def _connected_station(identity: str) -> ChargingStation:
    station = ChargingStation.objects.filter(identity=identity).first()
    if station is None or not station.is_online:
        raise StationNotConnected(f"Station {identity!r} is not connected")
    return station


def _send(identity: str, prepared: Prepared, timeout: float | None) -> Outcome:
    try:
        outcome = command_send(
            origin="firmware",
            identity=identity,
            action=prepared.action,
            payload=prepared.payload,
            timeout=timeout,
        )
    except StationNotConnected:
        type(prepared.record).objects.filter(pk=prepared.record.pk).update(
            response_status="NotConnected", updated=utcnow()
        )
        raise
    if not outcome.ok:
        record = type(prepared.record).objects.get(pk=prepared.record.pk)
        record.response_status = (outcome.error_code if outcome.status == "error" else "Timeout")[
            :30
        ]
        record.updated = utcnow()
        record.save(update_fields=["response_status", "updated"])
    return outcome


# --- firmware files --------------------------------------------------------------------


def firmware_file_measure(upload: File) -> tuple[int, str, str]:
    """Size, SHA-256 and MD5 of an uploaded image (the file is rewound after)."""
    sha256, md5, size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
    for chunk in upload.chunks():
        sha256.update(chunk)
        md5.update(chunk)
        size += len(chunk)
    upload.seek(0)
    return size, sha256.hexdigest(), md5.hexdigest()


def firmware_file_create(
    *,
    name: str,
    upload: File,
    version: str = "",
    signing_certificate: str = "",
    signature: str = "",
) -> FirmwareFile:
    """Store an uploaded firmware image with its size and checksums."""
    size, sha256, md5 = firmware_file_measure(upload)
    firmware = FirmwareFile(
        name=name,
        version=version,
        size=size,
        sha256=sha256,
        md5=md5,
        signing_certificate=signing_certificate,
        signature=signature,
    )
    firmware.file.save(get_valid_filename(upload.name.rsplit("/", 1)[-1]), upload, save=False)
    firmware.save()
    return firmware


def firmware_download_link(
    *, firmware: FirmwareFile, valid_until: datetime | None = None, base_url: str = ""
) -> str:
    valid_until = valid_until or utcnow() + timedelta(seconds=settings.CSMS_FIRMWARE_URL_TTL)
    return links.firmware_download_url(
        firmware_pk=firmware.pk, filename=firmware.filename, expires_at=valid_until, base=base_url
    )


def firmware_for_download(*, token: str) -> FirmwareFile:
    """The firmware a download token names; raises links.LinkRefused or DoesNotExist."""
    return FirmwareFile.objects.get(pk=links.read_token(links.DOWNLOAD_SALT, token))


# --- firmware updates ------------------------------------------------------------------


def firmware_update_prepare(
    *,
    station_pk: int,
    version: str,
    firmware_pk: int,
    retrieve_at: datetime | None = None,
    install_at: datetime | None = None,
    retries: int | None = None,
    retry_interval: int | None = None,
    signed: bool = False,
    base_url: str = "",
) -> Prepared:
    """Record a firmware update for a station and build its request: UpdateFirmware (1.6 or
    2.x) or, with `signed` on 1.6, SignedUpdateFirmware. The location is a signed link to
    the image, valid until CSMS_FIRMWARE_URL_TTL after the retrieve time."""
    now = utcnow()
    retrieve_at = retrieve_at or now
    firmware = FirmwareFile.objects.get(pk=firmware_pk)
    kind = (
        FirmwareUpdateKind.SIGNED_UPDATE if signed and version == V16 else FirmwareUpdateKind.UPDATE
    )
    with transaction.atomic():
        update = FirmwareUpdate.objects.create(
            station_id=station_pk,
            firmware=firmware,
            kind=kind,
            location="",
            retrieve_at=retrieve_at,
            install_at=install_at,
            retries=retries,
            retry_interval=retry_interval,
            created=now,
            updated=now,
        )
        update.location = firmware_download_link(
            firmware=firmware,
            valid_until=max(retrieve_at, now) + timedelta(seconds=settings.CSMS_FIRMWARE_URL_TTL),
            base_url=base_url,
        )
        fields = ["location"]
        if not (version == V16 and kind == FirmwareUpdateKind.UPDATE):
            update.request_id = update.pk
            fields.append("request_id")
        update.save(update_fields=fields)
    options = {
        key: value
        for key, value in {"retries": retries, "retryInterval": retry_interval}.items()
        if value is not None
    }
    if version == V16 and kind == FirmwareUpdateKind.UPDATE:
        payload = {"location": update.location, "retrieveDate": to_ocpp(retrieve_at), **options}
        return Prepared(update, "UpdateFirmware", payload)
    image: Json = {"location": update.location, "retrieveDateTime": to_ocpp(retrieve_at)}
    if install_at:
        image["installDateTime"] = to_ocpp(install_at)
    if firmware.signing_certificate:
        image["signingCertificate"] = firmware.signing_certificate
    if firmware.signature:
        image["signature"] = firmware.signature
    payload = {"requestId": update.request_id, "firmware": image, **options}
    return Prepared(update, kind, payload)


def firmware_update_send(
    *, identity: str, firmware_pk: int, timeout: float | None = None, **options: Any
) -> tuple[FirmwareUpdate, Outcome]:
    """Prepare and send a firmware update to a connected station (see the prepare step).
    Raises StationNotConnected."""
    station = _connected_station(identity)
    prepared = firmware_update_prepare(
        station_pk=station.pk, version=station.protocol, firmware_pk=firmware_pk, **options
    )
    outcome = _send(identity, prepared, timeout)
    return FirmwareUpdate.objects.get(pk=prepared.record.pk), outcome


def firmware_update_result(
    *, station_pk: int, action: str, request: Json, response: Json, at: datetime
) -> FirmwareUpdate:
    """Record the station's answer to UpdateFirmware / SignedUpdateFirmware, whoever sent it."""
    image = request.get("firmware") or {}
    location = request.get("location") or image.get("location", "")
    request_id = request.get("requestId")
    # 1.6 UpdateFirmware.conf is empty: the station only acknowledges.
    status = response.get("status", "Accepted")
    with transaction.atomic():
        updates = FirmwareUpdate.objects.select_for_update().filter(
            station_id=station_pk, kind=action
        )
        update = (
            (updates.filter(request_id=request_id) if request_id is not None else updates)
            .filter(location=location)
            .first()
        )
        if update is None:
            retrieve = image.get("retrieveDateTime") or request.get("retrieveDate")
            update = FirmwareUpdate(
                station_id=station_pk,
                kind=action,
                request_id=request_id,
                location=location,
                retrieve_at=from_ocpp(retrieve) or at,
                install_at=from_ocpp(image.get("installDateTime")),
                retries=request.get("retries"),
                retry_interval=request.get("retryInterval"),
                created=at,
            )
        update.response_status = status
        update.updated = at
        update.save()
    return update


def firmware_status_record(
    *, station_pk: int, kind: str, status: str, request_id: int | None, at: datetime
) -> FirmwareUpdate | None:
    """A (Signed)FirmwareStatusNotification: progress of the update it names (1.6 plain:
    the station's latest UpdateFirmware, as 1.6 carries no requestId)."""
    with transaction.atomic():
        updates = FirmwareUpdate.objects.select_for_update().filter(
            station_id=station_pk, kind=kind
        )
        if request_id is not None:
            updates = updates.filter(request_id=request_id)
        update = updates.order_by("-created").first()
        if update is None:
            logger.info(
                "Firmware status %s from station %s matches no update (requestId %s)",
                status,
                station_pk,
                request_id,
            )
            return None
        update.status = status
        update.updated = at
        _history(update, status, at)
        update.save(update_fields=["status", "updated", "history"])
    return update


# --- firmware publication (2.x local controllers) --------------------------------------


def firmware_publish_prepare(
    *,
    station_pk: int,
    firmware_pk: int,
    retries: int | None = None,
    retry_interval: int | None = None,
    base_url: str = "",
) -> Prepared:
    """Record a PublishFirmware (OCPP 2.0.1 L03) and build its request."""
    now = utcnow()
    firmware = FirmwareFile.objects.get(pk=firmware_pk)
    with transaction.atomic():
        publication = FirmwarePublication.objects.create(
            station_id=station_pk,
            firmware=firmware,
            request_id=0,
            location="",
            checksum=firmware.md5,
            created=now,
            updated=now,
        )
        publication.request_id = publication.pk
        publication.location = firmware_download_link(firmware=firmware, base_url=base_url)
        publication.save(update_fields=["request_id", "location"])
    payload: Json = {
        "location": publication.location,
        "checksum": firmware.md5,
        "requestId": publication.request_id,
    }
    if retries is not None:
        payload["retries"] = retries
    if retry_interval is not None:
        payload["retryInterval"] = retry_interval
    return Prepared(publication, "PublishFirmware", payload)


def firmware_publish_result(
    *, station_pk: int, request: Json, response: Json, at: datetime
) -> FirmwarePublication:
    with transaction.atomic():
        publication, _ = FirmwarePublication.objects.select_for_update().get_or_create(
            station_id=station_pk,
            request_id=request["requestId"],
            checksum=request["checksum"],
            defaults={"location": request["location"], "created": at, "updated": at},
        )
        publication.response_status = response["status"]
        publication.updated = at
        publication.save(update_fields=["response_status", "updated"])
    return publication


def firmware_publish_status_record(
    *,
    station_pk: int,
    status: str,
    request_id: int | None,
    locations: list[str],
    at: datetime,
) -> FirmwarePublication | None:
    with transaction.atomic():
        publications = FirmwarePublication.objects.select_for_update().filter(station_id=station_pk)
        if request_id is not None:
            publications = publications.filter(request_id=request_id)
        publication = publications.order_by("-created").first()
        if publication is None:
            logger.info("Publish status %s from station %s matches no request", status, station_pk)
            return None
        publication.status = status
        if locations:
            publication.published_locations = locations
        publication.updated = at
        _history(publication, status, at)
        publication.save(update_fields=["status", "published_locations", "updated", "history"])
    return publication


def firmware_unpublish_result(*, station_pk: int, checksum: str, status: str, at: datetime) -> int:
    return FirmwarePublication.objects.filter(station_id=station_pk, checksum=checksum).update(
        unpublished_status=status, updated=at
    )


# --- diagnostics and logs --------------------------------------------------------------


def log_request_prepare(
    *,
    station_pk: int,
    version: str,
    kind: str = LogRequestKind.LOG,
    log_type: str = LogType.DIAGNOSTICS,
    oldest_at: datetime | None = None,
    latest_at: datetime | None = None,
    retries: int | None = None,
    retry_interval: int | None = None,
    base_url: str = "",
) -> Prepared:
    """Record a GetDiagnostics (1.6) or GetLog (1.6 security, 2.x) and build its request;
    the station uploads to our endpoint under a token valid for CSMS_LOG_UPLOAD_TTL."""
    now = utcnow()
    if version != V16 and kind == LogRequestKind.DIAGNOSTICS:
        raise ValueError("GetDiagnostics exists in OCPP 1.6 only; use GetLog")
    with transaction.atomic():
        log = LogRequest.objects.create(
            station_id=station_pk,
            kind=kind,
            log_type=log_type if kind == LogRequestKind.LOG else "",
            location="",
            oldest_at=oldest_at,
            latest_at=latest_at,
            created=now,
            updated=now,
        )
        log.location = links.log_upload_url(
            log_request_pk=log.pk,
            expires_at=now + timedelta(seconds=settings.CSMS_LOG_UPLOAD_TTL),
            base=base_url,
        )
        fields = ["location"]
        if kind == LogRequestKind.LOG:
            log.request_id = log.pk
            fields.append("request_id")
        log.save(update_fields=fields)
    options = {
        key: value
        for key, value in {"retries": retries, "retryInterval": retry_interval}.items()
        if value is not None
    }
    if kind == LogRequestKind.DIAGNOSTICS:
        payload: Json = {"location": log.location, **options}
        if oldest_at:
            payload["startTime"] = to_ocpp(oldest_at)
        if latest_at:
            payload["stopTime"] = to_ocpp(latest_at)
        return Prepared(log, "GetDiagnostics", payload)
    parameters: Json = {"remoteLocation": log.location}
    if oldest_at:
        parameters["oldestTimestamp"] = to_ocpp(oldest_at)
    if latest_at:
        parameters["latestTimestamp"] = to_ocpp(latest_at)
    payload = {"logType": log_type, "requestId": log.request_id, "log": parameters, **options}
    return Prepared(log, "GetLog", payload)


def log_request_send(
    *, identity: str, timeout: float | None = None, **options: Any
) -> tuple[LogRequest, Outcome]:
    """Prepare and send a GetDiagnostics / GetLog to a connected station.
    Raises StationNotConnected."""
    station = _connected_station(identity)
    prepared = log_request_prepare(station_pk=station.pk, version=station.protocol, **options)
    outcome = _send(identity, prepared, timeout)
    return LogRequest.objects.get(pk=prepared.record.pk), outcome


def log_request_result(
    *, station_pk: int, action: str, request: Json, response: Json, at: datetime
) -> LogRequest:
    """Record the answer to GetDiagnostics / GetLog, whoever sent it."""
    location = request.get("location") or request.get("log", {}).get("remoteLocation", "")
    filename = response.get("fileName") or response.get("filename") or ""
    if action == LogRequestKind.DIAGNOSTICS:
        # 1.6 GetDiagnostics.conf has no status: no fileName means nothing to upload.
        status = "Accepted" if filename else "NoFile"
    else:
        status = response["status"]
    with transaction.atomic():
        logs = LogRequest.objects.select_for_update().filter(
            station_id=station_pk, kind=action, location=location
        )
        if "requestId" in request:
            logs = logs.filter(request_id=request["requestId"])
        log = logs.first()
        if log is None:
            log = LogRequest(
                station_id=station_pk,
                kind=action,
                log_type=request.get("logType", ""),
                request_id=request.get("requestId"),
                location=location,
                created=at,
            )
        log.response_status = status
        log.filename = filename[:255]
        log.updated = at
        log.save()
    return log


def log_status_record(
    *, station_pk: int, kind: str, status: str, request_id: int | None, at: datetime
) -> LogRequest | None:
    """A DiagnosticsStatusNotification (1.6: the latest GetDiagnostics) or a
    LogStatusNotification (the GetLog its requestId names)."""
    with transaction.atomic():
        logs = LogRequest.objects.select_for_update().filter(station_id=station_pk, kind=kind)
        if request_id is not None:
            logs = logs.filter(request_id=request_id)
        log = logs.order_by("-created").first()
        if log is None:
            logger.info(
                "Log status %s from station %s matches no request (requestId %s)",
                status,
                station_pk,
                request_id,
            )
            return None
        log.status = status
        log.updated = at
        _history(log, status, at)
        log.save(update_fields=["status", "updated", "history"])
    return log


def log_upload_store(*, token: str, filename: str, content: IO[bytes]) -> LogRequest:
    """Store a file a station uploaded for the request its token names (replacing an earlier
    upload: stations retry). Raises links.LinkRefused, UploadTooLarge or DoesNotExist."""
    log_pk = links.read_token(links.UPLOAD_SALT, token)
    log = LogRequest.objects.select_related("station").get(pk=log_pk)
    limit = settings.CSMS_LOG_UPLOAD_MAX_BYTES
    name = get_valid_filename(filename or log.filename or f"log-{log.pk}") or f"log-{log.pk}"
    spool = TemporaryUploadedFile(name, "application/octet-stream", 0, None)
    size = 0
    try:
        while chunk := content.read(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise UploadTooLarge(f"the file exceeds {limit} bytes")
            spool.write(chunk)
        spool.seek(0)
        # Backends size the upload from it (Google Cloud Storage sends exactly that many bytes).
        spool.size = size
        stored_name = get_valid_filename(f"{log.station.identity}-{log.pk}-{name}")
        old_name = log.file.name if log.file else ""
        log.file.save(stored_name, File(spool), save=False)
    finally:
        spool.close()
    now = utcnow()
    log.file_size = size
    log.uploaded_at = now
    log.updated = now
    if not log.filename:
        log.filename = name[:255]
    log.save(update_fields=["file", "file_size", "uploaded_at", "updated", "filename"])
    if old_name and old_name != log.file.name:
        log.file.storage.delete(old_name)
    logger.info("Station %s uploaded %s (%d bytes)", log.station.identity, log.file.name, size)
    return log
