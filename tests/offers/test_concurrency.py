"""Two orders racing for one single-use offer code, in two real transactions."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction

from omnichannel.exceptions import OfferCodeRejected
from omnichannel.offers.models import CustomerOffer
from omnichannel.offers.services import check_code, issue_code
from omnichannel.profiles.models import Event
from omnichannel.profiles.services import identify
from shop.models import Order
from shop.services import place_order
from tests.factories import OfferFactory
from tests.offers.helpers import code_of, order_event
from tests.shop.factories import CartFactory, CartLineFactory, ProductFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres,
]


@pytest.fixture(autouse=True)
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip(
            "SQLite has no row locks and lets one writer in at a time, so the race "
            "is only tested on PostgreSQL"
        )


def race(*orders):
    """Run each order function in its own thread and transaction at once.

    Each thread checks the code first, as a checkout does, and waits at a barrier
    until every thread has checked, so all of them start claiming having seen the
    code unused. Returns each function's result or the OfferCodeRejected it raised.
    """
    barrier = threading.Barrier(len(orders))
    results = [None] * len(orders)

    def run(index, place):
        try:
            with transaction.atomic():
                place(barrier)
                results[index] = "ordered"
        except OfferCodeRejected as error:
            results[index] = error
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=run, args=(index, place))
        for index, place in enumerate(orders)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    return results


def test_race_two_app_orders_one_claim():
    anna = identify(email="anna.example@example.com")
    customer_offer = issue_code(OfferFactory(), anna)
    code = code_of(customer_offer)

    def app_order(order_id):
        def place(barrier):
            check_code(code, anna)
            barrier.wait(timeout=10)
            order_event(anna, code, order_id=order_id)

        return place

    results = race(app_order("A-1"), app_order("A-2"))

    assert results.count("ordered") == 1
    rejected = [result for result in results if isinstance(result, OfferCodeRejected)]
    assert len(rejected) == 1
    assert rejected[0].reason == "claimed"
    customer_offer.refresh_from_db()
    assert customer_offer.state == CustomerOffer.State.CLAIMED
    winner = "A-1" if results[0] == "ordered" else "A-2"
    assert customer_offer.order_id == winner
    assert list(
        Event.objects.filter(name="order_placed").values_list("object_id", flat=True)
    ) == [winner]
    assert Event.objects.filter(name="offer_claimed").count() == 1


def test_race_web_checkout_and_app_order_one_claim():
    anna = identify(email="anna.example@example.com")
    customer_offer = issue_code(OfferFactory(kind="amount", value=5), anna)
    code = code_of(customer_offer)
    mug = ProductFactory(price=Decimal("14.90"), stock=10)
    cart = CartFactory()
    CartLineFactory(cart=cart, product=mug)

    def web_order(barrier):
        check_code(code, anna)
        barrier.wait(timeout=10)
        place_order(cart, email="anna.example@example.com", discount_code=code)

    def app_order(barrier):
        check_code(code, anna)
        barrier.wait(timeout=10)
        order_event(anna, code, order_id="APP-1")

    results = race(web_order, app_order)

    assert results.count("ordered") == 1
    assert sum(isinstance(result, OfferCodeRejected) for result in results) == 1
    customer_offer.refresh_from_db()
    assert customer_offer.state == CustomerOffer.State.CLAIMED
    if results[0] == "ordered":
        order = Order.objects.get()
        assert customer_offer.order_id == order.number
        assert customer_offer.claim_channel == "shop"
    else:
        assert not Order.objects.exists()
        assert customer_offer.order_id == "APP-1"
        assert customer_offer.claim_channel == "app"
    assert Event.objects.filter(name="order_placed").count() == 1


def test_race_claims_on_one_code_one_wins():
    anna = identify(email="anna.example@example.com")
    customer_offer = issue_code(OfferFactory(), anna)
    code = code_of(customer_offer)

    def claim(order_id):
        def place(barrier):
            from omnichannel.offers.services import claim_code

            barrier.wait(timeout=10)
            claim_code(code, anna, order_id=order_id, channel="pos")

        return place

    results = race(*(claim(f"POS-{n}") for n in range(4)))

    assert results.count("ordered") == 1
    assert sum(isinstance(result, OfferCodeRejected) for result in results) == 3
    assert Event.objects.filter(name="offer_claimed").count() == 1


def test_race_issue_to_one_customer_one_code():
    from shop.models import Discount

    anna = identify(email="anna.example@example.com")
    offer = OfferFactory()
    issued = []

    def issue(barrier):
        barrier.wait(timeout=10)
        issued.append(issue_code(offer, anna).pk)

    results = race(issue, issue)

    assert results == ["ordered", "ordered"]
    assert len(set(issued)) == 1
    assert CustomerOffer.objects.count() == 1
    assert Discount.objects.count() == 1
    assert Event.objects.filter(name="offer_issued").count() == 1


def test_race_code_limit_not_exceeded():
    from omnichannel.exceptions import OfferError

    offer = OfferFactory(max_codes=1)
    customers = [identify(email=f"customer{n}@example.com") for n in range(3)]
    errors = []

    def issue_to(profile):
        def place(barrier):
            barrier.wait(timeout=10)
            try:
                issue_code(offer, profile)
            except OfferError as error:
                errors.append(error.reason)

        return place

    race(*(issue_to(profile) for profile in customers))

    assert CustomerOffer.objects.count() == 1
    assert errors == ["limit_reached", "limit_reached"]
