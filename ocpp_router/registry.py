"""One registry per OCPP version: what we handle (station -> CSMS) and send (CSMS -> station).

Functional apps fill it from their `ocpp_handlers` modules, which `OcppRouterConfig.ready()`
imports for every installed app (as the admin discovers `admin.py`):

    @ocpp_handler("2.0.1", "Heartbeat")
    def heartbeat(ctx: CallContext, payload: dict) -> dict: ...

    ocpp_sendable("2.0.1", "Reset", "GetVariables")

    @ocpp_result("2.0.1", "GetVariables")
    def get_variables_result(ctx: ResultContext, request: dict, response: dict) -> None: ...

`python manage.py ocpp_actions` prints the registries.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ocpp_router.rpc import VERSIONS

if TYPE_CHECKING:
    from ocpp_router.session import CallContext, Handshake, LogEntry, ResultContext, Session

Payload = dict[str, Any]
Handler = Callable[["CallContext", Payload], Payload | None]
ResultHook = Callable[["ResultContext", Payload, Payload], None]
RequestCheck = Callable[[int, Payload], None]
# Async; returns the answer payload to send instead of our handler's, or None to let the
# handler run. May raise an OcppError to answer a CALLERROR.
CallInterceptor = Callable[["CallContext", Payload], Awaitable[Payload | None]]
ActionClaim = Callable[[str, str], Awaitable[bool]]


@dataclass
class VersionRegistry:
    """Actions of one OCPP version that the CSMS handles and sends."""

    version: str
    handlers: dict[str, Handler] = field(default_factory=dict)
    # Handlers that run on the event loop: no database, no blocking (see `ocpp_handler`).
    inline: set[str] = field(default_factory=set)
    sendable: set[str] = field(default_factory=set)
    result_hooks: dict[str, ResultHook] = field(default_factory=dict)
    # Checks of a command's payload against the station's state before it is sent.
    request_checks: dict[str, RequestCheck] = field(default_factory=dict)


REGISTRIES: dict[str, VersionRegistry] = {version: VersionRegistry(version) for version in VERSIONS}


def _registry(version: str) -> VersionRegistry:
    try:
        return REGISTRIES[version]
    except KeyError:
        raise ValueError(f"Unknown OCPP version {version!r}; expected one of {VERSIONS}") from None


def ocpp_handler(
    version: str, action: str, *, inline: bool = False
) -> Callable[[Handler], Handler]:
    """Register the handler of a station-initiated `action` on `version` connections.

    The handler runs in a worker thread, gets the schema-checked payload and returns the
    answer payload (checked against the response schema before it is sent). Raise an
    `ocpp_router.errors.OcppError` to answer a CALLERROR.

    `inline=True`: the handler runs on the event loop itself, saving two thread hops. Only
    for handlers that neither block nor touch the database (Django refuses ORM calls there);
    a Heartbeat, whose write is batched, is one.
    """

    def register(func: Handler) -> Handler:
        registry = _registry(version)
        if action in registry.handlers and registry.handlers[action] is not func:
            raise ValueError(f"{version} {action} already has a handler")
        registry.handlers[action] = func
        if inline:
            registry.inline.add(action)
        else:
            registry.inline.discard(action)
        return func

    return register


def ocpp_sendable(version: str, *actions: str) -> None:
    """Declare CSMS-initiated actions we send on `version` connections."""
    _registry(version).sendable.update(actions)


def ocpp_request_check(version: str, action: str) -> Callable[[RequestCheck], RequestCheck]:
    """Register a check run before `action` is sent to a station: `check(station_pk, payload)`
    raises ValueError, with the reason for the operator, to refuse the command."""

    def register(func: RequestCheck) -> RequestCheck:
        _registry(version).request_checks[action] = func
        return func

    return register


def ocpp_result(version: str, action: str) -> Callable[[ResultHook], ResultHook]:
    """Register what to record when a station answers our `action` (implies sendable).

    The hook runs in a worker thread on the process holding the station's connection,
    whoever sent the call, before the caller gets the answer.
    """

    def register(func: ResultHook) -> ResultHook:
        registry = _registry(version)
        registry.sendable.add(action)
        registry.result_hooks[action] = func
        return func

    return register


class ConnectionGate(Protocol):
    """Station lifecycle, provided by the stations app. Every method runs in a worker thread."""

    def admit(self, handshake: Handshake) -> Session | None:
        """Return the session to open, or None after calling `handshake.refuse(...)`.

        Set `session.previous_channel` to the channel of a connection that holds the same
        station: the consumer checks it is alive before it accepts (see `duplicate_refused`).
        """

    def duplicate_refused(self, session: Session) -> None:
        """The session was refused: the station's previous connection is alive."""

    def connected(self, session: Session) -> bool:
        """Claim the station for the session's channel, atomically across processes: only if
        the connection holding it is still `session.previous_channel` ("" for none). True
        if claimed; else False, with `session.previous_channel` set to the one holding it."""

    def disconnected(self, session: Session) -> None: ...

    def seen(self, session: Session) -> None: ...


class MessageSink(Protocol):
    """Takes every frame in and out; must not block (the message log writes in batches)."""

    def record(self, entry: LogEntry) -> None: ...


@dataclass
class Hooks:
    gate: ConnectionGate | None = None
    sinks: list[MessageSink] = field(default_factory=list)
    interceptors: list[CallInterceptor] = field(default_factory=list)
    # Which actions an interceptor may answer that no handler of ours serves; without an
    # entry it may answer any. Consulted so that an action nobody serves stays NotSupported.
    interceptor_claims: dict[CallInterceptor, ActionClaim] = field(default_factory=dict)


HOOKS = Hooks()


def set_connection_gate(gate: ConnectionGate) -> None:
    HOOKS.gate = gate


def add_message_sink(sink: MessageSink) -> None:
    HOOKS.sinks.append(sink)


def add_call_interceptor(interceptor: CallInterceptor, claims: ActionClaim | None = None) -> None:
    """Let `interceptor` answer station calls before our handlers (an integration hook).

    Dispatch awaits each interceptor in registration order on the event loop, after the
    request passed schema validation and the boot gate. The first one returning a payload
    answers the call (the payload is checked against the response schema like a handler's);
    None passes on to the next interceptor and finally to our handler. It must not block:
    do network I/O asynchronously and database work through `dispatch.run_in_worker`.

    `claims(version, action)` says whether the interceptor would answer an action that no
    handler of ours serves; such an action is NotSupported unless an interceptor claims it.
    """
    if interceptor not in HOOKS.interceptors:
        HOOKS.interceptors.append(interceptor)
    if claims is not None:
        HOOKS.interceptor_claims[interceptor] = claims


def remove_call_interceptor(interceptor: CallInterceptor) -> None:
    if interceptor in HOOKS.interceptors:
        HOOKS.interceptors.remove(interceptor)
    HOOKS.interceptor_claims.pop(interceptor, None)
