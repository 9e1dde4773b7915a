"""Opening, replying to, assigning and closing conversations.

Every change runs in one transaction with a row lock on the conversation. Signals,
bot replies and the sending of email or SMS replies follow after the commit.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from omnichannel.conf import app_settings
from omnichannel.conversations import signals
from omnichannel.conversations.models import (
    AgentAssignment,
    Conversation,
    ConversationChannel,
    Message,
)
from omnichannel.exceptions import (
    ConversationClosed,
    InvalidIdentifier,
    InvalidInboundMessage,
    InvalidMessage,
)
from omnichannel.profiles.models import Profile
from omnichannel.profiles.normalise import normalise_email, normalise_phone

logger = logging.getLogger(__name__)

# How long a message paused by an open conversation waits before it is checked again.
CONVERSATION_PAUSE_RECHECK = timedelta(minutes=30)

Author = Message.Author
Channel = ConversationChannel
# C0 control characters other than tab and newline, and DEL: invisible in a chat,
# so they are dropped rather than stored.
_CONTROL_CHARACTERS = re.compile(r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_PAGE = 100


# Message bodies


def clean_body(text: Any, *, max_length: int, field: str = "body") -> str:
    """Return ``text`` with unified line ends and outer space trimmed.

    Raises InvalidMessage when it is not a string, is empty, is longer than
    ``max_length`` characters, or contains a NUL character or a lone surrogate, which
    databases cannot store.
    """
    if not isinstance(text, str):
        raise InvalidMessage(field, str(_("must be a string.")), "invalid")
    if "\x00" in text:
        raise InvalidMessage(
            field,
            str(_("contains a NUL character, which cannot be stored.")),
            "null_characters_not_allowed",
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidMessage(
            field,
            str(_("contains a lone surrogate code point; send valid UTF-8 text.")),
            "surrogate_characters_not_allowed",
        ) from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL_CHARACTERS.sub("", text).strip()
    if not text:
        raise InvalidMessage(field, str(_("is empty; write a message.")), "blank")
    if len(text) > max_length:
        raise InvalidMessage(
            field,
            str(
                _("has %(length)d characters; the maximum is %(max)d.")
                % {"length": len(text), "max": max_length}
            ),
            "max_length",
        )
    return text


# Visitor tokens


def issue_token() -> tuple[str, str]:
    """Return a new random visitor token and the hash that is stored."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def conversation_for_token(token: str) -> Conversation | None:
    """Return the chat conversation the visitor token was issued for, or None."""
    if not token or len(token) > 200:
        return None
    digest = hash_token(token)
    conversation = Conversation.objects.filter(token_hash=digest).first()
    if conversation is None or not hmac.compare_digest(conversation.token_hash, digest):
        return None
    return conversation


def visitor_matches(conversation: Conversation, visitor_id: str | None) -> bool:
    """Tell whether a request's visitor cookie is the one the chat was started in."""
    if not visitor_id or not conversation.visitor_id:
        return False
    return hmac.compare_digest(conversation.visitor_id, visitor_id)


# Opening and adding messages


def _after_commit(function: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    transaction.on_commit(lambda: function(*args, **kwargs))


def _lock(conversation: Conversation) -> Conversation:
    return Conversation.objects.select_for_update().get(pk=conversation.pk)


def _sync(target: Conversation, source: Conversation) -> None:
    for field in Conversation._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))


def start_conversation(
    profile: Profile,
    *,
    channel: str = Channel.CHAT,
    visitor_id: str = "",
    subject: str = "",
    body: str | None = None,
    at: datetime | None = None,
) -> tuple[Conversation, str]:
    """Open a conversation for ``profile``; return it and the visitor token.

    A chat is bound to ``visitor_id`` (the visitor cookie) and gets a token. The
    token is returned once and stored only as a hash. Other channels get an empty
    token. ``body``, when given, becomes the first customer message.
    """
    from omnichannel.conversations.routing import initial_handler
    from omnichannel.profiles.services import track

    at = at or timezone.now()
    token, digest = "", ""
    if channel == Channel.CHAT:
        if not visitor_id:
            raise ValueError(
                "A chat needs the visitor cookie; install "
                "omnichannel.middleware.OmnichannelMiddleware."
            )
        token, digest = issue_token()
    if body is not None:
        body = clean_body(body, max_length=_max_length(channel), field="message")

    with transaction.atomic():
        conversation = Conversation.objects.create(
            profile=profile,
            channel=channel,
            handler=initial_handler(channel),
            visitor_id=visitor_id,
            token_hash=digest,
            subject=subject[:200],
            created_at=at,
            last_message_at=at,
        )
        if channel == Channel.CHAT:
            track(
                "chat_started",
                profile=profile,
                source="chat",
                occurred_at=at,
                object_type="conversation",
                object_id=str(conversation.uuid),
            )
        _after_commit(
            signals.conversation_opened.send,
            sender=Conversation,
            conversation=conversation,
        )
        if body is not None:
            add_customer_message(conversation, body, channel=channel, at=at)
    logger.info("conversation %s opened on %s", conversation.pk, channel)
    return conversation, token


def _max_length(channel: str) -> int:
    if channel == Channel.CHAT:
        return int(app_settings.CHAT_MESSAGE_MAX_LENGTH)
    return int(app_settings.INBOUND_MESSAGE_MAX_LENGTH)


def add_customer_message(
    conversation: Conversation,
    body: str,
    *,
    channel: str | None = None,
    at: datetime | None = None,
    external_id: str = "",
    metadata: dict[str, Any] | None = None,
) -> Message:
    """Add a message from the customer; raise ConversationClosed or InvalidMessage.

    The conversation waits for a reply from then on. When the bot handles it, the
    bot replies after the commit.
    """
    from omnichannel.conversations import tasks
    from omnichannel.profiles.services import track

    channel = channel or conversation.channel
    body = clean_body(body, max_length=_max_length(channel))
    at = at or timezone.now()
    with transaction.atomic():
        locked = _lock(conversation)
        if not locked.is_open:
            raise ConversationClosed(
                _("This conversation is closed; start a new conversation to write.")
            )
        message = Message.objects.create(
            conversation=locked,
            author=Author.CUSTOMER,
            channel=channel,
            body=body,
            created_at=at,
            external_id=external_id,
            metadata=metadata or {},
        )
        locked.last_message_at = max(at, locked.last_message_at)
        if locked.waiting_since is None:
            locked.waiting_since = at
        locked.save(update_fields=["last_message_at", "waiting_since", "updated_at"])
        if channel == Channel.CHAT:
            track(
                "chat_message",
                profile=locked.profile,
                source="chat",
                occurred_at=at,
                object_type="conversation",
                object_id=str(locked.uuid),
            )
        _announce(message, locked)
        if locked.handler == Conversation.Handler.BOT:
            message_id = message.pk
            transaction.on_commit(lambda: tasks.answer_with_bot.delay(message_id))
    _sync(conversation, locked)
    return message


def _announce(message: Message, conversation: Conversation) -> None:
    _after_commit(
        signals.message_created.send,
        sender=Message,
        message=message,
        conversation=conversation,
    )


def reply_channel(conversation: Conversation) -> str:
    """Return the channel a reply goes out on: where the customer last wrote."""
    latest = (
        conversation.messages.filter(author=Author.CUSTOMER)
        .order_by("-id")
        .values_list("channel", flat=True)
        .first()
    )
    return latest or conversation.channel


def add_agent_reply(conversation: Conversation, agent: Any, body: str) -> Message:
    """Add an agent's reply and send it by email or SMS when the customer wrote
    that way. An unassigned conversation is assigned to the agent who replies."""
    from omnichannel.conversations import tasks

    body = clean_body(body, max_length=int(app_settings.CHAT_MESSAGE_MAX_LENGTH))
    now = timezone.now()
    with transaction.atomic():
        locked = _lock(conversation)
        if not locked.is_open:
            raise ConversationClosed(
                _("This conversation is closed; reopen it before replying.")
            )
        channel = reply_channel(locked)
        message = Message.objects.create(
            conversation=locked,
            author=Author.AGENT,
            agent=agent,
            channel=channel,
            body=body,
            created_at=now,
            delivery_status=(
                Message.Delivery.NONE
                if channel == Channel.CHAT
                else Message.Delivery.PENDING
            ),
        )
        locked.last_message_at = now
        locked.waiting_since = None
        locked.handler = Conversation.Handler.HUMAN
        fields = ["last_message_at", "waiting_since", "handler", "updated_at"]
        if locked.assigned_to_id is None:
            locked.assigned_to = agent
            AgentAssignment.objects.create(
                conversation=locked, agent=agent, assigned_by=agent
            )
            fields.append("assigned_to")
        locked.save(update_fields=fields)
        _announce(message, locked)
        if channel != Channel.CHAT:
            message_id = message.pk
            transaction.on_commit(lambda: tasks.send_reply.delay(message_id))
    _sync(conversation, locked)
    return message


def add_bot_message(
    conversation: Conversation, body: str, *, answered: bool = True
) -> Message:
    """Add a bot message; ``answered`` clears the wait for a reply."""
    body = clean_body(body, max_length=int(app_settings.INBOUND_MESSAGE_MAX_LENGTH))
    with transaction.atomic():
        locked = _lock(conversation)
        message = Message.objects.create(
            conversation=locked,
            author=Author.BOT,
            channel=Channel.CHAT,
            body=body,
        )
        locked.last_message_at = message.created_at
        if answered:
            locked.waiting_since = None
        locked.save(update_fields=["last_message_at", "waiting_since", "updated_at"])
        _announce(message, locked)
    _sync(conversation, locked)
    return message


def add_system_message(conversation: Conversation, body: str | Promise) -> Message:
    """Add a notice both sides see, such as the conversation being closed."""
    message = Message.objects.create(
        conversation=conversation,
        author=Author.SYSTEM,
        channel=Channel.CHAT,
        body=str(body),
    )
    _announce(message, conversation)
    return message


def hand_over(conversation: Conversation, *, notice: str = "") -> Conversation:
    """Pass a conversation from the bot to the human queue."""
    with transaction.atomic():
        locked = _lock(conversation)
        if locked.handler == Conversation.Handler.HUMAN:
            _sync(conversation, locked)
            return conversation
        locked.handler = Conversation.Handler.HUMAN
        if locked.waiting_since is None:
            locked.waiting_since = timezone.now()
        locked.save(update_fields=["handler", "waiting_since", "updated_at"])
        add_system_message(
            locked,
            notice or _("A member of our team will answer here as soon as possible."),
        )
        _after_commit(
            signals.conversation_handed_over.send,
            sender=Conversation,
            conversation=locked,
        )
    _sync(conversation, locked)
    logger.info("conversation %s handed over to the human queue", conversation.pk)
    return conversation


# Agent actions


def can_handle_conversations(user: Any) -> bool:
    """Tell whether ``user`` may use the agent console and its actions."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and user.is_staff
        and user.has_perm("omnichannel.handle_conversation")
    )


def assign(
    conversation: Conversation, agent: Any, *, by: Any
) -> AgentAssignment | None:
    """Assign the conversation to ``agent``, or unassign it when ``agent`` is None.

    Returns the new AgentAssignment, or None when nothing changed. Raises ValueError
    when ``agent`` may not handle conversations.
    """
    if agent is not None and not can_handle_conversations(agent):
        raise ValueError(
            str(
                _(
                    "%(agent)s cannot be assigned: only active staff with the "
                    "'handle conversation' permission can."
                )
                % {"agent": agent}
            )
        )
    with transaction.atomic():
        locked = _lock(conversation)
        agent_id = getattr(agent, "pk", None)
        if locked.assigned_to_id == agent_id:
            _sync(conversation, locked)
            return None
        locked.assigned_to = agent
        locked.save(update_fields=["assigned_to", "updated_at"])
        assignment = AgentAssignment.objects.create(
            conversation=locked, agent=agent, assigned_by=by
        )
    _sync(conversation, locked)
    logger.info(
        "conversation %s assigned to user %s by user %s",
        conversation.pk,
        agent_id,
        getattr(by, "pk", None),
    )
    return assignment


def close(
    conversation: Conversation, *, by: Any = None, reason: str = "agent"
) -> Conversation:
    """Close the conversation and tell the customer; closing twice changes nothing."""
    with transaction.atomic():
        locked = _lock(conversation)
        if not locked.is_open:
            _sync(conversation, locked)
            return conversation
        locked.status = Conversation.Status.CLOSED
        locked.closed_at = timezone.now()
        locked.closed_by = by
        locked.close_reason = reason[:32]
        locked.waiting_since = None
        locked.save(
            update_fields=[
                "status",
                "closed_at",
                "closed_by",
                "close_reason",
                "waiting_since",
                "updated_at",
            ]
        )
        add_system_message(
            locked,
            _("This conversation was closed. Write again any time to start a new one."),
        )
        _after_commit(
            signals.conversation_closed.send, sender=Conversation, conversation=locked
        )
    _sync(conversation, locked)
    logger.info("conversation %s closed (%s)", conversation.pk, reason)
    return conversation


def reopen(conversation: Conversation, *, by: Any = None) -> Conversation:
    """Open a closed conversation again, in the human queue."""
    with transaction.atomic():
        locked = _lock(conversation)
        if locked.is_open:
            _sync(conversation, locked)
            return conversation
        locked.status = Conversation.Status.OPEN
        locked.handler = Conversation.Handler.HUMAN
        locked.closed_at = None
        locked.closed_by = None
        locked.close_reason = ""
        locked.last_message_at = timezone.now()
        locked.save(
            update_fields=[
                "status",
                "handler",
                "closed_at",
                "closed_by",
                "close_reason",
                "last_message_at",
                "updated_at",
            ]
        )
    _sync(conversation, locked)
    logger.info(
        "conversation %s reopened by user %s", conversation.pk, getattr(by, "pk", None)
    )
    return conversation


def close_idle_conversations(now: datetime | None = None, limit: int = 500) -> int:
    """Close open conversations where no customer message waits for a reply and
    nothing was written for ``CONVERSATION_IDLE_TIMEOUT``; return how many."""
    now = now or timezone.now()
    cutoff = now - app_settings.CONVERSATION_IDLE_TIMEOUT
    idle = list(
        Conversation.objects.filter(
            status=Conversation.Status.OPEN,
            waiting_since__isnull=True,
            last_message_at__lt=cutoff,
        ).order_by("last_message_at")[:limit]
    )
    for conversation in idle:
        close(conversation, reason="idle")
    if idle:
        logger.info("closed %d idle conversations", len(idle))
    return len(idle)


def messages_after(
    conversation: Conversation, after: int = 0, limit: int = MAX_PAGE
) -> list[Message]:
    """Return up to ``limit`` messages with an id above ``after``, oldest first."""
    return list(
        conversation.messages.filter(id__gt=after)
        .select_related("agent")
        .order_by("id")[:limit]
    )


# Marketing pause


def _profile_ids(profile: Profile) -> list[int]:
    ids = [profile.pk]
    if profile.merged_into_id is not None:
        ids.append(profile.merged_into_id)
    return ids


def has_open_conversation(profile: Profile, at: datetime | None = None) -> bool:
    """Tell whether the customer has a support conversation going on at ``at``.

    A conversation counts while it is open and either a customer message waits for
    a reply or something was written within ``CONVERSATION_IDLE_TIMEOUT``. A
    profile merged into another is read as that other profile as well.
    """
    at = at or timezone.now()
    cutoff = at - app_settings.CONVERSATION_IDLE_TIMEOUT
    return (
        Conversation.objects.filter(
            profile_id__in=_profile_ids(profile),
            status=Conversation.Status.OPEN,
            created_at__lte=at,
        )
        .filter(Q(waiting_since__isnull=False) | Q(last_message_at__gte=cutoff))
        .exists()
    )


def marketing_paused(profile: Profile, at: datetime | None = None) -> bool:
    """Tell whether marketing sends to ``profile`` wait because of a conversation.

    Channel dispatch calls it at send time and records reason ``conversation_open``
    when it returns True. ``PAUSE_MARKETING_DURING_CONVERSATION`` turns it off.
    """
    if not app_settings.PAUSE_MARKETING_DURING_CONVERSATION:
        return False
    return has_open_conversation(profile, at)


# Inbound email and SMS


def _sms_keyword_handler() -> Callable[..., bool] | None:
    """Return the consent code's STOP/START handler, when the project has one."""
    from importlib import import_module

    for module_name in ("omnichannel.consent.sms", "omnichannel.consent.services"):
        try:
            module = import_module(module_name)
        except ImportError:
            continue
        handler = getattr(module, "handle_sms_keyword", None)
        if handler is not None:
            return handler
    return None


def receive_inbound(
    channel: str,
    sender_address: str,
    text: str,
    *,
    received_at: datetime,
    reference: str | None = None,
    subject: str = "",
) -> Message | None:
    """Add an inbound email or SMS to the sender's open conversation, or open one.

    The sender is found by their normalised email address or phone number; an
    unknown sender gets a new profile. ``reference`` is the provider's id of the
    inbound message: a repeat delivery with the same reference returns the message
    stored the first time. An SMS that is a STOP or START keyword goes to the
    consent code and returns None. Text longer than ``INBOUND_MESSAGE_MAX_LENGTH``
    is cut. Raises InvalidInboundMessage for a bad argument.
    """
    from omnichannel.profiles.services import identify, track

    if channel not in (Channel.EMAIL, Channel.SMS):
        raise InvalidInboundMessage(
            "channel", f"must be 'email' or 'sms', not {channel!r}."
        )
    if not isinstance(received_at, datetime) or timezone.is_naive(received_at):
        raise InvalidInboundMessage("received_at", "must be a timezone-aware datetime.")
    if not isinstance(text, str):
        raise InvalidInboundMessage("text", "must be a string.")
    reference = (reference or "").strip()[:255]

    try:
        if channel == Channel.EMAIL:
            address = normalise_email(sender_address)
        else:
            address = normalise_phone(sender_address)
    except InvalidIdentifier as error:
        raise InvalidInboundMessage("sender_address", error.message) from None

    if channel == Channel.SMS:
        keyword_handler = _sms_keyword_handler()
        if keyword_handler is not None and keyword_handler(address, text, received_at):
            logger.info("inbound SMS was a consent keyword; no message added")
            return None

    if reference:
        earlier = Message.objects.filter(channel=channel, external_id=reference).first()
        if earlier is not None:
            return earlier

    limit = int(app_settings.INBOUND_MESSAGE_MAX_LENGTH)
    metadata: dict[str, Any] = {"address": address}
    if subject:
        metadata["subject"] = subject[:200]
    if len(text) > limit:
        text = text[:limit]
        metadata["truncated"] = True
    try:
        body = clean_body(text, max_length=limit, field="text")
    except InvalidMessage as error:
        raise InvalidInboundMessage("text", error.message) from None

    try:
        with transaction.atomic():
            if channel == Channel.EMAIL:
                profile = identify(email=address, source="inbound_email")
            else:
                profile = identify(phone=address, source="inbound_sms")
            conversation = (
                Conversation.objects.filter(
                    profile=profile, status=Conversation.Status.OPEN
                )
                .order_by("-last_message_at", "-id")
                .first()
            )
            if conversation is None:
                conversation, _token = start_conversation(
                    profile, channel=channel, subject=subject, at=received_at
                )
            message = add_customer_message(
                conversation,
                body,
                channel=channel,
                at=received_at,
                external_id=reference,
                metadata=metadata,
            )
            track(
                "message_replied",
                profile=profile,
                source=channel,
                occurred_at=received_at,
                object_type="conversation",
                object_id=str(conversation.uuid),
                properties={"channel": channel, "message_id": message.pk},
            )
    except IntegrityError:
        # A second delivery of the same message, stored in parallel.
        earlier = Message.objects.filter(channel=channel, external_id=reference).first()
        if not reference or earlier is None:
            raise
        return earlier
    except InvalidIdentifier as error:
        raise InvalidInboundMessage("sender_address", error.message) from None
    logger.info(
        "inbound %s added to conversation %s as message %s",
        channel,
        conversation.pk,
        message.pk,
    )
    return message


def pause_during_conversation(
    delivery: Any, now: datetime
) -> tuple[datetime, str] | None:
    """Defer a marketing message while its recipient has a support conversation
    going on, if ``PAUSE_MARKETING_DURING_CONVERSATION`` is on; look again later."""
    if not app_settings.PAUSE_MARKETING_DURING_CONVERSATION:
        return None
    if not has_open_conversation(delivery.profile, now):
        return None
    return now + CONVERSATION_PAUSE_RECHECK, "conversation_open"


def _pause_many_during_conversation(
    deliveries: Any, now: datetime
) -> dict[int, tuple[datetime, str]]:
    """Answer ``pause_during_conversation`` for a batch of deliveries in one query."""
    if not app_settings.PAUSE_MARKETING_DURING_CONVERSATION or not deliveries:
        return {}
    owners: dict[int, list[int]] = {}
    for delivery in deliveries:
        for profile_id in _profile_ids(delivery.profile):
            owners.setdefault(profile_id, []).append(delivery.pk)
    cutoff = now - app_settings.CONVERSATION_IDLE_TIMEOUT
    talking = (
        Conversation.objects.filter(
            profile_id__in=list(owners),
            status=Conversation.Status.OPEN,
            created_at__lte=now,
        )
        .filter(Q(waiting_since__isnull=False) | Q(last_message_at__gte=cutoff))
        .values_list("profile_id", flat=True)
        .distinct()
    )
    until = now + CONVERSATION_PAUSE_RECHECK
    return {
        delivery_id: (until, "conversation_open")
        for profile_id in talking
        for delivery_id in owners[profile_id]
    }


pause_during_conversation.many = _pause_many_during_conversation  # type: ignore[attr-defined]
