"""The load-management runtime: reacts to the network's events and keeps sites in step.

A session starting or ending, a station booting, connecting or dropping (the domain events
of `csms.events`), a limit or a site's consumption changing: the site is marked and, after
CSMS_SMART_CHARGING_DEBOUNCE seconds, one round runs on the server's event loop:

1. `balancing.site_plan` reads the site and runs the allocation;
2. profiles that lower a grant go out first and are awaited, then, after
   CSMS_SMART_CHARGING_SETTLE seconds for the EVs to follow, those that raise one, so that
   the site's sum stays under its limit while stations change (a new session draws its
   fallback, the TxDefaultProfile, until its own TxProfile arrives);
3. each profile is a command (`commands.services`, a Command record per call); a station
   gets at most one profile per CSMS_SMART_CHARGING_MIN_INTERVAL seconds (rate limit).

Rounds of one site never overlap; events during a round make another. Every
CSMS_SMART_CHARGING_INTERVAL seconds every site gets a round (grants timing out, site
meters). The runtime lives in the server process that received the event: with several
workers each runs rounds for the sessions it sees, and the plan is read from the database
each time, so they converge.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

from django.conf import settings

from csms import events
from csms.events import Event
from ocpp_router.datetimes import utcnow
from smartcharging import balancing
from smartcharging.choices import GrantStatus

logger = logging.getLogger(__name__)

KINDS = frozenset(
    {
        "transaction.started",
        "transaction.ended",
        "station.booted",
        "station.connected",
        "station.disconnected",
    }
)
MEMBERSHIP_TTL = 5.0


def _db(func):
    from csms.db import db

    return db(func)


class Membership:
    """Which sites a station identity belongs to, cached for MEMBERSHIP_TTL seconds so that
    events of stations in no site cost no query."""

    def __init__(self) -> None:
        self._sites: dict[str, list[int]] | None = None
        self._read_at = 0.0
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        self._sites = None

    def sites_of(self, identity: str) -> list[int]:
        with self._lock:
            if self._sites is None or time.monotonic() - self._read_at > MEMBERSHIP_TTL:
                self._sites = _read_membership()
                self._read_at = time.monotonic()
            return self._sites.get(identity, [])


def _read_membership() -> dict[str, list[int]]:
    from smartcharging.models import Site, SiteMember

    sites: dict[str, set[int]] = {}
    rows = SiteMember.objects.filter(site__enabled=True).values_list("station__identity", "site_id")
    for identity, site_pk in rows:
        sites.setdefault(identity, set()).add(site_pk)
    meters = Site.objects.filter(enabled=True, meter_station__isnull=False).values_list(
        "meter_station__identity", "pk"
    )
    for identity, site_pk in meters:
        sites.setdefault(identity, set()).add(site_pk)
    return {identity: sorted(pks) for identity, pks in sites.items()}


membership = Membership()


class Engine:
    def __init__(self) -> None:
        self._pending: set[int] = set()
        self._running: dict[int, asyncio.Task[None]] = {}
        self._next_slot: dict[int, float] = {}
        self._ticker: asyncio.Task[None] | None = None
        self.rounds = 0

    # --- on the server's event loop ---------------------------------------------------------
    async def stop(self) -> None:
        """Cancel every round and the periodic tick (tests; a server stopping)."""
        tasks = [*self._running.values(), *([self._ticker] if self._ticker else [])]
        self._pending.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._running.clear()
        self._next_slot.clear()
        self._ticker = None

    def poke(self, site_pk: int) -> None:
        """Have `site_pk` shared again soon (call on the event loop)."""
        loop = asyncio.get_running_loop()
        self._pending.add(site_pk)
        if site_pk not in self._running:
            self._running[site_pk] = loop.create_task(self._run(site_pk))
        if self._ticker is None or self._ticker.done():
            self._ticker = loop.create_task(self._tick())

    def on_station(self, kind: str, identity: str, site_pks: list[int]) -> None:
        if kind == "station.booted":
            # A station that rebooted may have lost its profiles: send its fallback again.
            asyncio.get_running_loop().create_task(self._rebooted(identity, site_pks))
            return
        for site_pk in site_pks:
            self.poke(site_pk)

    async def _rebooted(self, identity: str, site_pks: list[int]) -> None:
        try:
            await _db(_fallback_resend)(identity)
        finally:
            for site_pk in site_pks:
                self.poke(site_pk)

    async def _run(self, site_pk: int) -> None:
        try:
            while site_pk in self._pending:
                await asyncio.sleep(settings.CSMS_SMART_CHARGING_DEBOUNCE)
                self._pending.discard(site_pk)
                try:
                    await self.round(site_pk)
                except Exception:
                    logger.exception("Load management of site %s failed; next round soon", site_pk)
        finally:
            self._running.pop(site_pk, None)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(settings.CSMS_SMART_CHARGING_INTERVAL)
            try:
                for site_pk in await _db(_enabled_sites)():
                    self.poke(site_pk)
            except Exception:
                logger.exception("Periodic load management round failed")

    async def round(self, site_pk: int) -> balancing.Plan:
        """One round for a site: plan, send decreases, then increases."""
        plan = await _db(balancing.site_plan)(site_pk=site_pk, now=utcnow())
        self.rounds += 1
        logger.info(
            "Site %s: %s A available, %s sessions, %s profiles to send",
            site_pk,
            round(plan.capacity, 1),
            len(plan.grants),
            len(plan.sends),
        )
        decreases = [send for send in plan.sends if send.decrease]
        increases = [send for send in plan.sends if not send.decrease]
        if decreases:
            await asyncio.gather(*(self._send(site_pk, send) for send in decreases))
            if increases and any(send.kind == "tx" for send in decreases):
                # Let the EVs follow the lower limits before others draw more (IEC 61851-1
                # gives an EV 5 s to follow a lower pilot signal). An event meanwhile (a
                # session starting) ends the round: the next one lowers grants at once and
                # raises what is left.
                if await self._changed(site_pk, settings.CSMS_SMART_CHARGING_SETTLE):
                    return plan
        if increases:
            await asyncio.gather(*(self._send(site_pk, send) for send in increases))
        return plan

    async def _changed(self, site_pk: int, seconds: float) -> bool:
        """Wait `seconds`; True as soon as the site is marked again."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if site_pk in self._pending:
                return True
            await asyncio.sleep(min(0.05, max(deadline - time.monotonic(), 0)))
        return site_pk in self._pending

    async def _send(self, site_pk: int, send: balancing.Send) -> str:
        now = time.monotonic()
        slot = max(self._next_slot.get(send.station_pk, 0.0), now)
        self._next_slot[send.station_pk] = slot + settings.CSMS_SMART_CHARGING_MIN_INTERVAL
        if slot > now:
            await asyncio.sleep(slot - now)
        # OCPP 2.1 K28: a station holding the session's Dynamic profile gets the new limit.
        update = await _db(balancing.dynamic_update_payload)(send=send)
        await _db(balancing.grant_sent)(site_pk=site_pk, send=send, at=utcnow())
        status = GrantStatus.FAILED
        if update is not None:
            status = await self._call(send, "UpdateDynamicSchedule", update)
        if update is None or status == GrantStatus.REJECTED:
            # A profile the station does not hold as Dynamic (any more) is sent anew.
            status = await self._call(send, "SetChargingProfile", send.payload)
        await _db(balancing.grant_answered)(send=send, status=status, at=utcnow())
        return status

    async def _call(self, send: balancing.Send, action: str, payload: dict) -> str:
        """Send `action` for `send`: Accepted, Rejected (any other answer) or Failed."""
        from commands.services import CommandRefused, command_create, command_execute

        try:
            command = await _db(command_create)(
                identity=send.identity,
                action=action,
                payload=payload,
                user=None,
                origin="smartcharging",
            )
        except CommandRefused as exc:
            logger.info("%s for %s not sent: %s", action, send.identity, exc.message)
            return GrantStatus.FAILED
        finished = await command_execute(command)
        answer = (finished.response or {}).get("status")
        if finished.status == "completed" and answer == "Accepted":
            return GrantStatus.ACCEPTED
        if finished.status == "completed":
            return GrantStatus.REJECTED
        return GrantStatus.FAILED


def _enabled_sites() -> list[int]:
    from smartcharging.models import Site

    return list(Site.objects.filter(enabled=True).values_list("pk", flat=True))


def _fallback_resend(identity: str) -> None:
    from stations.models import ChargingStation

    station_pk = (
        ChargingStation.objects.filter(identity=identity).values_list("pk", flat=True).first()
    )
    if station_pk is not None:
        balancing.fallback_resend(station_pk=station_pk)


engine = Engine()


_server_loop = events.server_loop


def notify_site(site_pk: int) -> None:
    """Share `site_pk` again soon, from any thread of the server (a limit, a consumption or
    the membership changed). Outside a server (a management command) nothing runs: the next
    server round picks the change up."""
    membership.invalidate()
    loop = _server_loop()
    if loop is not None:
        loop.call_soon_threadsafe(engine.poke, site_pk)


def on_event(event: Event) -> None:
    """csms.events subscriber: mark the sites of the event's station (never raises)."""
    if event.kind not in KINDS:
        return
    logger.debug("Load management: %s of %s", event.kind, event.station)
    try:
        site_pks = membership.sites_of(event.station)
        if not site_pks:
            return
        loop = _server_loop()
        if loop is None:
            return
        loop.call_soon_threadsafe(engine.on_station, event.kind, event.station, site_pks)
    except Exception:
        logger.exception("Load management could not take %s of %s", event.kind, event.station)
