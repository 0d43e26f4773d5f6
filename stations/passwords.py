"""Station Basic-auth passwords: the OCPP passwordString rules, generation and hashing.

A station password is a machine secret of 16-64 characters (40 random ones when we generate
it). Django's default PBKDF2 hasher costs about 0.2 s of CPU per check: a reconnect storm of
1,000 stations would queue for minutes and Daphne drops handshakes not accepted within
5 seconds. A slow KDF protects low-entropy human passwords; for a random machine secret a
salted HMAC-SHA256 is as strong, so `StationPasswordHasher` is a Django password hasher of
that kind (a few microseconds per check), compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import string
from collections.abc import Iterable

from django.contrib.auth.hashers import BasePasswordHasher, mask_hash
from django.utils.translation import gettext_noop as _

# OCPP 2.0.1 passwordString: identifierString characters. 16-40 characters up to edition 3,
# up to 64 since the 2025-01 errata.
PASSWORD_CHARACTERS = frozenset(string.ascii_letters + string.digits + "*-_=:+|@.")
PASSWORD_MIN_LENGTH = 16
PASSWORD_MAX_LENGTH = 64
# Generated passwords: 40 characters (the limit of stations on older editions), without ':'
# (some Basic-auth clients split user:password at the last colon).
GENERATED_ALPHABET = string.ascii_letters + string.digits + "*-_=+|@."
GENERATED_LENGTH = 40
# OCPP 1.6 security whitepaper: AuthorizationKey holds 16-20 bytes, sent hex-encoded
# (at most 40 hex characters, OCTT TC_073_CSMS).
GENERATED_LENGTH_16 = 20


class PasswordRejected(ValueError):
    """The password does not meet the OCPP passwordString rules."""


def password_problem(password: str) -> str:
    """Why `password` is not an OCPP passwordString we accept, or "" if it is."""
    if not PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH:
        return (
            f"a station password has {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters, "
            f"this one {len(password)}"
        )
    bad = sorted(set(password) - PASSWORD_CHARACTERS)
    if bad:
        return (
            "a station password holds only letters, digits and * - _ = : + | @ . "
            f"({len(bad)} other character(s) found)"
        )
    return ""


def password_generate(length: int = GENERATED_LENGTH) -> str:
    return "".join(secrets.choice(GENERATED_ALPHABET) for _ in range(length))


def hex_encode(password: str) -> str:
    """The 1.6 AuthorizationKey form of a password."""
    return password.encode().hex().upper()


class StationPasswordHasher(BasePasswordHasher):
    """Salted HMAC-SHA256 for machine passwords (see the module docstring for why not PBKDF2)."""

    algorithm = "station_hmac_sha256"

    def encode(self, password: str, salt: str) -> str:
        self._check_encode_args(password, salt)
        digest = hmac.new(salt.encode(), password.encode(), hashlib.sha256).hexdigest()
        return f"{self.algorithm}${salt}${digest}"

    def decode(self, encoded: str) -> dict[str, str]:
        algorithm, salt, digest = encoded.split("$", 2)
        assert algorithm == self.algorithm
        return {"algorithm": algorithm, "hash": digest, "salt": salt}

    def verify(self, password: str, encoded: str) -> bool:
        try:
            decoded = self.decode(encoded)
        except (ValueError, AssertionError):
            return False
        return hmac.compare_digest(self.encode(password, decoded["salt"]), encoded)

    def safe_summary(self, encoded: str) -> dict[str, str]:
        decoded = self.decode(encoded)
        return {
            _("algorithm"): decoded["algorithm"],
            _("salt"): mask_hash(decoded["salt"], show=2),
            _("hash"): mask_hash(decoded["hash"]),
        }

    def harden_runtime(self, password: str, encoded: str) -> None:
        pass


HASHER = StationPasswordHasher()


def password_hash(password: str) -> str:
    return HASHER.encode(password, HASHER.salt())


def _candidates(presented: bytes) -> Iterable[str]:
    """The passwords a Basic-auth secret may stand for.

    OCPP 1.6 AuthorizationKey travels hex-encoded: some stations decode it and send the
    bytes, others send the hex text itself (OCTT TC_085: 32-40 characters are taken as hex).
    """
    try:
        text = presented.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        yield text
        if len(text) % 2 == 0 and all(c in string.hexdigits for c in text):
            try:
                yield bytes.fromhex(text).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                pass
    # The stored password is itself hex text and the station sends the decoded bytes.
    yield presented.hex().upper()
    yield presented.hex()


def password_matches(presented: bytes, encoded: str) -> bool:
    if not encoded:
        return False
    return any(HASHER.verify(candidate, encoded) for candidate in _candidates(presented))


def basic_credentials(header: str, identity: str) -> tuple[str, bytes] | None:
    """(username, password bytes) from an `Authorization: Basic ...` header value.

    The username should be `identity`; since 2.0.1 and 1.6 ids may themselves hold ':',
    the expected id is matched as a prefix before splitting at the first colon.
    """
    scheme, _sep, value = header.strip().partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    prefix = identity.encode() + b":"
    if raw.startswith(prefix):
        return identity, raw[len(prefix) :]
    user, sep, password = raw.partition(b":")
    if not sep:
        return None
    return user.decode("utf-8", "replace"), password
