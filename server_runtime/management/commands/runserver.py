"""`runserver` is `serve` here: the same server, the same checks, one address argument.

Django's and Daphne's own `runserver` would serve stations with stock Daphne (403 for a
refused upgrade, sockets closed after a day); this app is listed first in INSTALLED_APPS
so that its command wins.

python manage.py runserver                 # 127.0.0.1:8000
python manage.py runserver 0.0.0.0:8000
"""

import re
from typing import Any

from django.core.management.base import CommandError, CommandParser

from server_runtime.management.commands.serve import Command as ServeCommand

ADDRPORT = re.compile(r"^(?:\[?(?P<addr>[^\]]*?)\]?:)?(?P<port>\d+)$")


class Command(ServeCommand):
    help = "Serve like `serve` on [addr:]port (default 127.0.0.1:8000)."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("addrport", nargs="?", help="Optional port or address:port.")
        # Accepted for habit's sake: this server never reloads.
        parser.add_argument("--noreload", action="store_true", help="Ignored: it never reloads.")
        parser.set_defaults(bind="127.0.0.1")

    def handle(self, *args: Any, **options: Any) -> None:
        addrport = options.pop("addrport")
        options.pop("noreload")
        if addrport:
            match = ADDRPORT.match(addrport)
            if not match:
                raise CommandError(f"{addrport!r} is not a port or address:port")
            options["bind"] = match["addr"] or "127.0.0.1"
            options["port"] = int(match["port"])
        super().handle(*args, **options)
