"""Replies by email and SMS landing in the customer's conversation."""

import importlib.util
from datetime import UTC, datetime

import pytest
from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent, inbound
from django.urls import reverse
from rest_framework.test import APIClient

from omnichannel.consent.services import record_consent
from omnichannel.conversations import services
from omnichannel.conversations.inbound import strip_quoted_reply
from omnichannel.conversations.models import Conversation, Message
from omnichannel.exceptions import InvalidInboundMessage
from omnichannel.profiles.models import Event, Identity, Profile
from omnichannel.profiles.services import identify

pytestmark = pytest.mark.django_db

AT = datetime(2026, 12, 4, 13, 0, tzinfo=UTC)
SECRET = "s3cret-for-inbound-webhooks-0123456789"


@pytest.fixture(autouse=True)
def settings_for_inbound(omnichannel_settings):
    omnichannel_settings(CONVERSATION_BOT=None, INBOUND_WEBHOOK_SECRET=SECRET)


def test_email_reply_opens_conversation_for_known_customer():
    profile = identify(email="anna.example@example.com")

    message = services.receive_inbound(
        "email",
        "Anna.Example@Example.COM ",
        "Is my order on its way?",
        received_at=AT,
        reference="<abc@mail.example>",
        subject="Re: Your order",
    )

    conversation = message.conversation
    assert conversation.profile == profile
    assert conversation.channel == "email"
    assert conversation.subject == "Re: Your order"
    assert message.channel == "email"
    assert message.created_at == AT
    assert message.external_id == "<abc@mail.example>"
    assert conversation.waiting_since == AT
    event = Event.objects.get(name="message_replied")
    assert event.profile == profile
    assert event.properties["channel"] == "email"


def test_reply_joins_open_chat():
    profile = identify(email="lena@example.org")
    chat, _ = services.start_conversation(profile, visitor_id="a" * 32, body="Hi")

    message = services.receive_inbound(
        "email", "lena@example.org", "Following up by email", received_at=AT
    )

    assert message.conversation == chat
    assert Conversation.objects.count() == 1


def test_reply_after_close_opens_new_conversation():
    profile = identify(email="lena@example.org")
    chat, _ = services.start_conversation(profile, visitor_id="a" * 32, body="Hi")
    services.close(chat)

    message = services.receive_inbound(
        "email", "lena@example.org", "One more question", received_at=AT
    )

    assert message.conversation != chat
    assert Conversation.objects.filter(status="open").count() == 1


def test_unknown_sender_gets_profile():
    services.receive_inbound("email", "new@example.net", "Hello", received_at=AT)

    identity = Identity.objects.get(kind="email", value="new@example.net")
    assert identity.profile.conversations.count() == 1


@pytest.mark.parametrize(
    "sender",
    ["447700900123", "+44 7700 900123", "0044 7700 900123", "+44 (0)7700 900123"],
)
def test_sms_sender_forms_reach_one_profile(sender):
    profile = identify(phone="+447700900123")

    message = services.receive_inbound("sms", sender, "Hello", received_at=AT)

    assert message.conversation.profile == profile
    assert Profile.objects.count() == 1


def test_repeat_delivery_with_same_reference_is_stored_once():
    first = services.receive_inbound(
        "sms", "+447700900123", "Hi", received_at=AT, reference="SM123"
    )
    again = services.receive_inbound(
        "sms", "+447700900123", "Hi", received_at=AT, reference="SM123"
    )

    assert again.pk == first.pk
    assert Message.objects.count() == 1
    assert Event.objects.filter(name="message_replied").count() == 1


def test_long_inbound_text_is_cut(omnichannel_settings):
    omnichannel_settings(INBOUND_MESSAGE_MAX_LENGTH=50)

    message = services.receive_inbound(
        "email", "a@example.com", "x" * 80, received_at=AT
    )

    assert len(message.body) == 50
    assert message.metadata["truncated"] is True


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        (("fax", "a@example.com", "hi"), "channel"),
        (("email", "not an address", "hi"), "sender_address"),
        (("sms", "12345", "hi"), "sender_address"),
        (("email", "a@example.com", "   "), "text"),
        (("email", "test@test.com", "hi"), "sender_address"),
    ],
)
def test_bad_inbound_raises_with_field(arguments, field):
    with pytest.raises(InvalidInboundMessage) as error:
        services.receive_inbound(*arguments, received_at=AT)

    assert error.value.field == field
    assert Message.objects.count() == 0


def test_naive_received_at_is_rejected():
    with pytest.raises(InvalidInboundMessage) as error:
        services.receive_inbound(
            "email", "a@example.com", "hi", received_at=datetime(2026, 1, 1)
        )

    assert error.value.field == "received_at"


def _keyword_handler(calls):
    """Stand-in for the consent code's STOP/START handler: withdraws SMS consent."""

    def handle_sms_keyword(phone, text, at=None):
        calls.append((phone, text, at))
        if text.strip().upper() != "STOP":
            return False
        profile = identify(phone=phone)
        record_consent(profile, "sms", False, source="sms-keyword", at=at)
        return True

    return handle_sms_keyword


def test_stop_goes_to_consent_code_not_conversation(monkeypatch):
    calls = []
    monkeypatch.setattr(
        services, "_sms_keyword_handler", lambda: _keyword_handler(calls)
    )

    result = services.receive_inbound("sms", "447700900123", "Stop", received_at=AT)

    assert result is None
    assert calls == [("+447700900123", "Stop", AT)]
    assert Message.objects.count() == 0
    assert Conversation.objects.count() == 0


def test_other_sms_passes_keyword_check(monkeypatch):
    calls = []
    monkeypatch.setattr(
        services, "_sms_keyword_handler", lambda: _keyword_handler(calls)
    )

    message = services.receive_inbound(
        "sms", "+447700900123", "Stop sending the blue one", received_at=AT
    )

    assert message is not None
    assert len(calls) == 1


@pytest.mark.skipif(
    importlib.util.find_spec("omnichannel.consent.sms") is None,
    reason="needs the consent code's handle_sms_keyword",
)
def test_stop_with_real_consent_code():
    from omnichannel.consent.services import has_consent

    profile = identify(phone="+447700900789")
    record_consent(profile, "sms", True, at=datetime(2026, 3, 2, tzinfo=UTC))

    result = services.receive_inbound("sms", "+447700900789", "STOP", received_at=AT)

    assert result is None
    assert Message.objects.count() == 0
    assert has_consent(profile, "sms", at=AT) is False


def test_strip_quoted_reply():
    text = (
        "Yes, please change the size to M.\n\n"
        "On Tue, 1 Dec 2026 at 10:00, Nordlicht Outfitters <shop@example.com>\n"
        "wrote:\n"
        "> Your order NL-1001 ships today.\n"
    )

    assert strip_quoted_reply(text) == "Yes, please change the size to M."


def test_strip_quoted_reply_outlook_block():
    text = (
        "Thanks!\r\n\r\nFrom: Shop <shop@example.com>\r\nSent: Tuesday\r\n"
        "Subject: Your order\r\n\r\nOld text"
    )

    assert strip_quoted_reply(text) == "Thanks!"


def test_strip_quoted_reply_keeps_from_in_customer_text():
    text = "From: my experience the size runs small.\nCan I swap it?"

    assert strip_quoted_reply(text) == text


def test_strip_quoted_reply_keeps_everything_when_all_quoted():
    assert strip_quoted_reply("> only quoted") == "> only quoted"


def _webhook(path, payload, secret=SECRET):
    client = APIClient()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"} if secret else {}
    return client.post(reverse(path), payload, format="json", **headers)


def test_email_webhook_adds_message():
    identify(email="anna@example.com")

    response = _webhook(
        "omnichannel:inbound_email",
        {
            "sender": "Anna Example <Anna@Example.com>",
            "text": "Where is it?\n\nOn Mon, Shop wrote:\n> Shipped",
            "subject": "Re: Shipped",
            "message_id": "<m1@mail.example>",
            "received_at": "2026-12-04T14:00:00+01:00",
        },
    )

    assert response.status_code == 201
    data = response.json()
    assert data["outcome"] == "added"
    message = Message.objects.get(pk=data["message"])
    assert message.body == "Where is it?"
    assert message.created_at == AT
    assert str(message.conversation.uuid) == data["conversation"]


def test_email_webhook_uses_html_without_text():
    response = _webhook(
        "omnichannel:inbound_email",
        {"sender": "a@example.com", "html": "<p>Hello <b>there</b></p>"},
    )

    assert response.status_code == 201
    assert Message.objects.get().body == "Hello there"


def test_webhook_repeat_is_duplicate():
    payload = {"sender": "+447700900123", "text": "Hi", "message_id": "SM1"}

    first = _webhook("omnichannel:inbound_sms", payload)
    second = _webhook("omnichannel:inbound_sms", payload)

    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json()["outcome"] == "duplicate"
    assert second.json()["message"] == first.json()["message"]


def test_sms_webhook_keyword(monkeypatch):
    monkeypatch.setattr(services, "_sms_keyword_handler", lambda: _keyword_handler([]))

    response = _webhook(
        "omnichannel:inbound_sms", {"sender": "447700900123", "text": "STOP"}
    )

    assert response.status_code == 200
    assert response.json() == {
        "outcome": "keyword",
        "conversation": None,
        "message": None,
    }


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"text": "Hi"}, "sender"),
        ({"sender": "12345", "text": "Hi"}, "sender"),
        ({"sender": "+447700900123", "text": "  "}, "text"),
        (
            {"sender": "+447700900123", "text": "Hi", "received_at": "yesterday"},
            "received_at",
        ),
    ],
)
def test_sms_webhook_rejects_bad_payload(payload, field):
    response = _webhook("omnichannel:inbound_sms", payload)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["errors"]
    assert Message.objects.count() == 0


def test_webhook_needs_secret():
    missing = _webhook("omnichannel:inbound_sms", {"sender": "+447700900123"}, None)
    wrong = _webhook(
        "omnichannel:inbound_sms", {"sender": "+447700900123"}, "wrong-secret"
    )

    assert missing.status_code == 401
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "invalid_secret"
    assert Message.objects.count() == 0


def test_webhook_off_without_secret(omnichannel_settings):
    omnichannel_settings(INBOUND_WEBHOOK_SECRET=None)

    response = _webhook("omnichannel:inbound_email", {"sender": "a@example.com"}, "x")

    assert response.status_code == 403
    assert response.json()["code"] == "webhook_disabled"


def test_anymail_inbound_signal_adds_email():
    profile = identify(email="zoe.sample@example.com")
    message = AnymailInboundMessage.construct(
        from_email="Zoe <zoe.sample@example.com>",
        to="replies@shop.example",
        subject="Re: Your cart",
        text="Is the mug back in stock?\n\n> Your cart is waiting",
    )
    message["Message-ID"] = "<zoe-1@mail.example>"
    event = AnymailInboundEvent(
        event_type="inbound", timestamp=AT, event_id="ev-1", message=message
    )

    inbound.send(sender=object, event=event, esp_name="Test")

    stored = Message.objects.get()
    assert stored.conversation.profile == profile
    assert stored.body == "Is the mug back in stock?"
    assert stored.external_id == "<zoe-1@mail.example>"
    assert stored.conversation.subject == "Re: Your cart"


def test_anymail_inbound_with_bad_sender_is_dropped():
    message = AnymailInboundMessage.construct(
        from_email="not-an-address", to="replies@shop.example", text="hi"
    )
    event = AnymailInboundEvent(event_type="inbound", message=message)

    inbound.send(sender=object, event=event, esp_name="Test")

    assert Message.objects.count() == 0
