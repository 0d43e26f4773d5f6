from django.contrib import admin
from django.urls import include, path

from stations.api.password import StationPasswordView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("files/", include("firmware.urls")),
    path("api/stations/<str:identity>/password", StationPasswordView.as_view()),
    path("api/", include("smartcharging.api.urls")),
    path("api/", include("certificates.api.urls")),
    path("api/", include("devicemodel.api.urls")),
    path("api/", include("firmware.api.urls")),
    path("api/", include("integrations.api.urls")),
    path("api/", include("transactions.api.urls")),
]
