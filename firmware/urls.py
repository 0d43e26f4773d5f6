from django.urls import path

from firmware import views

app_name = "firmware"

urlpatterns = [
    path("firmware/<str:token>/<str:filename>", views.firmware_download, name="download"),
    path("logs/<str:token>/", views.log_upload, name="upload"),
    path("logs/<str:token>/<str:filename>", views.log_upload, name="upload-named"),
    path("admin/firmware/<int:pk>/", views.admin_firmware_file, name="admin-firmware"),
    path("admin/logs/<int:pk>/", views.admin_log_file, name="admin-log"),
]
