"""Secrets the CSMS has to read back (an integrator's Basic password or Bearer token, an event
subscription's signing key) are stored encrypted, with cryptography's Fernet (AES-128-CBC
and HMAC-SHA256, a timestamped token).

Keys: CSMS_FIELD_ENCRYPTION_KEY, a comma-separated list of Fernet keys (44 characters each,
`Fernet.generate_key()`): the first encrypts, every one decrypts (MultiFernet), so a key is
rotated by putting the new one first and, once `manage.py rotate_field_encryption` re-encrypted
the rows, dropping the old one. Unset, one key is derived from SECRET_KEY (HKDF-SHA256), and
from each SECRET_KEY_FALLBACKS for decryption: rotating the secret key keeps the values
readable while the old key stays listed as a fallback.
"""

from __future__ import annotations

import base64
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

_HKDF_INFO = b"csms field encryption"


class Undecryptable(Exception):
    """A stored value no configured key decrypts (the key it was encrypted with is gone)."""


def derived_key(secret_key: str) -> bytes:
    """The Fernet key derived from a Django secret key."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        secret_key.encode()
    )
    return base64.urlsafe_b64encode(raw)


def configured_keys() -> tuple[bytes, ...]:
    """The keys in use, the encrypting one first."""
    explicit = [k.strip() for k in settings.CSMS_FIELD_ENCRYPTION_KEY.split(",") if k.strip()]
    if explicit:
        return tuple(k.encode() for k in explicit)
    secret_keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return tuple(derived_key(k) for k in secret_keys)


@lru_cache(maxsize=4)
def _fernet(keys: tuple[bytes, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "CSMS_FIELD_ENCRYPTION_KEY must list Fernet keys (32 url-safe base64-encoded "
            "bytes each, e.g. from cryptography.fernet.Fernet.generate_key())"
        ) from exc


def fernet() -> MultiFernet:
    return _fernet(configured_keys())


def encrypt(text: str) -> str:
    return fernet().encrypt(text.encode()).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeEncodeError) as exc:
        raise Undecryptable(
            "A stored secret cannot be decrypted with CSMS_FIELD_ENCRYPTION_KEY (or the key "
            "derived from CSMS_SECRET_KEY): list the key it was encrypted with after the new one"
        ) from exc


def rotate(token: str) -> str:
    """`token` encrypted again with the first key."""
    return fernet().rotate(token.encode("ascii")).decode("ascii")


class EncryptedTextField(models.TextField):
    """Text stored as a Fernet token and read back in clear; "" stays "" (no secret set).

    It cannot be searched, ordered or filtered on except for emptiness."""

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if not value:
            return value
        return decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if not value:
            return value
        return encrypt(value)
