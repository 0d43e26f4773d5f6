"""System checks that keep an unsafe configuration from reaching production."""

from django.conf import settings
from django.core.checks import Error, register


@register("security", deploy=False)
def dev_secret_key_in_production(app_configs, **kwargs):
    if not settings.DEBUG and settings.SECRET_KEY == settings.DEV_SECRET_KEY:
        return [
            Error(
                "CSMS_SECRET_KEY is not set while CSMS_DEBUG is off.",
                hint="Set CSMS_SECRET_KEY to a long random value before running in production.",
                id="csms.E001",
            )
        ]
    return []
