import pytest
from django.test import Client

from omnichannel.consent.models import ConsentRecord, ConsentWording
from omnichannel.consent.services import has_consent, record_consent
from omnichannel.consent.unsubscribe import preference_centre_url
from omnichannel.profiles.models import Preference
from omnichannel.profiles.services import identify, record_preference
from tests.factories import TopicFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def profile():
    profile = identify(email="zoe.sample@example.com", phone="+447700900789")
    record_consent(profile, "email", True, source="popup")
    return profile


def path_of(url):
    return url.replace("https://shop.example", "")


def open_centre(profile):
    client = Client(enforce_csrf_checks=True)
    path = path_of(preference_centre_url(profile))
    page = client.get(path)
    return client, path, page


def test_centre_shows_channels_topics_and_wording(profile):
    TopicFactory(slug="new-arrivals", name="New arrivals")
    ConsentWording.objects.create(
        version="sms-2026",
        channel="sms",
        purpose="marketing",
        text="Texts with offers.",
    )
    _client, _path, page = open_centre(profile)
    assert page.status_code == 200
    form = page.context["form"]
    assert form["channel_email"].value() is True
    assert form["channel_sms"].value() is False
    assert "channel_push" not in form.fields
    assert form["topic_new-arrivals"].value() is True
    assert b"Texts with offers." in page.content
    assert ConsentRecord.objects.count() == 1


def test_centre_saves_only_changes_with_wording(profile):
    TopicFactory(slug="new-arrivals", name="New arrivals")
    ConsentWording.objects.create(
        version="sms-2026", channel="sms", purpose="marketing", text="Texts."
    )
    record_preference(profile, "interest", "tea", source="popup:quiz")
    client, path, page = open_centre(profile)
    preference = Preference.objects.get()
    response = client.post(
        path,
        {
            "csrfmiddlewaretoken": page.context["csrf_token"],
            "channel_email": "on",
            "channel_sms": "on",
            f"remove_{preference.pk}": "on",
        },
        REMOTE_ADDR="203.0.113.5",
    )
    assert response.status_code == 302
    assert has_consent(profile, "email") is True
    assert has_consent(profile, "sms") is True
    assert has_consent(profile, "email", topic="new-arrivals") is False
    sms = ConsentRecord.objects.get(channel="sms", topic="")
    assert sms.wording_version == "sms-2026"
    assert sms.source == "preference-centre"
    assert sms.ip_address == "203.0.113.5"
    assert ConsentRecord.objects.filter(channel="email", topic="").count() == 1
    assert Preference.objects.count() == 0
    # The topic choice holds on every channel shown: email, SMS and WhatsApp.
    assert ConsentRecord.objects.filter(topic="new-arrivals").count() == 3

    client.post(
        path,
        {
            "csrfmiddlewaretoken": page.context["csrf_token"],
            "channel_email": "on",
            "channel_sms": "on",
        },
    )
    assert ConsentRecord.objects.count() == 5


def test_centre_needs_csrf_token(profile):
    client, path, _page = open_centre(profile)
    response = client.post(path, {"channel_email": ""})
    assert response.status_code == 403
    assert has_consent(profile, "email") is True


def test_centre_bad_token_is_400():
    response = Client().get("/omnichannel/preferences/not-a-real-token-value-here/")
    assert response.status_code == 400


def test_centre_for_signed_in_user(profile, django_user_model):
    user = django_user_model.objects.create_user("zoe", password="pw-for-tests")
    identify(user=user, email="zoe.sample@example.com")
    client = Client()
    client.force_login(user)
    response = client.get("/omnichannel/preferences/")
    assert response.status_code == 200
    assert response.context["profile"].pk == profile.pk


def test_centre_anonymous_redirects_to_login(settings):
    response = Client().get("/omnichannel/preferences/")

    assert response.status_code == 302
    assert response["Location"].startswith(settings.LOGIN_URL)
    assert "next=/omnichannel/preferences/" in response["Location"]
    assert "private" in response["Cache-Control"]
