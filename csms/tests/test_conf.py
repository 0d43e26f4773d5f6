from django.test import override_settings

from csms.conf import hot_settings


def test_hot_settings_follow_the_settings_they_cache(settings):
    assert hot_settings.CSMS_MESSAGE_LOG_BATCH == settings.CSMS_MESSAGE_LOG_BATCH
    with override_settings(CSMS_MESSAGE_LOG_BATCH=7):
        assert hot_settings.CSMS_MESSAGE_LOG_BATCH == 7
    assert hot_settings.CSMS_MESSAGE_LOG_BATCH == settings.CSMS_MESSAGE_LOG_BATCH
    settings.CSMS_MESSAGE_LOG = False
    assert hot_settings.CSMS_MESSAGE_LOG is False
