"""An APIView whose handlers are coroutines.

DRF runs views synchronously; under ASGI every sync view shares Django's single
thread-sensitive executor, so a view that waits 30 s for a station would stall all others.
This view keeps DRF's request parsing, authentication, permissions, exceptions and
rendering, runs authentication and permission checks (database work) in a thread that is
not thread-sensitive, and awaits its `async def post(...)` on the event loop.
"""

from __future__ import annotations

import inspect

from rest_framework.views import APIView

from csms.db import db


class AsyncAPIView(APIView):
    async def dispatch(self, request, *args, **kwargs):
        self.args = args
        self.kwargs = kwargs
        request = self.initialize_request(request, *args, **kwargs)
        self.request = request
        self.headers = self.default_response_headers
        try:
            await db(self.initial)(request, *args, **kwargs)
            method = request.method.lower()
            handler = (
                getattr(self, method, self.http_method_not_allowed)
                if method in self.http_method_names
                else self.http_method_not_allowed
            )
            response = handler(request, *args, **kwargs)
            if inspect.isawaitable(response):
                response = await response
        except Exception as exc:
            response = self.handle_exception(exc)
        self.response = self.finalize_response(request, response, *args, **kwargs)
        return self.response
