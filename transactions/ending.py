"""Transactions always end: the CSMS ends a transaction the station will never end.

A station that reboots mid-session, a lost StopTransaction, or a 1.6 start the CSMS refused
and the station kept would otherwise leave the transaction active for ever, and its id
token answered ConcurrentTx from then on. The CSMS ends such a transaction itself, with a
stop reason, an anomaly naming the rule and `ended_by`/`end_note` saying who and why:

- a newer transaction starts on the same connector / EVSE (`supersede_older`; SUPERSEDED);
- the station rebooted and did not continue it within CSMS_TRANSACTION_RECONNECT_GRACE; a
  2.x station is asked first with GetTransactionStatus (E14) and one that answers it is over
  with no message queued ends it at once (`reconcile_after_boot`; NOT_CONTINUED, Reboot); a
  1.6 station that reports the transaction's connector Available or Preparing after the
  boot says so too, and ends it at once (`on_event`);
- its start was refused and the station did not stop it within the same grace
  (REFUSED_NOT_STOPPED, DeAuthorized);
- no message for CSMS_TRANSACTION_STALE_AFTER (`end_stale`; STALE, Other);
- an operator ends it from the admin or the API (`transaction_end`; ENDED_BY_OPERATOR).

Nothing is lost: stored events, meter values and energy stay, and a StopTransaction or an
Ended that arrives later is applied to the same transaction (its stop values win).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q

from csms import events
from csms.db import db
from ocpp_router.datetimes import utcnow
from ocpp_router.rpc import V16
from stations.models import ChargingStation
from transactions import rules, store
from transactions.choices import Anomaly, AuthorizationStatus
from transactions.models import Transaction

logger = logging.getLogger(__name__)

# Stop reasons: both versions' enumerations have these (1.6 Reason, 2.x ReasonEnumType).
REBOOT = "Reboot"
OTHER = "Other"
DEAUTHORIZED = "DeAuthorized"
REMOTE = "Remote"


@dataclass(frozen=True)
class Ended:
    """A transaction the CSMS ended."""

    pk: int
    transaction_id: str
    identity: str


def transaction_end(
    *,
    transaction_pk: int,
    reason: str,
    anomaly: str,
    ended_by: str,
    note: str = "",
    at: datetime | None = None,
) -> Ended | None:
    """End an active transaction on the CSMS's side (None: it was not active any more).

    The row is locked, so a message of the transaction applied at the same time either
    comes first (and this finds it ended) or after (and finds it ended, its guarded write
    retried under the lock)."""
    at = at or utcnow()
    with transaction.atomic():
        tx = (
            Transaction.objects.select_for_update(of=("self",))
            .select_related("station")
            .filter(pk=transaction_pk, is_active=True)
            .first()
        )
        if tx is None:
            return None
        tx.is_active = False
        tx.stopped_at = at
        tx.stop_reason = reason
        tx.ended_by = ended_by[:150]
        tx.end_note = note
        if anomaly not in tx.anomalies:
            tx.anomalies.append(anomaly)
        tx.save(
            update_fields=[
                "is_active",
                "stopped_at",
                "stop_reason",
                "ended_by",
                "end_note",
                "anomalies",
                "updated",
            ]
        )
        identity = tx.station.identity
        _forget(tx)
        logger.warning(
            "Transaction %s of station %s ended by the CSMS (%s): %s",
            tx.transaction_id,
            identity,
            ended_by,
            note or anomaly,
        )
        events.publish("transaction.ended", identity, **rules.event_data(tx, ended_by=ended_by))
    return Ended(tx.pk, tx.transaction_id, identity)


def _forget(tx: Transaction) -> None:
    """Drop the transaction from this process's open-transaction cache (other processes'
    copies fail the store's `updated` guard and are read again)."""
    if tx.ocpp_version == V16:
        store.forget(store.by_id_16(tx.station_id, V16, tx.transaction_id))
    else:
        store.forget(store.by_id(tx.station_id, tx.transaction_id))


def supersede_older(tx: Transaction, *, at: datetime) -> list[Ended]:
    """End the station's other active transactions on `tx`'s connector (1.6) or EVSE (2.x)
    that started before it: one connector charges one transaction."""
    if tx.evse_id is None or tx.started_at is None:
        return []
    older = Transaction.objects.filter(
        station_id=tx.station_id,
        is_active=True,
        evse_id=tx.evse_id,
        started_at__lt=tx.started_at,
    ).exclude(pk=tx.pk)
    if tx.ocpp_version != V16 and tx.connector_id:
        # 2.x: an EVSE's other connector may not charge at the same time either, but a
        # transaction known on the EVSE with no connector is the same one's predecessor.
        older = older.filter(Q(connector_id=tx.connector_id) | Q(connector_id__isnull=True))
    ended = []
    for pk in older.values_list("pk", flat=True):
        done = transaction_end(
            transaction_pk=pk,
            reason=OTHER,
            anomaly=Anomaly.SUPERSEDED,
            ended_by="csms:superseded",
            note=f"transaction {tx.transaction_id} started on the same connector",
            at=at,
        )
        if done:
            ended.append(done)
    return ended


def _latest_message(query):  # type: ignore[no-untyped-def]
    """Annotate each transaction with the server time of its latest message."""
    return query.annotate(latest_message=Max("events__received_at"))


def reconcile_after_boot(*, station_pk: int, at: datetime | None = None) -> list[Ended]:
    """End the station's transactions that it has not continued since its last boot, once
    CSMS_TRANSACTION_RECONNECT_GRACE has passed since that boot."""
    at = at or utcnow()
    station = ChargingStation.objects.filter(pk=station_pk).only("last_boot_at").first()
    if station is None or station.last_boot_at is None:
        return []
    boot = station.last_boot_at
    if at - boot < timedelta(seconds=settings.CSMS_TRANSACTION_RECONNECT_GRACE):
        return []
    stale = _latest_message(
        Transaction.objects.filter(station_id=station_pk, is_active=True, created__lt=boot)
    ).filter(Q(latest_message__lt=boot) | Q(latest_message__isnull=True))
    ended = []
    for pk in stale.values_list("pk", flat=True):
        done = transaction_end(
            transaction_pk=pk,
            reason=REBOOT,
            anomaly=Anomaly.NOT_CONTINUED,
            ended_by="csms:not_continued",
            note=(
                f"the station rebooted at {boot:%Y-%m-%d %H:%M:%S} UTC and sent nothing for "
                f"the transaction within CSMS_TRANSACTION_RECONNECT_GRACE "
                f"({settings.CSMS_TRANSACTION_RECONNECT_GRACE} s)"
            ),
            at=at,
        )
        if done:
            ended.append(done)
    return ended


def end_not_ongoing(*, transaction_pk: int, at: datetime | None = None) -> Ended | None:
    """A 2.x station answered GetTransactionStatus: not ongoing, nothing queued (E14)."""
    return transaction_end(
        transaction_pk=transaction_pk,
        reason=REBOOT,
        anomaly=Anomaly.NOT_CONTINUED,
        ended_by="csms:not_continued",
        note="after its reboot the station answered GetTransactionStatus: not ongoing, "
        "no message queued",
        at=at,
    )


def end_stale(*, at: datetime | None = None) -> list[Ended]:
    """The job: end every active transaction with no message for CSMS_TRANSACTION_STALE_AFTER,
    every refused start not stopped within CSMS_TRANSACTION_RECONNECT_GRACE, and the
    transactions of rebooted stations not continued within that grace."""
    at = at or utcnow()
    ended: list[Ended] = []
    grace = at - timedelta(seconds=settings.CSMS_TRANSACTION_RECONNECT_GRACE)
    refused = (
        _latest_message(Transaction.objects.filter(is_active=True, created__lt=grace))
        .exclude(auth_status__in=["", AuthorizationStatus.ACCEPTED])
        .filter(Q(latest_message__lt=grace) | Q(latest_message__isnull=True))
    )
    for pk, status in refused.values_list("pk", "auth_status"):
        done = transaction_end(
            transaction_pk=pk,
            reason=DEAUTHORIZED,
            anomaly=Anomaly.REFUSED_NOT_STOPPED,
            ended_by="csms:refused_not_stopped",
            note=f"the CSMS answered its start {status} and the station did not stop it",
            at=at,
        )
        if done:
            ended.append(done)
    booted = (
        Transaction.objects.filter(is_active=True, station__last_boot_at__lt=grace)
        .values_list("station_id", flat=True)
        .distinct()
    )
    for station_pk in booted:
        ended += reconcile_after_boot(station_pk=station_pk, at=at)
    if settings.CSMS_TRANSACTION_STALE_AFTER > 0:
        cutoff = at - timedelta(seconds=settings.CSMS_TRANSACTION_STALE_AFTER)
        stale = _latest_message(
            Transaction.objects.filter(is_active=True, created__lt=cutoff)
        ).filter(Q(latest_message__lt=cutoff) | Q(latest_message__isnull=True))
        for pk in stale.values_list("pk", flat=True):
            done = transaction_end(
                transaction_pk=pk,
                reason=OTHER,
                anomaly=Anomaly.STALE,
                ended_by="csms:stale",
                note=(
                    "no message for CSMS_TRANSACTION_STALE_AFTER "
                    f"({settings.CSMS_TRANSACTION_STALE_AFTER} s)"
                ),
                at=at,
            )
            if done:
                ended.append(done)
    return ended


# --- after a reboot: asked at once on 2.x, judged after the grace on both -------------------

# Seconds after an Accepted BootNotification before its station is asked about its
# transactions: our answer goes out first.
ASK_AFTER = 1.0


# 1.6 connector statuses that say no transaction is running on the connector.
IDLE_16 = frozenset({"Available", "Preparing"})

# Per 1.6 station that booted with transactions open (in this process, where its connection
# is): connector -> the transactions open on it at the boot, until the connector reports.
_open_on_connector: dict[str, dict[int, list[int]]] = {}


def on_event(event: events.Event) -> None:
    """csms.events subscriber: a station that rebooted with transactions open gets them
    checked, on the server's event loop (outside a server the job `end_stale` does it); a
    1.6 connector reported idle after the boot ends the transactions open on it at once."""
    if event.kind == "station.status_changed":
        _on_status(event)
        return
    if event.kind != "station.booted" or event.data.get("status") != "Accepted":
        return
    open_at_boot = _open_at_boot(event.station)
    _open_on_connector.pop(event.station, None)
    if open_at_boot is None:
        return
    _station_pk, version, open_ids = open_at_boot
    if version == V16:
        by_connector: dict[int, list[int]] = {}
        for pk, _transaction_id, evse_id in open_ids:
            if evse_id:
                by_connector.setdefault(evse_id, []).append(pk)
        _open_on_connector[event.station] = by_connector
    loop = events.server_loop()
    if loop is not None:
        loop.call_soon_threadsafe(_schedule, loop, event.station, open_at_boot)


def _on_status(event: events.Event) -> None:
    """1.6: after a reboot, a connector that reports Available or Preparing runs none of the
    transactions that were open on it: the station will not continue them (a StopTransaction
    it still delivers is merged into the ended one)."""
    connectors = _open_on_connector.get(event.station)
    if not connectors or event.data.get("status") not in IDLE_16:
        return
    pks = connectors.pop(event.data.get("evse_id") or 0, [])
    if not connectors:
        _open_on_connector.pop(event.station, None)
    for pk in pks:
        transaction_end(
            transaction_pk=pk,
            reason=REBOOT,
            anomaly=Anomaly.NOT_CONTINUED,
            ended_by="csms:not_continued",
            note=(
                f"after its reboot the station reported connector {event.data.get('evse_id')} "
                f"{event.data.get('status')}"
            ),
        )


OpenAtBoot = tuple[int, str, list[tuple[int, str, int | None]]]
_tasks: dict[asyncio.Task[None], asyncio.AbstractEventLoop] = {}


def _schedule(loop: asyncio.AbstractEventLoop, identity: str, open_at_boot: OpenAtBoot) -> None:
    task = loop.create_task(_after_boot(identity, open_at_boot))
    _tasks[task] = loop
    task.add_done_callback(lambda done: _tasks.pop(done, None))


def checks_cancel() -> None:
    """Cancel the checks still waiting (from any thread): a test's stations are gone."""
    for task, loop in list(_tasks.items()):
        if not loop.is_closed():
            loop.call_soon_threadsafe(task.cancel)


async def _after_boot(identity: str, open_at_boot: OpenAtBoot) -> None:
    station_pk, version, open_ids = open_at_boot
    try:
        await asyncio.sleep(ASK_AFTER)
        if version != V16:
            for pk, transaction_id, _evse_id in open_ids:
                await _ask(identity, pk, transaction_id)
        await asyncio.sleep(settings.CSMS_TRANSACTION_RECONNECT_GRACE)
        await db(reconcile_after_boot)(station_pk=station_pk)
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.exception("Open transactions of station %s not checked after its boot", identity)


def _open_at_boot(identity: str) -> OpenAtBoot | None:
    # One indexed statement on every Accepted boot (a storm of boots runs it per station).
    return store.open_at_boot(identity)


async def _ask(identity: str, pk: int, transaction_id: str) -> None:
    """OCPP 2.0.1 E14: ask whether the transaction goes on; over with nothing queued: end."""
    from commands.services import StationNotConnected, command_send_async

    try:
        outcome = await command_send_async(
            identity=identity,
            action="GetTransactionStatus",
            payload={"transactionId": transaction_id},
            origin="transactions",
        )
    except StationNotConnected:
        return
    answer = outcome.response or {}
    if outcome.ok and answer.get("ongoingIndicator") is False and not answer["messagesInQueue"]:
        await db(end_not_ongoing)(transaction_pk=pk)


# --- by an operator -------------------------------------------------------------------------


@dataclass(frozen=True)
class OperatorEnd:
    """What an operator's end did: the record (None: it had ended already) and, when the
    station was asked to stop too, its answer."""

    ended: Ended | None
    station_answer: str = ""


def operator_end(
    *, transaction_pk: int, user: str, note: str = "", stop_at_station: bool = False
) -> OperatorEnd:
    """End a transaction for an operator: with `stop_at_station`, the station is asked to
    stop it first (1.6 RemoteStopTransaction, 2.x RequestStopTransaction; raises
    StationNotConnected when it is offline, and nothing is ended); the record is ended
    either way, and the station's StopTransaction / Ended, when it comes, is merged."""
    answer = ""
    if stop_at_station:
        from transactions.remote import transaction_remote_stop

        outcome = transaction_remote_stop(transaction_pk=transaction_pk)
        answer = (outcome.response or {}).get("status", "") or outcome.status
    ended = transaction_end(
        transaction_pk=transaction_pk,
        reason=REMOTE if stop_at_station else OTHER,
        anomaly=Anomaly.ENDED_BY_OPERATOR,
        ended_by=user,
        note=note or ("ended by an operator" + (", stop sent" if stop_at_station else "")),
    )
    return OperatorEnd(ended, answer)
