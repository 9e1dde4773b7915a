from datetime import timedelta

import pytest

from omnichannel.checks import check_settings

WEBHOOK = "omnichannel.channels.backends.webhook.WebhookBackend"


def ids(settings, **overrides):
    settings.OMNICHANNEL = {**settings.OMNICHANNEL, **overrides}
    return {message.id for message in check_settings()}


@pytest.mark.django_db
def test_checks_pass_with_defaults(settings):
    assert not {i for i in ids(settings) if i.startswith("omnichannel.E03")}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"CHANNEL_BACKENDS": []}, "omnichannel.E030"),
        ({"CHANNEL_BACKENDS": {"fax": "x.Y"}}, "omnichannel.E030"),
        ({"CHANNEL_BACKENDS": {"sms": "no.such.Backend"}}, "omnichannel.E031"),
        (
            {
                "CHANNEL_BACKENDS": {
                    "sms": "omnichannel.channels.backends.email.EmailBackend"
                }
            },
            "omnichannel.E031",
        ),
        (
            {
                "CHANNEL_BACKENDS": {
                    "sms": {
                        "BACKEND": "omnichannel.channels.backends.sms.TwilioSMSBackend"
                    }
                }
            },
            "omnichannel.E031",
        ),
        ({"QUIET_HOURS": ("9pm", "09:00")}, "omnichannel.E032"),
        ({"QUIET_HOURS": "21:00-09:00"}, "omnichannel.E032"),
        ({"FREQUENCY_CAPS": {"email": 3}}, "omnichannel.E033"),
        ({"RECOMMENDER": "no.such.Recommender"}, "omnichannel.E034"),
        ({"RECOMMENDATION_WINDOW": 5}, "omnichannel.E035"),
        ({"DELIVERY_RETRY_DELAY": timedelta(0)}, "omnichannel.E035"),
        ({"DELIVERY_MAX_ATTEMPTS": 0}, "omnichannel.E035"),
        (
            {
                "CHANNEL_BACKENDS": {
                    "webpush": "omnichannel.channels.backends.webpush.WebPushBackend"
                }
            },
            "omnichannel.E036",
        ),
        (
            {
                "CHANNEL_BACKENDS": {
                    "webhook": {
                        "BACKEND": WEBHOOK,
                        "OPTIONS": {"URL": "https://crm.example/h", "SECRET": "short"},
                    }
                }
            },
            "omnichannel.E037",
        ),
        ({"SITE_URL": "http://shop.example"}, "omnichannel.W030"),
    ],
)
def test_checks_flag_bad_channel_settings(settings, overrides, expected):
    assert expected in ids(settings, **overrides)
