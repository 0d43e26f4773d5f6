"""The server runtime: Daphne/Twisted/autobahn adjustments, `serve`, workers, GC policy, nodes.

ocpp_router is the transport (framing, validation, registry, dispatch, outbound calls) and
runs on any ASGI server; this package is the server we run it on.
"""
