from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from omnichannel.offers.models import CustomerOffer, Offer
from omnichannel.profiles.services import identify
from omnichannel.segments.models import Segment, SegmentMembership
from tests.factories import OfferFactory

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_install_offers_creates_recipe_offers():
    out, err = run("omnichannel_install_offers")

    assert "cart-free-shipping: created" in out
    assert "vip-early-access: created" in out
    assert err == ""
    cart = Offer.objects.get(slug="cart-free-shipping")
    vip = Offer.objects.get(slug="vip-early-access")
    assert cart.kind == Offer.Kind.FREE_SHIPPING
    assert cart.code_prefix == "SHIP"
    assert vip.kind == Offer.Kind.PERCENT
    assert cart.name == "Free shipping on your cart"
    cart.full_clean()
    vip.full_clean()


def test_install_offers_twice_keeps_edits():
    run("omnichannel_install_offers")
    Offer.objects.filter(slug="vip-early-access").update(value=20)

    out, _err = run("omnichannel_install_offers")

    assert "vip-early-access: exists, left unchanged" in out
    assert Offer.objects.count() == 2
    assert Offer.objects.get(slug="vip-early-access").value == 20


def test_install_offers_vip_segment():
    Segment.objects.create(name="Champions", slug="champions")

    run("omnichannel_install_offers", "--vip-segment", "champions")

    vip = Offer.objects.get(slug="vip-early-access")
    assert list(vip.segments.values_list("slug", flat=True)) == ["champions"]


def test_install_offers_unknown_segment_rejected():
    with pytest.raises(CommandError, match="no-such"):
        run("omnichannel_install_offers", "--vip-segment", "no-such")

    assert not Offer.objects.exists()


@override_settings(OMNICHANNEL={"SHOP_ADAPTERS": {}})
def test_install_offers_warns_without_code_adapter():
    _out, err = run("omnichannel_install_offers")

    assert "no adapter" in err


def test_issue_offer_codes_to_segment(anna, ben):
    offer = OfferFactory(slug="spring")
    spring = Segment.objects.create(name="Spring", slug="spring-buyers")
    SegmentMembership.objects.create(segment=spring, profile=anna)
    SegmentMembership.objects.create(segment=spring, profile=ben)
    identify(email="carl.example@example.com")

    out, _err = run(
        "omnichannel_issue_offer_codes", "spring", "--segment", "spring-buyers"
    )
    again, _err = run(
        "omnichannel_issue_offer_codes", "spring", "--segment", "spring-buyers"
    )

    assert "2 codes issued" in out
    assert "0 codes issued, 2 customers had one" in again
    assert set(CustomerOffer.objects.values_list("profile_id", flat=True)) == {
        anna.pk,
        ben.pk,
    }
    assert set(offer.customer_offers.values_list("source", flat=True)) == {"campaign"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nope",), "No offer has the slug"),
        (("spring",), "has no audience segment"),
        (("spring", "--segment", "nope"), "No segment has the slug"),
    ],
)
def test_issue_offer_codes_bad_input(args, message):
    OfferFactory(slug="spring")

    with pytest.raises(CommandError, match=message):
        run("omnichannel_issue_offer_codes", *args)


def test_issue_offer_codes_inactive_offer(anna):
    OfferFactory(slug="spring", is_active=False)
    Segment.objects.create(name="Spring", slug="spring-buyers")

    with pytest.raises(CommandError, match="not active"):
        run("omnichannel_issue_offer_codes", "spring", "--segment", "spring-buyers")
