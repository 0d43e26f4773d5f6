"""Who sends a call: the authenticated user of the HTTP request being served.

Services deep below a view (firmware, transactions, passwords) send their calls through
`commands.services.command_send` without a `user` argument; the command record still names
the operator, because this middleware keeps the request at hand for the time it is served.
The user is read when the call is sent, so DRF's token authentication, which happens in the
view, counts as well (DRF sets the user on the Django request too).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import sync_and_async_middleware

_request: ContextVar[HttpRequest | None] = ContextVar("commands_request", default=None)


def request_user() -> Any:
    """The user of the request being served, or None outside a request."""
    request = _request.get()
    return getattr(request, "user", None) if request is not None else None


@sync_and_async_middleware
def command_sender_middleware(get_response: Callable[[HttpRequest], Any]) -> Any:
    if iscoroutinefunction(get_response):

        async def middleware_async(request: HttpRequest) -> HttpResponse:
            token = _request.set(request)
            try:
                response: Awaitable[HttpResponse] = get_response(request)
                return await response
            finally:
                _request.reset(token)

        return markcoroutinefunction(middleware_async)

    def middleware(request: HttpRequest) -> HttpResponse:
        token = _request.set(request)
        try:
            return get_response(request)
        finally:
            _request.reset(token)

    return middleware
