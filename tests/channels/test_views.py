import json

import pytest
from django.urls import reverse

from omnichannel.channels import services
from omnichannel.channels.models import (
    MessageTemplate,
    OnsiteMessage,
    WebPushSubscription,
)
from omnichannel.profiles.models import Identity

SUBSCRIPTION = {
    "endpoint": "https://push.example.net/send/abc123",
    "keys": {"p256dh": "BOr" + "x" * 84, "auth": "k" * 22},
}


def post_json(client, url, data, method="post"):
    return getattr(client, method)(
        url, data=json.dumps(data), content_type="application/json"
    )


@pytest.mark.django_db
def test_webpush_subscription_stored_for_visitor(client):
    url = reverse("omnichannel:webpush-subscription")
    response = post_json(client, url, SUBSCRIPTION)
    assert response.status_code == 201
    subscription = WebPushSubscription.objects.get()
    assert subscription.endpoint == SUBSCRIPTION["endpoint"]
    assert Identity.objects.filter(
        profile=subscription.profile, kind="visitor"
    ).exists()
    again = post_json(client, url, SUBSCRIPTION)
    assert again.status_code == 201
    assert WebPushSubscription.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"endpoint": "http://push.example.net/x", "keys": SUBSCRIPTION["keys"]},
            "endpoint",
        ),
        ({"endpoint": SUBSCRIPTION["endpoint"]}, "keys"),
        ({"endpoint": SUBSCRIPTION["endpoint"], "keys": {"p256dh": "a"}}, "keys.auth"),
        (
            {"endpoint": SUBSCRIPTION["endpoint"], "keys": {"p256dh": "", "auth": "b"}},
            "keys.p256dh",
        ),
    ],
)
def test_webpush_subscription_rejects_bad_body(client, body, field):
    response = post_json(client, reverse("omnichannel:webpush-subscription"), body)
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert not WebPushSubscription.objects.exists()


@pytest.mark.django_db
def test_webpush_subscription_rejects_non_json(client):
    response = client.post(
        reverse("omnichannel:webpush-subscription"),
        data="nope",
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"


@pytest.mark.django_db
def test_webpush_unsubscribe_deletes(client):
    url = reverse("omnichannel:webpush-subscription")
    post_json(client, url, SUBSCRIPTION)
    response = post_json(client, url, {"endpoint": SUBSCRIPTION["endpoint"]}, "delete")
    assert response.status_code == 204
    assert not WebPushSubscription.objects.exists()


@pytest.mark.django_db
def test_webpush_key_and_service_worker(client, settings):
    assert client.get(reverse("omnichannel:webpush-key")).status_code == 404
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "CHANNEL_BACKENDS": {
            "webpush": {
                "BACKEND": "omnichannel.channels.backends.webpush.WebPushBackend",
                "OPTIONS": {"VAPID_PUBLIC_KEY": "BPublic"},
            }
        },
    }
    assert client.get(reverse("omnichannel:webpush-key")).json() == {
        "public_key": "BPublic"
    }
    worker = client.get(reverse("omnichannel:webpush-sw"))
    assert worker["Content-Type"] == "application/javascript"
    assert worker["Service-Worker-Allowed"] == "/"
    assert b"showNotification" in worker.content


@pytest.mark.django_db
def test_onsite_message_shown_on_next_visit(client, on_commit):
    client.get("/omnichannel/onsite/messages/")  # gives the browser its cookie
    post_json(client, reverse("omnichannel:webpush-subscription"), SUBSCRIPTION)
    profile = WebPushSubscription.objects.get().profile
    template = MessageTemplate.objects.create(
        name="Free shipping",
        slug="free-shipping",
        channel="onsite",
        subject="Free shipping, {{ first_name|default:'friend' }}",
        body="<p>Your cart ships free today.</p>",
        url="https://shop.example/cart",
        recommendation_count=0,
    )
    delivery, _ = services.create_delivery(
        profile, "onsite", template, dedupe_key="onsite-1"
    )
    with on_commit():
        services.dispatch_delivery(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == "sent"

    response = client.get(reverse("omnichannel:onsite-messages"))
    [message] = response.json()["messages"]
    assert message["title"] == "Free shipping, friend"
    assert message["body"] == "<p>Your cart ships free today.</p>"
    assert OnsiteMessage.objects.get().shown_at is not None

    dismiss = reverse("omnichannel:onsite-dismiss", args=[message["id"]])
    assert client.post(dismiss).status_code == 204
    assert client.get(reverse("omnichannel:onsite-messages")).json()["messages"] == []
    assert client.post(dismiss).status_code == 404


@pytest.mark.django_db
def test_onsite_messages_of_unknown_visitor_empty(client):
    response = client.get(reverse("omnichannel:onsite-messages"))
    assert response.json() == {"messages": []}
