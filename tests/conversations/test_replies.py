"""Agent answers sent by email or SMS when the customer wrote that way."""

from datetime import UTC, datetime

import pytest
from django.core import mail

from omnichannel.consent.models import Suppression
from omnichannel.conversations import replies, services
from omnichannel.conversations.models import Message
from omnichannel.profiles.services import identify

pytestmark = pytest.mark.django_db

AT = datetime(2026, 12, 4, 13, 0, tzinfo=UTC)


class FailingSender(replies.ReplySender):
    def send_email(self, message, address):
        raise ConnectionError("SMTP server unreachable")


class RecordingSMSSender(replies.ReplySender):
    sent: list = []

    def send_sms(self, message, address):
        RecordingSMSSender.sent.append((address, message.body))
        return "SM-reply-1"


@pytest.fixture(autouse=True)
def no_bot(omnichannel_settings):
    omnichannel_settings(CONVERSATION_BOT=None)


def _email_conversation():
    identify(email="anna@example.com")
    return services.receive_inbound(
        "email",
        "anna@example.com",
        "Can I change the size?",
        received_at=AT,
        reference="<q1@mail.example>",
        subject="Your order NL-1001",
    ).conversation


def test_email_answer_is_sent_as_reply(agent, on_commit):
    conversation = _email_conversation()

    with on_commit():
        answer = services.add_agent_reply(conversation, agent, "Yes, size M it is.")

    answer.refresh_from_db()
    assert answer.delivery_status == Message.Delivery.SENT
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["anna@example.com"]
    assert email.subject == "Re: Your order NL-1001"
    assert email.body == "Yes, size M it is."
    assert email.extra_headers["In-Reply-To"] == "<q1@mail.example>"
    assert answer.metadata["provider_message_id"] == email.extra_headers["Message-ID"]


def test_chat_answer_is_not_sent(agent, on_commit):
    profile = identify(email="anna@example.com")
    conversation, _ = services.start_conversation(
        profile, visitor_id="a" * 32, body="?"
    )

    with on_commit():
        answer = services.add_agent_reply(conversation, agent, "Hi!")

    assert answer.delivery_status == ""
    assert mail.outbox == []


@pytest.fixture
def sms_outbox(omnichannel_settings):
    from omnichannel.channels.backends import locmem

    omnichannel_settings(
        CHANNEL_BACKENDS={"sms": "omnichannel.channels.backends.locmem.LocmemBackend"}
    )
    locmem.outbox.clear()
    yield locmem.outbox
    locmem.outbox.clear()


def _sms_conversation():
    identify(phone="+447700900123")
    return services.receive_inbound(
        "sms", "447700900123", "Hi", received_at=AT
    ).conversation


def test_sms_reply_goes_through_sms_backend(agent, on_commit, sms_outbox):
    conversation = _sms_conversation()

    with on_commit():
        reply = services.add_agent_reply(conversation, agent, "Hello by SMS")

    reply.refresh_from_db()
    assert reply.delivery_status == Message.Delivery.SENT
    assert len(sms_outbox) == 1
    sent = sms_outbox[0]
    assert sent.to == ["+447700900123"]
    assert sent.rendered.text == "Hello by SMS"
    assert sent.purpose == "transactional"
    assert reply.metadata["provider_message_id"] == "locmem-1"


def test_sms_provider_error_marks_reply_failed(agent, on_commit, omnichannel_settings):
    from omnichannel.exceptions import ProviderError

    omnichannel_settings(
        CHANNEL_BACKENDS={
            "sms": {
                "BACKEND": "omnichannel.channels.backends.locmem.LocmemBackend",
                "OPTIONS": {"FAIL_WITH": [ProviderError("HTTP 503")]},
            }
        }
    )
    conversation = _sms_conversation()

    with on_commit():
        reply = services.add_agent_reply(conversation, agent, "Hello")

    reply.refresh_from_db()
    assert reply.delivery_status == Message.Delivery.FAILED
    assert "did not accept the reply (HTTP 503)" in reply.delivery_error


def test_sms_backend_misconfigured_marks_reply_failed(
    agent, on_commit, omnichannel_settings
):
    omnichannel_settings(CHANNEL_BACKENDS={"sms": "no.such.Backend"})
    conversation = _sms_conversation()

    with on_commit():
        reply = services.add_agent_reply(conversation, agent, "Hello")

    reply.refresh_from_db()
    assert reply.delivery_status == Message.Delivery.FAILED
    assert "SMS backend is not configured" in reply.delivery_error


def test_custom_sender_sends_sms(agent, on_commit, omnichannel_settings):
    omnichannel_settings(CONVERSATION_REPLY_SENDER=f"{__name__}.RecordingSMSSender")
    RecordingSMSSender.sent = []
    conversation = services.receive_inbound(
        "sms", "447700900123", "Hi", received_at=AT
    ).conversation

    with on_commit():
        answer = services.add_agent_reply(conversation, agent, "Hello by SMS")

    answer.refresh_from_db()
    assert answer.delivery_status == Message.Delivery.SENT
    assert RecordingSMSSender.sent == [("+447700900123", "Hello by SMS")]


def test_suppressed_address_is_not_sent(agent, on_commit):
    conversation = _email_conversation()
    Suppression.objects.create(
        channel="email", address="anna@example.com", reason="bounce"
    )

    with on_commit():
        answer = services.add_agent_reply(conversation, agent, "Hello")

    answer.refresh_from_db()
    assert answer.delivery_status == Message.Delivery.FAILED
    assert "suppression list" in answer.delivery_error
    assert mail.outbox == []


def test_failed_send_can_be_retried(agent, on_commit, omnichannel_settings):
    omnichannel_settings(CONVERSATION_REPLY_SENDER=f"{__name__}.FailingSender")
    conversation = _email_conversation()
    with on_commit():
        answer = services.add_agent_reply(conversation, agent, "Hello")
    answer.refresh_from_db()
    assert answer.delivery_status == Message.Delivery.FAILED
    assert "ConnectionError" in answer.delivery_error

    omnichannel_settings(
        CONVERSATION_REPLY_SENDER="omnichannel.conversations.replies.ReplySender"
    )
    with on_commit():
        replies.retry(answer)

    answer.refresh_from_db()
    assert answer.delivery_status == Message.Delivery.SENT
    assert len(mail.outbox) == 1


def test_deliver_twice_sends_once(agent, on_commit):
    conversation = _email_conversation()
    with on_commit():
        answer = services.add_agent_reply(conversation, agent, "Hello")

    assert replies.deliver(answer.pk) is None
    assert len(mail.outbox) == 1


def test_console_resend_button(agent_client, agent, on_commit, omnichannel_settings):
    from django.urls import reverse

    omnichannel_settings(CONVERSATION_REPLY_SENDER=f"{__name__}.FailingSender")
    conversation = _email_conversation()
    with on_commit():
        answer = services.add_agent_reply(conversation, agent, "Hello")
    html = agent_client.get(
        reverse("omnichannel:console_messages", args=[conversation.uuid])
    ).content.decode()
    assert "Not sent:" in html

    omnichannel_settings(
        CONVERSATION_REPLY_SENDER="omnichannel.conversations.replies.ReplySender"
    )
    url = reverse("omnichannel:console_resend", args=[conversation.uuid, answer.pk])
    with on_commit():
        response = agent_client.post(url, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    answer.refresh_from_db()
    assert answer.delivery_status == Message.Delivery.SENT
