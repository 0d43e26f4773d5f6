from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Live dashboard"

    def ready(self) -> None:
        from csms import events
        from dashboard.live import forward_event

        events.subscribe(forward_event)
