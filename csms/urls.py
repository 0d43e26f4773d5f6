from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from stations.api.password import StationPasswordView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("dashboard/", include("dashboard.urls")),
    path("files/", include("firmware.urls")),
    path("api/stations/<str:identity>/password", StationPasswordView.as_view()),
    path("api/", include("commands.api.urls")),
    path("api/", include("stations.api.urls")),
    path("api/", include("transactions.api.urls")),
    path("api/", include("smartcharging.api.urls")),
    path("api/", include("certificates.api.urls")),
    path("api/", include("devicemodel.api.urls")),
    path("api/", include("firmware.api.urls")),
    path("api/", include("integrations.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api-auth/", include("rest_framework.urls")),
]
