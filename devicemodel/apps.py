from django.apps import AppConfig


class DeviceModelConfig(AppConfig):
    name = "devicemodel"
    verbose_name = "Device model, configuration and monitoring"

    def ready(self) -> None:
        from devicemodel import datatransfer

        datatransfer.load_schema_dir_from_settings()
