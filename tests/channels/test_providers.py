"""Provider backends against loopback servers that check the documented requests."""

import base64
import json
import time

import http_ece
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from py_vapid import Vapid

from omnichannel.channels import services
from omnichannel.channels.backends.webhook import sign, verify_signature
from omnichannel.channels.models import Delivery, MessageTemplate, WebPushSubscription
from omnichannel.consent.services import record_consent
from omnichannel.profiles.models import Identity
from tests.channels.providers import (
    FakeFCM,
    FakePushService,
    FakeTwilio,
    FakeWebhookReceiver,
    FakeWhatsApp,
    Reply,
)
from tests.factories import ProfileFactory

Status = Delivery.Status


@pytest.fixture
def provider(request):
    server = request.param().start()
    yield server
    server.stop()


def use_backend(settings, channel, backend, **options):
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "CHANNEL_BACKENDS": {channel: {"BACKEND": backend, "OPTIONS": options}},
        "DELIVERY_MAX_ATTEMPTS": 3,
    }


def send(on_commit, profile, template, key):
    delivery, _ = services.create_delivery(
        profile, template.channel, template, dedupe_key=key
    )
    with on_commit():
        services.dispatch_delivery(delivery.pk)
    delivery.refresh_from_db()
    return delivery


# SMS through Twilio's Messages API


@pytest.fixture
def twilio(settings):
    server = FakeTwilio().start()
    use_backend(
        settings,
        "sms",
        "omnichannel.channels.backends.sms.TwilioSMSBackend",
        API_URL=server.url,
        ACCOUNT_SID=FakeTwilio.account_sid,
        AUTH_TOKEN=FakeTwilio.auth_token,
        FROM="+15005550006",
    )
    yield server
    server.stop()


@pytest.mark.django_db
def test_twilio_sends_with_short_link_and_stop_line(
    on_commit, twilio, customer, sms_template
):
    record_consent(customer, "tracking", True)
    delivery = send(on_commit, customer, sms_template, "twilio-1")
    assert delivery.status == Status.SENT
    assert delivery.provider_message_id.startswith("SM")
    [request] = twilio.requests
    form = request.form()
    assert form["To"] == "+447700900789"
    assert form["From"] == "+15005550006"
    assert form["Body"].startswith(
        "Zoe, your cart is waiting: https://shop.example/omnichannel/s/"
    )
    assert form["Body"].endswith("\nSTOP to opt out")
    assert "utm_" not in form["Body"]
    link = delivery.short_links.get()
    assert link.url.startswith("https://shop.example/cart?utm_source=omnichannel")
    assert delivery.sms_encoding == "gsm7"
    assert delivery.sms_segments == 1


@pytest.mark.django_db
def test_twilio_rate_limit_is_retried_after_wait(
    on_commit, twilio, customer, sms_template
):
    twilio.fail_next(
        Reply(
            429,
            {"code": 20429, "message": "Too Many Requests", "status": 429},
            {"Retry-After": "30"},
        )
    )
    delivery = send(on_commit, customer, sms_template, "twilio-429")
    assert delivery.status == Status.DEFERRED
    assert delivery.reason == "provider_error"
    assert delivery.error.startswith("20429:")
    assert (delivery.next_attempt_at - delivery.updated_at).total_seconds() >= 29


@pytest.mark.django_db
def test_twilio_server_error_is_retried(on_commit, twilio, customer, sms_template):
    twilio.fail_next(
        Reply(503, {"code": 20500, "message": "Unavailable", "status": 503})
    )
    delivery = send(on_commit, customer, sms_template, "twilio-503")
    assert delivery.status == Status.DEFERRED


@pytest.mark.django_db
def test_twilio_invalid_number_fails_for_good(
    on_commit, twilio, customer, sms_template
):
    twilio.fail_next(
        Reply(400, {"code": 21211, "message": "Invalid 'To'", "status": 400})
    )
    delivery = send(on_commit, customer, sms_template, "twilio-21211")
    assert delivery.status == Status.FAILED
    assert delivery.reason == "invalid_address"
    assert "21211" in delivery.error


@pytest.mark.django_db
def test_twilio_unsubscribed_recipient_is_suppressed(
    on_commit, twilio, customer, sms_template
):
    twilio.fail_next(
        Reply(400, {"code": 21610, "message": "Unsubscribed recipient", "status": 400})
    )
    delivery = send(on_commit, customer, sms_template, "twilio-21610")
    assert delivery.status == Status.SUPPRESSED
    again = send(on_commit, customer, sms_template, "twilio-after-stop")
    assert again.status == Status.SUPPRESSED
    assert again.reason == "suppressed"
    assert len(twilio.requests) == 1


@pytest.mark.django_db
def test_twilio_wrong_credentials_fail_without_retry(
    on_commit, settings, customer, sms_template
):
    server = FakeTwilio().start()
    try:
        use_backend(
            settings,
            "sms",
            "omnichannel.channels.backends.sms.TwilioSMSBackend",
            API_URL=server.url,
            ACCOUNT_SID=FakeTwilio.account_sid,
            AUTH_TOKEN="wrong",
            FROM="+15005550006",
        )
        delivery = send(on_commit, customer, sms_template, "twilio-401")
    finally:
        server.stop()
    assert delivery.status == Status.FAILED
    assert delivery.reason == "provider_error"


# A6: a step limited to one segment


BIRTHDAY = (
    "Happy birthday, {{ first_name }}! Here is 15% off your next order with code "
    "BDAY15, valid until 15 Jan 2027. Shop: https://shop.example/b/7QX2 STOP to opt out"
)


@pytest.fixture
def birthday_sms(db):
    return MessageTemplate.objects.create(
        name="Birthday",
        slug="birthday",
        channel="sms",
        body=BIRTHDAY,
        sms_max_segments=1,
        recommendation_count=0,
        utm_campaign="",
    )


def plain_links(settings):
    # Keep the link as written so the counts match the published text.
    settings.OMNICHANNEL = {**settings.OMNICHANNEL, "SITE_URL": "https://other.example"}


@pytest.mark.django_db
def test_one_segment_step_transliterates_zoe(on_commit, twilio, settings, birthday_sms):
    plain_links(settings)
    profile = ProfileFactory(phone="+447700900123", first_name="Zoë")
    record_consent(profile, "sms", True)
    delivery = send(on_commit, profile, birthday_sms, "bday-zoe")
    assert delivery.status == Status.SENT
    assert delivery.sms_encoding == "gsm7"
    assert delivery.sms_segments == 1
    assert "Happy birthday, Zoe!" in twilio.requests[0].form()["Body"]


@pytest.mark.django_db
def test_one_segment_step_sends_anna_unchanged(
    on_commit, twilio, settings, birthday_sms
):
    plain_links(settings)
    profile = ProfileFactory(phone="+447700900124", first_name="Anna")
    record_consent(profile, "sms", True)
    delivery = send(on_commit, profile, birthday_sms, "bday-anna")
    assert delivery.status == Status.SENT
    assert delivery.sms_segments == 1
    assert len(twilio.requests[0].form()["Body"]) == 146


@pytest.mark.django_db
def test_one_segment_step_holds_when_told_to(on_commit, twilio, settings, birthday_sms):
    plain_links(settings)
    birthday_sms.sms_overflow = "hold"
    birthday_sms.save()
    profile = ProfileFactory(phone="+447700900125", first_name="Zoë")
    record_consent(profile, "sms", True)
    delivery = send(on_commit, profile, birthday_sms, "bday-hold")
    assert delivery.status == Status.HELD
    assert delivery.reason == "too_many_segments"
    assert delivery.sms_encoding == "ucs2"
    assert delivery.sms_segments == 3
    assert twilio.requests == []


@pytest.mark.django_db
def test_one_segment_step_holds_when_still_too_long(
    on_commit, twilio, settings, birthday_sms
):
    plain_links(settings)
    birthday_sms.body = BIRTHDAY + " " + "x" * 40
    birthday_sms.save()
    profile = ProfileFactory(phone="+447700900126", first_name="Zoë")
    record_consent(profile, "sms", True)
    delivery = send(on_commit, profile, birthday_sms, "bday-long")
    assert delivery.status == Status.HELD
    assert twilio.requests == []


# Mobile push through FCM HTTP v1


def service_account(token_uri):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return key, {
        "type": "service_account",
        "project_id": FakeFCM.project_id,
        "private_key_id": "key-1",
        "private_key": pem,
        "client_email": "push@shop-test.iam.gserviceaccount.com",
        "token_uri": token_uri,
    }


@pytest.fixture
def fcm(settings):
    server = FakeFCM().start()
    key, info = service_account(server.url + "/token")
    use_backend(
        settings,
        "push",
        "omnichannel.channels.backends.push.FCMBackend",
        API_URL=server.url,
        PROJECT_ID=FakeFCM.project_id,
        SERVICE_ACCOUNT_INFO=info,
    )
    server.public_key = key.public_key()
    yield server
    server.stop()


@pytest.fixture
def push_template(db):
    return MessageTemplate.objects.create(
        name="Push",
        slug="push-cart",
        channel="push",
        subject="{{ first_name }}, still thinking?",
        body="Your cart is saved.",
        url="https://shop.example/cart",
    )


def push_profile(*tokens):
    profile = ProfileFactory(first_name="Zoe")
    record_consent(profile, "push", True)
    for token in tokens:
        Identity.objects.create(profile=profile, kind="device", value=token)
    return profile


@pytest.mark.django_db
def test_fcm_signs_jwt_and_sends_to_each_device(on_commit, fcm, push_template):
    profile = push_profile("device-a", "device-b")
    delivery = send(on_commit, profile, push_template, "fcm-1")
    assert delivery.status == Status.SENT
    assert delivery.provider_message_id.startswith("projects/shop-test/messages/")

    token_request = fcm.requests[0]
    assert token_request.path == "/token"
    claims = jwt.decode(
        token_request.form()["assertion"],
        fcm.public_key,
        algorithms=["RS256"],
        audience=fcm.url + "/token",
    )
    assert claims["scope"] == "https://www.googleapis.com/auth/firebase.messaging"
    assert claims["iss"] == "push@shop-test.iam.gserviceaccount.com"

    sends = [r.json()["message"] for r in fcm.requests[1:]]
    assert [m["token"] for m in sends] == ["device-a", "device-b"]
    assert sends[0]["notification"] == {
        "title": "Zoe, still thinking?",
        "body": "Your cart is saved.",
    }
    assert sends[0]["data"]["url"].startswith("https://shop.example/cart?utm_")
    assert sends[0]["data"]["delivery_id"] == str(delivery.pk)


@pytest.mark.django_db
def test_fcm_unregistered_token_is_forgotten(on_commit, fcm, push_template):
    profile = push_profile("gone-token", "device-c")
    delivery = send(on_commit, profile, push_template, "fcm-gone")
    assert delivery.status == Status.SENT
    assert list(
        Identity.objects.filter(profile=profile, kind="device").values_list(
            "value", flat=True
        )
    ) == ["device-c"]


@pytest.mark.django_db
def test_fcm_only_unregistered_tokens_fail_delivery(on_commit, fcm, push_template):
    profile = push_profile("gone-token")
    delivery = send(on_commit, profile, push_template, "fcm-all-gone")
    assert delivery.status == Status.FAILED
    assert delivery.reason == "invalid_address"
    assert not Identity.objects.filter(profile=profile, kind="device").exists()


@pytest.mark.django_db
def test_fcm_quota_exceeded_is_retried(on_commit, fcm, push_template):
    profile = push_profile("device-d")
    fcm.access_token_before = fcm.access_token
    fcm.fail_next(
        Reply(200, {"access_token": fcm.access_token, "expires_in": 3599}),
        Reply(
            429,
            {
                "error": {
                    "code": 429,
                    "status": "RESOURCE_EXHAUSTED",
                    "message": "Quota",
                    "details": [{"errorCode": "QUOTA_EXCEEDED"}],
                }
            },
            {"Retry-After": "60"},
        ),
    )
    delivery = send(on_commit, profile, push_template, "fcm-429")
    assert delivery.status == Status.DEFERRED
    assert "QUOTA_EXCEEDED" in delivery.error


@pytest.mark.django_db
def test_push_without_device_fails_no_address(on_commit, fcm, push_template):
    delivery = send(on_commit, push_profile(), push_template, "fcm-none")
    assert delivery.status == Status.FAILED
    assert delivery.reason == "no_address"
    assert fcm.requests == []


# WhatsApp template messages


@pytest.fixture
def whatsapp(settings):
    server = FakeWhatsApp().start()
    use_backend(
        settings,
        "whatsapp",
        "omnichannel.channels.backends.whatsapp.WhatsAppBackend",
        API_URL=server.url,
        PHONE_NUMBER_ID=FakeWhatsApp.phone_number_id,
        ACCESS_TOKEN=FakeWhatsApp.access_token,
    )
    yield server
    server.stop()


@pytest.fixture
def whatsapp_template(db):
    return MessageTemplate.objects.create(
        name="Cart WhatsApp",
        slug="cart-whatsapp",
        channel="whatsapp",
        whatsapp_template="cart_reminder",
        whatsapp_language="en_GB",
        body="{{ first_name }}\n{{ code }}",
        recommendation_count=0,
    )


@pytest.mark.django_db
def test_whatsapp_sends_template_with_parameters(
    on_commit, whatsapp, whatsapp_template
):
    profile = ProfileFactory(phone="+447700900321", first_name="Zoe")
    record_consent(profile, "whatsapp", True)
    delivery, _ = services.create_delivery(
        profile,
        "whatsapp",
        whatsapp_template,
        dedupe_key="wa-1",
        context={"code": "CART10"},
    )
    with on_commit():
        services.dispatch_delivery(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == Status.SENT
    assert delivery.provider_message_id == "wamid.TEST1"
    body = whatsapp.requests[0].json()
    assert body["to"] == "447700900321"
    assert body["template"]["name"] == "cart_reminder"
    assert body["template"]["language"] == {"code": "en_GB"}
    assert body["template"]["components"] == [
        {
            "type": "body",
            "parameters": [
                {"type": "text", "text": "Zoe"},
                {"type": "text", "text": "CART10"},
            ],
        }
    ]


@pytest.mark.django_db
def test_whatsapp_rate_limit_is_retried(on_commit, whatsapp, whatsapp_template):
    profile = ProfileFactory(phone="+447700900322")
    record_consent(profile, "whatsapp", True)
    whatsapp.fail_next(
        Reply(
            400,
            {
                "error": {
                    "message": "Rate limit hit",
                    "type": "OAuthException",
                    "code": 130429,
                    "fbtrace_id": "x",
                }
            },
        )
    )
    delivery = send(on_commit, profile, whatsapp_template, "wa-429")
    assert delivery.status == Status.DEFERRED
    assert delivery.error.startswith("130429:")


@pytest.mark.django_db
def test_whatsapp_undeliverable_number_fails(on_commit, whatsapp, whatsapp_template):
    profile = ProfileFactory(phone="+447700900323")
    record_consent(profile, "whatsapp", True)
    whatsapp.fail_next(
        Reply(
            400,
            {
                "error": {
                    "message": "Message undeliverable",
                    "type": "OAuthException",
                    "code": 131026,
                    "fbtrace_id": "x",
                }
            },
        )
    )
    delivery = send(on_commit, profile, whatsapp_template, "wa-131026")
    assert delivery.status == Status.FAILED
    assert delivery.reason == "invalid_address"


# Signed webhooks


@pytest.fixture
def webhook(settings):
    server = FakeWebhookReceiver().start()
    use_backend(
        settings,
        "webhook",
        "omnichannel.channels.backends.webhook.WebhookBackend",
        URL=server.url + "/hooks/crm",
        SECRET=FakeWebhookReceiver.secret,
    )
    # The receiver runs on loopback, which webhooks may reach only when listed.
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "WEBHOOK_ALLOWED_HOSTS": ["127.0.0.1"],
    }
    yield server
    server.stop()


@pytest.fixture
def webhook_template(db):
    return MessageTemplate.objects.create(
        name="CRM task",
        slug="crm-task",
        channel="webhook",
        subject="Call {{ first_name }}",
        body="Spent {{ profile.total_spent }}",
        recommendation_count=0,
    )


@pytest.mark.django_db
def test_webhook_is_signed_and_accepted(on_commit, webhook, webhook_template):
    profile = ProfileFactory(first_name="Zoe")
    delivery, _ = services.create_delivery(
        profile, "webhook", webhook_template, dedupe_key="hook-1", context={"cart": 7}
    )
    with on_commit():
        services.dispatch_delivery(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == Status.SENT
    assert delivery.provider_message_id == "req-1"
    request = webhook.requests[0]
    assert request.headers["x-omnichannel-delivery"] == str(delivery.pk)
    body = request.json()
    assert body["subject"] == "Call Zoe"
    assert body["context"] == {"cart": 7}
    assert body["profile_uuid"] == str(profile.uuid)


@pytest.mark.django_db
def test_webhook_with_wrong_secret_is_rejected_and_retried(
    on_commit, settings, webhook, webhook_template
):
    settings.OMNICHANNEL["CHANNEL_BACKENDS"]["webhook"]["OPTIONS"]["SECRET"] = "t" * 40
    settings.OMNICHANNEL = dict(settings.OMNICHANNEL)
    delivery = send(on_commit, ProfileFactory(), webhook_template, "hook-bad")
    assert delivery.status == Status.FAILED
    assert "401" in delivery.error


def test_verify_signature_rejects_old_and_forged_requests():
    secret = "k" * 40
    body = b'{"a":1}'
    now = 1_800_000_000
    signature = sign(secret, now, body)
    assert verify_signature(secret, body, str(now), signature, now=now + 10)
    assert not verify_signature(secret, body, str(now), signature, now=now + 301)
    assert not verify_signature(secret, b'{"a":2}', str(now), signature, now=now)
    assert not verify_signature("x" * 40, body, str(now), signature, now=now)
    assert not verify_signature(secret, body, "soon", signature, now=now)


# Web push with VAPID


def browser_keys():
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    auth = b"0123456789abcdef"

    def b64(raw):
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return private, auth, b64(public), b64(auth)


@pytest.fixture
def push_service(settings, tmp_path):
    server = FakePushService().start()
    vapid = Vapid()
    vapid.generate_keys()
    key_file = tmp_path / "vapid.pem"
    key_file.write_bytes(vapid.private_pem())
    use_backend(
        settings,
        "webpush",
        "omnichannel.channels.backends.webpush.WebPushBackend",
        VAPID_PRIVATE_KEY=str(key_file),
        VAPID_PUBLIC_KEY="public-key-for-browsers",
        VAPID_SUBJECT="mailto:push@shop.example",
    )
    server.vapid = vapid
    yield server
    server.stop()


@pytest.fixture
def webpush_template(db):
    return MessageTemplate.objects.create(
        name="Web push",
        slug="webpush-cart",
        channel="webpush",
        subject="Hi {{ first_name }}",
        body="Your cart misses you.",
        url="https://shop.example/cart",
    )


@pytest.mark.django_db
def test_webpush_encrypts_payload_with_vapid(on_commit, push_service, webpush_template):
    profile = ProfileFactory(first_name="Zoe")
    record_consent(profile, "webpush", True)
    private, auth, p256dh, auth_b64 = browser_keys()
    WebPushSubscription.objects.create(
        profile=profile,
        endpoint=push_service.url + "/push/sub-1",
        p256dh=p256dh,
        auth=auth_b64,
    )
    delivery = send(on_commit, profile, webpush_template, "wp-1")
    assert delivery.status == Status.SENT

    request = push_service.requests[0]
    token = request.headers["authorization"].split("t=")[1].split(",")[0]
    claims = jwt.decode(
        token,
        push_service.vapid.public_key,
        algorithms=["ES256"],
        audience=push_service.url,
    )
    assert claims["sub"] == "mailto:push@shop.example"
    assert claims["exp"] > time.time()
    plain = http_ece.decrypt(
        request.body, private_key=private, auth_secret=auth, version="aes128gcm"
    )
    payload = json.loads(plain)
    assert payload["title"] == "Hi Zoe"
    assert payload["body"] == "Your cart misses you."
    assert payload["delivery_id"] == delivery.pk
    assert WebPushSubscription.objects.get().last_used_at is not None


@pytest.mark.django_db
def test_webpush_expired_subscription_is_removed(
    on_commit, push_service, webpush_template
):
    profile = ProfileFactory()
    record_consent(profile, "webpush", True)
    _private, _auth, p256dh, auth_b64 = browser_keys()
    WebPushSubscription.objects.create(
        profile=profile,
        endpoint=push_service.url + "/push/old",
        p256dh=p256dh,
        auth=auth_b64,
    )
    push_service.expired_paths = {"/push/old"}
    delivery = send(on_commit, profile, webpush_template, "wp-gone")
    assert delivery.status == Status.FAILED
    assert delivery.reason == "invalid_address"
    assert not WebPushSubscription.objects.exists()


@pytest.mark.django_db
def test_webpush_rate_limit_is_retried(on_commit, push_service, webpush_template):
    profile = ProfileFactory()
    record_consent(profile, "webpush", True)
    _private, _auth, p256dh, auth_b64 = browser_keys()
    WebPushSubscription.objects.create(
        profile=profile,
        endpoint=push_service.url + "/push/busy",
        p256dh=p256dh,
        auth=auth_b64,
    )
    push_service.fail_next(Reply(429, b"slow down", {"Retry-After": "120"}))
    delivery = send(on_commit, profile, webpush_template, "wp-429")
    assert delivery.status == Status.DEFERRED
