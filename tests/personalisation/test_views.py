"""Visitor-facing views: fragments, clicks, impressions, pop-up forms, page caches."""

import json

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from omnichannel.consent.models import ConsentRecord
from omnichannel.personalisation.stats import banner_stats
from omnichannel.profiles.models import Event, Identity, Preference, Profile
from tests.factories import ExperimentFactory, VariantFactory
from tests.personalisation.conftest import (
    join_segment,
    make_banner,
    make_popup,
    make_visitor,
)

pytestmark = pytest.mark.django_db

VISITOR = "1" * 32
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0"


def visitor_client(visitor_id=VISITOR):
    client = Client(HTTP_USER_AGENT=BROWSER)
    client.cookies["omni_vid"] = visitor_id
    return client


def test_fragment_renders_visitor_banner_privately(hero):
    make_banner(
        hero, "vip", title="VIP only", rules={"type": "segment", "segment": "vip"}
    )
    join_segment(make_visitor(VISITOR), "vip")

    response = visitor_client().get(
        reverse("omnichannel:placement-fragment", args=["home-hero"])
    )

    assert response.status_code == 200
    assert b"VIP only" in response.content
    assert "Cookie" in response["Vary"]
    assert "private" in response["Cache-Control"]


def test_click_records_event_and_redirects_to_banner_link(hero):
    banner = make_banner(hero, "parkas", link_url="/categories/winter-jackets/")

    response = visitor_client().get(
        reverse("omnichannel:banner-click", args=[banner.pk])
        + "?next=https://evil.example/"
    )

    assert response.status_code == 302
    assert response["Location"] == "/categories/winter-jackets/"
    event = Event.objects.get(name="banner_clicked")
    assert event.properties["banner"] == banner.pk
    assert event.properties["placement"] == "home-hero"
    assert event.object_id == str(banner.pk)


def test_click_on_banner_without_link_is_rejected(hero):
    banner = make_banner(hero, "plain")

    response = visitor_client().get(
        reverse("omnichannel:banner-click", args=[banner.pk])
    )

    assert response.status_code == 400
    assert not Event.objects.filter(name="banner_clicked").exists()


def test_impressions_become_events_with_variant(hero):
    experiment = ExperimentFactory(key="hero-test", holdout_share=0)
    VariantFactory(experiment=experiment, key="a", is_control=True, weight=1)
    VariantFactory(experiment=experiment, key="b", weight=0)
    banner = make_banner(
        hero,
        "a",
        rules={"type": "experiment", "experiment": "hero-test", "variant": "a"},
    )
    profile = make_visitor(VISITOR)
    client = visitor_client()
    client.get(reverse("omnichannel:placement-fragment", args=["home-hero"]))

    response = client.post(
        reverse("omnichannel:personalisation-events"),
        json.dumps({"banners": [banner.pk]}),
        content_type="application/json",
    )

    assert response.json() == {"recorded": 1}
    event = Event.objects.get(name="banner_viewed")
    assert event.profile_id == profile.pk
    assert event.properties["variant"] == "hero-test/a"
    stats = banner_stats(banner)
    assert stats.impressions == 1
    assert [line.variant for line in stats.variants] == ["hero-test/a"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("not json", "json"),
        ("[1, 2]", "json"),
        ('{"banners": "1"}', "banners"),
        ('{"banners": [true]}', "banners"),
        ('{"banners": [1], "popup": 5}', "popup"),
        (json.dumps({"banners": list(range(21))}), "banners"),
    ],
)
def test_events_reject_bad_body(db, body, code):
    response = visitor_client().post(
        reverse("omnichannel:personalisation-events"),
        body,
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json()["code"] == code
    assert not Event.objects.filter(name="banner_viewed").exists()


def test_popup_view_is_recorded(db):
    make_popup("welcome")

    visitor_client().post(
        reverse("omnichannel:personalisation-events"),
        json.dumps({"popup": "welcome"}),
        content_type="application/json",
    )

    assert Event.objects.get(name="popup_viewed").properties == {"popup": "welcome"}


def capture_popup():
    return make_popup(
        "newsletter",
        collect_email=True,
        consent_text="Send me news and offers by email.",
        consent_version="2026-01",
        preference_key="interest",
        preference_choices=["Men", "Women"],
    )


def test_popup_form_records_consent_and_preference(db):
    capture_popup()
    make_visitor(VISITOR)

    response = visitor_client().post(
        reverse("omnichannel:popup-submit", args=["newsletter"]),
        {
            "email": "ada@example.com",
            "consent": "yes",
            "preference": "Women",
            "page": "/",
        },
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    assert b"signed up" in response.content
    record = ConsentRecord.objects.get()
    assert record.channel == "email"
    assert record.granted is True
    assert record.address == "ada@example.com"
    assert record.source == "popup:newsletter"
    assert record.wording_version == "2026-01"
    assert record.proof["wording"] == "Send me news and offers by email."
    assert record.user_agent == BROWSER
    preference = Preference.objects.get()
    assert (preference.key, preference.value) == ("interest", "Women")
    visitor = Identity.objects.get(kind="visitor", value=VISITOR)
    assert visitor.profile_id == record.profile_id
    assert Event.objects.filter(name="popup_submitted", profile=record.profile).exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"email": "not-an-email", "consent": "yes"}, "email"),
        ({"email": "ada@example.com"}, "consent"),
        (
            {"email": "ada@example.com", "consent": "yes", "preference": "Pets"},
            "preference",
        ),
    ],
)
def test_popup_form_bad_input_stores_nothing(db, data, field):
    capture_popup()

    response = visitor_client().post(
        reverse("omnichannel:popup-submit", args=["newsletter"]), data
    )

    assert response.status_code == 400
    assert f'data-field="{field}"'.encode() in response.content
    assert not ConsentRecord.objects.exists()
    assert not Preference.objects.exists()
    assert not Profile.objects.filter(email="ada@example.com").exists()


def test_popup_form_of_unknown_or_plain_popup_is_rejected(db):
    make_popup("plain")

    for key in ("plain", "missing"):
        response = visitor_client().post(
            reverse("omnichannel:popup-submit", args=[key]),
            {"email": "ada@example.com", "consent": "yes"},
        )
        assert response.status_code == 400
    assert not ConsentRecord.objects.exists()


def test_popup_form_redirect_stays_on_site(db):
    capture_popup()

    response = visitor_client().post(
        reverse("omnichannel:popup-submit", args=["newsletter"]),
        {"email": "ada@example.com", "consent": "yes", "page": "https://evil.example/"},
    )

    assert response.status_code == 302
    assert response["Location"] == "/"


CACHED = {
    "MIDDLEWARE": [
        "django.middleware.cache.UpdateCacheMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "omnichannel.middleware.OmnichannelMiddleware",
        "django.middleware.cache.FetchFromCacheMiddleware",
    ],
    "CACHE_MIDDLEWARE_SECONDS": 300,
    "ROOT_URLCONF": "tests.personalisation.urls",
}


@override_settings(**CACHED)
def test_page_cache_never_shows_one_visitors_banner_to_another(hero):
    from django.core.cache import cache

    cache.clear()
    make_banner(
        hero, "vip", title="VIP offers", rules={"type": "segment", "segment": "vip"}
    )
    make_banner(hero, "generic", title="Generic hero", priority=-1)
    join_segment(make_visitor("2" * 32), "vip")
    make_visitor("3" * 32)
    vip, other = visitor_client("2" * 32), visitor_client("3" * 32)

    first_vip = vip.get("/page/")
    first_other = other.get("/page/")
    again_vip = vip.get("/page/")
    again_other = other.get("/page/")

    assert "Cookie" in first_vip["Vary"]
    assert b"VIP offers" in first_vip.content
    assert b"VIP offers" not in first_other.content
    assert b"Generic hero" in first_other.content
    assert b"VIP offers" in again_vip.content
    assert b"VIP offers" not in again_other.content
    cache.clear()


@override_settings(**CACHED)
def test_page_cache_serves_cached_copy_to_same_visitor(hero):
    from django.core.cache import cache

    cache.clear()
    make_banner(hero, "generic", title="Generic hero")
    client = visitor_client("4" * 32)

    client.get("/page/")
    banner = hero.banners.get()
    banner.title = "Changed"
    banner.save()
    cached = client.get("/page/")

    assert b"Generic hero" in cached.content
    cache.clear()


@override_settings(**CACHED)
def test_lazy_placement_page_is_shared_and_fragment_is_private(hero):
    from django.core.cache import cache

    cache.clear()
    make_banner(
        hero, "vip", title="VIP offers", rules={"type": "segment", "segment": "vip"}
    )
    join_segment(make_visitor("5" * 32), "vip")
    make_visitor("6" * 32)
    vip, other = visitor_client("5" * 32), visitor_client("6" * 32)

    vip_page = vip.get("/lazy/")
    other_page = other.get("/lazy/")
    url = reverse("omnichannel:placement-fragment", args=["home-hero"])

    assert vip_page.content == other_page.content
    assert b"VIP offers" not in vip_page.content
    assert b"VIP offers" in vip.get(url).content
    assert b"VIP offers" not in other.get(url).content
    cache.clear()
