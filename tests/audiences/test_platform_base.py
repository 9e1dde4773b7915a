"""The shared platform plumbing: back-off, secrets, loading and custom platforms."""

import socket
from datetime import timedelta

import pytest

from omnichannel.audiences import services
from omnichannel.audiences.models import Audience, SyncStatus
from omnichannel.audiences.platforms import get_platform, platform_choices
from omnichannel.audiences.platforms.base import (
    AdPlatform,
    BatchResult,
    Secret,
    chunked,
    parse_retry_after,
)
from omnichannel.exceptions import PlatformNotConfigured, PlatformUnavailable
from tests.audiences.helpers import customer
from tests.factories import AudienceFactory, SegmentFactory


class RecordingPlatform(AdPlatform):
    """A shop's own platform: keeps what it receives in a class-level list."""

    label = "Recording"
    max_batch_size = 3
    default_options = {"BASE_URL": "https://ads.example", "API_KEY": None}
    credential_options = ("API_KEY",)
    calls: list = []

    def hash_contact(self, contact):
        return {"email": contact.email} if contact.email else {}

    def add_members(self, audience, rows):
        self.calls.append(("add", audience.external_id, list(rows)))
        return BatchResult(received=len(rows))

    def remove_members(self, audience, rows):
        self.calls.append(("remove", audience.external_id, list(rows)))
        return BatchResult(received=len(rows))


def test_retry_delay_doubles_with_jitter(settings):
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "AUDIENCE_RETRY_BASE_DELAY": timedelta(seconds=2),
        "AUDIENCE_RETRY_MAX_DELAY": timedelta(seconds=60),
    }

    for attempt, ceiling in [(1, 2), (2, 4), (3, 8), (6, 60), (20, 60)]:
        for _ in range(20):
            delay = AdPlatform.retry_delay(attempt, None)
            assert ceiling / 2 <= delay <= ceiling


def test_retry_delay_honours_platform_wait(settings):
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "AUDIENCE_RETRY_MAX_DELAY": timedelta(seconds=60),
    }

    assert AdPlatform.retry_delay(1, 42.0) == 42.0
    assert AdPlatform.retry_delay(1, 61.0) is None


def test_parse_retry_after():
    assert parse_retry_after("30") == 30.0
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT") is None
    assert parse_retry_after(None) is None


def test_secret_hidden_in_text():
    secret = Secret("very-secret")

    assert "very-secret" not in repr(secret)
    assert "very-secret" not in str(secret)
    assert "very-secret" not in f"{secret} {[secret]}"
    assert secret.reveal() == "very-secret"
    assert secret == Secret("very-secret")


def test_chunked_splits_rows():
    assert chunked([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]


def test_unknown_platform_key_explained(settings):
    settings.OMNICHANNEL = {**settings.OMNICHANNEL, "AUDIENCE_PLATFORMS": {}}

    with pytest.raises(PlatformNotConfigured, match="No ad platform 'meta'"):
        get_platform("meta")


def test_platform_choices_survive_broken_backend(settings):
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "AUDIENCE_PLATFORMS": {
            "mine": {"BACKEND": f"{__name__}.RecordingPlatform"},
            "broken": {"BACKEND": "nowhere.Platform"},
        },
    }

    assert platform_choices() == [("mine", "Recording (mine)"), ("broken", "broken")]


@pytest.mark.django_db
def test_custom_platform_by_dotted_path(settings):
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "AUDIENCE_PLATFORMS": {
            "mine": {"BACKEND": f"{__name__}.RecordingPlatform", "API_KEY": "k"}
        },
    }
    RecordingPlatform.calls = []
    segment = SegmentFactory()
    for n in range(4):
        customer(segment, email=f"customer{n}@example.com")
    audience = AudienceFactory(segment=segment, platform="mine", external_id="77")

    run = services.sync_audience(audience.pk)

    assert run.status == SyncStatus.OK
    assert [(verb, len(rows)) for verb, _, rows in RecordingPlatform.calls] == [
        ("add", 3),
        ("add", 1),
    ]


def test_connection_refused_not_in_doubt(settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "AUDIENCE_RETRY_MAX_ATTEMPTS": 1,
        "AUDIENCE_PLATFORMS": {
            "meta": {
                "BACKEND": "omnichannel.audiences.platforms.meta.MetaPlatform",
                "BASE_URL": f"http://127.0.0.1:{port}",
                "ACCESS_TOKEN": "token",
            }
        },
    }

    with pytest.raises(PlatformUnavailable) as caught:
        get_platform("meta").add_members(
            Audience(external_id="1"), [{"EMAIL": "0" * 64}]
        )

    assert caught.value.code == "connect"
    assert caught.value.in_doubt is False
    assert caught.value.retryable is True
