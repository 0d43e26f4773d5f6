"""Users, tokens and OCPP test stations for the API tests."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import Token

from commands.groups import OPERATORS, VIEWERS
from ocpp_router.registry import REGISTRIES
from tests.live import CHARGE_POINTS
from tests.ocpp_payloads import minimal_payload


def make_user(username: str, role: str | None) -> tuple[User, str]:
    """A user in the Viewers or Operators group (or none), with an API token."""
    user = User.objects.create_user(username=username)  # no password: no slow hashing
    if role is not None:
        user.groups.add(Group.objects.get(name={"viewer": VIEWERS, "operator": OPERATORS}[role]))
    return user, Token.objects.create(user=user).key


def generic_station_class(version: str, *, silent: bool = False):
    """A ChargePoint that records every CSMS call and answers it with the smallest valid
    answer of its official schema (or never answers, when `silent`)."""
    base = CHARGE_POINTS[version]

    class GenericStation(base):
        def __init__(self, *args: Any, **kwargs: Any):
            super().__init__(*args, **kwargs)
            self.received: list[tuple[str, dict[str, Any]]] = []

        async def _handle_call(self, msg):
            self.received.append((msg.action, msg.payload))
            if silent:
                return
            answer = minimal_payload(version, msg.action, "response")
            await self._send(msg.create_call_result(answer).to_json())

    return GenericStation


class declare_sendable:
    """Declare actions sendable for the duration of a test (restores the registry after)."""

    def __init__(self, version: str, *actions: str):
        self.registry = REGISTRIES[version]
        self.actions = [a for a in actions if a not in self.registry.sendable]

    def __enter__(self):
        self.registry.sendable.update(self.actions)
        return self

    def __exit__(self, *exc):
        self.registry.sendable.difference_update(self.actions)


class CallbackReceiver:
    """A local HTTP server taking callbacks; answers 500 to the first `failures` POSTs."""

    def __init__(self, failures: int = 0):
        self.bodies: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.bodies.append(body)
                self.send_response(500 if len(receiver.bodies) <= failures else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
