"""Basket changes read by the Oscar basket adapter, and abandoned baskets."""

from datetime import timedelta

import pytest
from django.urls import reverse
from oscar.core.loading import get_model

from omnichannel.integrations.abandonment import detect_abandoned_carts
from omnichannel.profiles.models import Event, Identity

Basket = get_model("basket", "Basket")

pytestmark = pytest.mark.django_db


def updates(basket):
    return Event.objects.filter(name="cart_updated", object_id=str(basket.pk))


def test_anonymous_basket_recorded_on_visitor(browser, mug):
    browser.post(reverse("basket:add", kwargs={"pk": mug.pk}), {"quantity": 2})

    basket = Basket.objects.get()
    update = updates(basket).get()
    visitor = browser.cookies["omni_vid"].value
    assert Identity.objects.get(kind="visitor", value=visitor).profile == update.profile
    assert update.properties["item_count"] == 2
    assert update.properties["total"] == "29.80"
    assert update.properties["cart_model"] == "basket.Basket"
    assert update.source == "oscar"


def test_basket_change_records_each_state_once(
    make_basket, customer, mug, make_product
):
    basket = make_basket((mug, 1), owner=customer)
    plate = make_product(title="Plate", sku="PLATE-7")

    basket.add_product(plate, 1)
    basket.save()
    line = basket.lines.get(product=mug)
    line.quantity = 3
    line.save()
    line.save()

    assert [
        event.properties["item_count"] for event in updates(basket).order_by("id")
    ] == [
        1,
        2,
        4,
    ]


def test_removed_line_recorded(make_basket, customer, mug, make_product):
    plate = make_product(title="Plate", sku="PLATE-7")
    basket = make_basket((mug, 1), (plate, 1), owner=customer)

    basket.lines.get(product=plate).delete()

    latest = updates(basket).order_by("-id").first()
    assert [line["sku"] for line in latest.properties["lines"]] == ["MUG-042"]


def test_saved_basket_records_nothing(customer, mug):
    basket = Basket.objects.create(owner=customer, status=Basket.SAVED)
    basket.lines.create(
        product=mug,
        stockrecord=mug.stockrecords.get(),
        line_reference="saved-mug",
        quantity=1,
        price_currency="EUR",
    )

    assert not updates(basket).exists()


def test_idle_basket_reported_abandoned(make_basket, customer, mug):
    basket = make_basket((mug, 1), owner=customer)
    update = updates(basket).get()

    recorded = detect_abandoned_carts(now=update.occurred_at + timedelta(minutes=59))
    assert recorded == 0
    recorded = detect_abandoned_carts(now=update.occurred_at + timedelta(hours=2))

    abandoned = Event.objects.get(name="cart_abandoned")
    assert recorded == 1
    assert abandoned.object_id == str(basket.pk)
    assert abandoned.occurred_at == update.occurred_at + timedelta(hours=1)
    assert abandoned.properties["lines"] == update.properties["lines"]
    assert abandoned.profile == update.profile


def test_frozen_basket_still_reported(make_basket, customer, mug):
    basket = make_basket((mug, 1), owner=customer)
    basket.freeze()
    update = updates(basket).get()

    assert detect_abandoned_carts(now=update.occurred_at + timedelta(hours=2)) == 1


def test_merged_basket_not_reported(browser, make_basket, customer, mug):
    browser.post(reverse("basket:add", kwargs={"pk": mug.pk}), {"quantity": 1})
    anonymous = Basket.objects.get()
    assert updates(anonymous).exists()
    own = make_basket(owner=customer)

    own.merge(anonymous)

    anonymous.refresh_from_db()
    assert anonymous.status == Basket.MERGED
    update = updates(own).get()
    assert detect_abandoned_carts(now=update.occurred_at + timedelta(hours=2)) == 1
    assert Event.objects.get(name="cart_abandoned").object_id == str(own.pk)


def test_emptied_basket_not_reported(make_basket, customer, mug):
    basket = make_basket((mug, 1), owner=customer)
    update = updates(basket).get()

    basket.flush()

    assert detect_abandoned_carts(now=update.occurred_at + timedelta(hours=2)) == 0


def test_basket_older_than_max_age_not_reported(make_basket, customer, mug):
    basket = make_basket((mug, 1), owner=customer)
    update = updates(basket).get()

    assert detect_abandoned_carts(now=update.occurred_at + timedelta(days=8)) == 0
