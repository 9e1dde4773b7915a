from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.test import override_settings

from omnichannel.exceptions import InvalidIdentifier, UnknownEventType
from omnichannel.profiles.models import Event, Identity, Profile
from omnichannel.profiles.normalise import normalise_email, normalise_phone
from omnichannel.profiles.services import identify, merge_profiles, track

pytestmark = pytest.mark.django_db


def test_normalise_email_trims_and_lowercases():
    assert normalise_email("Anna.Example@Example.COM ") == "anna.example@example.com"


@pytest.mark.parametrize("value", ["", "   ", "not-an-email", "null", "test@test.com"])
def test_normalise_email_rejects(value):
    with pytest.raises(InvalidIdentifier) as raised:
        normalise_email(value)
    assert raised.value.field == "email"


@pytest.mark.parametrize(
    "raw",
    [
        "07700 900123",
        "+44 7700 900123",
        "+44 (0)7700 900123",
        "447700900123",
        "0044 7700 900123",
    ],
)
def test_normalise_phone_uk_variants(raw):
    assert normalise_phone(raw, "GB") == "+447700900123"


def test_normalise_phone_rejects_short_number():
    with pytest.raises(InvalidIdentifier) as raised:
        normalise_phone("12345", "GB")
    assert raised.value.field == "phone"


def test_normalise_phone_needs_region_for_national_number():
    with pytest.raises(InvalidIdentifier) as raised:
        normalise_phone("07700900123")
    assert "DEFAULT_PHONE_REGION" in raised.value.message


def test_one_email_one_profile_scenario():
    """Pop-up, checkout, API call, checkout: one email in four spellings."""
    first = identify(email="Anna.Example@Example.COM ", source="popup")
    track(
        "order_placed",
        email="anna.example@example.com",
        revenue=Decimal("59.00"),
        object_type="order",
        object_id="1001",
        idempotency_key="order:1001",
    )
    track("product_viewed", email="ANNA.EXAMPLE@EXAMPLE.COM", properties={"sku": "X"})
    track(
        "order_placed",
        email="Anna.Example@example.com",
        revenue=Decimal("12.50"),
        object_type="order",
        object_id="1002",
        idempotency_key="order:1002",
    )

    assert Profile.objects.count() == 1
    profile = Profile.objects.get()
    assert profile.pk == first.pk
    assert profile.email == "anna.example@example.com"
    assert profile.order_count == 2
    assert profile.total_spent == Decimal("71.50")
    assert profile.events.filter(name="product_viewed").count() == 1


def test_database_forbids_second_identity_row():
    profile = identify(email="anna.example@example.com")
    other = Profile.objects.create()
    with pytest.raises(IntegrityError), transaction.atomic():
        Identity.objects.create(
            profile=other, kind="email", value="anna.example@example.com"
        )
    assert Identity.objects.filter(kind="email").count() == 1
    assert profile.identities.count() == 1


@override_settings(OMNICHANNEL={"DEFAULT_PHONE_REGION": "GB"})
def test_one_phone_one_profile_on_every_path():
    spellings = [
        "07700 900123",
        "+44 7700 900123",
        "+44 (0)7700 900123",
        "447700900123",
        "0044 7700 900123",
    ]
    for spelling in spellings:
        identify(phone=spelling)
    assert Profile.objects.count() == 1
    assert Profile.objects.get().phone == "+447700900123"
    assert list(Identity.objects.values_list("value", flat=True)) == ["+447700900123"]


@override_settings(OMNICHANNEL={"DEFAULT_PHONE_REGION": "GB"})
def test_identify_rejects_invalid_phone_and_writes_nothing():
    with pytest.raises(InvalidIdentifier):
        identify(email="zoe.sample@example.com", phone="12345")
    assert Profile.objects.count() == 0
    assert Identity.objects.count() == 0


def test_identify_without_region_rejects_national_phone():
    with pytest.raises(InvalidIdentifier) as raised:
        identify(phone="07700900123")
    assert raised.value.field == "phone"
    assert Profile.objects.count() == 0


def test_visitor_joins_known_profile():
    anonymous = identify(visitor_id="7f3a9c" * 5 + "ab")
    track("product_viewed", profile=anonymous, properties={"sku": "MUG-042"})
    known = identify(email="lena.beispiel@example.org")

    joined = identify(email="lena.beispiel@example.org", visitor_id="7f3a9c" * 5 + "ab")

    assert joined.pk in (anonymous.pk, known.pk)
    assert Profile.objects.filter(merged_into__isnull=True).count() == 1
    assert joined.events.filter(name="product_viewed").count() == 1


def test_two_emails_are_not_merged():
    visitor = "a" * 32
    first = identify(email="one@example.com", visitor_id=visitor)
    second = identify(email="two@example.com", visitor_id=visitor)
    assert first.pk != second.pk
    assert Identity.objects.get(kind="visitor").profile_id == second.pk
    assert Profile.objects.filter(merged_into__isnull=True).count() == 2


def test_merge_moves_every_row():
    survivor = identify(email="keep@example.com")
    loser = identify(phone="+447700900456")
    for name in ("page_viewed", "product_viewed"):
        track(name, profile=loser)
    track(
        "order_placed",
        profile=loser,
        revenue=Decimal("20.00"),
        object_type="order",
        object_id="7",
    )
    before = Event.objects.count() + Identity.objects.count()

    merge = merge_profiles(survivor, loser, reason="test")

    survivor.refresh_from_db()
    loser.refresh_from_db()
    assert Event.objects.count() + Identity.objects.count() == before
    assert survivor.events.count() == 3
    assert survivor.identities.count() == 2
    assert survivor.phone == "+447700900456"
    assert survivor.order_count == 1
    assert loser.merged_into_id == survivor.pk
    assert loser.order_count == 0
    assert len(merge.moved["omnichannel.Event"]) == 3


def test_track_rejects_unknown_event_type():
    with pytest.raises(UnknownEventType):
        track("ordr_placed", email="a@example.com")
    assert Profile.objects.count() == 0


def test_track_idempotency_key_stores_once():
    first = track("custom", email="a@example.com", idempotency_key="k1")
    second = track("custom", email="a@example.com", idempotency_key="k1")
    assert first.pk == second.pk
    assert Event.objects.count() == 1


def test_track_rejects_oversized_properties():
    with pytest.raises(ValueError, match="maximum"):
        track("custom", email="a@example.com", properties={"x": "y" * 40_000})
    assert Event.objects.count() == 0


def test_cancelled_order_leaves_aggregates():
    track(
        "order_placed",
        email="a@example.com",
        revenue=Decimal("30.00"),
        object_type="order",
        object_id="9",
    )
    track(
        "order_placed",
        email="a@example.com",
        revenue=Decimal("10.00"),
        object_type="order",
        object_id="10",
    )
    track("order_cancelled", email="a@example.com", object_type="order", object_id="9")
    profile = Profile.objects.get()
    assert profile.order_count == 1
    assert profile.total_spent == Decimal("10.00")
    assert profile.average_order_value == Decimal("10.00")


def test_profile_for_request_ignores_anonymous_user():
    from django.contrib.auth.models import AnonymousUser
    from django.test import RequestFactory

    from omnichannel.profiles.services import profile_for_request

    request = RequestFactory().get("/")
    request.user = AnonymousUser()

    assert profile_for_request(request, create=True) is None
    assert not Profile.objects.exists()


def test_track_passive_events_keep_last_seen():
    profile = identify(email="seen@example.com")
    Profile.objects.filter(pk=profile.pk).update(last_seen_at=None)
    profile.refresh_from_db()

    for name in ("message_sent", "message_delivered", "offer_issued"):
        track(name, profile=profile, source="channels")
    profile.refresh_from_db()
    assert profile.last_seen_at is None

    track("message_opened", profile=profile, source="channels")
    profile.refresh_from_db()
    assert profile.last_seen_at is not None
