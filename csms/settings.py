"""Settings for the CSMS.

Every value can be set through an environment variable; the defaults run the
whole system with no external services (SQLite and the in-memory channel layer).
The README's configuration table lists every variable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from csp.constants import NONCE as CSP_NONCE

from csms import envfile

BASE_DIR = Path(__file__).resolve().parent.parent

# CSMS_ENV_FILE: NAME=value lines read here and again on SIGHUP (csms.envfile); variables of
# the process environment win over the file. Read once per process (not again when this
# module is evaluated anew by server_runtime.reload).
if not globals().get("CSMS_ENV_FILE_READ"):
    envfile.load()
CSMS_ENV_FILE_READ = True

DEV_SECRET_KEY = "csms-development-key-not-for-production"
# The value `.env.example` shows: refused like the development key (csms/checks.py).
PLACEHOLDER_SECRET_KEYS = frozenset({DEV_SECRET_KEY, "change-me-to-a-long-random-string"})


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if value.strip().lower() in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name} must be true or false, not {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, not {value!r}") from exc


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, not {value!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def database_from_url(url: str) -> dict[str, Any]:
    """Translate `postgres://user:pass@host:port/name?opt=v` or `sqlite:///path` for Django."""
    parts = urlsplit(url)
    if parts.scheme in {"postgres", "postgresql", "pgsql"}:
        options: dict[str, Any] = dict(parse_qsl(parts.query))
        # The statements of the message path (csms.sql.hot_cursor) are prepared on the
        # server once run this many times on a connection; `?prepare_threshold=none` turns
        # that off, for PgBouncer older than 1.21 in transaction mode.
        threshold = options.pop("prepare_threshold", "5").strip().lower()
        if threshold in ("", "none", "off"):
            options["prepare_threshold"] = None
        elif threshold.isdigit():
            options["prepare_threshold"] = int(threshold)
        else:
            raise ValueError(
                f"DATABASE_URL prepare_threshold={threshold!r}: a whole number or 'none'"
            )
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")) or "postgres",
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": env_int("CSMS_DB_CONN_MAX_AGE", 600),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    if parts.scheme == "sqlite":
        return sqlite_database(Path(unquote(parts.path)) if parts.path else BASE_DIR / "db.sqlite3")
    raise ValueError(f"DATABASE_URL scheme {parts.scheme!r} is not supported (postgres, sqlite)")


def sqlite_database(path: Path) -> dict[str, Any]:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path,
        # Handler threads write at once: wait for the lock instead of failing, and take
        # the write lock at BEGIN so two writers never deadlock on a lock upgrade.
        "OPTIONS": {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
        "TEST": {"NAME": BASE_DIR / ".test-db.sqlite3"},
    }


SECRET_KEY = env_str("CSMS_SECRET_KEY", DEV_SECRET_KEY)
# Former secret keys, still accepted for signatures (sessions, links) and for decrypting stored
# secrets while CSMS_FIELD_ENCRYPTION_KEY is unset: rotate CSMS_SECRET_KEY by listing the old
# one here.
SECRET_KEY_FALLBACKS = env_list("CSMS_SECRET_KEY_FALLBACKS", [])
# Fernet keys (comma-separated, the first encrypts) of the secrets stored for integrations
# (csms.encryption). Unset: derived from CSMS_SECRET_KEY.
CSMS_FIELD_ENCRYPTION_KEY = env_str("CSMS_FIELD_ENCRYPTION_KEY")
DEBUG = env_bool("CSMS_DEBUG", True)
ALLOWED_HOSTS = env_list("CSMS_ALLOWED_HOSTS", ["*"])
CSRF_TRUSTED_ORIGINS = env_list("CSMS_CSRF_TRUSTED_ORIGINS", [])

# HTTPS for the operator's side (`manage.py check --deploy` is clean with these set).
SECURE_SSL_REDIRECT = env_bool("CSMS_SECURE_SSL_REDIRECT", False)
# Stations do not follow redirects: their paths (OCPP-S, firmware downloads, log uploads)
# and the load balancer's health checks stay reachable over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^ocpp/", r"^files/firmware/", r"^files/logs/", r"^health$", r"^ready$"]
SECURE_HSTS_SECONDS = env_int("CSMS_SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("CSMS_SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("CSMS_SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("CSMS_SECURE_COOKIES", False)
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (and drops it from clients).
if env_bool("CSMS_SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

INSTALLED_APPS = [
    # First, so that its `runserver` (which is `serve`) wins over Django's and Daphne's.
    "server_runtime",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    # Swagger UI's and ReDoc's files, served by us: /docs works without internet.
    "drf_spectacular_sidecar",
    "channels",
    "csms",
    "dashboard",
    "ocpp_router",
    "stations",
    "transactions",
    "smartcharging",
    "certificates",
    "devicemodel",
    "firmware",
    "integrations",
    "emulator",
    "commands",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # A NUL byte in the URL gets 400, not a database error (csms.middleware).
    "csms.middleware.nul_byte_middleware",
    # Serves the admin's and the dashboard's static files from STATIC_ROOT (collectstatic)
    # when DEBUG is off, so `manage.py serve` needs no separate static file server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The user of a request names the sender of every call it sends to a station.
    "commands.middleware.command_sender_middleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Content-Security-Policy (django-csp): CONTENT_SECURITY_POLICY below.
    "csp.middleware.CSPMiddleware",
]

# Content-Security-Policy of every page (django-csp): scripts only from our own static files
# or inline with the response's nonce (`<script nonce="{{ request.csp_nonce }}">`); inline
# styles stay allowed (the admin's templates use style attributes). connect-src 'self' covers
# the dashboard's fetches and its websocket (ws/wss to the same host, CSP Level 3).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", CSP_NONCE],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

ROOT_URLCONF = "csms.urls"
ASGI_APPLICATION = "csms.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASE_URL = env_str("DATABASE_URL")
DATABASES = {
    "default": database_from_url(DATABASE_URL)
    if DATABASE_URL
    else sqlite_database(Path(env_str("CSMS_SQLITE_PATH", str(BASE_DIR / "db.sqlite3"))))
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "ocpp_router.layers.CancelSafeRedisChannelLayer",
            "CONFIG": {
                # redis-py's default 5 s socket timeout equals channels_redis' 5 s blocking
                # read: an idle consumer's receive then fails with TimeoutError and the
                # consumer no longer takes calls. Wait longer than the blocking read.
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": env_float("CSMS_REDIS_SOCKET_TIMEOUT", 15.0),
                    }
                ],
                "prefix": env_str("CSMS_CHANNEL_PREFIX", "csms"),
                "capacity": env_int("CSMS_CHANNEL_CAPACITY", 1000),
                "expiry": 60,
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# `auth-limits` holds the failed-authentication counts and lockouts (csms.auth_limits):
# shared by every process through Redis when REDIS_URL is set, else in this process. Short
# timeouts: a Redis outage turns the limits off (logged) instead of stalling handshakes.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "auth-limits": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("CSMS_CHANNEL_PREFIX", "csms") + "-auth",
        "OPTIONS": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5},
    }
    if REDIS_URL
    else {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "auth-limits",
        "OPTIONS": {"MAX_ENTRIES": 100_000},
    },
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# One date format with seconds everywhere (csms/formats/en/formats.py).
FORMAT_MODULE_PATH = ["csms.formats"]
TIME_ZONE = env_str("CSMS_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("CSMS_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
MEDIA_ROOT = Path(env_str("CSMS_MEDIA_ROOT", str(BASE_DIR / "media")))
MEDIA_URL = "media/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "csms.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["csms.api.permissions.ModelPermissions"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "TITLE": "CSMS API",
    "DESCRIPTION": "Data API and OCPP message API of the Charging Station Management System.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # One documented path per OCPP action of the message API, typed by the official schemas.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "commands.openapi.add_message_api_actions",
    ],
    "ENUM_NAME_OVERRIDES": {
        "CommandStatusEnum": "commands.choices.CommandStatus",
        "ConnectorStatusEnum": "stations.choices.ConnectorStatus",
        "RegistrationStatusEnum": "stations.choices.RegistrationStatus",
        "IdTokenTypeEnum": "transactions.choices.IdTokenType",
        "AttributeTypeEnum": "devicemodel.choices.AttributeType",
        "MonitorTypeEnum": "devicemodel.choices.MonitorType",
        "GrantStatusEnum": "smartcharging.choices.GrantStatus",
    },
}

# plain (a line of text) or json (one JSON object per line, for log shippers): csms.logs.
CSMS_LOG_FORMAT = env_str("CSMS_LOG_FORMAT", "plain")
if CSMS_LOG_FORMAT not in {"plain", "json"}:
    raise ValueError(f"CSMS_LOG_FORMAT must be plain or json, not {CSMS_LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "csms.logs.ContextFilter"}},
    "formatters": {
        "plain": {
            "()": "csms.logs.PlainFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
        "json": {"()": "csms.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": CSMS_LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("CSMS_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.channels.server": {"level": env_str("CSMS_ACCESS_LOG_LEVEL", "WARNING")},
    },
}

# --- OCPP -----------------------------------------------------------------------------
# Subprotocols we speak, newest first: the first one a station offers from this list wins.
CSMS_OCPP_VERSIONS = env_list("CSMS_OCPP_VERSIONS", ["2.1", "2.0.1", "1.6"])
# Register stations on their first connection instead of refusing them.
CSMS_ALLOW_UNKNOWN_STATIONS = env_bool("CSMS_ALLOW_UNKNOWN_STATIONS", True)
# Heartbeat interval handed out in BootNotification answers, in seconds.
CSMS_HEARTBEAT_INTERVAL = env_int("CSMS_HEARTBEAT_INTERVAL", 300)
# An OCPP-S (SOAP) station holds no connection: it counts as offline once it has sent nothing
# for this many seconds (default: two heartbeat intervals and a minute).
CSMS_SOAP_OFFLINE_AFTER = env_int("CSMS_SOAP_OFFLINE_AFTER", 2 * CSMS_HEARTBEAT_INTERVAL + 60)
# Seconds a CSMS-initiated call to an OCPP-S station's ChargePointService may take to connect:
# past it (or refused) the station is reported offline. The call stays within its timeout.
CSMS_SOAP_CONNECT_TIMEOUT = env_float("CSMS_SOAP_CONNECT_TIMEOUT", 5.0)
# Boot configuration defaults (each station can override them): the status answered to a
# BootNotification (Accepted, Pending or Rejected), the seconds a Pending or Rejected
# station waits before booting again, and whether a Pending station is asked for its full
# inventory (2.x GetBaseReport, 1.6 GetConfiguration), after which its next boot is Accepted.
CSMS_BOOT_STATUS = env_str("CSMS_BOOT_STATUS", "Accepted")
if CSMS_BOOT_STATUS not in ("Accepted", "Pending", "Rejected"):
    raise ValueError(
        f"CSMS_BOOT_STATUS must be Accepted, Pending or Rejected, not {CSMS_BOOT_STATUS!r}"
    )
CSMS_BOOT_RETRY_INTERVAL = env_int("CSMS_BOOT_RETRY_INTERVAL", 60)
CSMS_BOOT_GET_BASE_REPORT = env_bool("CSMS_BOOT_GET_BASE_REPORT", False)
# Addresses or networks (comma-separated, e.g. 10.0.0.5,192.168.0.0/24) of TLS-terminating
# proxies whose X-Forwarded-Proto and client-certificate header are believed. Empty: none.
CSMS_TRUSTED_PROXIES = env_list("CSMS_TRUSTED_PROXIES", [])
# Failed authentications (station handshakes, API tokens, admin logins; csms.auth_limits):
# this many failures of one identity (station id, user name), or from one source address,
# within the window lock it out for CSMS_AUTH_LOCKOUT seconds, doubled at each further lock
# up to CSMS_AUTH_LOCKOUT_MAX. 0 turns a limit off.
CSMS_AUTH_FAILURES_PER_ID = env_int("CSMS_AUTH_FAILURES_PER_ID", 5)
CSMS_AUTH_FAILURES_PER_ADDRESS = env_int("CSMS_AUTH_FAILURES_PER_ADDRESS", 50)
CSMS_AUTH_FAILURE_WINDOW = env_int("CSMS_AUTH_FAILURE_WINDOW", 300)
CSMS_AUTH_LOCKOUT = env_float("CSMS_AUTH_LOCKOUT", 30.0)
CSMS_AUTH_LOCKOUT_MAX = env_float("CSMS_AUTH_LOCKOUT_MAX", 900.0)
# Repeated CSMS-detected security events of one station and kind within this many seconds
# are one row with a count and first/last seen (and one webhook), not a row each.
CSMS_SECURITY_EVENT_WINDOW = env_int("CSMS_SECURITY_EVENT_WINDOW", 300)
# Header in which a trusted proxy passes the subject CN of the client certificate it verified.
CSMS_PROXY_CLIENT_CERT_HEADER = env_str("CSMS_PROXY_CLIENT_CERT_HEADER", "X-Client-Cert-CN")
# A second connection with the id of a connected station: seconds the first connection has
# to answer a ping before it is considered dead, closed and replaced.
CSMS_DUPLICATE_PROBE_TIMEOUT = env_float("CSMS_DUPLICATE_PROBE_TIMEOUT", 2.0)
# Websocket ping: a station that does not answer a ping within the timeout is dropped
# and marked offline.
CSMS_WS_PING_INTERVAL = env_int("CSMS_WS_PING_INTERVAL", 20)
CSMS_WS_PING_TIMEOUT = env_int("CSMS_WS_PING_TIMEOUT", 30)
# Longest time a CSMS-initiated call waits for the station's answer, in seconds.
CSMS_CALL_TIMEOUT = env_float("CSMS_CALL_TIMEOUT", 30.0)
# Longest time a command sent from the admin waits for the station's answer, in seconds.
# The operator waits for it: keep it short.
CSMS_ADMIN_CALL_TIMEOUT = env_float("CSMS_ADMIN_CALL_TIMEOUT", 10.0)
# How many recent OCPP messages the station page of the admin lists.
CSMS_ADMIN_RECENT_MESSAGES = env_int("CSMS_ADMIN_RECENT_MESSAGES", 20)
# Seconds the process holding a station's connection has to acknowledge a CSMS-initiated
# call before the caller reports the station as not connected.
CSMS_CALL_ACK_TIMEOUT = env_float("CSMS_CALL_ACK_TIMEOUT", 5.0)
# Threads that run OCPP handlers (database work) off the event loop.
CSMS_HANDLER_THREADS = env_int("CSMS_HANDLER_THREADS", 8)
# A handler thread checks its database connections (health, CONN_MAX_AGE) at most this often,
# in seconds, instead of before every message.
CSMS_DB_CHECK_INTERVAL = env_float("CSMS_DB_CHECK_INTERVAL", 5.0)
# While the database or the channel layer is unreachable the outage is logged when it starts,
# then at most once per this many seconds, and when it ends (csms.outage).
CSMS_OUTAGE_LOG_INTERVAL = env_float("CSMS_OUTAGE_LOG_INTERVAL", 30.0)
# Seconds Daphne waits for a websocket opening handshake to complete; during a reconnect
# storm a handshake waits for the station's admission behind thousands of others.
CSMS_WS_HANDSHAKE_TIMEOUT = env_int("CSMS_WS_HANDSHAKE_TIMEOUT", 60)
# Slow handshakes (server_runtime.handshakes): the line and headers of a request (a websocket
# upgrade's included) must arrive within this many seconds (0: no limit), and one source
# address (not a CSMS_TRUSTED_PROXIES one) may hold at most this many connections whose
# request head is still arriving (0: no limit).
CSMS_HANDSHAKE_TIMEOUT = env_float("CSMS_HANDSHAKE_TIMEOUT", 15.0)
CSMS_HANDSHAKE_MAX_PER_SOURCE = env_int("CSMS_HANDSHAKE_MAX_PER_SOURCE", 256)
# Each serving process is a node of the fleet: it refreshes its liveness key in Redis every
# CSMS_NODE_HEARTBEAT seconds (0: off) with this time-to-live, and marks offline the stations
# of nodes whose key expired (server_runtime.nodes).
CSMS_NODE_HEARTBEAT = env_float("CSMS_NODE_HEARTBEAT", 10.0)
CSMS_NODE_TTL = env_int("CSMS_NODE_TTL", 30)
# Length of the listen queue of the serve command's sockets (the kernel caps it at somaxconn).
CSMS_LISTEN_BACKLOG = env_int("CSMS_LISTEN_BACKLOG", 4096)
# Periodic background jobs (server_runtime.scheduler): run by every `serve` process (false:
# by `manage.py run_jobs` only), each once per interval across the fleet. Intervals in seconds.
CSMS_SCHEDULER = env_bool("CSMS_SCHEDULER", True)
CSMS_JOB_END_STALE_TRANSACTIONS_INTERVAL = env_float(
    "CSMS_JOB_END_STALE_TRANSACTIONS_INTERVAL", 300
)
CSMS_JOB_RUNNING_COST_INTERVAL = env_float("CSMS_JOB_RUNNING_COST_INTERVAL", 5)
CSMS_JOB_RESERVATIONS_INTERVAL = env_float("CSMS_JOB_RESERVATIONS_INTERVAL", 30)
# Event webhooks and command callbacks are stored before their first attempt; failed ones,
# and those a stopped process left, are retried by a job this often.
CSMS_JOB_DELIVERIES_INTERVAL = env_float("CSMS_JOB_DELIVERIES_INTERVAL", 5)
# Seconds a process holds a delivery it is attempting before another may take it over.
CSMS_DELIVERY_LEASE = env_float("CSMS_DELIVERY_LEASE", 60)
# Message-log retention (stations.jobs): rows older than this many days are deleted
# (0: kept forever), this many per statement, once per CSMS_JOB_RETENTION_INTERVAL.
CSMS_MESSAGE_LOG_RETENTION_DAYS = env_int("CSMS_MESSAGE_LOG_RETENTION_DAYS", 30)
CSMS_MESSAGE_LOG_RETENTION_BATCH = env_int("CSMS_MESSAGE_LOG_RETENTION_BATCH", 5000)
CSMS_JOB_RETENTION_INTERVAL = env_float("CSMS_JOB_RETENTION_INTERVAL", 3600)
# Certificate expiry warnings (certificates.jobs): station certificates the CSMS signed and
# the CA / V2G / contract root certificates it is configured with, expiring within this many
# days, are logged and published as a security.event once per certificate per day.
CSMS_CERT_EXPIRY_WARN_DAYS = env_int("CSMS_CERT_EXPIRY_WARN_DAYS", 30)
CSMS_JOB_CERT_EXPIRY_INTERVAL = env_float("CSMS_JOB_CERT_EXPIRY_INTERVAL", 3600)
# Stopping by signal (server_runtime.shutdown): QUIT waits at most this many seconds for the
# handlers and CSMS-initiated calls in flight; TERM/INT/QUIT then wait at most
# CSMS_SHUTDOWN_CLOSE_TIMEOUT seconds for the stations' sockets to close (1001 going away).
CSMS_SHUTDOWN_GRACE = env_float("CSMS_SHUTDOWN_GRACE", 30.0)
CSMS_SHUTDOWN_CLOSE_TIMEOUT = env_float("CSMS_SHUTDOWN_CLOSE_TIMEOUT", 5.0)
# `serve` processes sharing one port (server_runtime.workers); more than one needs REDIS_URL.
CSMS_WORKERS = env_int("CSMS_WORKERS", 1)

# --- Prometheus metrics at /metrics (server_runtime.metrics) ------------------------------
CSMS_METRICS = env_bool("CSMS_METRICS", True)
# Addresses that may read /metrics ("none": no address); behind a proxy use --proxy-headers.
CSMS_METRICS_ALLOWED_NETWORKS = env_list(
    "CSMS_METRICS_ALLOWED_NETWORKS", ["127.0.0.0/8", "::1/128"]
)
# When set, a scrape must also send `Authorization: Bearer <token>`.
CSMS_METRICS_TOKEN = env_str("CSMS_METRICS_TOKEN")
CSMS_METRICS_SAMPLE_SECONDS = env_float("CSMS_METRICS_SAMPLE_SECONDS", 1.0)
# Store every OCPP frame in the message log.
CSMS_MESSAGE_LOG = env_bool("CSMS_MESSAGE_LOG", True)
# The message log is written in batches: at most this many frames or this many seconds.
CSMS_MESSAGE_LOG_BATCH = env_int("CSMS_MESSAGE_LOG_BATCH", 500)
CSMS_MESSAGE_LOG_FLUSH_SECONDS = env_float("CSMS_MESSAGE_LOG_FLUSH_SECONDS", 0.2)
# Frames the message log keeps in memory while the database is unreachable (written once it
# is back); beyond that new frames are dropped and counted in the log.
CSMS_MESSAGE_LOG_BUFFER = env_int("CSMS_MESSAGE_LOG_BUFFER", 200_000)
# Record "last seen" at most this often per connection (Heartbeat always records it).
CSMS_LAST_SEEN_INTERVAL = env_int("CSMS_LAST_SEEN_INTERVAL", 60)
# Last-seen and heartbeat times are written in batches this often (stations.liveness).
CSMS_LIVENESS_FLUSH_SECONDS = env_float("CSMS_LIVENESS_FLUSH_SECONDS", 1.0)
# `serve`: objects are frozen out of the garbage collector's sight this often (0 keeps
# CPython's own policy), and a full collection runs this often (0: never; closed connections
# leave no cyclic garbage); collections pausing the server this long are logged
# (server_runtime.gc_policy).
CSMS_GC_FREEZE_SECONDS = env_float("CSMS_GC_FREEZE_SECONDS", 60)
CSMS_GC_FULL_SECONDS = env_float("CSMS_GC_FULL_SECONDS", 0)
CSMS_GC_PAUSE_WARN_MS = env_float("CSMS_GC_PAUSE_WARN_MS", 100)

# --- Certificates ------------------------------------------------------------------
# CA that signs station certificates (SignCertificate); PEM files. Unset: CSRs are refused.
CSMS_CA_CERT_FILE = env_str("CSMS_CA_CERT_FILE")
CSMS_CA_KEY_FILE = env_str("CSMS_CA_KEY_FILE")
CSMS_CA_KEY_PASSWORD = env_str("CSMS_CA_KEY_PASSWORD")
# Days a signed station certificate is valid; the organization its CSR must name (if set).
CSMS_CERT_VALIDITY_DAYS = env_int("CSMS_CERT_VALIDITY_DAYS", 365)
CSMS_CERT_ORGANIZATION = env_str("CSMS_CERT_ORGANIZATION")
# Plug & Charge (ISO 15118). The V2G sub-CA that signs the stations' SECC certificates
# (SignCertificate V2GCertificate): its certificate first, then its issuers; unset, refused.
CSMS_V2G_CA_CERT_FILE = env_str("CSMS_V2G_CA_CERT_FILE")
CSMS_V2G_CA_KEY_FILE = env_str("CSMS_V2G_CA_KEY_FILE")
CSMS_V2G_CA_KEY_PASSWORD = env_str("CSMS_V2G_CA_KEY_PASSWORD")
CSMS_V2G_CERT_VALIDITY_DAYS = env_int("CSMS_V2G_CERT_VALIDITY_DAYS", 365)
# MO/V2G root certificates (PEM) a contract certificate in Authorize must chain to.
CSMS_CONTRACT_ROOT_CERTS = env_str("CSMS_CONTRACT_ROOT_CERTS")
# Contract-certificate service Get15118EVCertificate is relayed to (HTTP POST, JSON);
# unset, the station is answered Failed.
CSMS_CONTRACT_CERTIFICATE_URL = env_str("CSMS_CONTRACT_CERTIFICATE_URL")
CSMS_CONTRACT_CERTIFICATE_TIMEOUT = env_float("CSMS_CONTRACT_CERTIFICATE_TIMEOUT", 10.0)
# --- Files: firmware images and uploaded logs ------------------------------------------
# Where files are kept: "local" (a folder, CSMS_MEDIA_ROOT), "s3" (any S3-compatible
# service) or "gcs" (Google Cloud Storage).
CSMS_STORAGE = env_str("CSMS_STORAGE", "local")
# Bucket for s3 and gcs.
CSMS_STORAGE_BUCKET = env_str("CSMS_STORAGE_BUCKET")
# S3 only: endpoint of an S3-compatible service (empty: AWS), region and credentials (empty:
# boto3's own lookup: environment, shared files, instance role).
CSMS_S3_ENDPOINT_URL = env_str("CSMS_S3_ENDPOINT_URL")
CSMS_S3_REGION = env_str("CSMS_S3_REGION")
CSMS_S3_ACCESS_KEY_ID = env_str("CSMS_S3_ACCESS_KEY_ID")
CSMS_S3_SECRET_ACCESS_KEY = env_str("CSMS_S3_SECRET_ACCESS_KEY")
# Prefix of every object name in the bucket.
CSMS_STORAGE_PREFIX = env_str("CSMS_STORAGE_PREFIX")


def file_storage(kind: str) -> dict:
    """The STORAGES entry for CSMS_STORAGE (django-storages for s3 and gcs)."""
    if kind == "local":
        return {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": MEDIA_ROOT},
        }
    if kind == "s3":
        options = {
            "bucket_name": CSMS_STORAGE_BUCKET,
            "location": CSMS_STORAGE_PREFIX,
            "file_overwrite": False,
            "default_acl": None,
        }
        optional = {
            "endpoint_url": CSMS_S3_ENDPOINT_URL,
            "region_name": CSMS_S3_REGION,
            "access_key": CSMS_S3_ACCESS_KEY_ID,
            "secret_key": CSMS_S3_SECRET_ACCESS_KEY,
        }
        options.update({key: value for key, value in optional.items() if value})
        return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}
    if kind == "gcs":
        return {
            "BACKEND": "storages.backends.gcloud.GoogleCloudStorage",
            "OPTIONS": {
                "bucket_name": CSMS_STORAGE_BUCKET,
                "location": CSMS_STORAGE_PREFIX,
                "file_overwrite": False,
            },
        }
    raise ValueError(f"CSMS_STORAGE must be local, s3 or gcs, not {kind!r}")


STORAGES = {
    "default": file_storage(CSMS_STORAGE),
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Base URL stations reach the CSMS's HTTP side at (firmware downloads, log uploads), e.g.
# https://csms.example.com. Empty: taken from the request that sends the command, else
# http://localhost:8000.
CSMS_PUBLIC_URL = env_str("CSMS_PUBLIC_URL")
# How long a firmware download link stays valid after the retrieve date, in seconds.
CSMS_FIRMWARE_URL_TTL = env_int("CSMS_FIRMWARE_URL_TTL", 86400)
# How long a log upload link stays valid, in seconds.
CSMS_LOG_UPLOAD_TTL = env_int("CSMS_LOG_UPLOAD_TTL", 86400)
# Largest uploaded log file accepted, in bytes.
CSMS_LOG_UPLOAD_MAX_BYTES = env_int("CSMS_LOG_UPLOAD_MAX_BYTES", 200 * 1024 * 1024)

# --- DataTransfer ----------------------------------------------------------------------
# Folder of JSON schemas for DataTransfer `data`, one file per key named
# `<protocol>-<vendorId>[-<messageId>].json` (protocol: ocpp1.6, ocpp2.0.1, ocpp2.1).
CSMS_DATATRANSFER_SCHEMA_DIR = env_str("CSMS_DATATRANSFER_SCHEMA_DIR")

# --- Integrations ---------------------------------------------------------------------
# Webhook settings are cached in memory; other processes see a change within this many s.
CSMS_WEBHOOK_CONFIG_TTL = env_float("CSMS_WEBHOOK_CONFIG_TTL", 5.0)
# Events waiting for delivery at most; beyond it new events are dropped (with an error log).
CSMS_WEBHOOK_QUEUE_SIZE = env_int("CSMS_WEBHOOK_QUEUE_SIZE", 10_000)
# Event deliveries in progress at once (each with its own retries).
CSMS_WEBHOOK_CONCURRENCY = env_int("CSMS_WEBHOOK_CONCURRENCY", 20)
# Retry back-off of event deliveries: base * 2^(attempt - 1) seconds, at most the maximum.
CSMS_WEBHOOK_RETRY_BASE = env_float("CSMS_WEBHOOK_RETRY_BASE", 5.0)
CSMS_WEBHOOK_RETRY_MAX = env_float("CSMS_WEBHOOK_RETRY_MAX", 600.0)

# --- Transactions -----------------------------------------------------------------------
# Answer ConcurrentTx for an id token that already has an active transaction.
CSMS_CONCURRENT_TX_CHECK = env_bool("CSMS_CONCURRENT_TX_CHECK", True)
# Seconds between CostUpdated messages sent for a running 2.x transaction (0: never).
CSMS_COST_UPDATE_INTERVAL = env_int("CSMS_COST_UPDATE_INTERVAL", 60)
# OCPP 2.1 VatNumberValidation: the dotted path of the validator (a callable taking the VAT
# number, returning transactions.payments.VatCheck); the default checks formats locally.
CSMS_VAT_VALIDATOR = env_str("CSMS_VAT_VALIDATOR", "transactions.payments.local_vat_rules")
# A 1.6 StartTransaction is linked to a remote start for the same idTag made at most this
# many seconds before.
CSMS_REMOTE_START_TIMEOUT = env_int("CSMS_REMOTE_START_TIMEOUT", 600)
# Open transactions kept by a server process after storing their messages, so that the next
# MeterValues / TransactionEvent skips reading them (0: none), and for at most this many
# seconds (transactions.open_transactions).
CSMS_TRANSACTION_CACHE = env_int("CSMS_TRANSACTION_CACHE", 5000)
CSMS_TRANSACTION_CACHE_SECONDS = env_float("CSMS_TRANSACTION_CACHE_SECONDS", 300.0)
# Transactions always end (transactions.ending). Seconds a station has after a reboot
# (BootNotification) to continue an open transaction with a message before the CSMS ends it
# (Reboot; a 2.x station is first asked with GetTransactionStatus); a start the CSMS refused
# and the station did not stop is ended after as long.
CSMS_TRANSACTION_RECONNECT_GRACE = env_int("CSMS_TRANSACTION_RECONNECT_GRACE", 900)
# Seconds without any message for an active transaction before the CSMS ends it as stale
# (0: never). The default, two days, leaves overnight and weekend-long sessions alone.
CSMS_TRANSACTION_STALE_AFTER = env_int("CSMS_TRANSACTION_STALE_AFTER", 172_800)
# --- Smart charging (load management of sites) ------------------------------------------
# Seconds the CSMS waits after a session starts, stops or a limit changes before it
# shares the site again (a burst of events makes one round).
CSMS_SMART_CHARGING_DEBOUNCE = env_float("CSMS_SMART_CHARGING_DEBOUNCE", 0.5)
# Seconds between lowering some grants and raising others, for the EVs to follow.
CSMS_SMART_CHARGING_SETTLE = env_float("CSMS_SMART_CHARGING_SETTLE", 5.0)
# Least seconds between two charging profiles sent to one station (rate limit).
CSMS_SMART_CHARGING_MIN_INTERVAL = env_float("CSMS_SMART_CHARGING_MIN_INTERVAL", 5.0)
# Seconds between two rounds of every site even without events (grants timing out, meters).
CSMS_SMART_CHARGING_INTERVAL = env_float("CSMS_SMART_CHARGING_INTERVAL", 30.0)
# Seconds a grant stays counted for a station that is offline or refused its profile.
CSMS_SMART_CHARGING_GRANT_TIMEOUT = env_int("CSMS_SMART_CHARGING_GRANT_TIMEOUT", 900)
# A site meter's reading older than this many seconds is ignored.
CSMS_SMART_CHARGING_METER_MAX_AGE = env_int("CSMS_SMART_CHARGING_METER_MAX_AGE", 300)
# Stack level of the TxProfile and TxDefaultProfile the CSMS sends for load management.
CSMS_SMART_CHARGING_STACK_LEVEL = env_int("CSMS_SMART_CHARGING_STACK_LEVEL", 1)
# OCPP 2.1 K28: TxProfiles to 2.1 stations are Dynamic, and a changed grant goes out as
# UpdateDynamicSchedule (a limit) instead of a new profile.
CSMS_SMART_CHARGING_DYNAMIC = env_bool("CSMS_SMART_CHARGING_DYNAMIC", False)
# --- API --------------------------------------------------------------------------------
# /api/schema/ (the OpenAPI document) and /docs (Swagger UI) need an authenticated user (an
# API token or an admin login); false: public, as the API's structure is no secret.
CSMS_API_SCHEMA_AUTH = env_bool("CSMS_API_SCHEMA_AUTH", False)
# Longest wait a message-API caller may ask for with ?timeout=, in seconds.
CSMS_API_MAX_CALL_TIMEOUT = env_float("CSMS_API_MAX_CALL_TIMEOUT", 300.0)
# Callback deliveries of finished commands: attempts, first back-off (doubled after each
# failed attempt) and the timeout of one POST, in seconds.
CSMS_CALLBACK_ATTEMPTS = env_int("CSMS_CALLBACK_ATTEMPTS", 5)
CSMS_CALLBACK_BACKOFF = env_float("CSMS_CALLBACK_BACKOFF", 2.0)
CSMS_CALLBACK_BACKOFF_MAX = env_float("CSMS_CALLBACK_BACKOFF_MAX", 600.0)
CSMS_CALLBACK_TIMEOUT = env_float("CSMS_CALLBACK_TIMEOUT", 10.0)
# Every URL the CSMS calls on someone's word (command callbacks, event subscriptions,
# integrator webhooks, OCSP/CRL addresses from stations; csms.egress): the host names it may
# name (as ALLOWED_HOSTS: `example.com`, `.example.com` for it and its subdomains, `*`),
# empty for any; and the non-public networks those names may resolve to (`127.0.0.1`,
# `10.0.0.0/8`), empty for none: loopback, private, link-local and reserved addresses are
# refused unless listed. CSMS_CALLBACK_ALLOWED_HOSTS is the former name of the first.
CSMS_OUTBOUND_ALLOWED_HOSTS = env_list(
    "CSMS_OUTBOUND_ALLOWED_HOSTS", env_list("CSMS_CALLBACK_ALLOWED_HOSTS", [])
)
CSMS_OUTBOUND_ALLOWED_NETWORKS = env_list("CSMS_OUTBOUND_ALLOWED_NETWORKS", [])
# Fan-out: stations called at once by one request.
CSMS_FANOUT_CONCURRENCY = env_int("CSMS_FANOUT_CONCURRENCY", 50)
