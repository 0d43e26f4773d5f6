from django.apps import AppConfig


class EmulatorConfig(AppConfig):
    name = "emulator"
    verbose_name = "Charging station emulator"
