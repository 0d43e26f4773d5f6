"""Failed-authentication limits with lockout and back-off, one policy for every door:
station websocket handshakes (HTTP Basic, security profiles 1-2, and every other refusal
with 401), API tokens, and admin and API-browser logins.

Each failure counts against a few keys: the claimed identity (a station id, an admin user
name) and the source address. `CSMS_AUTH_FAILURES_PER_ID` failures of one identity, or
`CSMS_AUTH_FAILURES_PER_ADDRESS` from one address, within `CSMS_AUTH_FAILURE_WINDOW` seconds
lock that key for `CSMS_AUTH_LOCKOUT` seconds, doubled at each further lockout up to
`CSMS_AUTH_LOCKOUT_MAX` (the back-off is forgotten a window after the last lock expires).
While locked, every attempt is refused before any password is checked (429 with
Retry-After), the right password included; once the lock expires the right password works
again and clears the identity's count. Other identities and other addresses are not
affected, except through the address limit, which is higher: many stations share one
address behind a router.

The counts live in the `auth-limits` cache: Redis when REDIS_URL is set (shared by every
`serve` process), else in the process's memory. Atomic increments (`cache.incr`) keep them
right under concurrent attempts. We keep this rather than django-axes, which covers admin
logins only and needs a request on every `authenticate()` call.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import ParamSpec

from django.conf import settings
from django.core.cache import caches

logger = logging.getLogger(__name__)

P = ParamSpec("P")

CACHE = "auth-limits"

# The doors, each with its own counts (a station id and an admin user of the same name are
# not the same identity).
STATION = "station"
API_TOKEN = "api-token"
LOGIN = "login"


@dataclass(frozen=True)
class Key:
    """What failures count against: (door, "id" or "address", value)."""

    door: str
    kind: str
    value: str

    @property
    def name(self) -> str:
        # Cache keys are ASCII without spaces or control characters: hex-encode the value.
        return f"{self.door}:{self.kind}:{self.value.encode('utf-8', 'replace').hex()}"

    @property
    def limit(self) -> int:
        if self.kind == "id":
            return int(settings.CSMS_AUTH_FAILURES_PER_ID)
        return int(settings.CSMS_AUTH_FAILURES_PER_ADDRESS)


def keys(door: str, *, identity: str = "", address: str = "") -> list[Key]:
    found = []
    if identity:
        found.append(Key(door, "id", identity))
    if address:
        found.append(Key(door, "address", address))
    return found


def _cache():  # type: ignore[no-untyped-def]
    return caches[CACHE]


def _fail_open(function: Callable[P, int | None]) -> Callable[P, int | None]:
    """A cache that cannot be reached (Redis down) limits nothing: stations keep connecting
    and the outage is logged, once a minute at most."""

    @functools.wraps(function)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> int | None:
        global _warned_at
        try:
            return function(*args, **kwargs)
        except Exception as exc:
            now = time.monotonic()
            if now - _warned_at > 60:
                _warned_at = now
                logger.warning("Authentication limits are off: the %r cache fails (%s)", CACHE, exc)
            return 0

    return guarded


_warned_at = float("-inf")


@_fail_open
def retry_after(locked_keys: Iterable[Key]) -> int:
    """Seconds until every key is unlocked (0: none is locked)."""
    names = [f"lock:{key.name}" for key in locked_keys]
    if not names:
        return 0
    until = max(_cache().get_many(names).values(), default=0.0)
    return max(0, math.ceil(until - time.time()))


@_fail_open
def failed(failed_keys: Iterable[Key]) -> int:
    """Count one failure against each key; locks a key that reaches its limit. Returns the
    seconds of a lock this failure started (0: none)."""
    store = _cache()
    window = int(settings.CSMS_AUTH_FAILURE_WINDOW)
    started = 0
    for key in failed_keys:
        # An attempt checked before its key was locked, failing after: the lock stands
        # for it, and counting it would lock again at once with a doubled lockout.
        if key.limit <= 0 or store.get(f"lock:{key.name}") is not None:
            continue
        count_key = f"count:{key.name}"
        store.add(count_key, 0, timeout=window)
        try:
            count = store.incr(count_key)
        except ValueError:  # expired between add and incr
            store.add(count_key, 1, timeout=window)
            count = 1
        # Exactly one of concurrent failures reaches the limit: it alone locks.
        if count != key.limit:
            continue
        store.delete(count_key)
        started = max(started, _lock(key))
    return started


def _lock(key: Key) -> int:
    store = _cache()
    base = float(settings.CSMS_AUTH_LOCKOUT)
    longest = float(settings.CSMS_AUTH_LOCKOUT_MAX)
    level_key = f"level:{key.name}"
    # The back-off level outlives the lock by a window: a key locked again soon after waits
    # twice as long.
    memory = int(longest + settings.CSMS_AUTH_FAILURE_WINDOW)
    store.add(level_key, 0, timeout=memory)
    try:
        level = store.incr(level_key)
    except ValueError:
        store.add(level_key, 1, timeout=memory)
        level = 1
    store.touch(level_key, memory)
    seconds = min(longest, base * 2 ** (level - 1))
    store.set(f"lock:{key.name}", time.time() + seconds, timeout=math.ceil(seconds))
    return math.ceil(seconds)


@_fail_open
def succeeded(identity_keys: Iterable[Key]) -> None:
    """A right password: forget the failures and back-off of these identity keys (an
    address's count stays: one good station behind it does not vouch for the rest)."""
    names = []
    for key in identity_keys:
        if key.kind == "id":
            names += [f"count:{key.name}", f"level:{key.name}"]
    if names:
        _cache().delete_many(names)


@cache
def _networks(
    entries: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def client_address(peer: str, forwarded_for: str) -> str:
    """The address a request comes from: the socket's peer, or the first X-Forwarded-For
    entry when the peer is one of CSMS_TRUSTED_PROXIES."""
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return peer
    trusted = _networks(tuple(settings.CSMS_TRUSTED_PROXIES))
    if any(address in network for network in trusted):
        first = forwarded_for.split(",")[0].strip()
        return first or peer
    return peer
