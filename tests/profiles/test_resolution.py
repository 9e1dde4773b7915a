import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings

from omnichannel.exceptions import InvalidIdentifier, ProfileErased
from omnichannel.profiles.models import Identity, Preference, Profile
from omnichannel.profiles.services import (
    collect_identifiers,
    find_profile,
    identify,
    record_preference,
    resolve_profile,
    track,
)

pytestmark = pytest.mark.django_db


def live_profiles():
    return Profile.objects.filter(merged_into__isnull=True)


@pytest.mark.parametrize(
    "value", ["null", "NULL", "undefined", "test@test.com", "Test@Test.com "]
)
def test_identify_rejects_placeholders(value):
    field = "email" if "@" in value else "external_id"
    with pytest.raises(InvalidIdentifier) as raised:
        identify(**{field: value})
    assert raised.value.field == field
    assert Profile.objects.count() == 0


@override_settings(OMNICHANNEL={"BLOCKED_IDENTIFIERS": ["shop@shop.example"]})
def test_identify_rejects_configured_placeholder():
    with pytest.raises(InvalidIdentifier):
        identify(email="shop@shop.example")


def test_identify_reports_created_and_merged():
    visitor = "c" * 32
    anonymous = identify(visitor_id=visitor)
    known = identify(email="lena@example.org")
    resolution = resolve_profile(
        collect_identifiers(email="lena@example.org", visitor_id=visitor)
    )
    assert resolution.created is False
    assert resolution.profile.pk == known.pk
    assert resolution.merged == [anonymous.pk]


def test_identify_user_wins_over_email():
    user = get_user_model().objects.create(username="lena")
    by_user = identify(user=user)
    by_email = identify(email="lena@example.org")
    joined = identify(user=user, email="lena@example.org")
    assert joined.pk == by_user.pk
    by_email.refresh_from_db()
    assert by_email.merged_into_id == by_user.pk


def test_identify_new_email_with_foreign_phone_gets_own_profile():
    owner = identify(email="a@example.com", phone="+447700900123")
    other = identify(email="b@example.com", phone="+447700900123")
    assert other.pk != owner.pk
    assert other.email == "b@example.com"
    assert other.phone == ""
    assert Identity.objects.get(kind="phone").profile_id == owner.pk


def test_identify_email_wins_over_phone_owner():
    phone_owner = identify(email="a@example.com", phone="+447700900123")
    email_owner = identify(email="b@example.com")
    resolved = identify(email="b@example.com", phone="+447700900123")
    assert resolved.pk == email_owner.pk
    assert Identity.objects.get(kind="phone").profile_id == phone_owner.pk
    assert live_profiles().count() == 2


def test_identify_shared_browser_moves_cookie_to_latest_person():
    visitor = "d" * 32
    first = identify(email="one@example.com", visitor_id=visitor)
    second = identify(email="two@example.com", visitor_id=visitor)
    again = identify(email="one@example.com", visitor_id=visitor)
    assert again.pk == first.pk
    assert Identity.objects.get(kind="visitor").profile_id == first.pk
    assert second.pk != first.pk


@override_settings(OMNICHANNEL={"MAX_IDENTITIES_PER_KIND": {"email": 2}})
def test_identify_attaches_second_email_when_configured():
    visitor = "e" * 32
    first = identify(email="one@example.com", visitor_id=visitor)
    second = identify(email="two@example.com", visitor_id=visitor)
    assert second.pk == first.pk
    assert first.identities.filter(kind="email").count() == 2


def test_identify_does_not_attach_second_phone_over_limit():
    profile = identify(email="a@example.com", phone="+447700900123")
    again = identify(email="a@example.com", phone="+447700900124")
    assert again.pk == profile.pk
    assert list(
        Identity.objects.filter(kind="phone").values_list("value", flat=True)
    ) == ["+447700900123"]


def test_find_profile_follows_merges():
    from omnichannel.profiles.merging import merge_profiles

    survivor = identify(email="keep@example.com")
    loser = identify(phone="+447700900456")
    merge_profiles(survivor, loser)
    assert find_profile(uuid=loser.uuid).pk == survivor.pk
    assert find_profile(phone="+447700900456").pk == survivor.pk
    assert find_profile(email="KEEP@example.com").pk == survivor.pk
    assert find_profile(email="nobody@example.com") is None


def test_find_profile_rejects_bad_uuid():
    with pytest.raises(InvalidIdentifier):
        find_profile(uuid="not-a-uuid")


def test_track_on_erased_profile_is_rejected():
    profile = identify(email="a@example.com")
    Profile.objects.filter(pk=profile.pk).update(erased_at="2026-12-01T00:00:00Z")
    profile.refresh_from_db()
    with pytest.raises(ProfileErased):
        track("custom", profile=profile)


def test_record_preference_keeps_source_and_dedupes():
    profile = identify(email="a@example.com")
    first = record_preference(
        profile, "interest", "men's running shoes", source="popup:spring"
    )
    again = record_preference(
        profile, "interest", "men's running shoes ", source="signup-form"
    )
    assert first.pk == again.pk
    assert again.source == "popup:spring"
    assert Preference.objects.count() == 1


@pytest.mark.parametrize(
    ("key", "value", "source"),
    [
        ("Shoe Size", "44", "form"),
        ("interest", "", "form"),
        ("interest", "x" * 201, "form"),
        ("interest", "tea", ""),
    ],
)
def test_record_preference_rejects_bad_input(key, value, source):
    profile = identify(email="a@example.com")
    with pytest.raises(ValueError):
        record_preference(profile, key, value, source=source)
    assert Preference.objects.count() == 0


def test_join_visitor_merges_anonymous_history():
    from types import SimpleNamespace

    from omnichannel.profiles.services import join_visitor

    visitor = "9" * 32
    anonymous = identify(visitor_id=visitor)
    track("product_viewed", profile=anonymous)
    known = identify(email="lena@example.org")
    request = SimpleNamespace(omnichannel_visitor_id=visitor)

    joined = join_visitor(request, known)

    assert joined.pk == known.pk
    assert joined.events.count() == 1
    anonymous.refresh_from_db()
    assert anonymous.merged_into_id == known.pk


def test_join_visitor_moves_cookie_of_other_person():
    from types import SimpleNamespace

    from omnichannel.profiles.services import join_visitor

    visitor = "8" * 32
    other = identify(email="other@example.com", visitor_id=visitor)
    known = identify(email="lena@example.org")

    join_visitor(SimpleNamespace(omnichannel_visitor_id=visitor), known)

    assert Identity.objects.get(kind="visitor").profile_id == known.pk
    other.refresh_from_db()
    assert other.merged_into_id is None


def test_join_visitor_without_cookie_changes_nothing():
    from types import SimpleNamespace

    from omnichannel.profiles.services import join_visitor

    known = identify(email="lena@example.org")
    assert join_visitor(SimpleNamespace(), known).pk == known.pk
    assert Identity.objects.count() == 1
