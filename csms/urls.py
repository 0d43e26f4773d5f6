from importlib import import_module

from django.contrib import admin
from django.contrib.auth.views import LoginView
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from rest_framework.permissions import IsAuthenticated
from rest_framework.routers import APIRootView

from csms.api.schema import DocsView, SchemaView
from csms.logins import limited_login
from ocpp_router.registry import REGISTRIES
from ocpp_router.soap.views import central_system
from server_runtime.health import health, ready
from server_runtime.metrics import metrics_view
from stations.api.password import StationPasswordView

# The admin is the operator's console: it names the product.
admin.site.site_header = "CSMS · charging station management"
admin.site.site_title = "CSMS"
admin.site.index_title = "Operations"

# Apps whose `api/urls.py` router is mounted under api/ (several routers share the prefix,
# so one root view lists them all).
API_APPS = [
    "commands",
    "stations",
    "transactions",
    "smartcharging",
    "certificates",
    "devicemodel",
    "firmware",
    "integrations",
]
API_ROOT = {
    prefix: f"{basename}-list"
    for app in API_APPS
    for prefix, _viewset, basename in import_module(f"{app}.api.urls").router.registry
}


def sendable_actions() -> tuple:
    """The OCPP actions the message API documents, per version: the schema is generated
    again when they change."""
    return tuple((version, frozenset(r.sendable)) for version, r in sorted(REGISTRIES.items()))


urlpatterns = [
    path("health", health, name="health"),
    path("ready", ready, name="ready"),
    path("metrics", metrics_view, name="metrics"),
    # Password logins count failures and lock out (csms.auth_limits).
    path("admin/login/", limited_login(admin.site.login)),
    path("admin/", admin.site.urls),
    # OCPP-S (OCPP 1.5/1.6 over SOAP): the CentralSystemService; `?wsdl` serves its WSDL.
    re_path(r"^ocpp/soap/(?P<version>1\.[56])/?$", central_system, name="ocpp-soap"),
    path("dashboard/", include("dashboard.urls")),
    path("files/", include("firmware.urls")),
    path("api/stations/<str:identity>/password", StationPasswordView.as_view()),
    *(path("api/", include(f"{app}.api.urls")) for app in API_APPS),
    path(
        "api/",
        APIRootView.as_view(api_root_dict=API_ROOT, permission_classes=[IsAuthenticated]),
        name="api-root",
    ),
    path("api/schema/", SchemaView.as_view(document_key=sendable_actions), name="schema"),
    path("docs", DocsView.as_view(url_name="schema"), name="docs"),
    path("docs/", RedirectView.as_view(pattern_name="docs", permanent=True)),
    path(
        "api-auth/login/",
        limited_login(LoginView.as_view(template_name="rest_framework/login.html")),
    ),
    path("api-auth/", include("rest_framework.urls")),
]
