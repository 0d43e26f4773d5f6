from django.contrib import admin
from django.urls import path

from stations.api.password import StationPasswordView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/stations/<str:identity>/password", StationPasswordView.as_view()),
]
