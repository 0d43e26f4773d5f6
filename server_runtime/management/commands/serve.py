"""Production server: Daphne with the CSMS's websocket settings, on any Daphne endpoints.

python manage.py serve --bind 0.0.0.0 --port 8000
python manage.py serve -e "ssl:9443:privateKey=key.pem:certKey=cert.pem"
python manage.py serve --workers 2          # one process per core, one port (needs REDIS_URL)
"""

import logging
import socket
import sys
from typing import Any

import daphne.server  # noqa: F401  (installs the asyncio reactor before twisted's default)
from daphne.endpoints import build_endpoint_description_strings
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from twisted.internet import reactor

from server_runtime import preflight
from server_runtime.gc_policy import GcPolicy
from server_runtime.scheduler import Scheduler
from server_runtime.server import CsmsServer
from server_runtime.workers import Supervisor, reuse_port_socket

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Serve HTTP, the API and the OCPP websockets with Daphne."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", default="0.0.0.0", help="Address to listen on.")
        parser.add_argument("--port", type=int, default=8000, help="Port to listen on.")
        parser.add_argument(
            "-e",
            "--endpoint",
            action="append",
            default=[],
            dest="endpoints",
            help="A Twisted endpoint string (repeatable), e.g. ssl:9443:privateKey=...",
        )
        parser.add_argument(
            "--no-plain",
            action="store_true",
            help="Listen only on the --endpoint strings, not on --bind/--port.",
        )
        parser.add_argument(
            "--proxy-headers",
            action="store_true",
            help="Trust X-Forwarded-For/-Port/-Proto (only behind a proxy you run).",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=settings.CSMS_WORKERS,
            help="Server processes sharing --bind/--port, one per core (needs REDIS_URL).",
        )
        parser.add_argument(
            "--reuse-port",
            action="store_true",
            help="Listen on --bind/--port with SO_REUSEPORT, so that other processes may too.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from channels.routing import get_default_application

        if options["workers"] != 1:
            return self.supervise(options)
        # Fail fast, naming the fix, rather than once per station connection.
        plain = not options["no_plain"] and not options["reuse_port"]
        preflight.server_ready(
            bind=options["bind"] if plain else None, port=options["port"] if plain else None
        )
        endpoints = list(options["endpoints"])
        shared: list[socket.socket] = []
        if options["reuse_port"] and not options["no_plain"]:
            shared.append(
                reuse_port_socket(options["bind"], options["port"], settings.CSMS_LISTEN_BACKLOG)
            )
        elif not options["no_plain"]:
            # Twisted listens with a backlog of 50: a reconnect storm overflows it and
            # stations wait out SYN retransmissions (1 s, 3 s, 7 s ...).
            endpoints += [
                f"{endpoint}:backlog={settings.CSMS_LISTEN_BACKLOG}"
                for endpoint in build_endpoint_description_strings(
                    host=options["bind"], port=options["port"]
                )
            ]
        shown = list(endpoints)
        if shared:
            shown.append(f"{options['bind']}:{options['port']} (shared with other processes)")
        logger.info("CSMS listening on %s", ", ".join(shown))
        proxy = options["proxy_headers"]
        # What is loaded by now (Django, the apps, compiled schemas) lives as long as the
        # process; connections are frozen as they age (server_runtime.gc_policy).
        GcPolicy(
            settings.CSMS_GC_FREEZE_SECONDS,
            settings.CSMS_GC_FULL_SECONDS,
            schedule=reactor.callLater,  # type: ignore[arg-type]
            warn_ms=settings.CSMS_GC_PAUSE_WARN_MS,
        ).start()
        server = CsmsServer(
            application=get_default_application(),
            endpoints=endpoints,
            root_path=getattr(settings, "FORCE_SCRIPT_NAME", "") or "",
            proxy_forwarded_address_header="X-Forwarded-For" if proxy else None,
            proxy_forwarded_port_header="X-Forwarded-Port" if proxy else None,
            proxy_forwarded_proto_header="X-Forwarded-Proto" if proxy else None,
            verbosity=options["verbosity"],
            sockets=shared,
        )
        jobs = None
        if settings.CSMS_SCHEDULER:
            jobs = Scheduler()
            reactor.callWhenRunning(jobs.start)
        try:
            server.run()
        finally:
            if jobs is not None:
                jobs.stop()
        if server.listen_failures:
            raise CommandError(
                "could not listen: " + "; ".join(server.listen_failures) + " (is another server "
                "using the port? stop it or choose another)"
            )

    def supervise(self, options: dict[str, Any]) -> None:
        """Run `--workers` copies of this command on one port until SIGTERM or SIGINT."""
        workers = options["workers"]
        if workers < 1:
            raise CommandError("--workers must be 1 or more")
        if not settings.REDIS_URL:
            raise CommandError(
                "--workers needs REDIS_URL: the processes reach each other's stations "
                "through the Redis channel layer"
            )
        if options["endpoints"] or options["no_plain"]:
            raise CommandError(
                "--workers shares only the --bind/--port listener; terminate TLS at a proxy "
                "or run one serve process per --endpoint"
            )
        preflight.server_ready(bind=options["bind"], port=options["port"])
        command = [
            sys.executable,
            str(settings.BASE_DIR / "manage.py"),
            "serve",
            "--bind",
            options["bind"],
            "--port",
            str(options["port"]),
            "--workers",
            "1",
            "--reuse-port",
            "--verbosity",
            str(options["verbosity"]),
        ]
        if options["proxy_headers"]:
            command.append("--proxy-headers")
        logger.info(
            "CSMS listening on %s:%s with %d worker processes",
            options["bind"],
            options["port"],
            workers,
        )
        Supervisor(command, workers, port=options["port"]).run()
