import pytest

from omnichannel.channels.backends import locmem

LOCMEM = "omnichannel.channels.backends.locmem.LocmemBackend"


@pytest.fixture(autouse=True)
def _clean_channel_outbox():
    locmem.outbox.clear()
    yield
    locmem.outbox.clear()


@pytest.fixture
def channels_settings(settings):
    """Quiet hours 21:00-09:00 recipient-local, shop zone Europe/Paris, UK numbers,
    and every channel but email and on-site sent to the locmem outbox."""
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "DEFAULT_TIME_ZONE": "Europe/Paris",
        "DEFAULT_PHONE_REGION": "GB",
        "QUIET_HOURS": ("21:00", "09:00"),
        "CHANNEL_BACKENDS": {
            channel: {"BACKEND": LOCMEM}
            for channel in ("sms", "push", "webpush", "whatsapp", "webhook")
        },
    }
    return settings
