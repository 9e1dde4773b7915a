"""Admin and REST API of placements, banners and pop-ups, with bad input."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from omnichannel.personalisation.models import Banner, Placement, Popup
from omnichannel.profiles.models import Event
from tests.factories import ProfileFactory
from tests.personalisation.conftest import make_banner

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_superuser("staff", "staff@example.com", "pw")
    client.force_login(user)
    return client


def banner_payload(**changes):
    payload = {
        "placement": "home-hero",
        "name": "Parkas",
        "title": "Parkas",
        "link_url": "/categories/winter-jackets/",
        "rules": {"all": []},
    }
    payload.update(changes)
    return payload


def test_api_creates_banner(staff, hero):
    response = staff.post(
        "/omnichannel/api/personalisation/banners/",
        banner_payload(priority=3),
        content_type="application/json",
    )

    assert response.status_code == 201, response.json()
    assert Banner.objects.get().priority == 3


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"rules": {"type": "nope"}}, "rules", "is not a condition type"),
        (
            {"rules": {"type": "segment", "segment": "missing"}},
            "rules",
            "no segment has the slug",
        ),
        (
            {"rules": {"type": "experiment", "experiment": "nope", "variant": "a"}},
            "rules",
            "no experiment has the key",
        ),
        ({"link_url": "javascript:alert(1)"}, "link_url", "path on this site"),
        (
            {"starts_at": "2026-02-01T00:00:00Z", "ends_at": "2026-01-01T00:00:00Z"},
            "ends_at",
            "after the start",
        ),
        ({"placement": "missing"}, "placement", "not exist"),
    ],
)
def test_api_rejects_bad_banner(staff, hero, changes, field, words):
    response = staff.post(
        "/omnichannel/api/personalisation/banners/",
        banner_payload(**changes),
        content_type="application/json",
    )

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert field in errors
    assert words in " ".join(str(message) for message in errors[field])
    assert not Banner.objects.exists()


def test_api_rejects_fallback_of_other_placement(staff, hero):
    other = Placement.objects.create(key="nav", name="Nav")
    foreign = make_banner(other, "nav banner")

    response = staff.patch(
        f"/omnichannel/api/personalisation/placements/{hero.pk}/",
        {"fallback": foreign.pk},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert "fallback" in response.json()["errors"]
    hero.refresh_from_db()
    assert hero.fallback_id is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"collect_email": True}, "consent_text"),
        (
            {"collect_email": True, "consent_text": "Yes", "preference_key": "size"},
            "preference_choices",
        ),
        ({"preference_choices": ["S"]}, "preference_key"),
        (
            {
                "preference_choices": [""],
                "preference_key": "size",
                "collect_email": True,
                "consent_text": "Yes",
            },
            "preference_choices",
        ),
        ({"trigger": "on-scroll"}, "trigger"),
        ({"delay_seconds": 99999}, "delay_seconds"),
    ],
)
def test_api_rejects_bad_popup(staff, changes, field):
    payload = {"key": "welcome", "name": "Welcome", "title": "Welcome", **changes}

    response = staff.post(
        "/omnichannel/api/personalisation/popups/",
        payload,
        content_type="application/json",
    )

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Popup.objects.exists()


def test_api_needs_staff(client, hero):
    response = client.get("/omnichannel/api/personalisation/banners/")

    assert response.status_code in (401, 403)


def test_api_stats_per_variant(staff, hero):
    banner = make_banner(hero, "parkas")
    profile = ProfileFactory()
    for name, variant in [
        ("banner_viewed", "t/a"),
        ("banner_viewed", "t/a"),
        ("banner_clicked", "t/a"),
        ("banner_viewed", "t/b"),
    ]:
        Event.objects.create(
            profile=profile,
            name=name,
            object_type="banner",
            object_id=str(banner.pk),
            properties={"banner": banner.pk, "variant": variant},
        )

    response = staff.get(f"/omnichannel/api/personalisation/banners/{banner.pk}/stats/")

    data = response.json()
    assert data["impressions"] == 3
    assert data["clicks"] == 1
    assert data["ctr"] == pytest.approx(1 / 3)
    assert data["variants"][0] == {
        "variant": "t/a",
        "impressions": 2,
        "clicks": 1,
        "ctr": 0.5,
    }
    assert data["variants"][1]["ctr"] == 0


def test_admin_changelist_shows_ctr(staff, hero):
    banner = make_banner(hero, "parkas")
    profile = ProfileFactory()
    for name in (
        "banner_viewed",
        "banner_viewed",
        "banner_viewed",
        "banner_viewed",
        "banner_clicked",
    ):
        Event.objects.create(
            profile=profile, name=name, object_type="banner", object_id=str(banner.pk)
        )

    response = staff.get(reverse("admin:omnichannel_banner_changelist"))

    assert response.status_code == 200
    assert "25.0%" in response.content.decode()


def test_admin_change_page_shows_variant_table(staff, hero):
    banner = make_banner(hero, "parkas", rules={"not": {"all": []}})

    response = staff.get(reverse("admin:omnichannel_banner_change", args=[banner.pk]))

    assert response.status_code == 200
    assert "omnichannel-banner-stats" in response.content.decode()


def test_admin_rejects_invalid_rule_with_path(staff, hero):
    response = staff.post(
        reverse("admin:omnichannel_banner_add"),
        {
            "placement": hero.pk,
            "name": "Bad",
            "priority": 0,
            "is_active": "on",
            "rules": '{"all": [{"type": "segment"}]}',
        },
    )

    assert response.status_code == 200
    assert "all[0]" in response.content.decode()
    assert not Banner.objects.exists()


def test_admin_pages_load(staff, hero):
    for name in ("placement", "popup"):
        assert (
            staff.get(reverse(f"admin:omnichannel_{name}_changelist")).status_code
            == 200
        )
        assert staff.get(reverse(f"admin:omnichannel_{name}_add")).status_code == 200
    assert (
        staff.get(
            reverse("admin:omnichannel_placement_change", args=[hero.pk])
        ).status_code
        == 200
    )


def test_check_rejects_bad_cache_timeout(settings):
    from omnichannel.checks import check_personalisation_settings

    settings.OMNICHANNEL = {**settings.OMNICHANNEL, "PERSONALISATION_CACHE_TIMEOUT": 60}

    errors = check_personalisation_settings()

    assert [error.id for error in errors] == ["omnichannel.E110"]
    assert "timedelta" in errors[0].msg
