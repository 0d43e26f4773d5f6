"""Reads of the commands block: what became of the commands of one bulk send."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from commands.choices import CommandStatus
from commands.models import Command

# Answers that mean the station took the command (Scheduled: after its running session;
# RebootRequired: once it reboots). An answer without a status (GetConfiguration, ...) too.
TAKEN = frozenset({"Accepted", "Scheduled", "RebootRequired"})
# Codes of commands the CSMS could not send (commands.services).
OFFLINE_CODES = frozenset({"StationOffline"})
NOT_SENT_CODES = frozenset({"NotSendable", "RequestTooLarge", "ServerStopped"})

ACCEPTED = "accepted"
REJECTED = "rejected"
OFFLINE = "offline"
TIMED_OUT = "timed out"
NOT_SENT = "not sent"
PENDING = "pending"
OUTCOMES = (ACCEPTED, REJECTED, OFFLINE, TIMED_OUT, NOT_SENT, PENDING)


def command_outcome(command: Command) -> tuple[str, str]:
    """(outcome, detail) of a command for the operator: one of OUTCOMES, and the station's
    status word or the error code behind it."""
    error = command.error or {}
    code = str(error.get("code") or "")
    if command.status == CommandStatus.COMPLETED:
        status = (command.response or {}).get("status")
        if not isinstance(status, str) or status in TAKEN:
            return ACCEPTED, status if isinstance(status, str) else "answered"
        return REJECTED, status
    if command.status == CommandStatus.TIMEOUT:
        return TIMED_OUT, "no answer"
    if command.status == CommandStatus.PENDING:
        return PENDING, "awaiting the answer"
    if code in OFFLINE_CODES:
        return OFFLINE, "not connected"
    if code in NOT_SENT_CODES:
        return NOT_SENT, code
    # A CALLERROR: the station refused the call.
    return REJECTED, f"CALLERROR {code}".strip()


@dataclass
class BatchSummary:
    """How the commands of one bulk send ended: a count and the stations per outcome."""

    total: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    details: dict[str, Counter[str]] = field(default_factory=dict)
    stations: dict[str, list[str]] = field(default_factory=dict)

    def rows(self) -> list[tuple[str, int, list[tuple[str, int]], list[str]]]:
        """(outcome, count, [(detail, count)], station identities) of each outcome that
        occurred, pending and not sent only when some are."""
        return [
            (
                name,
                self.counts[name],
                self.details.get(name, Counter()).most_common(),
                sorted(self.stations.get(name, [])),
            )
            for name in OUTCOMES
            if self.counts[name] or name in (ACCEPTED, REJECTED, OFFLINE, TIMED_OUT)
        ]


def batch_summary(commands: Iterable[Command]) -> BatchSummary:
    """Count finished commands by outcome (their station must be loaded or cached)."""
    summary = BatchSummary()
    for command in commands:
        outcome, detail = command_outcome(command)
        summary.total += 1
        summary.counts[outcome] += 1
        summary.details.setdefault(outcome, Counter())[detail] += 1
        summary.stations.setdefault(outcome, []).append(command.station.identity)
    return summary
