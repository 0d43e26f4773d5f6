"""Extension points of the station page in the admin, for the other apps' admin modules.

    from stations.admin_panels import register_station_inline, register_station_panel

    @register_station_panel("active_transaction", "Active transaction", order=10)
    def active_transaction(request, station) -> str:
        return format_html(...)          # safe HTML, rendered on the station page

    register_station_inline(TransactionInline)   # an InlineModelAdmin with an FK to the station

    register_station_operation(
        "update_firmware", "Update firmware", form=FirmwareForm, perform=send_update
    )   # a button and a form page on the station page; perform returns a CommandResult

A panel registered under a key that exists replaces it: the "active_transaction" placeholder
below is meant to be replaced by the transactions app.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib.admin.options import InlineModelAdmin
from django.http import HttpRequest
from django.utils.html import format_html

from stations.models import ChargingStation

PanelRenderer = Callable[[HttpRequest, ChargingStation], str]


@dataclass(frozen=True)
class StationPanel:
    key: str
    title: str
    render: PanelRenderer
    order: int = 100


@dataclass(frozen=True)
class StationOperation:
    """A station-page command that is more than one OCPP call's schema: its own form (built
    with `form(station, data)`) and `perform(request, station, cleaned_data)`, which sends
    and returns a `stations.admin_commands.CommandResult` for the operator."""

    key: str
    label: str
    form: Callable[..., forms.Form]
    perform: Callable[[HttpRequest, ChargingStation, dict[str, Any]], Any]
    versions: Collection[str] | None = None

    def offered_to(self, station: ChargingStation) -> bool:
        return bool(station.protocol) and (
            self.versions is None or station.protocol in self.versions
        )


_panels: dict[str, StationPanel] = {}
_operations: dict[str, StationOperation] = {}
_inlines: list[type[InlineModelAdmin]] = []


def register_station_panel(
    key: str, title: str, *, order: int = 100
) -> Callable[[PanelRenderer], PanelRenderer]:
    """Show `render(request, station)` (safe HTML) as a titled panel on the station page."""

    def register(render: PanelRenderer) -> PanelRenderer:
        _panels[key] = StationPanel(key=key, title=title, render=render, order=order)
        return render

    return register


def register_station_inline(inline: type[InlineModelAdmin]) -> type[InlineModelAdmin]:
    """Add an inline (of a model with a foreign key to ChargingStation) to the station page."""
    if inline not in _inlines:
        _inlines.append(inline)
    return inline


def register_station_operation(
    key: str,
    label: str,
    *,
    form: Callable[..., forms.Form],
    perform: Callable[[HttpRequest, ChargingStation, dict[str, Any]], Any],
    versions: Collection[str] | None = None,
) -> StationOperation:
    """Offer an operation on the station page (of stations speaking one of `versions`)."""
    operation = StationOperation(key, label, form, perform, versions)
    _operations[key] = operation
    return operation


def station_operation(key: str) -> StationOperation | None:
    return _operations.get(key)


def station_operations(station: ChargingStation) -> list[StationOperation]:
    return [op for op in _operations.values() if op.offered_to(station)]


def station_inlines() -> list[type[InlineModelAdmin]]:
    return list(_inlines)


def station_panels(request: HttpRequest, station: ChargingStation) -> list[tuple[str, str, str]]:
    """(key, title, html) of every registered panel, in order."""
    panels = sorted(_panels.values(), key=lambda p: (p.order, p.title))
    return [(p.key, p.title, p.render(request, station)) for p in panels]


@register_station_panel("active_transaction", "Active transaction", order=10)
def _no_transactions_yet(request: HttpRequest, station: ChargingStation) -> str:
    return format_html("<p>{}</p>", "Transactions are not recorded yet.")
