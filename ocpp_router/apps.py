from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class OcppRouterConfig(AppConfig):
    name = "ocpp_router"
    verbose_name = "OCPP router"

    def ready(self) -> None:
        # Each functional app registers its OCPP handlers in its `ocpp_handlers` module.
        autodiscover_modules("ocpp_handlers")
