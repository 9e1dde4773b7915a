"""back_in_stock events from Oscar's stock records and product alerts."""

import pytest
from oscar.core.loading import get_model

from omnichannel.profiles.models import Event

ProductAlert = get_model("customer", "ProductAlert")

pytestmark = pytest.mark.django_db


@pytest.fixture
def sold_out(make_product):
    return make_product(title="Teapot", sku="TEAPOT-1", num_in_stock=0)


def restock(product, quantity):
    stockrecord = product.stockrecords.get()
    stockrecord.num_in_stock = quantity
    stockrecord.save()
    return stockrecord


def test_restock_records_event_for_alert(sold_out, customer):
    alert = ProductAlert.objects.create(product=sold_out, user=customer)

    restock(sold_out, 5)

    event = Event.objects.get(name="back_in_stock")
    assert event.profile.user == customer
    assert event.object_id == str(sold_out.pk)
    assert event.properties["num_available"] == 5
    assert event.properties["alert_id"] == alert.pk
    assert event.properties["partner_sku"] == "TEAPOT-1"
    # Oscar's own eager alert handler closed the alert in the same save.
    alert.refresh_from_db()
    assert alert.status == ProductAlert.CLOSED


def test_restock_without_eager_alerts(sold_out, customer):
    from django.db.models.signals import post_save
    from oscar.apps.customer.alerts import receivers

    StockRecord = get_model("partner", "StockRecord")
    post_save.disconnect(receivers.send_product_alerts, sender=StockRecord)
    try:
        alert = ProductAlert.objects.create(product=sold_out, user=customer)
        restock(sold_out, 2)
        restock(sold_out, 0)
        restock(sold_out, 2)
    finally:
        post_save.connect(receivers.send_product_alerts, sender=StockRecord)

    alert.refresh_from_db()
    # The alert stays active until Oscar's oscar_send_alerts command runs, but
    # only one back_in_stock event is recorded for it.
    assert alert.status == ProductAlert.ACTIVE
    assert Event.objects.filter(name="back_in_stock").count() == 1


def test_restock_records_confirmed_anonymous_alert(sold_out):
    alert = ProductAlert.objects.create(
        product=sold_out, email="anna.example@example.com"
    )
    alert.confirm()

    restock(sold_out, 1)

    assert Event.objects.get(name="back_in_stock").profile.email == (
        "anna.example@example.com"
    )


def test_unconfirmed_and_cancelled_alerts_ignored(sold_out):
    ProductAlert.objects.create(
        product=sold_out,
        email="anna.example@example.com",
        status=ProductAlert.UNCONFIRMED,
    )
    ProductAlert.objects.create(
        product=sold_out, email="zoe.sample@example.com", status=ProductAlert.CANCELLED
    )

    restock(sold_out, 3)

    assert not Event.objects.filter(name="back_in_stock").exists()


def test_stock_rise_while_in_stock_records_nothing(make_product, customer):
    teapot = make_product(title="Teapot", sku="TEAPOT-1", num_in_stock=2)
    ProductAlert.objects.create(product=teapot, user=customer)

    restock(teapot, 8)

    assert not Event.objects.filter(name="back_in_stock").exists()


def test_allocation_down_to_zero_and_back(sold_out, customer):
    stockrecord = restock(sold_out, 1)
    stockrecord.allocate(1)
    alert = ProductAlert.objects.create(product=sold_out, user=customer)

    restock(sold_out, 4)

    event = Event.objects.get(name="back_in_stock")
    assert event.properties["alert_id"] == alert.pk
    assert event.properties["num_available"] == 3


def test_closed_alert_not_recorded_again(sold_out, customer):
    ProductAlert.objects.create(product=sold_out, user=customer)
    restock(sold_out, 2)
    restock(sold_out, 0)
    restock(sold_out, 2)

    assert Event.objects.filter(name="back_in_stock").count() == 1
