"""Sending an agent's reply by email or SMS when the customer wrote that way.

``OMNICHANNEL["CONVERSATION_REPLY_SENDER"]`` names the class that sends. The default
sends email through Django's email backend, as a reply to the customer's last email,
and SMS through the SMS backend of ``CHANNEL_BACKENDS``.
"""

from __future__ import annotations

import logging
from email.utils import make_msgid

from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from omnichannel.conf import app_settings
from omnichannel.conversations.models import Conversation, ConversationChannel, Message

logger = logging.getLogger(__name__)


class ReplyNotSent(Exception):
    """A reply cannot be sent; the exception message gives the agent the reason."""


class ReplySender:
    """Sends an agent's message on its channel and returns the provider's id."""

    def send(self, message: Message) -> str:
        address = self.address(message)
        if not address:
            raise ReplyNotSent(
                _("The customer has no %(channel)s address to answer to.")
                % {"channel": message.get_channel_display()}
            )
        if _is_suppressed(message.channel, address):
            raise ReplyNotSent(
                _(
                    "The customer's %(channel)s address is on the suppression list "
                    "(a bounce, complaint or STOP); answer on another channel."
                )
                % {"channel": message.get_channel_display()}
            )
        if message.channel == ConversationChannel.EMAIL:
            return self.send_email(message, address)
        if message.channel == ConversationChannel.SMS:
            return self.send_sms(message, address)
        raise ReplyNotSent(_("Chat replies are shown in the chat, not sent."))

    def address(self, message: Message) -> str:
        """Return where the customer last wrote from on the message's channel."""
        conversation = message.conversation
        latest = (
            conversation.messages.filter(
                author=Message.Author.CUSTOMER, channel=message.channel
            )
            .order_by("-id")
            .values_list("metadata", flat=True)
            .first()
        )
        if latest and latest.get("address"):
            return str(latest["address"])
        profile = conversation.profile
        if message.channel == ConversationChannel.EMAIL:
            return profile.email
        return profile.phone

    def send_email(self, message: Message, address: str) -> str:
        conversation = message.conversation
        subject = conversation.subject or str(_("Your message to us"))
        if not subject.lower().startswith("re:"):
            subject = f"Re: {subject}"
        message_id = make_msgid(domain=_mail_domain())
        headers = {"Message-ID": message_id}
        reference = _latest_reference(conversation)
        if reference:
            headers["In-Reply-To"] = reference
            headers["References"] = reference
        email = EmailMessage(
            subject=subject,
            body=message.body,
            from_email=app_settings.CONVERSATION_REPLY_FROM_EMAIL,
            to=[address],
            headers=headers,
        )
        email.send(fail_silently=False)
        return message_id

    def send_sms(self, message: Message, address: str) -> str:
        """Send through the SMS backend of ``CHANNEL_BACKENDS``, as a service
        message (purpose ``transactional``), so no marketing consent is needed."""
        from omnichannel.channels.backends.base import OutgoingMessage
        from omnichannel.channels.compose import RenderedMessage
        from omnichannel.channels.registry import get_backend
        from omnichannel.exceptions import InvalidAddress, ProviderError

        try:
            backend = get_backend(ConversationChannel.SMS)
        except ImproperlyConfigured as error:
            raise ReplyNotSent(
                _("The SMS backend is not configured: %(error)s") % {"error": error}
            ) from error
        outgoing = OutgoingMessage(
            channel=ConversationChannel.SMS,
            to=[address],
            rendered=RenderedMessage(
                channel=ConversationChannel.SMS, text=message.body
            ),
            profile_id=message.conversation.profile_id,
            purpose="transactional",
            metadata={"conversation": str(message.conversation.uuid)},
        )
        try:
            result = backend.send(outgoing)
        except InvalidAddress as error:
            raise ReplyNotSent(
                _("The SMS provider rejected the number: %(error)s") % {"error": error}
            ) from error
        except ProviderError as error:
            raise ReplyNotSent(
                _("The SMS provider did not accept the reply (%(error)s); try again.")
                % {"error": error}
            ) from error
        return result.provider_message_id


def _is_suppressed(channel: str, address: str) -> bool:
    from omnichannel.consent.services import is_suppressed

    return is_suppressed(channel, address)


def _mail_domain() -> str:
    from urllib.parse import urlsplit

    return urlsplit(app_settings.SITE_URL).hostname or "localhost"


def _latest_reference(conversation: Conversation) -> str:
    return (
        conversation.messages.filter(
            author=Message.Author.CUSTOMER, channel=ConversationChannel.EMAIL
        )
        .exclude(external_id="")
        .order_by("-id")
        .values_list("external_id", flat=True)
        .first()
        or ""
    )


def load_sender() -> ReplySender:
    sender_class = app_settings.import_path("CONVERSATION_REPLY_SENDER")
    return sender_class()


def deliver(message_id: int) -> Message | None:
    """Send one pending agent message and record the outcome on it.

    The message row stays locked while it is sent, so a second worker waits and
    then finds it sent. A message that is not pending (sent already, or a chat
    message) is left alone.
    """
    with transaction.atomic():
        message = (
            Message.objects.select_for_update()
            .select_related("conversation__profile")
            .filter(pk=message_id, delivery_status=Message.Delivery.PENDING)
            .first()
        )
        if message is None:
            return None
        # NOTE: a crash after the provider accepted the message and before this
        # transaction commits leaves it pending, and a retry sends it again.
        try:
            provider_id = load_sender().send(message)
        except ReplyNotSent as error:
            _record_failure(message, str(error))
            logger.warning("reply %s not sent: %s", message.pk, error)
            return message
        except Exception as error:
            _record_failure(
                message,
                str(
                    _("Sending failed (%(error)s); try again.")
                    % {"error": type(error).__name__}
                ),
            )
            logger.exception("reply %s not sent", message.pk)
            return message
        message.delivery_status = Message.Delivery.SENT
        message.delivery_error = ""
        message.metadata = {
            **message.metadata,
            "provider_message_id": provider_id[:255],
        }
        message.save(update_fields=["delivery_status", "delivery_error", "metadata"])
    logger.info("reply %s sent by %s", message.pk, message.channel)
    return message


def _record_failure(message: Message, error: str) -> None:
    message.delivery_status = Message.Delivery.FAILED
    message.delivery_error = error[:255]
    message.save(update_fields=["delivery_status", "delivery_error"])


def retry(message: Message) -> Message:
    """Queue a failed reply again."""
    from omnichannel.conversations import tasks

    if message.delivery_status != Message.Delivery.FAILED:
        return message
    message.delivery_status = Message.Delivery.PENDING
    message.delivery_error = ""
    message.save(update_fields=["delivery_status", "delivery_error"])
    message_id = message.pk
    transaction.on_commit(lambda: tasks.send_reply.delay(message_id))
    return message
