"""Time-limited links for stations: firmware downloads and log uploads.

A link carries a token signed with the SECRET_KEY (django.core.signing) naming one record
and an expiry time; stations have no API credentials, so the token is the only credential.
"""

from __future__ import annotations

import time
from datetime import datetime
from urllib.parse import quote

from django.conf import settings
from django.core import signing
from django.urls import reverse

DOWNLOAD_SALT = "firmware.download"
UPLOAD_SALT = "firmware.log-upload"
DEFAULT_BASE_URL = "http://localhost:8000"


class LinkRefused(Exception):
    """The token is forged, for something else, or expired."""


def base_url(explicit: str = "") -> str:
    return (explicit or settings.CSMS_PUBLIC_URL or DEFAULT_BASE_URL).rstrip("/")


def make_token(salt: str, pk: int, expires_at: float) -> str:
    return signing.dumps({"id": pk, "exp": int(expires_at)}, salt=salt, compress=True)


def read_token(salt: str, token: str) -> int:
    try:
        data = signing.loads(token, salt=salt)
    except signing.BadSignature:
        raise LinkRefused("invalid token") from None
    if not isinstance(data, dict) or "id" not in data or "exp" not in data:
        raise LinkRefused("invalid token")
    if time.time() > data["exp"]:
        raise LinkRefused("the link has expired")
    return int(data["id"])


def firmware_download_url(
    *, firmware_pk: int, filename: str, expires_at: datetime, base: str = ""
) -> str:
    token = make_token(DOWNLOAD_SALT, firmware_pk, expires_at.timestamp())
    path = reverse(
        "firmware:download", kwargs={"token": token, "filename": quote(filename, safe="")}
    )
    return base_url(base) + path


def log_upload_url(*, log_request_pk: int, expires_at: datetime, base: str = "") -> str:
    token = make_token(UPLOAD_SALT, log_request_pk, expires_at.timestamp())
    return base_url(base) + reverse("firmware:upload", kwargs={"token": token})
