"""An order placed through Oscar's checkout views, end to end."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse
from oscar.core.loading import get_model

from omnichannel.integrations.abandonment import detect_abandoned_carts
from omnichannel.journeys.engine import run_due
from omnichannel.journeys.models import Enrollment, Journey
from omnichannel.journeys.services import publish
from omnichannel.profiles.models import Event, Identity, Profile
from omnichannel.profiles.signals import events_tracked

from .conftest import check_out

Basket = get_model("basket", "Basket")
Order = get_model("order", "Order")
OrderLine = get_model("order", "Line")
Source = get_model("payment", "Source")
SourceType = get_model("payment", "SourceType")

LENA = "lena.beispiel@example.org"

# An abandoned-cart journey: an hour after the last basket change, tag the customer
# (a stand-in for the reminder message), unless the goal ends the run first.
REMIND_AFTER_AN_HOUR = {
    "start": "wait",
    "steps": {
        "wait": {
            "type": "wait",
            "duration": "PT1H",
            "anchor": "trigger",
            "next": "remind",
        },
        "remind": {"type": "update_profile", "add_tags": ["reminded"]},
    },
}


def abandoned_cart_journey(*, goal, keyed_by_object):
    journey = Journey.objects.create(
        name="Abandoned basket",
        slug="abandoned-basket",
        trigger_type="event",
        trigger_config={"event": "cart_updated"},
        keyed_by_object=keyed_by_object,
        goal=goal,
        draft_graph=REMIND_AFTER_AN_HOUR,
    )
    publish(journey)
    return journey


@pytest.fixture
def order_moments():
    """Record what the transaction of each order event could see.

    The receiver is connected after the app's, so it sees each stored list of
    events once the journey engine has handled it.
    """
    moments = []

    def receive(sender, events, **kwargs):
        for event in events:
            if event.name not in ("order_placed", "cart_converted"):
                continue
            number = event.properties["order_id"]
            moments.append(
                {
                    "event": event.name,
                    "in_atomic_block": connection.in_atomic_block,
                    "order_rows": Order.objects.filter(number=number).count(),
                    "line_rows": OrderLine.objects.filter(order__number=number).count(),
                    "active_runs": Enrollment.objects.filter(status="active").count(),
                }
            )

    events_tracked.connect(receive, dispatch_uid="test-order-moments")
    yield moments
    events_tracked.disconnect(dispatch_uid="test-order-moments")


@pytest.mark.django_db(transaction=True)
def test_guest_checkout_records_order_in_its_transaction(
    browser, country, mug, order_moments
):
    # No ATOMIC_REQUESTS: the only transaction open while the order is written is
    # the one OrderCreator.place_order opens.
    assert not connection.settings_dict["ATOMIC_REQUESTS"]
    journey = abandoned_cart_journey(
        goal={"events": ["cart_converted"], "same_object": True}, keyed_by_object=True
    )
    browser.get(mug.get_absolute_url())
    browser.post(reverse("basket:add", kwargs={"pk": mug.pk}), {"quantity": 1})
    run = journey.enrollments.get()
    assert run.status == Enrollment.Status.ACTIVE

    response = check_out(browser, guest_email=LENA)

    assert response.status_code == 302
    assert response["Location"] == reverse("checkout:thank-you")
    order = Order.objects.get()
    # Both events, and the end of the journey run, happen inside OrderCreator's
    # transaction, after the order's lines are written.
    assert order_moments == [
        {
            "event": "order_placed",
            "in_atomic_block": True,
            "order_rows": 1,
            "line_rows": 1,
            "active_runs": 1,
        },
        {
            "event": "cart_converted",
            "in_atomic_block": True,
            "order_rows": 1,
            "line_rows": 1,
            "active_runs": 0,
        },
    ]
    run.refresh_from_db()
    assert run.object_id == str(order.basket_id)
    assert run.status == Enrollment.Status.CONVERTED
    assert run.exit_reason == "goal_reached"

    placed = Event.objects.get(name="order_placed")
    assert placed.object_id == order.number
    assert placed.revenue == Decimal("14.90")
    assert placed.currency == "EUR"
    assert placed.properties["lines"][0]["sku"] == "MUG-042"
    assert placed.properties["lines"][0]["category"] == "Mugs"

    profile = placed.profile
    visitor = browser.cookies["omni_vid"].value
    assert profile.email == LENA
    assert Identity.objects.filter(
        profile=profile, kind="visitor", value=visitor
    ).exists()
    assert profile.order_count == 1
    assert profile.total_spent == Decimal("14.90")
    assert profile.average_order_value == Decimal("14.90")
    assert profile.first_order_at == order.date_placed

    basket_id = str(order.basket_id)
    converted = Event.objects.get(name="cart_converted")
    assert converted.object_id == basket_id
    assert converted.profile == profile
    assert Event.objects.filter(
        name="cart_updated", object_id=basket_id, profile=profile
    ).exists()
    assert Event.objects.filter(name="product_viewed", profile=profile).count() == 1
    run_due(order.date_placed + timedelta(hours=2))
    profile.refresh_from_db()
    assert profile.tags == []
    assert (
        Profile.objects.filter(merged_into__isnull=True, events__isnull=False)
        .distinct()
        .count()
        == 1
    )


@pytest.mark.django_db(transaction=True)
def test_failed_order_placement_leaves_no_trace(browser, country, mug):
    from django.db.models.signals import post_save

    StockRecord = get_model("partner", "StockRecord")

    def fail_allocation(sender, instance, **kwargs):
        # Stock is allocated after the order and its lines are written, inside
        # the same transaction; a failure there undoes all of it.
        raise RuntimeError("stock allocation failed")

    browser.post(reverse("basket:add", kwargs={"pk": mug.pk}), {"quantity": 1})
    post_save.connect(fail_allocation, sender=StockRecord, dispatch_uid="test-fail")
    try:
        response = check_out(browser, guest_email=LENA)
    finally:
        post_save.disconnect(sender=StockRecord, dispatch_uid="test-fail")

    assert response.status_code == 200  # Oscar shows the preview with an error
    assert not Order.objects.exists()
    assert not Event.objects.filter(
        name__in=["order_placed", "cart_converted"]
    ).exists()


def test_account_created_at_checkout_leaves_no_abandoned_cart(
    browser, country, mug, db
):
    """A guest fills a basket, creates an account, orders and pays.

    One profile contains the anonymous history, the account and the order.
    Neither the anonymous basket nor the account's basket is reported as abandoned.
    """
    journey = abandoned_cart_journey(
        goal={"events": ["order_placed"]}, keyed_by_object=False
    )
    browser.post(reverse("basket:add", kwargs={"pk": mug.pk}), {"quantity": 1})
    anonymous_basket = Basket.objects.get()
    response = browser.post(
        reverse("customer:register"),
        {
            "email": LENA,
            "password1": "a-long-test-password",
            "password2": "a-long-test-password",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    # The next request merges the anonymous basket into the account's basket.
    response = check_out(browser)
    assert response.status_code == 302

    order = Order.objects.get()
    anonymous_basket.refresh_from_db()
    assert anonymous_basket.status == Basket.MERGED
    assert order.basket_id != anonymous_basket.pk

    source_type = SourceType.objects.create(name="Card")
    Source.objects.create(
        order=order,
        source_type=source_type,
        currency=order.currency,
        amount_allocated=order.total_incl_tax,
        amount_debited=order.total_incl_tax,
    )

    profile = Event.objects.get(name="order_placed").profile
    visitor = browser.cookies["omni_vid"].value
    assert profile.email == LENA
    assert profile.user.email == LENA
    assert Identity.objects.filter(
        profile=profile, kind="visitor", value=visitor
    ).exists()
    names = set(Event.objects.filter(profile=profile).values_list("name", flat=True))
    assert {
        "signed_up",
        "cart_updated",
        "order_placed",
        "order_paid",
        "cart_converted",
    } <= names
    assert Event.objects.filter(
        name="cart_updated", object_id=str(anonymous_basket.pk), profile=profile
    ).exists()

    later = order.date_placed + timedelta(hours=3)
    assert detect_abandoned_carts(now=later) == 0
    assert not Event.objects.filter(name="cart_abandoned").exists()

    run = journey.enrollments.get()
    assert run.profile == profile
    assert run.status == Enrollment.Status.CONVERTED
    run_due(later)
    profile.refresh_from_db()
    assert profile.tags == []
