"""Daphne's development server, with station sockets that stay open (see ocpp_router.server)."""

from daphne.management.commands.runserver import Command as DaphneRunserver

from ocpp_router.server import CsmsServer


class Command(DaphneRunserver):
    server_cls = CsmsServer
