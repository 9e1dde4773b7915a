"""Support conversations: chat, email and SMS threads with a customer, and the FAQ
the default bot answers from."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from omnichannel.profiles.models import Profile

__all__ = [
    "AgentAssignment",
    "Conversation",
    "ConversationChannel",
    "FaqEntry",
    "Message",
]


class ConversationChannel(models.TextChoices):
    CHAT = "chat", _("chat")
    EMAIL = "email", _("email")
    SMS = "sms", _("SMS")


class Conversation(models.Model):
    """One support thread with a customer, on any mix of chat, email and SMS.

    A chat conversation is bound to the visitor cookie of the browser that started
    it and to a token handed to that browser once. Only the hash of the token is
    stored.
    """

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        CLOSED = "closed", _("closed")

    class Handler(models.TextChoices):
        BOT = "bot", _("bot")
        HUMAN = "human", _("human agents")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    profile = models.ForeignKey(
        Profile, on_delete=models.CASCADE, related_name="conversations"
    )
    channel = models.CharField(
        _("started on"),
        max_length=16,
        choices=ConversationChannel.choices,
        default=ConversationChannel.CHAT,
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.OPEN
    )
    handler = models.CharField(
        _("answered by"), max_length=16, choices=Handler.choices, default=Handler.HUMAN
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned to"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="omnichannel_conversations",
    )
    visitor_id = models.CharField(
        _("visitor cookie"),
        max_length=64,
        blank=True,
        help_text=_("The visitor cookie of the browser that started the chat."),
    )
    token_hash = models.CharField(max_length=64, blank=True, editable=False)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("started"), default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    last_message_at = models.DateTimeField(_("last message"), default=timezone.now)
    waiting_since = models.DateTimeField(
        _("waiting since"),
        null=True,
        blank=True,
        help_text=_("When the oldest unanswered customer message arrived."),
    )
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("closed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    close_reason = models.CharField(_("close reason"), max_length=32, blank=True)
    coupon_code = models.CharField(
        _("coupon"),
        max_length=64,
        blank=True,
        help_text=_("The single-use code created for this customer from the console."),
    )

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        ordering = ["-last_message_at", "-id"]
        permissions = [
            (
                "handle_conversation",
                _("Can answer, assign and close support conversations"),
            )
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["token_hash"],
                condition=~Q(token_hash=""),
                name="omnichannel_conversation_unique_token",
            )
        ]
        indexes = [
            models.Index(
                fields=["status", "last_message_at"], name="omni_conversation_open"
            ),
            models.Index(fields=["profile", "status"], name="omni_conversation_prof"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.uuid.hex[:8]} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN

    @classmethod
    def gdpr_erase(cls, profile: Profile) -> int:
        """Delete the profile's conversations with their messages, which hold
        free text; return how many conversations were deleted."""
        conversations = cls.objects.filter(profile=profile)
        count = conversations.count()
        conversations.delete()
        return count


class Message(models.Model):
    """One message of a conversation; the body is plain text, never HTML."""

    class Author(models.TextChoices):
        CUSTOMER = "customer", _("customer")
        AGENT = "agent", _("agent")
        BOT = "bot", _("bot")
        SYSTEM = "system", _("system")

    class Delivery(models.TextChoices):
        NONE = "", _("shown in the chat")
        PENDING = "pending", _("sending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("not sent")

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    author = models.CharField(_("author"), max_length=16, choices=Author.choices)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("agent"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    channel = models.CharField(
        _("channel"),
        max_length=16,
        choices=ConversationChannel.choices,
        default=ConversationChannel.CHAT,
    )
    body = models.TextField(_("text"))
    created_at = models.DateTimeField(_("sent"), default=timezone.now)
    external_id = models.CharField(
        _("provider message id"),
        max_length=255,
        blank=True,
        help_text=_("The provider's id of an inbound email or SMS, to drop repeats."),
    )
    metadata = models.JSONField(default=dict, blank=True)
    delivery_status = models.CharField(
        _("delivery"),
        max_length=16,
        choices=Delivery.choices,
        default=Delivery.NONE,
        blank=True,
    )
    delivery_error = models.CharField(_("delivery error"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"],
                condition=~Q(external_id=""),
                name="omnichannel_message_unique_external_id",
            )
        ]

    def __str__(self) -> str:
        return f"{self.author} in {self.conversation_id} at {self.created_at:%H:%M}"

    @property
    def author_name(self) -> str:
        """Return the name shown to the customer beside an agent's message."""
        if self.author == self.Author.AGENT and self.agent is not None:
            return self.agent.get_short_name() or str(_("Support team"))
        if self.author == self.Author.AGENT:
            return str(_("Support team"))
        if self.author == self.Author.BOT:
            return str(_("Assistant"))
        return ""


class AgentAssignment(models.Model):
    """One change of the agent a conversation is assigned to; ``agent`` is empty
    when the conversation went back to the queue."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="assignments"
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("agent"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    assigned_at = models.DateTimeField(_("assigned"), default=timezone.now)

    class Meta:
        verbose_name = _("agent assignment")
        verbose_name_plural = _("agent assignments")
        ordering = ["-assigned_at", "-id"]

    def __str__(self) -> str:
        return f"{self.conversation_id} -> {self.agent_id or '-'}"


class FaqEntry(models.Model):
    """A question the default bot answers when a chat message matches its keywords."""

    question = models.CharField(_("question"), max_length=200)
    keywords = models.TextField(
        _("keywords"),
        help_text=_(
            "Comma-separated words or phrases, such as 'delivery time, shipping, "
            "how long'. A phrase matches when all its words are in the message; "
            "words of four or more letters also match longer forms (return, returns)."
        ),
    )
    answer = models.TextField(_("answer"))
    hand_over = models.BooleanField(
        _("hand over after answering"),
        default=False,
        help_text=_("Pass the conversation to a human after this answer."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    position = models.PositiveIntegerField(
        _("position"), default=0, help_text=_("Lower wins when two entries match.")
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("FAQ entry")
        verbose_name_plural = _("FAQ entries")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.question

    def keyword_list(self) -> list[str]:
        return [word.strip() for word in self.keywords.split(",") if word.strip()]
