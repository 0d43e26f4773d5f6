"""Send a CSMS-initiated OCPP call to a connected station, from any process of the fleet.

python manage.py ocpp_call CP-0001 GetConfiguration '{}'
python manage.py ocpp_call "RDAM 123" Reset '{"type": "Soft"}' --timeout 20

The call travels over the channel layer to whichever process holds the station's websocket
(with REDIS_URL set, any of them); the station's answer is printed as JSON. Exit status 0 when
the station answered with a CALLRESULT, 1 when it answered with an error or timed out, 2 when
it is not connected.
"""

import json

from django.core.management.base import BaseCommand, CommandError

from commands.services import StationNotConnected, command_send


class Command(BaseCommand):
    help = "Send an OCPP call to a connected station and print its answer as JSON."

    def add_arguments(self, parser):
        parser.add_argument("identity", help="The station's OCPP identity.")
        parser.add_argument("action", help="The OCPP action, e.g. GetConfiguration.")
        parser.add_argument("payload", nargs="?", default="{}", help="The payload as JSON.")
        parser.add_argument("--timeout", type=float, default=None, help="Seconds to wait.")

    def handle(self, *args, **options):
        try:
            payload = json.loads(options["payload"])
        except json.JSONDecodeError as exc:
            raise CommandError(f"The payload is not JSON: {exc}") from None
        if not isinstance(payload, dict):
            raise CommandError("The payload must be a JSON object")
        try:
            outcome = command_send(
                origin="manage.py",
                identity=options["identity"],
                action=options["action"],
                payload=payload,
                timeout=options["timeout"],
            )
        except StationNotConnected as exc:
            raise CommandError(str(exc), returncode=2) from None
        self.stdout.write(
            json.dumps(
                {
                    "status": outcome.status,
                    "response": outcome.response,
                    "error_code": outcome.error_code,
                    "error_description": outcome.error_description,
                }
            )
        )
        if not outcome.ok:
            raise CommandError(f"{options['action']} ended {outcome.status}", returncode=1)
