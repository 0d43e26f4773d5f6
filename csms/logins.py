"""Password logins (the admin's, the API browser's) under the failed-authentication limits
(csms.auth_limits): per user name and per source address."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from csms import auth_limits

LOCKED = (
    "<!doctype html><title>Too many failed logins</title><h1>Too many failed logins</h1>"
    "<p>Logins for this user name or from this address are locked for {wait} s after "
    "repeated wrong passwords. Try again later.</p>"
)


def limited_login(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Wrap a login view: a locked user name or address is answered 429 with Retry-After
    before its password is checked; a POST that does not log in counts as a failure, one
    that does clears the user name's count."""

    @functools.wraps(view)
    def login(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method != "POST":
            return view(request, *args, **kwargs)
        limited = auth_limits.keys(
            auth_limits.LOGIN,
            identity=str(request.POST.get("username", ""))[:150].lower(),
            address=auth_limits.client_address(
                request.META.get("REMOTE_ADDR", ""), request.META.get("HTTP_X_FORWARDED_FOR", "")
            ),
        )
        wait = auth_limits.retry_after(limited)
        if wait:
            response = HttpResponse(LOCKED.format(wait=wait), status=429)
            response["Retry-After"] = str(wait)
            return response
        was_authenticated = request.user.is_authenticated
        response = view(request, *args, **kwargs)
        if request.user.is_authenticated and not was_authenticated:
            auth_limits.succeeded(limited)
        elif not request.user.is_authenticated:
            auth_limits.failed(limited)
        return response

    return login
