"""Daphne's development server, with station sockets that stay open (see server_runtime.server)."""

from daphne.management.commands.runserver import Command as DaphneRunserver

from server_runtime.server import CsmsServer


class Command(DaphneRunserver):
    server_cls = CsmsServer
