from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse

from dashboard.overview import overview_snapshot
from dashboard.selectors import dashboard_snapshot
from stations.models import ChargingStation


@staff_member_required
def dashboard(request):
    context = {
        **admin.site.each_context(request),
        "title": "Live dashboard",
        "stations": dashboard_snapshot(),
    }
    return TemplateResponse(request, "dashboard/index.html", context)


@staff_member_required
def dashboard_state(request):
    """The snapshot again, for a page whose websocket reconnects after a gap."""
    return JsonResponse({"stations": dashboard_snapshot()})


@staff_member_required
def station_page(request, identity: str):
    """The admin page of a station by identity: events name stations by identity only."""
    station = get_object_or_404(ChargingStation, identity=identity)
    return redirect("admin:stations_chargingstation_change", station.pk)


@staff_member_required
def overview_state(request):
    """The overview's figures (the admin's landing page refreshes them on every live event)."""
    return JsonResponse(overview_snapshot())
