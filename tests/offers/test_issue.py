from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from omnichannel.exceptions import DiscountCodeTaken, OfferError
from omnichannel.offers import services
from omnichannel.offers.models import CustomerOffer, Offer, OfferCode
from omnichannel.offers.services import issue_code, issue_codes
from omnichannel.profiles.models import Event
from omnichannel.profiles.services import identify
from omnichannel.segments.models import Segment, SegmentMembership
from shop.models import Discount
from tests.factories import OfferFactory
from tests.integrations.handmade.models import DiscountCode

pytestmark = pytest.mark.django_db

UTC = ZoneInfo("UTC")
T0 = datetime(2026, 12, 4, 13, 0, tzinfo=UTC)
HANDMADE_ORDER_ADAPTER = "tests.integrations.handmade.adapters.HandmadeOrderAdapter"


def test_issue_code_creates_code_state_and_shop_discount(anna, offer):
    customer_offer = issue_code(offer, anna, source="campaign", at=T0)

    code = customer_offer.codes.get()
    discount = Discount.objects.get(code=code.code)
    assert customer_offer.state == CustomerOffer.State.ISSUED
    assert customer_offer.issued_at == T0
    assert customer_offer.source == "campaign"
    assert code.code.startswith("VIP-")
    assert code.shop_code == code.code
    assert discount.kind == "percent"
    assert discount.value == Decimal("10.00")
    assert discount.single_use is True


def test_issue_code_records_offer_issued_event(anna, offer):
    customer_offer = issue_code(offer, anna, at=T0)

    event = Event.objects.get(name="offer_issued")
    assert event.profile == anna
    assert event.object_id == "vip-early-access"
    assert event.properties["code"] == customer_offer.codes.get().code
    assert event.occurred_at == T0


def test_issue_code_is_idempotent_per_customer(anna, offer):
    first = issue_code(offer, anna, at=T0)
    second = issue_code("vip-early-access", anna, at=T0 + timedelta(days=1))

    assert second.pk == first.pk
    assert OfferCode.objects.count() == 1
    assert Discount.objects.count() == 1
    assert Event.objects.filter(name="offer_issued").count() == 1


def test_issue_code_returns_claimed_row_unchanged(anna, offer):
    first = issue_code(offer, anna, at=T0)
    CustomerOffer.objects.filter(pk=first.pk).update(state="claimed")

    again = issue_code(offer, anna, at=T0)

    assert again.state == "claimed"
    assert OfferCode.objects.count() == 1


def test_issue_code_unknown_slug_rejected(anna):
    with pytest.raises(OfferError) as caught:
        issue_code("no-such-offer", anna)

    assert caught.value.reason == "unknown_offer"
    assert "no-such-offer" in caught.value.message


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"is_active": False}, "inactive"),
        ({"starts_at": T0 + timedelta(hours=1)}, "not_started"),
        ({"ends_at": T0}, "ended"),
    ],
)
def test_issue_code_outside_offer_window_rejected(anna, fields, reason):
    offer = OfferFactory(**fields)

    with pytest.raises(OfferError) as caught:
        issue_code(offer, anna, at=T0)

    assert caught.value.reason == reason
    assert not CustomerOffer.objects.exists()
    assert not Discount.objects.exists()


def test_issue_code_outside_audience_rejected(anna, ben, offer):
    vip = Segment.objects.create(name="VIP", slug="vip")
    offer.segments.add(vip)
    SegmentMembership.objects.create(segment=vip, profile=anna)

    assert issue_code(offer, anna).profile == anna
    with pytest.raises(OfferError) as caught:
        issue_code(offer, ben)

    assert caught.value.reason == "not_in_audience"
    assert caught.value.field == "segments"


def test_issue_code_past_member_of_audience_rejected(anna, offer):
    vip = Segment.objects.create(name="VIP", slug="vip")
    offer.segments.add(vip)
    SegmentMembership.objects.create(segment=vip, profile=anna, exited_at=T0)

    with pytest.raises(OfferError) as caught:
        issue_code(offer, anna)

    assert caught.value.reason == "not_in_audience"


def test_issue_code_limit_of_codes_reached(anna, ben):
    offer = OfferFactory(max_codes=1)
    issue_code(offer, anna)

    with pytest.raises(OfferError) as caught:
        issue_code(offer, ben)

    assert caught.value.reason == "limit_reached"
    assert offer.customer_offers.count() == 1


def test_issue_code_erased_profile_rejected(anna, offer):
    anna.erased_at = T0
    anna.save()

    with pytest.raises(OfferError) as caught:
        issue_code(offer, anna)

    assert caught.value.reason == "erased"


def test_issue_code_valid_until_takes_earlier_end(anna):
    offer = OfferFactory(
        code_valid_for=timedelta(days=7), ends_at=T0 + timedelta(days=3)
    )
    other = OfferFactory(code_valid_for=timedelta(days=7))

    assert issue_code(offer, anna, at=T0).valid_until == T0 + timedelta(days=3)
    assert issue_code(other, anna, at=T0).valid_until == T0 + timedelta(days=7)


def test_issue_code_free_shipping_in_shop(anna):
    offer = OfferFactory(kind=Offer.Kind.FREE_SHIPPING, value=Decimal("0"))

    code = issue_code(offer, anna).codes.get().code

    assert Discount.objects.get(code=code).kind == "free_shipping"


def test_issue_code_gift_offer_stays_out_of_shop(anna):
    offer = OfferFactory(kind=Offer.Kind.GIFT, gift="Tote bag", create_in_shop=False)

    code = issue_code(offer, anna).codes.get()

    assert code.shop_code == ""
    assert not Discount.objects.exists()


def test_issue_code_shop_code_taken_redrawn(monkeypatch, anna, offer):
    Discount.objects.create(code="VIP-TAKEN", kind="percent", value=Decimal("5"))
    draws = iter([["VIP-TAKEN"], ["VIP-FRESH"]])
    monkeypatch.setattr(services, "unused_codes", lambda count, prefix: next(draws))

    customer_offer = issue_code(offer, anna)

    assert customer_offer.codes.get().code == "VIP-FRESH"
    assert Discount.objects.filter(code="VIP-FRESH").exists()


def test_issue_code_shop_code_always_taken_raises(monkeypatch, anna, offer):
    Discount.objects.create(code="VIP-TAKEN", kind="percent", value=Decimal("5"))
    monkeypatch.setattr(services, "unused_codes", lambda count, prefix: ["VIP-TAKEN"])

    with pytest.raises(DiscountCodeTaken):
        issue_code(offer, anna)

    assert not CustomerOffer.objects.exists()


@override_settings(OMNICHANNEL={"SHOP_ADAPTERS": {}})
def test_issue_code_without_code_adapter_raises(anna, offer):
    with pytest.raises(ImproperlyConfigured, match="create_discount_code"):
        issue_code(offer, anna)

    assert not CustomerOffer.objects.exists()


@override_settings(OMNICHANNEL={"SHOP_ADAPTERS": {}})
def test_issue_code_api_only_offer_needs_no_adapter(anna):
    offer = OfferFactory(create_in_shop=False)

    assert issue_code(offer, anna).codes.get().shop_code == ""


def test_issue_code_follows_merged_profile(anna, offer):
    visitor = identify(visitor_id="7f3a9c")
    survivor = identify(email="anna.example@example.com", visitor_id="7f3a9c")
    visitor.refresh_from_db()
    assert visitor.merged_into_id == survivor.pk

    assert issue_code(offer, visitor).profile_id == survivor.pk


def test_issue_codes_bulk_counts(anna, ben):
    offer = OfferFactory(max_codes=3)
    issue_code(offer, anna)
    others = [identify(email=f"customer{n}@example.com") for n in range(4)]

    result = issue_codes(offer, [anna, ben, *others], source="campaign")

    assert len(result.created) == 2
    assert result.existing == 1
    assert result.rejected == {"limit_reached": 3}
    assert offer.customer_offers.count() == 3
    codes = list(OfferCode.objects.values_list("code", flat=True))
    assert len(set(codes)) == 3
    assert Discount.objects.count() == 3
    assert Event.objects.filter(name="offer_issued").count() == 3


def test_issue_codes_skips_outside_audience(anna, ben):
    offer = OfferFactory()
    vip = Segment.objects.create(name="VIP", slug="vip")
    offer.segments.add(vip)
    SegmentMembership.objects.create(segment=vip, profile=anna)

    result = issue_codes(offer, [anna.pk, ben.pk])

    assert [row.profile_id for row in result.created] == [anna.pk]
    assert result.rejected == {"not_in_audience": 1}


def test_issue_codes_inactive_offer_rejected(anna):
    offer = OfferFactory(is_active=False)

    with pytest.raises(OfferError):
        issue_codes(offer, [anna])


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": "percent", "value": Decimal("0")}, "value"),
        ({"kind": "percent", "value": Decimal("120")}, "value"),
        ({"kind": "amount", "value": Decimal("0")}, "value"),
        ({"kind": "gift", "gift": ""}, "gift"),
        ({"kind": "gift", "gift": "Mug", "create_in_shop": True}, "create_in_shop"),
        ({"starts_at": T0, "ends_at": T0}, "ends_at"),
        ({"code_valid_for": timedelta(0)}, "code_valid_for"),
        ({"code_prefix": "vip-"}, "code_prefix"),
    ],
)
def test_offer_clean_rejects_bad_fields(fields, field):
    offer = Offer(slug="bad", name="Bad", **{"kind": "percent", "value": 10, **fields})

    with pytest.raises(ValidationError) as caught:
        offer.full_clean()

    assert field in caught.value.message_dict


def test_issue_code_renews_expired_code(anna):
    offer = OfferFactory(code_valid_for=timedelta(days=7))
    first = issue_code(offer, anna, at=T0)
    old_code = first.codes.get().code
    later = T0 + timedelta(days=30)

    kept = issue_code(offer, anna, at=later)
    renewed = issue_code(offer, anna, at=later, renew_expired=True, source="again")

    assert kept.state_at(later) == CustomerOffer.State.EXPIRED
    assert renewed.pk == first.pk
    assert renewed.state == CustomerOffer.State.ISSUED
    assert renewed.issued_at == later
    assert renewed.valid_until == later + timedelta(days=7)
    assert renewed.source == "again"
    assert renewed.codes.count() == 2
    new_code = services.primary_code(renewed)
    assert new_code != old_code
    assert Discount.objects.filter(code=new_code).exists()
    assert Event.objects.filter(name="offer_issued").count() == 2


def test_issue_code_renew_leaves_claimed(anna):
    from omnichannel.offers.services import claim_code

    offer = OfferFactory(code_valid_for=timedelta(days=7))
    first = issue_code(offer, anna, at=T0)
    claim_code(first.codes.get().code, anna, order_id="A-1", at=T0)

    again = issue_code(offer, anna, at=T0 + timedelta(days=30), renew_expired=True)

    assert again.state == CustomerOffer.State.CLAIMED
    assert again.codes.count() == 1


def test_issue_code_renew_after_offer_ended_rejected(anna):
    offer = OfferFactory(ends_at=T0 + timedelta(days=1))
    issue_code(offer, anna, at=T0)

    with pytest.raises(OfferError) as caught:
        issue_code(offer, anna, at=T0 + timedelta(days=2), renew_expired=True)

    assert caught.value.reason == "ended"
    assert OfferCode.objects.count() == 1


def _issue_queries(count, start):
    offer = OfferFactory(slug=f"bulk-{count}")
    profiles = [identify(email=f"bulk{start + n}@example.com") for n in range(count)]
    with CaptureQueriesContext(connection) as captured:
        issue_codes(offer, profiles, at=T0)
    return captured.captured_queries


def test_issue_codes_shop_query_count_constant():
    few = _issue_queries(3, start=0)
    many = _issue_queries(30, start=100)

    assert len(many) == len(few)
    insert = f'INSERT INTO "{Discount._meta.db_table}"'
    inserts = [query for query in many if query["sql"].startswith(insert)]
    assert len(inserts) == 1
    assert Discount.objects.count() == 33


def test_issue_codes_default_adapter_creates_each_code(anna, ben):
    offer = OfferFactory()
    adapters = {"handmade.Order": HANDMADE_ORDER_ADAPTER}

    with override_settings(OMNICHANNEL={"SHOP_ADAPTERS": adapters}):
        result = issue_codes(offer, [anna, ben], at=T0)

    codes = {row.codes.get().shop_code for row in result.created}
    assert len(codes) == 2
    stored = set(DiscountCode.objects.values_list("code", flat=True))
    assert stored == codes
