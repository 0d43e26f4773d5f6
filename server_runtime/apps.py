# Installs Twisted's asyncio reactor as the process starts, before any package imports
# twisted.internet.reactor (as Daphne's own app does, which this one replaces).
import daphne.server  # noqa: F401
from django.apps import AppConfig


class ServerRuntimeConfig(AppConfig):
    """The server the transport runs on: Daphne as OCPP needs it, `serve`, workers, GC policy.

    Importing it adjusts Daphne, Twisted and autobahn (server_runtime.server); nothing of the
    transport (ocpp_router) imports it, so importing the transport patches nothing.
    """

    name = "server_runtime"
    verbose_name = "Server runtime"
