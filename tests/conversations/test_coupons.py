"""The VIP suggestion and its single-use coupon."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from omnichannel.conversations import coupons, services
from omnichannel.conversations.customer import customer_context
from omnichannel.exceptions import CouponUnavailable
from omnichannel.predictions.models import RFMScore
from tests.factories import EventFactory, ProfileFactory

pytestmark = pytest.mark.django_db

needs_shop = pytest.mark.skipif(
    not __import__("tests.settings").settings.HAS_SHOP,
    reason="the example shop's adapter creates the codes",
)


@pytest.fixture
def vip():
    profile = ProfileFactory(first_name="Anna", last_order_at=timezone.now())
    RFMScore.objects.create(
        profile=profile,
        recency_score=5,
        frequency_score=5,
        monetary_score=5,
        group="champions",
    )
    profile.refresh_from_db()
    return profile


def test_recent_buyer_gets_thank_you(vip):
    suggestion = coupons.suggest(vip, customer_context(vip))

    assert suggestion.kind == "thank_you"
    assert suggestion.offer == "10% off"
    draft = suggestion.draft(vip, customer_context(vip), "VIP-ABCD2345")
    assert draft.startswith("Hi Anna, thank you for your recent order!")
    assert "VIP-ABCD2345" in draft
    assert "works once" in draft


def test_lapsed_vip_with_cart_gets_upsell(vip):
    vip.last_order_at = timezone.now() - timedelta(days=90)
    vip.first_name = ""
    vip.save()
    EventFactory(
        profile=vip,
        name="cart_updated",
        object_type="cart",
        object_id="5",
        properties={"total": "30.00", "item_count": 2, "lines": []},
    )
    context = customer_context(vip)

    suggestion = coupons.suggest(vip, context)
    draft = suggestion.draft(vip, context, "VIP-X")

    assert suggestion.kind == "upsell"
    assert draft.startswith("Hi, I see a few things are still waiting in your cart.")


def test_no_suggestion_for_other_customers():
    profile = ProfileFactory()

    assert coupons.suggest(profile, customer_context(profile)) is None


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"kind": "percent", "value": "12.5"}, "12.5% off"),
        ({"kind": "amount", "value": "5"}, "5.00 EUR off"),
        ({"kind": "free_shipping"}, "free shipping"),
    ],
)
def test_offer_wording(vip, omnichannel_settings, config, expected):
    omnichannel_settings(VIP_COUPON=config)

    assert coupons.suggest(vip, customer_context(vip)).offer == expected


def test_generated_codes_are_unambiguous():
    code = coupons.generate_code("VIP")

    assert code.startswith("VIP-")
    assert len(code) == 12
    assert not set(code[4:]) & set("01IO")


@needs_shop
def test_taken_code_is_replaced(vip, monkeypatch, agent):
    from shop.models import Discount

    Discount.objects.create(code="VIP-TAKEN222", kind="percent", value=Decimal("5"))
    codes = iter(["VIP-TAKEN222", "VIP-FRESH333"])
    monkeypatch.setattr(coupons, "generate_code", lambda prefix: next(codes))
    conversation, _ = services.start_conversation(vip, visitor_id="a" * 32)

    code = coupons.create_coupon(conversation, by=agent)

    assert code == "VIP-FRESH333"
    assert Discount.objects.filter(code="VIP-FRESH333", single_use=True).exists()


@needs_shop
def test_shop_rejection_is_reported(vip, agent, omnichannel_settings):
    omnichannel_settings(VIP_COUPON={"kind": "amount", "value": "0"})
    conversation, _ = services.start_conversation(vip, visitor_id="a" * 32)

    with pytest.raises(CouponUnavailable, match="The shop rejected the coupon"):
        coupons.create_coupon(conversation, by=agent)

    conversation.refresh_from_db()
    assert conversation.coupon_code == ""
