"""`python manage.py emulate`: run emulated charging stations against a CSMS."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from emulator.stations import VERSIONS, Stats, configs_from_options, load_folder, run_stations


class Command(BaseCommand):
    help = (
        "Run emulated charging stations (OCPP 1.6, 2.0.1, 2.1) against a CSMS: they boot, "
        "send heartbeats and status changes, charge with meter values and answer the CSMS's "
        "calls. Stations come from a folder of JSON configurations or from the options."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--url",
            default="ws://127.0.0.1:8000/ocpp",
            help="CSMS websocket URL; the station id is appended (default %(default)s)",
        )
        parser.add_argument("--config-dir", type=Path, help="folder of station *.json files")
        parser.add_argument("--count", type=int, default=1, help="stations (default 1)")
        parser.add_argument(
            "--prefix", default="EMU-", help="station id prefix (EMU-1, EMU-2, ...)"
        )
        parser.add_argument(
            "--ocpp",
            default="2.0.1",
            help="OCPP version, or a comma-separated list used in turn (e.g. 1.6,2.0.1,2.1)",
        )
        parser.add_argument("--password", default="", help="Basic auth password (profile 1/2)")
        parser.add_argument("--account", default="", help="account id appended to the URL")
        parser.add_argument("--connectors", type=int, default=1)
        parser.add_argument(
            "--id-tag",
            default="",
            help="id tag/token every station charges with (default: each its own, TAG-<id>)",
        )
        parser.add_argument(
            "--create-tags",
            action="store_true",
            help="add the stations' id tags, Accepted, to this CSMS's database first",
        )
        parser.add_argument(
            "--duration", type=float, default=None, help="stop after this many seconds"
        )
        parser.add_argument(
            "--meter-interval", type=float, default=10.0, help="seconds between meter values"
        )
        parser.add_argument(
            "--plug-in-after", type=float, default=5.0, help="seconds before each plug-in"
        )
        parser.add_argument(
            "--charge-seconds", type=float, default=60.0, help="length of each session"
        )
        parser.add_argument(
            "--idle-seconds", type=float, default=30.0, help="pause between sessions"
        )
        parser.add_argument("--power", type=float, default=11_000.0, help="charging power (W)")
        parser.add_argument(
            "--transport",
            choices=["json", "soap"],
            default="json",
            help="json: OCPP-J websockets; soap: OCPP-S (--ocpp 1.5 and/or 1.6, --url the "
            "CSMS's http://host:port, stations posting to /ocpp/soap/<version>)",
        )
        parser.add_argument(
            "--soap-listen",
            default="127.0.0.1:0",
            help="host:port the SOAP stations' ChargePointService listens on, for the CSMS's "
            "calls (default 127.0.0.1, any free port); the host must be one the CSMS reaches",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        versions = [v.strip() for v in options["ocpp"].split(",") if v.strip()]
        if options["transport"] == "soap":
            return self._soap(versions, options)
        unknown = sorted(set(versions) - set(VERSIONS))
        if unknown or not versions:
            raise CommandError(f"Unknown OCPP version(s) {unknown}; use {', '.join(VERSIONS)}")
        common = {
            "password": options["password"],
            "account": options["account"],
            "connectors": options["connectors"],
            "id_tag": options["id_tag"],
            "meter_interval": options["meter_interval"],
            "plug_in_after": options["plug_in_after"],
            "charge_seconds": options["charge_seconds"],
            "idle_seconds": options["idle_seconds"],
            "power_w": options["power"],
        }
        try:
            if options["config_dir"]:
                configs = load_folder(options["config_dir"], url=options["url"], **common)
            else:
                configs = configs_from_options(
                    count=options["count"],
                    prefix=options["prefix"],
                    versions=versions,
                    url=options["url"],
                    **common,
                )
        except (OSError, ValueError, TypeError) as exc:
            raise CommandError(str(exc)) from exc
        tags = sorted({c.id_tag for c in configs})
        if options["create_tags"]:
            from emulator.tags import id_tags_create

            created = id_tags_create(tags=tags)
            self.stdout.write(
                f"Id tags: {_span(tags)} Accepted in this CSMS's database ({created} new)"
            )
        else:
            self.stdout.write(
                f"Id tags: {_span(tags)}. The CSMS must know them (status Accepted) or it "
                "refuses every session: add them in the admin (Id tokens), or run this command "
                "with --create-tags against this CSMS's database"
            )
        # The ocpp package logs every frame at INFO and every CALLERROR as a warning: the
        # summary line counts them instead.
        logging.getLogger("ocpp").setLevel(logging.ERROR)
        logging.getLogger("emulator").setLevel(logging.WARNING)
        self.stdout.write(
            f"Emulating {len(configs)} station(s) against {options['url']}"
            + (f" for {options['duration']:g} s" if options["duration"] else " (Ctrl-C stops)")
        )
        interactive = sys.stdout.isatty()
        last = [0.0]

        def report(stats: Stats, elapsed: float) -> None:
            if interactive:
                self.stdout.write("\r" + stats.line(elapsed), ending="")
                self.stdout.flush()
            elif elapsed - last[0] >= 5:
                last[0] = elapsed
                self.stdout.write(stats.line(elapsed))

        stats = Stats()
        try:
            asyncio.run(
                run_stations(configs, duration=options["duration"], stats=stats, report=report)
            )
        except KeyboardInterrupt:
            pass
        if interactive:
            self.stdout.write("")
        self.stdout.write(
            f"Done: {stats.sessions} session(s), {stats.refused} refused, "
            f"{stats.messages} message(s), {stats.errors} error(s), "
            f"{stats.reconnects} reconnection(s)"
        )
        if stats.refused:
            self.stdout.write(
                f"The CSMS refused {stats.refused} authorization(s) or start(s), for "
                f"{_span(sorted(stats.refused_tags))}: is each tag known and Accepted? "
                "(--create-tags adds them)"
            )

    def _soap(self, versions: list[str], options: dict[str, Any]) -> None:
        from emulator.soap import SOAP_VERSIONS, run_soap_stations

        unknown = sorted(set(versions) - set(SOAP_VERSIONS))
        if unknown or not versions:
            raise CommandError(
                f"OCPP-S speaks {', '.join(SOAP_VERSIONS)}; not {', '.join(unknown) or '-'}"
            )
        url = options["url"]
        if url.startswith("ws"):
            url = "http" + url[2:]
        url = url.removesuffix("/ocpp")
        identities = [f"{options['prefix']}{n}" for n in range(1, options["count"] + 1)]
        if options["create_tags"]:
            from emulator.tags import id_tags_create

            id_tags_create(tags=[options["id_tag"] or f"TAG-{i}" for i in identities])
        duration = options["duration"] or 60.0
        self.stdout.write(
            f"Emulating {len(identities)} OCPP-S station(s) against {url} for {duration:g} s"
        )
        host, _, port = options["soap_listen"].rpartition(":")
        if not host or not port.isdigit():
            raise CommandError(f"--soap-listen {options['soap_listen']!r}: give host:port")
        stats = run_soap_stations(
            identities=identities,
            versions=versions,
            base_url=url,
            duration=duration,
            listen=(host, int(port)),
            password=options["password"],
            id_tag=options["id_tag"],
            charge_seconds=options["charge_seconds"],
            meter_interval=options["meter_interval"],
            idle_seconds=options["idle_seconds"],
        )
        self.stdout.write(
            f"Done: {stats.sessions} session(s), {stats.messages} message(s), "
            f"{stats.calls} CSMS call(s) answered, {stats.errors} error(s)"
        )


def _span(tags: list[str]) -> str:
    """The tags, shortened when there are many."""
    return ", ".join(tags) if len(tags) <= 4 else f"{tags[0]}, {tags[1]}, ... {tags[-1]}"
