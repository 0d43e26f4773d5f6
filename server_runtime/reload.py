"""SIGHUP to a `serve` process without workers: re-read what can change safely while running.

The environment file (CSMS_ENV_FILE, csms.envfile) is read again and the settings evaluated
anew from it. What only ever is read when used takes effect at once: the log levels, the
boot settings (status, heartbeat and retry intervals, inventory on boot, unknown stations)
and the webhook and callback settings. Anything else that changed (database, Redis,
listeners, pings, thread pools, ...) is named in the log as needing a restart: with
`serve --workers`, HUP to the supervisor starts new workers with everything re-read.
"""

from __future__ import annotations

import logging
import runpy
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

from csms import envfile

logger = logging.getLogger(__name__)

SETTINGS_FILE = Path(__file__).resolve().parent.parent / "csms" / "settings.py"

# Settings every use reads anew (`settings.X` or `hot_settings.X`, which forgets on
# setting_changed): safe to change under a running server.
RELOADABLE = (
    "CSMS_BOOT_STATUS",
    "CSMS_HEARTBEAT_INTERVAL",
    "CSMS_SOAP_OFFLINE_AFTER",
    "CSMS_BOOT_RETRY_INTERVAL",
    "CSMS_BOOT_GET_BASE_REPORT",
    "CSMS_ALLOW_UNKNOWN_STATIONS",
    "CSMS_WEBHOOK_CONFIG_TTL",
    "CSMS_WEBHOOK_RETRY_BASE",
    "CSMS_WEBHOOK_RETRY_MAX",
    "CSMS_CALLBACK_ATTEMPTS",
    "CSMS_CALLBACK_BACKOFF",
    "CSMS_CALLBACK_BACKOFF_MAX",
    "CSMS_CALLBACK_TIMEOUT",
    "CSMS_OUTBOUND_ALLOWED_HOSTS",
    "CSMS_OUTBOUND_ALLOWED_NETWORKS",
    "CSMS_AUTH_FAILURES_PER_ID",
    "CSMS_AUTH_FAILURES_PER_ADDRESS",
    "CSMS_AUTH_FAILURE_WINDOW",
    "CSMS_AUTH_LOCKOUT",
    "CSMS_AUTH_LOCKOUT_MAX",
    "CSMS_SECURITY_EVENT_WINDOW",
    "CSMS_MESSAGE_LOG",
    "CSMS_LAST_SEEN_INTERVAL",
)
LOG_LEVELS = ("CSMS_LOG_LEVEL", "CSMS_ACCESS_LOG_LEVEL")
# Environment variables whose settings are among the above (the rest need a restart).
# (CSMS_CALLBACK_ALLOWED_HOSTS: the former name of CSMS_OUTBOUND_ALLOWED_HOSTS.)
APPLIED_AT_ONCE = (
    frozenset(RELOADABLE) | frozenset(LOG_LEVELS) | frozenset({"CSMS_CALLBACK_ALLOWED_HOSTS"})
)


def reread() -> tuple[list[str], list[str]]:
    """Re-read the environment file; (settings applied, variables that need a restart)."""
    changed = envfile.load()
    try:
        fresh: dict[str, Any] = runpy.run_path(
            str(SETTINGS_FILE), init_globals={"CSMS_ENV_FILE_READ": True}
        )
    except Exception:
        envfile.restore(changed)
        raise
    applied = []
    for name in RELOADABLE:
        value = fresh[name]
        if getattr(settings, name) != value:
            setattr(settings, name, value)
            setting_changed.send(sender=type(settings), setting=name, value=value, enter=False)
            applied.append(name)
    levels = {
        "CSMS_LOG_LEVEL": ("", fresh["LOGGING"]["root"]["level"]),
        "CSMS_ACCESS_LOG_LEVEL": (
            "django.channels.server",
            fresh["LOGGING"]["loggers"]["django.channels.server"]["level"],
        ),
    }
    for name, (logger_name, level) in levels.items():
        target = logging.getLogger(logger_name or None)
        if target.level != logging.getLevelName(level):
            target.setLevel(level)
            applied.append(name)
    restart = sorted(name for name in changed if name not in APPLIED_AT_ONCE)
    return applied, restart


def on_hangup() -> None:
    """What `serve` does on SIGHUP (server_runtime.shutdown installs it)."""
    source = envfile.path()
    try:
        applied, restart = reread()
    except Exception as exc:
        logger.error(
            "HUP: the environment file %s was not applied (%s: %s); nothing changed",
            source or "(CSMS_ENV_FILE not set)",
            type(exc).__name__,
            exc,
        )
        return
    if not source:
        logger.warning(
            "HUP: CSMS_ENV_FILE is not set, so no setting can change while running; a "
            "restart reads the environment (serve --workers: HUP reloads the workers)"
        )
        return
    logger.warning(
        "HUP: re-read %s; applied: %s",
        source,
        ", ".join(applied) if applied else "nothing changed that applies while running",
    )
    if restart:
        logger.warning(
            "HUP: %s changed and needs a restart to take effect (serve --workers: HUP "
            "reloads the workers with it)",
            ", ".join(restart),
        )
