"""HTTP endpoints for stations (firmware download, log upload: the signed token in the URL is
their only credential) and for staff (downloads from the admin)."""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import AsyncIterator

from asgiref.sync import sync_to_async
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils.http import content_disposition_header
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from firmware import links, services
from firmware.models import FirmwareFile, LogRequest

logger = logging.getLogger(__name__)


CHUNK_SIZE = 256 * 1024


async def _chunks(field) -> AsyncIterator[bytes]:
    # An async iterator: under ASGI Django would read a sync one whole into memory first.
    handle = await sync_to_async(field.open, thread_sensitive=False)("rb")
    try:
        while chunk := await sync_to_async(handle.read, thread_sensitive=False)(CHUNK_SIZE):
            yield chunk
    finally:
        await sync_to_async(handle.close, thread_sensitive=False)()


def _file_response(field, filename: str) -> StreamingHttpResponse:
    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    response = StreamingHttpResponse(_chunks(field), content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["Content-Length"] = str(field.size)
    return response


@require_http_methods(["GET", "HEAD"])
def firmware_download(request: HttpRequest, token: str, filename: str) -> HttpResponse:
    """A station fetches a firmware image (UpdateFirmware location)."""
    try:
        firmware = services.firmware_for_download(token=token)
    except links.LinkRefused as exc:
        logger.warning(
            "Refused firmware download from %s: %s", request.META.get("REMOTE_ADDR"), exc
        )
        return HttpResponse(f"Forbidden: {exc}\n", status=403, content_type="text/plain")
    except FirmwareFile.DoesNotExist:
        raise Http404("No such firmware") from None
    return _file_response(firmware.file, firmware.filename)


@csrf_exempt
@require_http_methods(["POST", "PUT"])
def log_upload(request: HttpRequest, token: str, filename: str = "") -> HttpResponse:
    """A station uploads diagnostics or a log (GetDiagnostics / GetLog location): multipart
    POST (any file field) or the raw body with PUT or POST."""
    upload = next(iter(request.FILES.values()), None) if request.method == "POST" else None
    if upload is not None:
        filename, content = upload.name, upload
    else:
        filename = filename or _disposition_filename(request)
        content = request
    try:
        log = services.log_upload_store(token=token, filename=filename, content=content)
    except links.LinkRefused as exc:
        logger.warning("Refused log upload from %s: %s", request.META.get("REMOTE_ADDR"), exc)
        return HttpResponse(f"Forbidden: {exc}\n", status=403, content_type="text/plain")
    except services.UploadTooLarge as exc:
        return HttpResponse(f"{exc}\n", status=413, content_type="text/plain")
    except LogRequest.DoesNotExist:
        raise Http404("No such log request") from None
    return HttpResponse(f"Stored {log.file_size} bytes\n", status=201, content_type="text/plain")


def _disposition_filename(request: HttpRequest) -> str:
    header = request.headers.get("Content-Disposition", "")
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "filename" and value:
            return value.strip('"')
    return ""


@staff_member_required
def admin_firmware_file(request: HttpRequest, pk: int) -> HttpResponse:
    firmware = get_object_or_404(FirmwareFile, pk=pk)
    if not request.user.has_perm("firmware.view_firmwarefile"):
        return HttpResponse(status=403)
    return _file_response(firmware.file, firmware.filename)


@staff_member_required
def admin_log_file(request: HttpRequest, pk: int) -> HttpResponse:
    log = get_object_or_404(LogRequest, pk=pk)
    if not request.user.has_perm("firmware.view_logrequest"):
        return HttpResponse(status=403)
    if not log.file:
        raise Http404("Nothing uploaded yet")
    return _file_response(log.file, log.file.name.rsplit("/", 1)[-1])
