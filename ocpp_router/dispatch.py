"""Station CALL -> validate -> handler -> validate the answer. And result hooks for our calls.

Handlers run in a dedicated thread pool, not in Channels' single thread-sensitive executor,
so one slow database write never queues every other station behind it.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

from asgiref.sync import SyncToAsync
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections

from csms import metrics
from csms.conf import hot_settings
from csms.outage import DATABASE, is_connection_error
from ocpp_router import errors, gate, validation
from ocpp_router.registry import HOOKS, REGISTRIES, CallInterceptor, Handler
from ocpp_router.rpc import Call, CallError, CallResult, error_frame
from ocpp_router.session import CallContext, ResultContext, Session

logger = logging.getLogger(__name__)

T = TypeVar("T")


class HandlerPool:
    """The handler threads: calls go in through one queue, results come back to the loop.

    Lighter than `loop.run_in_executor` on a ThreadPoolExecutor, which costs the event loop
    a concurrent Future (with its own lock and condition) and a chained asyncio future per
    call: a tenth of the loop's time per frame under load. Threads are daemons: at exit a
    handler still running is cut off; its transaction rolls back and the station, which got
    no answer, sends its call again.
    """

    def __init__(self, size: int):
        self.size = size
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.threads: list[threading.Thread] = []
        self.lock = threading.Lock()
        # Calls taken (by the loop) and finished (by the threads): their difference is busy.
        self.taken = 0
        self.finished = 0
        self.done_lock = threading.Lock()

    def run(
        self,
        loop: asyncio.AbstractEventLoop,
        func: Callable[..., T],
        args: tuple[Any, ...],
    ) -> asyncio.Future[T]:
        if len(self.threads) < self.size:
            self._start()
        future: asyncio.Future[T] = loop.create_future()
        self.taken += 1
        self.queue.put((loop, future, contextvars.copy_context(), func, args))
        return future

    def busy(self) -> int:
        """Calls queued or running (for a graceful shutdown: server_runtime.shutdown)."""
        return self.taken - self.finished

    def _start(self) -> None:
        with self.lock:
            while len(self.threads) < self.size:
                thread = threading.Thread(
                    target=self._work,
                    name=f"ocpp-handler_{len(self.threads)}",
                    daemon=True,
                )
                thread.start()
                self.threads.append(thread)

    def _work(self) -> None:
        while True:
            loop, future, context, func, args = self.queue.get()
            try:
                result = context.run(_in_worker, loop, func, args)
            except BaseException as exc:
                _resolve(loop, future.set_exception, future, exc)
            else:
                _resolve(loop, future.set_result, future, result)
            finally:
                with self.done_lock:
                    self.finished += 1
            del loop, future, context, func, args


def _resolve(
    loop: asyncio.AbstractEventLoop,
    setter: Callable[[Any], None],
    future: asyncio.Future[Any],
    value: Any,
) -> None:
    try:
        loop.call_soon_threadsafe(_settle, setter, future, value)
    except RuntimeError:
        pass  # the loop is closed: nobody waits for this result any more


def _settle(setter: Callable[[Any], None], future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():  # the awaiting task may have been cancelled meanwhile
        setter(value)


@cache
def pool() -> HandlerPool:
    return HandlerPool(settings.CSMS_HANDLER_THREADS)


_thread_state = threading.local()

# Bumped whenever a handler thread finds the database unreachable: every other handler
# thread then checks its own connections before its next call (see `_check_connections`).
_failures = [0]


def _check_connections() -> None:
    """Django's request cycle checks connections before and after every request; with
    CONN_HEALTH_CHECKS that costs a round trip per message. A handler thread checks (and
    recycles connections past CONN_MAX_AGE) at most every CSMS_DB_CHECK_INTERVAL seconds,
    and at once after any handler thread met a broken connection: after a database restart
    every connection of the process is dead, not only the one that failed first."""
    now = time.monotonic()
    failures = _failures[0]
    if getattr(_thread_state, "failures", 0) != failures:
        _thread_state.failures = failures
        _thread_state.checked = now
        for connection in connections.all(initialized_only=True):
            if connection.connection is not None and not connection.in_atomic_block:
                if not connection.is_usable():
                    connection.close()
        close_old_connections()
    elif now - getattr(_thread_state, "checked", 0.0) >= hot_settings.CSMS_DB_CHECK_INTERVAL:
        close_old_connections()
        _thread_state.checked = now


def _drop_connections(error: DatabaseError) -> bool:
    """Close this thread's connections after `error`; True if it was a broken connection."""
    for connection in connections.all(initialized_only=True):
        if connection.in_atomic_block:
            continue
        connection.close()
    if not is_connection_error(error):
        return False
    _failures[0] += 1
    DATABASE.failed(error)
    return True


def _with_connections(func: Callable[..., T], *args: Any, retry: bool = False) -> T:
    _check_connections()
    try:
        result = func(*args)
    except DatabaseError as error:
        if not (_drop_connections(error) and retry):
            raise
        # `func` is safe to run again (`retry`): once more, on a new connection.
        result = func(*args)
    if DATABASE.down:
        _confirm_recovery()
    return result


def _confirm_recovery() -> None:
    """During an outage: a connection of this thread that is open and answers ends it."""
    for connection in connections.all(initialized_only=True):
        if connection.connection is None or connection.in_atomic_block:
            continue
        if connection.is_usable():
            DATABASE.recovered()
            return
        connection.close()


async def run_in_worker(func: Callable[..., T], *args: Any, retry: bool = False) -> T:
    """Run blocking (database) work in the handler pool.

    `retry`: `func` may run twice (it only reads, or writes what it writes again the same
    way): if the database connection it got turns out broken, it runs once more on a new one
    instead of failing (a station's admission right after a database restart).

    What asgiref's `sync_to_async(thread_sensitive=False)` does, without its per-call
    bookkeeping (a third of the event loop's cost of a handler call under load): the
    context is copied, and the worker thread learns the server's loop, so that
    `async_to_sync` in a handler (a channel layer send) runs there. See `HandlerPool`.
    """
    if retry:
        return await pool().run(asyncio.get_running_loop(), _retrying, (func, *args))
    return await pool().run(asyncio.get_running_loop(), func, args)


def _retrying(func: Callable[..., T], *args: Any) -> T:
    return func(*args)


def _in_worker(loop: asyncio.AbstractEventLoop, func: Callable[..., T], args: tuple[Any, ...]) -> T:
    local = SyncToAsync.threadlocal
    if getattr(local, "main_event_loop", None) is not loop:
        local.main_event_loop = loop
        local.main_event_loop_pid = os.getpid()
    if func is _retrying:
        retried: T = _with_connections(args[0], *args[1:], retry=True)
        return retried
    return _with_connections(func, *args)


async def handle_call(session: Session, call: Call) -> tuple[CallResult | CallError, CallContext]:
    """Answer one station CALL. Never raises: every failure becomes the CALLERROR it names."""
    version = session.version
    ctx = CallContext(session=session, message_id=call.message_id, action=call.action)
    started = time.perf_counter()
    try:
        payload = await _answer(ctx, call)
    except errors.OcppError as exc:
        ctx.follow_ups.clear()
        if call.action in validation.actions(version):
            metrics.handler_time(version, call.action, started)
        return error_frame(version, call.message_id, exc), ctx
    metrics.handler_time(version, call.action, started)
    return CallResult(call.message_id, payload), ctx


async def _answer(ctx: CallContext, call: Call) -> dict[str, Any]:
    version = ctx.version
    if call.action not in validation.actions(version):
        raise errors.ActionNotImplemented(
            f"Action {call.action[:64]!r} is not known in OCPP {version}"
        )
    handler = REGISTRIES[version].handlers.get(call.action)
    interceptors = list(HOOKS.interceptors)
    if handler is None:
        interceptors = [i for i in interceptors if await _claims(i, version, call.action)]
        if not interceptors:
            raise _not_supported(call.action, version)
    validation.check(version, call.action, "request", call.payload)
    if not gate.may_receive(ctx.session, call.action):
        raise gate.receive_refusal(ctx.session, call.action)
    answer = await _intercepted(interceptors, ctx, call.payload)
    if answer is None:
        if handler is None:
            raise _not_supported(call.action, version)
        inline = call.action in REGISTRIES[version].inline
        answer = await _run_handler(handler, ctx, call.payload, inline=inline)
    answer = {} if answer is None else answer
    if call.send:
        return answer  # a SEND is never answered: nothing to check
    try:
        validation.check(version, call.action, "response", answer)
    except errors.OcppError as exc:
        # A bug of ours must not reach a station.
        logger.error(
            "Answer to %s for station %s does not fit the OCPP %s schema: %s",
            call.action,
            ctx.session.station_id,
            version,
            exc.description,
        )
        raise errors.InternalError() from None
    return answer


async def _claims(interceptor: CallInterceptor, version: str, action: str) -> bool:
    claims = HOOKS.interceptor_claims.get(interceptor)
    return True if claims is None else await claims(version, action)


def _not_supported(action: str, version: str) -> errors.OcppError:
    return errors.NotSupported(f"{action} is not supported by this CSMS on OCPP {version}")


async def _intercepted(
    interceptors: list[CallInterceptor], ctx: CallContext, payload: dict[str, Any]
) -> dict[str, Any] | None:
    """The first interceptor's answer, or None when every one of them passes."""
    for interceptor in interceptors:
        try:
            answer = await interceptor(ctx, payload)
        except errors.OcppError:
            raise
        except Exception as error:
            if is_connection_error(error):
                DATABASE.failed(error)
                raise errors.InternalError("The CSMS cannot reach its database") from None
            logger.exception(
                "Call interceptor %r failed on %s from station %s",
                interceptor,
                ctx.action,
                ctx.session.station_id,
            )
            raise errors.InternalError() from None
        if answer is not None:
            return answer
    return None


async def _run_handler(
    handler: Handler, ctx: CallContext, payload: dict[str, Any], *, inline: bool = False
) -> Any:
    try:
        if inline:
            return handler(ctx, payload)
        return await run_in_worker(handler, ctx, payload)
    except errors.OcppError:
        raise
    except Exception as error:
        if is_connection_error(error):
            # The database is down: logged as an outage (csms.outage), not per frame.
            raise errors.InternalError("The CSMS cannot reach its database") from None
        logger.exception(
            "Handler for %s from station %s failed", ctx.action, ctx.session.station_id
        )
        raise errors.InternalError() from None


async def run_result_hook(
    session: Session,
    message_id: str,
    action: str,
    request: dict[str, Any],
    response: dict[str, Any],
) -> None:
    hook = REGISTRIES[session.version].result_hooks.get(action)
    if hook is None:
        return
    ctx = ResultContext(session=session, message_id=message_id, action=action)
    try:
        await run_in_worker(hook, ctx, request, response)
    except Exception:
        logger.exception(
            "Recording the answer to %s from station %s failed", action, session.station_id
        )
