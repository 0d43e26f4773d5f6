"""Cursor pagination for the large append-only tables (message log, meter values, events).

Offsets grow slower the deeper one pages and skip or repeat rows while new ones arrive; a
cursor on (timestamp, id) stays cheap and stable. The cursor fixes the order, so these
endpoints take no `ordering` parameter.
"""

from __future__ import annotations

from rest_framework.pagination import CursorPagination


class NewestFirstCursorPagination(CursorPagination):
    ordering = ("-timestamp", "-id")
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
