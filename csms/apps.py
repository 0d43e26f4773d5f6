from django.apps import AppConfig


class CsmsConfig(AppConfig):
    name = "csms"
    verbose_name = "CSMS"

    def ready(self) -> None:
        from csms import checks  # noqa: F401  (registers the checks)
