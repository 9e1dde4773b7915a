from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.utils import timezone

from omnichannel.consent.models import (
    ConsentRecord,
    DataSubjectRequest,
    OptInRequest,
)
from omnichannel.exceptions import MergeError
from omnichannel.predictions.models import RFMScore
from omnichannel.profiles.merging import _relations, merge_profiles, undo_merge
from omnichannel.profiles.models import Event, Identity, Preference, Profile
from omnichannel.profiles.services import identify, track
from omnichannel.segments.models import Segment, SegmentMembership

pytestmark = pytest.mark.django_db


def _segment_membership(profile):
    segment, _ = Segment.objects.get_or_create(slug="vip", defaults={"name": "VIP"})
    SegmentMembership.objects.create(segment=segment, profile=profile)


def _rfm(profile):
    RFMScore.objects.create(
        profile=profile,
        recency_score=5,
        frequency_score=4,
        monetary_score=3,
        group="champions",
    )


def _consent(profile):
    ConsentRecord.objects.create(
        profile=profile, channel="email", granted=True, source="popup"
    )


def _opt_in(profile):
    OptInRequest.objects.create(profile=profile, channel="email", source="popup")


def _data_request(profile):
    DataSubjectRequest.objects.create(profile=profile, kind="export", via="admin")


def _preference(profile):
    Preference.objects.create(
        profile=profile, key="interest", value="trail running", source="popup:quiz"
    )


def _event(profile):
    track("product_viewed", profile=profile, properties={"sku": "MUG-042"})
    track(
        "order_placed",
        profile=profile,
        revenue=Decimal("20.00"),
        object_type="order",
        object_id="7",
    )


def _enrollment(profile):
    from omnichannel.journeys.models import Enrollment, Journey, JourneyVersion

    journey, _ = Journey.objects.get_or_create(
        slug="cart-cascade", defaults={"name": "Cart", "trigger_type": "event"}
    )
    version, _ = JourneyVersion.objects.get_or_create(
        journey=journey, number=1, defaults={"graph": {"start": "", "steps": {}}}
    )
    Enrollment.objects.create(journey=journey, version=version, profile=profile)


def _assignment(profile):
    from omnichannel.experiments.models import Assignment
    from tests.factories import VariantFactory

    variant = VariantFactory()
    Assignment.objects.create(
        experiment=variant.experiment, variant=variant, profile=profile
    )


def _delivery(profile):
    from omnichannel.channels.models import Delivery, MessageTemplate

    template, _ = MessageTemplate.objects.get_or_create(
        slug="welcome",
        defaults={"name": "Welcome", "channel": "email", "subject": "Hi", "body": "Hi"},
    )
    return Delivery.objects.create(
        profile=profile,
        channel="email",
        template=template,
        dedupe_key=f"welcome:{profile.pk}",
        address=profile.email,
        subject="Welcome",
    )


def _onsite_message(profile):
    from omnichannel.channels.models import OnsiteMessage

    OnsiteMessage.objects.create(profile=profile, title="Free shipping", body="Today")


def _web_push(profile):
    from omnichannel.channels.models import WebPushSubscription

    WebPushSubscription.objects.create(
        profile=profile,
        endpoint=f"https://push.example/{profile.pk}",
        p256dh="key",
        auth="auth",
    )


def _audience_member(profile):
    from omnichannel.audiences.models import AudienceMember
    from tests.factories import AudienceFactory

    audience = AudienceFactory()
    AudienceMember.objects.create(audience=audience, profile=profile)


def _prediction(profile):
    from omnichannel.predictions.models import CustomerPrediction

    CustomerPrediction.objects.create(profile=profile, churn_risk=0.4)


def _conversation(profile):
    from omnichannel.conversations.models import Conversation

    Conversation.objects.create(profile=profile, channel="email")


def _customer_offer(profile):
    from omnichannel.offers.models import CustomerOffer, Offer

    offer, _ = Offer.objects.get_or_create(
        slug="merge-offer",
        defaults={"name": "Merge offer", "kind": "free_shipping"},
    )
    CustomerOffer.objects.create(offer=offer, profile=profile)


# One maker per model with a foreign key to Profile. A new related model must get a
# maker here, so that the merge test below covers it.
ROW_MAKERS = {
    "omnichannel.Identity": lambda profile: None,  # identify() creates them
    "omnichannel.Event": _event,
    "omnichannel.ConsentRecord": _consent,
    "omnichannel.OptInRequest": _opt_in,
    "omnichannel.DataSubjectRequest": _data_request,
    "omnichannel.Preference": _preference,
    "omnichannel.SegmentMembership": _segment_membership,
    "omnichannel.RFMScore": _rfm,
    "omnichannel.Enrollment": _enrollment,
    "omnichannel.Assignment": _assignment,
    "omnichannel.Delivery": _delivery,
    "omnichannel.OnsiteMessage": _onsite_message,
    "omnichannel.WebPushSubscription": _web_push,
    "omnichannel.AudienceMember": _audience_member,
    "omnichannel.CustomerPrediction": _prediction,
    "omnichannel.Conversation": _conversation,
    "omnichannel.CustomerOffer": _customer_offer,
}


def related_counts(profile):
    counts = {}
    for relation in _relations():
        model = relation.related_model
        rows = model._default_manager.filter(**{relation.field.name: profile})
        counts[model._meta.label] = rows.count()
    return counts


def test_merge_covers_every_related_model():
    labels = {relation.related_model._meta.label for relation in _relations()}
    missing = labels - set(ROW_MAKERS)
    assert not missing, f"add row makers for {sorted(missing)}"


def test_merge_moves_every_related_kind_of_row():
    survivor = identify(email="keep@example.com", visitor_id="a" * 32)
    loser = identify(phone="+447700900456", external_id="pos-77")
    for make in ROW_MAKERS.values():
        make(loser)
    track("page_viewed", profile=survivor)
    loser_counts = related_counts(loser)
    survivor_counts = related_counts(survivor)
    assert all(loser_counts[label] for label in ROW_MAKERS), loser_counts
    totals_before = {
        label: Model.objects.count()
        for label, Model in (
            (r.related_model._meta.label, r.related_model) for r in _relations()
        )
    }

    merge = merge_profiles(survivor, loser, reason="test")

    after = related_counts(survivor)
    for label, count in loser_counts.items():
        assert after[label] == count + survivor_counts[label], label
        assert related_counts(loser)[label] == 0, label
    totals_after = {
        r.related_model._meta.label: r.related_model.objects.count()
        for r in _relations()
    }
    assert totals_after == totals_before
    assert set(merge.moved) == set(ROW_MAKERS)
    survivor.refresh_from_db()
    assert survivor.phone == "+447700900456"
    assert survivor.order_count == 1
    assert survivor.total_spent == Decimal("20.00")


def test_merge_rejects_two_emails():
    first = identify(email="one@example.com")
    second = identify(email="two@example.com")
    with pytest.raises(MergeError, match="limit"):
        merge_profiles(first, second)
    second.refresh_from_db()
    assert second.merged_into_id is None
    assert second.identities.count() == 1


@override_settings(OMNICHANNEL={"MAX_IDENTITIES_PER_KIND": {"email": 2, "phone": 1}})
def test_merge_allows_two_emails_when_configured():
    first = identify(email="one@example.com")
    second = identify(email="two@example.com")
    merge_profiles(first, second)
    assert set(first.identities.values_list("value", flat=True)) == {
        "one@example.com",
        "two@example.com",
    }
    first.refresh_from_db()
    assert first.email == "one@example.com"


def test_merge_rejects_two_shop_users():
    User = get_user_model()
    first = identify(user=User.objects.create(username="one"))
    second = identify(user=User.objects.create(username="two"))
    with pytest.raises(MergeError):
        merge_profiles(first, second)


def test_merge_rejects_itself_and_merged():
    first = identify(email="one@example.com")
    second = identify(phone="+447700900456")
    third = identify(visitor_id="b" * 32)
    with pytest.raises(MergeError):
        merge_profiles(first, first)
    merge_profiles(first, second)
    with pytest.raises(MergeError, match="already merged"):
        merge_profiles(third, second)


def test_merge_keeps_duplicate_preference_once():
    survivor = identify(email="keep@example.com")
    loser = identify(phone="+447700900456")
    older = timezone.now() - timedelta(days=3)
    Preference.objects.create(
        profile=survivor, key="interest", value="tea", source="form"
    )
    Preference.objects.create(
        profile=loser, key="interest", value="tea", source="popup", recorded_at=older
    )
    Preference.objects.create(
        profile=loser, key="interest", value="mugs", source="popup"
    )
    merge_profiles(survivor, loser)
    values = dict(survivor.preferences.values_list("value", "recorded_at"))
    assert sorted(values) == ["mugs", "tea"]
    assert values["tea"] == older


def test_merge_closes_overlapping_segment_membership():
    survivor = identify(email="keep@example.com")
    loser = identify(phone="+447700900456")
    _segment_membership(survivor)
    _segment_membership(loser)
    merge_profiles(survivor, loser)
    memberships = SegmentMembership.objects.filter(profile=survivor)
    assert memberships.count() == 2
    assert memberships.filter(exited_at__isnull=True).count() == 1


def test_undo_merge_moves_rows_back():
    survivor = identify(email="keep@example.com", visitor_id="a" * 32)
    loser = identify(phone="+447700900456", external_id="pos-77")
    Profile.objects.filter(pk=loser.pk).update(first_name="Zoe", country="GB")
    loser.refresh_from_db()
    for make in ROW_MAKERS.values():
        make(loser)
    before_loser = related_counts(loser)
    before_survivor = related_counts(survivor)
    merge = merge_profiles(survivor, loser)
    track("page_viewed", profile=survivor)  # arrives after the merge, stays

    undo_merge(merge, actor="tests")

    survivor.refresh_from_db()
    loser.refresh_from_db()
    assert loser.merged_into_id is None
    assert loser.phone == "+447700900456"
    assert loser.order_count == 1
    assert survivor.phone == ""
    assert survivor.first_name == ""
    assert survivor.country == ""
    assert survivor.order_count == 0
    assert related_counts(loser) == before_loser
    after_survivor = related_counts(survivor)
    assert (
        after_survivor["omnichannel.Event"] == before_survivor["omnichannel.Event"] + 1
    )
    merge.refresh_from_db()
    assert merge.undone_at is not None
    assert merge.undone_by == "tests"


def test_undo_merge_twice_is_rejected():
    survivor = identify(email="keep@example.com")
    loser = identify(phone="+447700900456")
    merge = merge_profiles(survivor, loser)
    undo_merge(merge)
    with pytest.raises(MergeError, match="already undone"):
        undo_merge(merge)


def test_undo_merge_of_merged_survivor_is_rejected():
    first = identify(email="one@example.com")
    second = identify(phone="+447700900456")
    third = identify(external_id="pos-1")
    inner = merge_profiles(second, third)
    merge_profiles(first, second)
    with pytest.raises(MergeError, match="undo that merge first"):
        undo_merge(inner)


def test_undo_merge_keeps_survivor_edits():
    survivor = identify(email="keep@example.com")
    loser = identify(phone="+447700900456", traits={"first_name": "Zoe"})
    merge = merge_profiles(survivor, loser)
    Profile.objects.filter(pk=survivor.pk).update(first_name="Zoë")
    undo_merge(merge)
    survivor.refresh_from_db()
    assert survivor.first_name == "Zoë"


def test_merge_signal_sent():
    from omnichannel.profiles.signals import profile_merge_undone, profile_merged

    received = []

    def on_merge(sender, survivor, loser, merge, **kwargs):
        received.append(("merged", survivor.pk, loser.pk))

    def on_undo(sender, survivor, loser, merge, **kwargs):
        received.append(("undone", survivor.pk, loser.pk))

    profile_merged.connect(on_merge)
    profile_merge_undone.connect(on_undo)
    try:
        survivor = identify(email="keep@example.com")
        loser = identify(phone="+447700900456")
        undo_merge(merge_profiles(survivor, loser))
    finally:
        profile_merged.disconnect(on_merge)
        profile_merge_undone.disconnect(on_undo)
    assert received == [
        ("merged", survivor.pk, loser.pk),
        ("undone", survivor.pk, loser.pk),
    ]


def test_identities_keep_one_owner_after_merge_and_undo():
    survivor = identify(email="keep@example.com")
    loser = identify(phone="+447700900456")
    undo_merge(merge_profiles(survivor, loser))
    assert Identity.objects.get(kind="phone").profile_id == loser.pk
    assert Event.objects.count() == 0


def test_merge_keeps_clashing_rows_of_model_without_hook():
    from omnichannel.audiences.models import AudienceMember
    from tests.factories import AudienceFactory

    survivor = identify(email="keep@example.com")
    loser = identify(phone="+447700900456")
    shared = AudienceFactory()
    other = AudienceFactory()
    AudienceMember.objects.create(audience=shared, profile=survivor)
    AudienceMember.objects.create(audience=shared, profile=loser)
    AudienceMember.objects.create(audience=other, profile=loser)

    merge = merge_profiles(survivor, loser)

    assert AudienceMember.objects.count() == 3
    assert AudienceMember.objects.filter(profile=survivor).count() == 2
    assert AudienceMember.objects.filter(profile=loser, audience=shared).count() == 1
    assert len(merge.moved["omnichannel.AudienceMember"]) == 1
