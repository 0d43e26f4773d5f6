"""What the transport asks of its ASGI server beyond the websocket specification.

`server_runtime.server.CsmsServer` provides each of these; another ASGI server may provide
none, and the consumer then falls back (a refusal becomes a plain close, no probe pings).

- A consumer refusing a handshake closes with `refusal_close_code(http_status)`; the server
  answers the upgrade with that HTTP status (401, 404, 429, ...) instead of 403, with the
  headers the close message lists under `REFUSAL_HEADERS` (Retry-After).
- `PING`: the scope extension under which the consumer may send `{"type": "websocket.ping"}`
  and receives `{"type": "websocket.pong"}` when the station answers.
- `PEER`: `{"host": ...}`, the address the socket really comes from (before any
  X-Forwarded-For rewriting).
- `TLS`: what the handshake needs to know of a TLS socket (see `server_runtime.server.tls_scope`).
"""

from __future__ import annotations

# A consumer refusing a handshake closes with 4000 + the HTTP status it wants answered.
REFUSAL_CLOSE_BASE = 4000

REFUSAL_HEADERS = "csms.headers"

PING = "websocket.ping"
PEER = "csms.peer"
TLS = "tls"


def refusal_close_code(http_status: int) -> int:
    return REFUSAL_CLOSE_BASE + http_status
