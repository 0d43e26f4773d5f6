from django.apps import AppConfig


class SmartchargingConfig(AppConfig):
    name = "smartcharging"
    verbose_name = "Smart charging"

    def ready(self) -> None:
        from csms import events
        from smartcharging import engine

        events.subscribe(engine.on_event)
