from django.urls import path

from dashboard import views

app_name = "dashboard"
urlpatterns = [
    path("", views.dashboard, name="index"),
    path("state.json", views.dashboard_state, name="state"),
    path("overview.json", views.overview_state, name="overview"),
    path("station/<path:identity>", views.station_page, name="station"),
]
