"""Print, per OCPP version, every action of the official schemas and what the CSMS does with it."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ocpp_router import validation
from ocpp_router.registry import HOOKS, REGISTRIES
from ocpp_router.rpc import VERSIONS


class Command(BaseCommand):
    help = (
        "List every OCPP action per version: handled (station -> CSMS) and sendable "
        "(CSMS -> station)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--ocpp-version", dest="ocpp_version", choices=VERSIONS, help="Only this OCPP version."
        )
        parser.add_argument(
            "--supported", action="store_true", help="Only actions we handle or send."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        for version in VERSIONS:
            if options["ocpp_version"] and options["ocpp_version"] != version:
                continue
            registry = REGISTRIES[version]
            actions = sorted(validation.actions(version))
            handled = sum(1 for a in actions if a in registry.handlers)
            sendable = sum(1 for a in actions if a in registry.sendable)
            self.stdout.write(
                self.style.MIGRATE_HEADING(
                    f"OCPP {version}: {len(actions)} actions, {handled} handled, "
                    f"{sendable} sendable"
                )
            )
            self.stdout.write(f"  {'action':<40} {'handled':<9} sendable")
            for action in actions:
                is_handled = action in registry.handlers
                is_sendable = action in registry.sendable
                if options["supported"] and not (is_handled or is_sendable):
                    continue
                self.stdout.write(
                    f"  {action:<40} {'yes' if is_handled else '-':<9} "
                    f"{'yes' if is_sendable else '-'}"
                )
            self.stdout.write("")
        if not options["ocpp_version"] or options["ocpp_version"] == "1.6":
            self._soap(options["supported"])
        if HOOKS.interceptors:
            names = ", ".join(f"{f.__module__}.{f.__qualname__}" for f in HOOKS.interceptors)
            self.stdout.write(
                f"Call interceptors (may answer station calls before the handlers): {names}"
            )

    def _soap(self, supported_only: bool) -> None:
        """OCPP-S: the CentralSystemService operations of each SOAP version, served by the
        1.6 registry, and the ChargePointService operations the CSMS sends (1.5 through its
        mapping, ocpp_router.soap.v15)."""
        from ocpp_router.soap.envelope import CENTRAL_SYSTEM, CHARGE_POINT
        from ocpp_router.soap.v15 import NOT_IN_15

        registry = REGISTRIES["1.6"]
        for version, service in CENTRAL_SYSTEM.items():
            actions = service.operations()
            handled = [a for a in actions if a in registry.handlers]
            self.stdout.write(
                self.style.MIGRATE_HEADING(
                    f"OCPP {version} over SOAP (OCPP-S, /ocpp/soap/{version}), "
                    f"CentralSystemService: {len(actions)} actions, {len(handled)} handled"
                )
            )
            self.stdout.write(f"  {'action':<40} handled")
            for action in actions:
                if supported_only and action not in handled:
                    continue
                self.stdout.write(f"  {action:<40} {'yes' if action in handled else '-'}")
            self.stdout.write("")
            operations = CHARGE_POINT[version].operations()
            sendable = [
                a
                for a in operations
                if a in registry.sendable and not (version == "1.5" and a in NOT_IN_15)
            ]
            self.stdout.write(
                self.style.MIGRATE_HEADING(
                    f"OCPP {version} over SOAP (OCPP-S), ChargePointService (the station's, "
                    f"at its WS-Addressing From): {len(operations)} actions, "
                    f"{len(sendable)} sendable"
                )
            )
            self.stdout.write(f"  {'action':<40} sendable")
            for action in operations:
                if supported_only and action not in sendable:
                    continue
                self.stdout.write(f"  {action:<40} {'yes' if action in sendable else '-'}")
            self.stdout.write("")
        only_j = sorted(set(registry.sendable) - set(CHARGE_POINT["1.6"].operations()))
        self.stdout.write(
            "Refused to OCPP-S stations, with the reason: to 1.5 ones "
            + ", ".join(f"{a} ({why})" for a, why in sorted(NOT_IN_15.items()))
            + "; to any, the 1.6 actions no ChargePointService WSDL has: "
            + (", ".join(only_j) or "-")
        )
        self.stdout.write("")
