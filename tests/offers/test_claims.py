import logging
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from omnichannel.exceptions import OfferCodeRejected
from omnichannel.offers.models import CustomerOffer
from omnichannel.offers.services import (
    check_code,
    check_offer_code,
    claim_code,
    expire_due,
    issue_code,
    mark_seen,
)
from omnichannel.profiles.models import Event
from omnichannel.profiles.services import identify, merge_profiles
from shop.models import Discount, Order
from shop.services import place_order
from tests.factories import OfferFactory
from tests.offers.helpers import code_of, order_event
from tests.shop.factories import CartFactory, CartLineFactory, ProductFactory

pytestmark = pytest.mark.django_db

UTC = ZoneInfo("UTC")
T0 = datetime(2026, 12, 4, 13, 0, tzinfo=UTC)


@pytest.fixture
def issued(anna, offer):
    return issue_code(offer, anna, at=T0)


def assert_unchanged(customer_offer):
    customer_offer.refresh_from_db()
    assert customer_offer.state == CustomerOffer.State.ISSUED
    assert customer_offer.claimed_at is None
    assert customer_offer.order_id == ""
    assert not Event.objects.filter(
        name="offer_claimed", profile=customer_offer.profile
    ).exists()


def test_order_event_claims_offer(anna, issued):
    event = order_event(anna, code_of(issued), occurred_at=T0 + timedelta(hours=2))

    issued.refresh_from_db()
    assert issued.state == CustomerOffer.State.CLAIMED
    assert issued.claimed_at == event.occurred_at
    assert issued.order_id == "A-1001"
    assert issued.claim_channel == "app"
    assert issued.revenue == Decimal("59.00")
    assert issued.currency == "EUR"
    claimed = Event.objects.get(name="offer_claimed")
    assert claimed.properties["order_id"] == "A-1001"
    assert claimed.properties["channel"] == "app"


def test_order_event_code_in_lower_case_claims(anna, issued):
    order_event(anna, code_of(issued).lower())

    issued.refresh_from_db()
    assert issued.state == CustomerOffer.State.CLAIMED


def test_order_event_same_order_twice_claims_once(anna, issued):
    order_event(anna, code_of(issued))
    order_event(anna, code_of(issued))

    assert Event.objects.filter(name="order_placed").count() == 2
    assert Event.objects.filter(name="offer_claimed").count() == 1


def test_order_event_shop_code_left_alone(anna, issued):
    order_event(anna, "SUMMER10")

    assert Event.objects.filter(name="order_placed").count() == 1
    assert_unchanged(issued)


def test_order_event_codes_not_a_list_ignored(anna, issued, caplog):
    from omnichannel.profiles.services import track

    with caplog.at_level(logging.WARNING, logger="omnichannel.offers.services"):
        track(
            "order_placed",
            profile=anna,
            properties={"discount_codes": code_of(issued)},
            object_type="order",
            object_id="A-1",
        )

    assert "not a list" in caplog.text
    assert_unchanged(issued)


def test_order_event_someone_elses_code_rolls_back_order(ben, issued):
    with pytest.raises(OfferCodeRejected) as caught:
        order_event(ben, code_of(issued))

    assert caught.value.reason == "not_yours"
    assert not Event.objects.filter(name="order_placed").exists()
    ben.refresh_from_db()
    assert ben.order_count == 0
    assert_unchanged(issued)


def test_order_event_used_code_rolls_back_second_order(anna, issued):
    order_event(anna, code_of(issued), order_id="A-1")

    with pytest.raises(OfferCodeRejected) as caught:
        order_event(anna, code_of(issued), order_id="A-2")

    assert caught.value.reason == "claimed"
    assert list(
        Event.objects.filter(name="order_placed").values_list("object_id", flat=True)
    ) == ["A-1"]
    issued.refresh_from_db()
    assert issued.order_id == "A-1"


def test_order_event_after_expiry_rejected(anna):
    offer = OfferFactory(code_valid_for=timedelta(days=7))
    customer_offer = issue_code(offer, anna, at=T0)

    with pytest.raises(OfferCodeRejected) as caught:
        order_event(anna, code_of(customer_offer), occurred_at=T0 + timedelta(days=7))

    assert caught.value.reason == "expired"
    assert_unchanged(customer_offer)


def test_order_event_reported_after_expiry_still_claims(anna):
    # The order was placed while the code was valid and reached the app later,
    # after the periodic task had stored the expired state.
    offer = OfferFactory(code_valid_for=timedelta(days=7))
    customer_offer = issue_code(offer, anna, at=T0)
    expire_due(T0 + timedelta(days=8))

    order_event(anna, code_of(customer_offer), occurred_at=T0 + timedelta(days=6))

    customer_offer.refresh_from_db()
    assert customer_offer.state == CustomerOffer.State.CLAIMED


def test_check_code_returns_usable_offer(anna, issued):
    assert check_code(code_of(issued), anna, at=T0).pk == issued.pk


@pytest.mark.parametrize(
    ("reason", "setup", "message"),
    [
        ("unknown", "typo", "does not exist"),
        ("not_yours", "ben", "issued to another customer"),
        ("sign_in_required", "anonymous", "is personal"),
        ("claimed", "claimed", "has already been used"),
        ("withdrawn", "inactive", "has been withdrawn"),
        ("not_started", "later", "can be used from"),
        ("expired", "ended", "expired on"),
    ],
)
def test_check_code_rejections_change_nothing(
    anna, ben, issued, reason, setup, message
):
    code = code_of(issued)
    profile = anna
    if setup == "typo":
        code = code[:-1] + ("A" if code[-1] != "A" else "B")
    elif setup == "ben":
        profile = ben
    elif setup == "anonymous":
        profile = None
    elif setup == "claimed":
        CustomerOffer.objects.filter(pk=issued.pk).update(
            state="claimed", claimed_at=T0, order_id="A-0"
        )
    elif setup == "inactive":
        issued.offer.is_active = False
        issued.offer.save()
    elif setup == "later":
        issued.offer.starts_at = T0 + timedelta(days=1)
        issued.offer.save()
    elif setup == "ended":
        issued.offer.ends_at = T0 - timedelta(minutes=1)
        issued.offer.save()
    before = CustomerOffer.objects.filter(pk=issued.pk).values().get()
    events = Event.objects.count()

    with pytest.raises(OfferCodeRejected) as caught:
        check_code(code, profile, at=T0)
    with pytest.raises(OfferCodeRejected):
        claim_code(code, profile, order_id="A-9", at=T0)

    assert caught.value.reason == reason
    assert message in caught.value.message
    assert CustomerOffer.objects.filter(pk=issued.pk).values().get() == before
    assert Event.objects.count() == events


def test_claim_code_limit_of_claims(anna, ben):
    offer = OfferFactory(max_claims=1)
    first = issue_code(offer, anna)
    second = issue_code(offer, ben)
    claim_code(code_of(first), anna, order_id="A-1")

    with pytest.raises(OfferCodeRejected) as caught:
        claim_code(code_of(second), ben, order_id="A-2")

    assert caught.value.reason == "sold_out"
    assert_unchanged(second)


def test_claim_code_merged_profile_claims(issued):
    visitor = identify(visitor_id="app-device-1")
    survivor = identify(email="anna.example@example.com", visitor_id="app-device-1")

    claim_code(code_of(issued), visitor, order_id="A-1")

    issued.refresh_from_db()
    assert issued.profile_id == survivor.pk
    assert issued.state == CustomerOffer.State.CLAIMED


def test_check_offer_code_shop_code_is_none(anna):
    assert check_offer_code("SUMMER10", email="anna.example@example.com") is None


def test_check_offer_code_finds_customer_by_email(issued):
    found = check_offer_code(code_of(issued), email=" Anna.Example@Example.COM ")

    assert found.pk == issued.pk


def test_check_offer_code_unknown_email_rejected(issued):
    with pytest.raises(OfferCodeRejected) as caught:
        check_offer_code(code_of(issued), email="someone.else@example.net")

    assert caught.value.reason == "sign_in_required"


def test_mark_seen_once(anna, issued):
    assert mark_seen(issued, at=T0 + timedelta(minutes=5), channel="email") is True
    assert mark_seen(issued, at=T0 + timedelta(minutes=6)) is False

    issued.refresh_from_db()
    assert issued.state == CustomerOffer.State.SEEN
    assert issued.seen_at == T0 + timedelta(minutes=5)
    assert Event.objects.filter(name="offer_seen").count() == 1


def test_mark_seen_leaves_claimed_and_expired(anna, ben):
    offer = OfferFactory(code_valid_for=timedelta(days=1))
    claimed = issue_code(offer, anna, at=T0)
    claim_code(code_of(claimed), anna, order_id="A-1", at=T0)
    expired = issue_code(offer, ben, at=T0)

    assert mark_seen(claimed) is False
    assert mark_seen(expired, at=T0 + timedelta(days=2)) is False
    claimed.refresh_from_db()
    assert claimed.state == CustomerOffer.State.CLAIMED


def test_expire_due_stores_expired_state(anna):
    offer = OfferFactory(code_valid_for=timedelta(days=1))
    customer_offer = issue_code(offer, anna, at=T0)

    assert expire_due(T0 + timedelta(hours=23)) == 0
    assert customer_offer.state_at(T0 + timedelta(hours=23)) == "issued"
    assert customer_offer.state_at(T0 + timedelta(days=1)) == "expired"
    assert expire_due(T0 + timedelta(days=1)) == 1
    customer_offer.refresh_from_db()
    assert customer_offer.state == CustomerOffer.State.EXPIRED
    assert customer_offer.expired_at == T0 + timedelta(days=1)


def test_merge_joins_two_copies_of_one_offer(offer):
    app_user = identify(external_id="app-42")
    web_user = identify(email="anna.example@example.com")
    on_app = issue_code(offer, app_user, at=T0)
    web_code = code_of(issue_code(offer, web_user, at=T0 + timedelta(hours=1)))
    claim_code(code_of(on_app), app_user, order_id="A-1", at=T0 + timedelta(hours=2))

    merge_profiles(web_user, app_user)

    rows = CustomerOffer.objects.filter(offer=offer)
    assert rows.count() == 1
    row = rows.get()
    assert row.profile == web_user
    assert row.state == CustomerOffer.State.CLAIMED
    assert row.order_id == "A-1"
    assert row.issued_at == T0
    assert row.codes.count() == 2
    with pytest.raises(OfferCodeRejected) as caught:
        check_code(web_code, web_user)
    assert caught.value.reason == "claimed"


@pytest.fixture
def mug():
    return ProductFactory(sku="MUG-042", price=Decimal("14.90"), stock=10)


def test_shop_checkout_claims_offer_on_web(anna, mug):
    offer = OfferFactory(kind="free_shipping", value=0, code_prefix="SHIP")
    customer_offer = issue_code(offer, anna)
    cart = CartFactory()
    CartLineFactory(cart=cart, product=mug)

    order = place_order(
        cart, email="anna.example@example.com", discount_code=code_of(customer_offer)
    )

    customer_offer.refresh_from_db()
    assert customer_offer.state == CustomerOffer.State.CLAIMED
    assert customer_offer.order_id == order.number
    assert customer_offer.claim_channel == "shop"
    assert order.shipping == Decimal("0.00")
    assert Discount.objects.get(code=code_of(customer_offer)).used_by_order == order


def test_shop_checkout_someone_elses_code_rejected(client, ben, issued, mug):
    from tests.shop.helpers import add_to_cart, checkout

    add_to_cart(client, mug)

    response = checkout(
        client, email="ben.sample@example.org", discount_code=code_of(issued)
    )

    assert response.status_code == 200
    errors = response.context["form"].errors["discount_code"]
    assert "issued to another customer" in errors[0]
    assert not Order.objects.exists()
    assert_unchanged(issued)


def test_shop_checkout_code_used_in_app_rejected(client, anna, issued, mug):
    from tests.shop.helpers import add_to_cart, checkout

    order_event(anna, code_of(issued), source="app")
    add_to_cart(client, mug)

    response = checkout(
        client, email="anna.example@example.com", discount_code=code_of(issued)
    )

    errors = response.context["form"].errors["discount_code"]
    assert "has already been used" in errors[0]
    assert not Order.objects.exists()


def test_shop_order_race_rejected_in_transaction(anna, ben, issued, mug):
    # The form's check passed, then the code was claimed elsewhere: the order's
    # own transaction rejects it and nothing of the order stays.
    cart = CartFactory()
    CartLineFactory(cart=cart, product=mug)

    with pytest.raises(OfferCodeRejected):
        place_order(cart, email="ben.sample@example.org", discount_code=code_of(issued))

    assert not Order.objects.exists()
    assert Discount.objects.get(code=code_of(issued)).used_at is None
    assert_unchanged(issued)


@time_machine.travel(T0, tick=False)
def test_state_at_counts_withdrawn_offer_as_expired(issued):
    issued.offer.is_active = False
    issued.offer.save()

    assert issued.state_at() == "expired"


def test_shop_checkout_race_shows_error(monkeypatch, client, ben, issued, mug):
    # The form's check passed (as if the code were claimed right after it), so the
    # order's transaction rejects the code and the page shows why.
    from tests.shop.helpers import add_to_cart, checkout

    monkeypatch.setattr("shop.forms.offer_code_error", lambda *args, **kwargs: None)
    add_to_cart(client, mug)

    response = checkout(
        client, email="ben.sample@example.org", discount_code=code_of(issued)
    )

    assert response.status_code == 200
    errors = response.context["form"].errors["discount_code"]
    assert "issued to another customer" in errors[0]
    assert not Order.objects.exists()
    assert_unchanged(issued)
