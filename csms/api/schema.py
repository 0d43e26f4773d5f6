"""/api/schema/ and /docs: the OpenAPI document is generated once per process and served from
memory; CSMS_API_SCHEMA_AUTH makes both need an authenticated user.

Generating the document costs about 0.8 s of CPU (942 KB of JSON, one typed path per OCPP
action and version): per request, 60 requests pushed a station's heartbeat p99 from 10 to
581 ms, and drf-spectacular's generator is not safe to run in several threads at once (the
first concurrent requests after a start answered 500). One generation runs at a time, under
a lock; it runs again only when `document_key()` changes (csms.urls passes the OCPP actions
declared sendable: an app may declare one after start, and the message API's paths come from
them).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.utils import translation
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated

_lock = threading.Lock()
# (document key, version, language, media type) -> (body, Content-Disposition)
_schemas: dict[tuple, tuple[bytes, str]] = {}


def schema_permissions() -> list[BasePermission]:
    return [IsAuthenticated()] if settings.CSMS_API_SCHEMA_AUTH else [AllowAny()]


class SchemaView(SpectacularAPIView):
    """The OpenAPI 3 document of the data and message APIs (YAML, or JSON by content
    negotiation), generated once per process."""

    # What the document depends on besides the code (`as_view(document_key=...)`).
    document_key: Callable[[], Hashable] = staticmethod(lambda: None)

    def get_permissions(self) -> list[BasePermission]:
        return schema_permissions()

    @extend_schema(exclude=True)
    def get(self, request: Any, *args: Any, **kwargs: Any) -> HttpResponse:
        version = self.api_version or request.version or self._get_version_parameter(request)
        language = request.GET.get("lang") or translation.get_language()
        key = (self.document_key(), version, language, request.accepted_media_type)
        document = _schemas.get(key)
        if document is None:
            with _lock:
                document = _schemas.get(key)
                if document is None:
                    document = self._generate(request, *args, **kwargs)
                    if key[0] == self.document_key():
                        for stale in [k for k in _schemas if k[0] != key[0]]:
                            del _schemas[stale]
                        _schemas[key] = document
        body, disposition = document
        content_type = request.accepted_media_type
        if request.accepted_renderer.charset:
            content_type += f"; charset={request.accepted_renderer.charset}"
        return HttpResponse(
            body, content_type=content_type, headers={"Content-Disposition": disposition}
        )

    def _generate(self, request: Any, *args: Any, **kwargs: Any) -> tuple[bytes, str]:
        response = super().get(request, *args, **kwargs)
        renderer = request.accepted_renderer
        body = renderer.render(
            response.data, request.accepted_media_type, self.get_renderer_context()
        )
        return body, response["Content-Disposition"]


class DocsView(SpectacularSwaggerSplitView):
    """Swagger UI; its script is a file of its own, so the page needs no inline script
    (the Content-Security-Policy allows none without a nonce)."""

    def get_permissions(self) -> list[BasePermission]:
        return schema_permissions()
