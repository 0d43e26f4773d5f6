"""Requests the database could not store are refused at the door.

PostgreSQL text cannot hold a NUL character: a NUL byte in a URL path or a query parameter
(`/api/stations/%00/`, `?station_id__in=%00`) would reach a lookup and fail there with
HTTP 500. It is answered 400 here, once for every view (DRF's fields already refuse NUL in
request bodies).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote_to_bytes

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.utils.decorators import sync_and_async_middleware

DETAIL = "The URL holds a NUL character (%00), which no station id or filter value may contain."


def _refused(request: HttpRequest) -> HttpResponse | None:
    query = request.META.get("QUERY_STRING", "")
    if "\x00" not in request.path and b"\x00" not in unquote_to_bytes(query):
        return None
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": DETAIL}, status=400)
    return HttpResponseBadRequest(DETAIL, content_type="text/plain; charset=utf-8")


@sync_and_async_middleware
def nul_byte_middleware(get_response: Callable[[HttpRequest], Any]) -> Any:
    if iscoroutinefunction(get_response):

        async def middleware_async(request: HttpRequest) -> HttpResponse:
            refused = _refused(request)
            if refused is not None:
                return refused
            response: Awaitable[HttpResponse] = get_response(request)
            return await response

        return markcoroutinefunction(middleware_async)

    def middleware(request: HttpRequest) -> HttpResponse:
        refused = _refused(request)
        return refused if refused is not None else get_response(request)

    return middleware
