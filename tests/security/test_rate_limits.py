"""Rate limits of the public endpoints with the locmem cache: 429, Retry-After and
a clear message once a client is over its scope's rate."""

import pytest
from django.core.checks import run_checks
from django.urls import reverse
from rest_framework.test import APIClient

from omnichannel.authentication import API_SCOPES
from omnichannel.consent.unsubscribe import make_unsubscribe_token
from omnichannel.profiles.models import Event
from omnichannel.profiles.services import identify
from omnichannel.security import ratelimit
from tests.factories import api_key

pytestmark = pytest.mark.django_db


def _limits(settings, **rates):
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "RATE_LIMITS": rates,
    }


def _assert_limited(response):
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    retry_after = int(response["Retry-After"])
    # DRF words the message of REST views, the app that of plain Django views.
    assert f"{retry_after} second" in response.content.decode()


def _event(client):
    return client.post(
        reverse("omnichannel:api-events"),
        {"event": "page_viewed", "email": "zoe@shop.example"},
        format="json",
    )


def test_events_limited_per_api_key(settings):
    _limits(settings, events="3/min")
    first, second = APIClient(), APIClient()
    first.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key(*API_SCOPES)}")
    second.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key(*API_SCOPES)}")

    accepted = [_event(first).status_code for _ in range(3)]
    refused = _event(first)
    other_key = _event(second)

    assert all(status in (200, 201) for status in accepted)
    _assert_limited(refused)
    assert refused.json()["code"] == "throttled"
    assert other_key.status_code in (200, 201)
    assert Event.objects.count() == 4


def test_identify_limited(settings, api):
    _limits(settings, identify="2/min")
    url = reverse("omnichannel:api-identify")

    responses = [
        api.post(url, {"email": f"c{index}@shop.example"}, format="json")
        for index in range(3)
    ]

    assert [response.status_code for response in responses[:2]] == [201, 201]
    _assert_limited(responses[2])


def test_api_limit_documented_in_schema(client):
    schema = client.get(reverse("omnichannel:api-schema"), {"format": "json"}).json()

    responses = schema["paths"]["/omnichannel/api/events/"]["post"]["responses"]
    assert "429" in responses


def test_tracking_limited_per_ip(settings, client):
    _limits(settings, tracking="2/min")
    url = reverse("omnichannel:track-open", args=["forged"])

    responses = [client.get(url, REMOTE_ADDR="198.51.100.7") for _ in range(3)]
    other_ip = client.get(url, REMOTE_ADDR="198.51.100.8")

    assert [response.status_code for response in responses[:2]] == [200, 200]
    _assert_limited(responses[2])
    assert responses[2]["Content-Type"].startswith("text/plain")
    assert other_ip.status_code == 200


def test_forwarded_for_ignored_without_proxies(settings, client):
    _limits(settings, tracking="1/min")
    url = reverse("omnichannel:track-open", args=["forged"])

    client.get(url, HTTP_X_FORWARDED_FOR="203.0.113.1")
    spoofed = client.get(url, HTTP_X_FORWARDED_FOR="203.0.113.2")

    _assert_limited(spoofed)


def test_unsubscribe_page_limited(settings, client):
    _limits(settings, consent_pages="2/min")
    profile = identify(email="zoe@shop.example")
    url = reverse("omnichannel:unsubscribe", args=[make_unsubscribe_token(profile)])

    responses = [client.get(url) for _ in range(3)]

    assert [response.status_code for response in responses[:2]] == [200, 200]
    _assert_limited(responses[2])


def test_widget_endpoints_limited_with_json(settings, client):
    _limits(settings, widget="1/min")
    url = reverse("omnichannel:onsite-messages")

    client.get(url)
    response = client.get(url)

    _assert_limited(response)
    assert response.json()["code"] == "throttled"


def test_inbound_webhooks_limited(settings):
    _limits(settings, inbound="1/min")
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "INBOUND_WEBHOOK_SECRET": "inbound-secret-for-the-attack-suite-0123456789",
        "CONVERSATION_BOT": None,
    }
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION="Bearer inbound-secret-for-the-attack-suite-0123456789"
    )
    url = reverse("omnichannel:inbound_sms")
    payload = {"sender": "+4915112345678", "text": "Hi"}

    client.post(url, payload, format="json")
    response = client.post(url, payload, format="json")

    _assert_limited(response)


def test_none_turns_scope_off(settings, client):
    _limits(settings, tracking=None)
    url = reverse("omnichannel:track-open", args=["forged"])

    statuses = {client.get(url).status_code for _ in range(30)}

    assert statuses == {200}


def test_scopes_left_out_keep_defaults(settings):
    _limits(settings, events="5/min")

    rates = ratelimit.rates()

    assert rates["events"] == "5/min"
    assert rates["identify"] == "300/min"


def test_hit_counts_in_fixed_windows(settings):
    _limits(settings, api="2/min")

    results = [ratelimit.hit("api", "ip:1", now=120.0 + step) for step in range(3)]
    next_window = ratelimit.hit("api", "ip:1", now=180.0)

    assert results[:2] == [None, None]
    assert results[2].retry_after == 58
    assert next_window is None


@pytest.mark.parametrize(
    ("value", "check_id"),
    [
        ({"events": "fast"}, "omnichannel.E130"),
        ({"nope": "1/min"}, "omnichannel.E130"),
        ({"events": "0/min"}, "omnichannel.E130"),
        (["1/min"], "omnichannel.E130"),
    ],
)
def test_checks_reject_bad_rate_limits(settings, value, check_id):
    settings.OMNICHANNEL = {**settings.OMNICHANNEL, "RATE_LIMITS": value}

    ids = [message.id for message in run_checks()]

    assert check_id in ids


def test_checks_reject_unknown_cache(settings):
    settings.OMNICHANNEL = {**settings.OMNICHANNEL, "RATE_LIMIT_CACHE": "missing"}

    assert "omnichannel.E131" in [message.id for message in run_checks()]


def test_checks_warn_about_dummy_cache(settings):
    settings.CACHES = {
        **settings.CACHES,
        "dummy": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    }
    settings.OMNICHANNEL = {**settings.OMNICHANNEL, "RATE_LIMIT_CACHE": "dummy"}

    assert "omnichannel.W130" in [message.id for message in run_checks()]


@pytest.mark.parametrize("value", ["10.0.0.0/8", [1, 2], None])
def test_checks_reject_bad_allowed_hosts(settings, value):
    settings.OMNICHANNEL = {**settings.OMNICHANNEL, "WEBHOOK_ALLOWED_HOSTS": value}

    assert "omnichannel.E132" in [message.id for message in run_checks()]


def test_checks_warn_without_enum_names(settings):
    settings.SPECTACULAR_SETTINGS = {}

    assert "omnichannel.W131" in [message.id for message in run_checks()]


def test_checks_pass_with_test_settings():
    ids = [message.id for message in run_checks()]

    assert not [check_id for check_id in ids if check_id.startswith("omnichannel.E10")]
    assert "omnichannel.W131" not in ids
