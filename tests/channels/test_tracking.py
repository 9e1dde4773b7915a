from datetime import timedelta
from decimal import Decimal

import pytest
from anymail.signals import AnymailTrackingEvent, tracking
from django.urls import reverse
from django.utils import timezone

from omnichannel.channels import links, services
from omnichannel.channels.models import Delivery, ShortLink
from omnichannel.consent.models import ConsentRecord, Suppression
from omnichannel.consent.services import has_consent, record_consent
from omnichannel.profiles.models import Event, Identity
from omnichannel.profiles.services import track
from tests.factories import ProfileFactory


@pytest.fixture
def sent_email(on_commit, customer, email_template):
    record_consent(customer, "tracking", True)
    delivery, _ = services.create_delivery(
        customer, "email", email_template, dedupe_key="tracked"
    )
    with on_commit():
        services.dispatch_delivery(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT
    return delivery


def click_path(delivery, url):
    return reverse(
        "omnichannel:track-click", args=[links.click_token(delivery.pk, url)]
    )


@pytest.mark.django_db
def test_open_pixel_records_first_open_once(client, sent_email):
    path = reverse("omnichannel:track-open", args=[links.open_token(sent_email.pk)])
    for _ in range(2):
        response = client.get(path)
        assert response.status_code == 200
        assert response["Content-Type"] == "image/gif"
    sent_email.refresh_from_db()
    assert sent_email.opened_at is not None
    assert Event.objects.filter(name="message_opened").count() == 1


@pytest.mark.django_db
def test_forged_open_token_returns_pixel_records_nothing(client, sent_email):
    token = links.open_token(sent_email.pk)[:-2] + "xx"
    response = client.get(reverse("omnichannel:track-open", args=[token]))
    assert response.status_code == 200
    assert not Event.objects.filter(name="message_opened").exists()


@pytest.mark.django_db
def test_click_redirects_to_signed_url_and_records(client, sent_email):
    url = "https://shop.example/cart?utm_source=omnichannel"
    response = client.get(click_path(sent_email, url))
    assert response.status_code == 302
    assert response["Location"] == url
    sent_email.refresh_from_db()
    assert sent_email.clicked_at is not None
    assert sent_email.opened_at is not None
    click = Event.objects.get(name="message_clicked")
    assert click.properties["url"] == url
    assert click.properties["delivery_id"] == sent_email.pk


@pytest.mark.django_db
def test_click_with_tampered_url_is_not_redirected(client, sent_email):
    token = links.click_token(sent_email.pk, "https://shop.example/cart")
    payload, signature = token.split(":", 1)
    forged_payload = links.click_token(sent_email.pk, "https://evil.example/").split(
        ":", 1
    )[0]
    response = client.get(
        reverse("omnichannel:track-click", args=[f"{forged_payload}:{signature}"])
    )
    assert response.status_code == 404
    assert not Event.objects.filter(name="message_clicked").exists()


@pytest.mark.django_db
def test_click_token_of_other_salt_is_rejected(client, sent_email):
    response = client.get(
        reverse("omnichannel:track-click", args=[links.open_token(sent_email.pk)])
    )
    assert response.status_code == 404


@pytest.mark.django_db
def test_click_after_tracking_withdrawn_redirects_without_record(
    client, customer, sent_email
):
    record_consent(customer, "tracking", False)
    url = "https://shop.example/cart"
    response = client.get(click_path(sent_email, url))
    assert response.status_code == 302
    assert response["Location"] == url
    assert not Event.objects.filter(name="message_clicked").exists()


@pytest.mark.django_db
def test_short_link_redirects_and_records_tracked_click(client, sent_email):
    tracked, plain, unused = (links.new_short_code() for _ in range(3))
    ShortLink.objects.create(
        code=tracked, url="https://shop.example/x", delivery=sent_email
    )
    ShortLink.objects.create(code=plain, url="https://shop.example/y")
    response = client.get(reverse("omnichannel:short-link", args=[tracked]))
    assert response["Location"] == "https://shop.example/x"
    response = client.get(reverse("omnichannel:short-link", args=[plain]))
    assert response["Location"] == "https://shop.example/y"
    assert Event.objects.filter(name="message_clicked").count() == 1
    missing = client.get(reverse("omnichannel:short-link", args=[unused]))
    assert missing.status_code == 404
    forged = unused[:-1] + ("a" if unused[-1] != "a" else "b")
    ShortLink.objects.create(code=forged, url="https://evil.example/")
    rejected = client.get(reverse("omnichannel:short-link", args=[forged]))
    assert rejected.status_code == 404


@pytest.mark.django_db
def test_sms_without_tracking_consent_gets_untracked_short_link(
    on_commit, locmem_channels, customer, sms_template
):
    delivery, _ = services.create_delivery(
        customer, "sms", sms_template, dedupe_key="s"
    )
    with on_commit():
        services.dispatch_delivery(delivery.pk)
    link = ShortLink.objects.get()
    assert link.delivery is None


def anymail_event(event_type, delivery, **extra):
    return AnymailTrackingEvent(
        event_type=event_type,
        timestamp=timezone.now(),
        event_id=f"evt-{event_type}-{delivery.pk}",
        message_id=delivery.provider_message_id,
        recipient="zoe.sample@example.com",
        metadata={"delivery_id": str(delivery.pk)},
        **extra,
    )


@pytest.mark.django_db
def test_anymail_delivered_event_lands_in_event_log(sent_email):
    tracking.send(
        sender=object, event=anymail_event("delivered", sent_email), esp_name="Test"
    )
    sent_email.refresh_from_db()
    assert sent_email.delivered_at is not None
    event = Event.objects.get(name="message_delivered")
    assert event.properties["delivery_id"] == sent_email.pk
    assert event.properties["esp"] == "Test"


@pytest.mark.django_db
def test_anymail_bounce_and_complaint_suppress_address(sent_email):
    tracking.send(
        sender=object, event=anymail_event("bounced", sent_email), esp_name="Test"
    )
    tracking.send(
        sender=object, event=anymail_event("complained", sent_email), esp_name="Test"
    )
    assert Event.objects.filter(name="message_bounced").count() == 1
    assert Event.objects.filter(name="message_complained").count() == 1
    assert Suppression.objects.filter(
        channel="email", address="zoe.sample@example.com"
    ).exists()


@pytest.mark.django_db
def test_anymail_event_found_by_message_id(sent_email):
    event = anymail_event("delivered", sent_email)
    event.metadata = {}
    tracking.send(sender=object, event=event, esp_name="Test")
    assert Event.objects.filter(name="message_delivered").count() == 1


@pytest.mark.django_db
def test_anymail_same_event_twice_recorded_once(sent_email):
    for _ in range(2):
        tracking.send(
            sender=object, event=anymail_event("delivered", sent_email), esp_name="Test"
        )
    assert Event.objects.filter(name="message_delivered").count() == 1


@pytest.mark.django_db
def test_anymail_unsubscribe_withdraws_consent(customer, sent_email):
    tracking.send(
        sender=object, event=anymail_event("unsubscribed", sent_email), esp_name="Test"
    )
    assert not has_consent(customer, "email")


@pytest.mark.django_db
def test_anymail_open_needs_tracking_consent(customer, sent_email):
    record_consent(customer, "tracking", False)
    tracking.send(
        sender=object, event=anymail_event("opened", sent_email), esp_name="Test"
    )
    assert not Event.objects.filter(name="message_opened").exists()


@pytest.mark.django_db
def test_order_attributed_to_last_click_in_window(settings, customer, sent_email):
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "ATTRIBUTION_WINDOW": timedelta(days=5),
    }
    now = timezone.now()
    clicked = now - timedelta(days=2)
    track(
        "message_clicked",
        profile=customer,
        properties={"delivery_id": 999, "channel": "sms", "template": "old"},
        occurred_at=now - timedelta(days=3),
    )
    track(
        "message_clicked",
        profile=customer,
        properties={
            "delivery_id": sent_email.pk,
            "channel": "email",
            "template": "cart-reminder",
        },
        occurred_at=clicked,
    )
    track(
        "order_placed",
        profile=customer,
        occurred_at=now,
        revenue=Decimal("59.00"),
        currency="EUR",
        object_type="order",
        object_id="o-1",
    )
    converted = Event.objects.get(name="message_converted")
    assert converted.properties["delivery_id"] == sent_email.pk
    assert converted.properties["order_id"] == "o-1"
    assert converted.revenue == Decimal("59.00")


@pytest.mark.django_db
def test_order_outside_window_not_attributed(settings):
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "ATTRIBUTION_WINDOW": timedelta(days=5),
    }
    profile = ProfileFactory()
    now = timezone.now()
    track(
        "message_clicked",
        profile=profile,
        properties={"delivery_id": 1},
        occurred_at=now - timedelta(days=6),
    )
    track(
        "order_placed",
        profile=profile,
        occurred_at=now,
        revenue=Decimal("10"),
        object_type="order",
        object_id="o-2",
    )
    assert not Event.objects.filter(name="message_converted").exists()


@pytest.mark.django_db
def test_click_after_order_not_attributed():
    profile = ProfileFactory()
    now = timezone.now()
    track(
        "message_clicked",
        profile=profile,
        properties={"delivery_id": 1},
        occurred_at=now + timedelta(minutes=1),
    )
    track(
        "order_placed",
        profile=profile,
        occurred_at=now,
        revenue=Decimal("10"),
        object_type="order",
        object_id="o-3",
    )
    assert not Event.objects.filter(name="message_converted").exists()


@pytest.mark.django_db
def test_click_event_carries_journey_context(
    client, on_commit, customer, email_template
):
    record_consent(customer, "tracking", True)
    delivery, _ = services.create_delivery(
        customer,
        "email",
        email_template,
        dedupe_key="journey-click",
        context={"journey_id": 4, "variant": "b"},
        source_type="journey",
        step_key="email-1",
    )
    client.get(click_path(delivery, "https://shop.example/cart"))
    click = Event.objects.get(name="message_clicked")
    assert click.properties["journey_id"] == 4
    assert click.properties["variant"] == "b"
    assert click.properties["step_key"] == "email-1"


VISITOR = "5" * 32


@pytest.mark.django_db
def test_click_joins_visitor_history_to_recipient(client, customer, sent_email):
    from omnichannel.profiles.services import identify

    Identity.objects.create(profile=customer, kind="email", value=customer.email)
    anonymous = identify(visitor_id=VISITOR)
    track("product_viewed", profile=anonymous, properties={"sku": "RUN-42"})
    client.cookies["omni_vid"] = VISITOR

    response = client.get(click_path(sent_email, "https://shop.example/cart"))

    assert response.status_code == 302
    anonymous.refresh_from_db()
    assert anonymous.merged_into_id == customer.pk
    viewed = Event.objects.get(name="product_viewed")
    assert viewed.profile_id == customer.pk
    assert Identity.objects.get(kind="visitor", value=VISITOR).profile_id == (
        customer.pk
    )


@pytest.mark.django_db
def test_click_links_new_visitor_to_recipient(client, customer, sent_email):
    client.cookies["omni_vid"] = VISITOR

    client.get(click_path(sent_email, "https://shop.example/cart"))

    identity = Identity.objects.get(kind="visitor", value=VISITOR)
    assert identity.profile_id == customer.pk
    assert identity.source == "link"


@pytest.mark.django_db
def test_short_link_click_joins_visitor(client, customer, sent_email):
    code = links.new_short_code()
    ShortLink.objects.create(
        code=code, url="https://shop.example/x", delivery=sent_email
    )
    client.cookies["omni_vid"] = VISITOR

    client.get(reverse("omnichannel:short-link", args=[code]))

    assert Identity.objects.get(kind="visitor", value=VISITOR).profile_id == (
        customer.pk
    )


@pytest.mark.django_db
def test_click_without_tracking_consent_joins_nothing(client, customer, sent_email):
    record_consent(customer, "tracking", False)
    client.cookies["omni_vid"] = VISITOR

    client.get(click_path(sent_email, "https://shop.example/cart"))

    assert not Identity.objects.filter(kind="visitor", value=VISITOR).exists()


@pytest.mark.django_db
def test_anymail_unsubscribe_writes_one_consent_row(customer, sent_email):
    before = ConsentRecord.objects.filter(profile=customer).count()

    tracking.send(
        sender=object, event=anymail_event("unsubscribed", sent_email), esp_name="Test"
    )

    withdrawals = ConsentRecord.objects.filter(profile=customer, granted=False)
    assert withdrawals.count() == 1
    assert ConsentRecord.objects.filter(profile=customer).count() == before + 1
    assert Event.objects.filter(name="unsubscribed").count() == 1


@pytest.mark.django_db
def test_anymail_complaint_writes_one_of_each(customer, sent_email):
    tracking.send(
        sender=object, event=anymail_event("complained", sent_email), esp_name="Test"
    )

    assert Suppression.objects.count() == 1
    assert Suppression.objects.get().reason == "complaint"
    assert ConsentRecord.objects.filter(profile=customer, granted=False).count() == 1
    assert Event.objects.filter(name="message_complained").count() == 1
    sent_email.refresh_from_db()
    assert sent_email.bounced_at is not None


@pytest.mark.django_db
def test_anymail_soft_reject_does_not_suppress(sent_email):
    tracking.send(
        sender=object,
        event=anymail_event("rejected", sent_email, reject_reason="other"),
        esp_name="Test",
    )

    assert Event.objects.filter(name="message_bounced").count() == 1
    assert not Suppression.objects.exists()
