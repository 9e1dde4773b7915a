"""Replies to the app's emails and SMS, from provider webhooks.

Two provider-neutral JSON webhooks (email and SMS), authenticated by the shared
secret ``INBOUND_WEBHOOK_SECRET`` sent as ``Authorization: Bearer <secret>``, and a
receiver of django-anymail's ``inbound`` signal for the providers anymail
supports. All of them end in ``services.receive_inbound``.
"""

from __future__ import annotations

import hmac
import logging
import re
from datetime import datetime
from email.utils import parseaddr
from typing import Any

from django.utils import timezone
from django.utils.html import strip_tags
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from omnichannel.conf import app_settings
from omnichannel.conversations.api import exception_handler
from omnichannel.conversations.models import ConversationChannel
from omnichannel.conversations.services import receive_inbound
from omnichannel.exceptions import InvalidInboundMessage
from omnichannel.security.ratelimit import ScopedRateThrottle

logger = logging.getLogger(__name__)

# Lines that start the quoted original in common mail clients, such as
# "On Tue, 1 Dec 2026 at 10:00, Shop <shop@example.com> wrote:" and Outlook's
# "-----Original Message-----".
_QUOTE_HEADERS = (
    re.compile(r"^\s*On\b.{0,300}\bwrote:\s*$", re.IGNORECASE),
    re.compile(r"^\s*Am\b.{0,300}\bschrieb\b.*:\s*$", re.IGNORECASE),
    re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}\s*$", re.IGNORECASE),
)
# Outlook quotes with a header block: "From:" followed by "Sent:", "Date:", "To:"
# or "Subject:" within the next lines.
_FROM_HEADER = re.compile(r"^\s*From:\s.+$", re.IGNORECASE)
_HEADER_FIELD = re.compile(r"^\s*(Sent|Date|To|Subject|Cc):\s", re.IGNORECASE)


def _starts_quote(lines: list[str], index: int) -> bool:
    line = lines[index]
    if any(pattern.match(line) for pattern in _QUOTE_HEADERS):
        return True
    # Long "On ... wrote:" lines are often wrapped onto a second line.
    if index + 1 < len(lines) and line.strip():
        joined = f"{line} {lines[index + 1]}"
        if any(pattern.match(joined) for pattern in _QUOTE_HEADERS[:2]):
            return True
    if _FROM_HEADER.match(line):
        following = lines[index + 1 : index + 4]
        return any(_HEADER_FIELD.match(next_line) for next_line in following)
    return False


def strip_quoted_reply(text: str) -> str:
    """Return the new part of an email reply, without the quoted original.

    Cuts at the first line that introduces a quote ("On ... wrote:",
    "-----Original Message-----", a "From:"/"Sent:" header block) and drops lines
    starting with ">". When nothing would remain, the whole text is kept.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        if _starts_quote(lines, index):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    while kept and kept[-1].strip() in ("", "--"):
        kept.pop()
    result = "\n".join(kept).strip()
    return result or text.strip()


class HasWebhookSecret(BasePermission):
    """The request carries ``INBOUND_WEBHOOK_SECRET`` as a bearer token."""

    def has_permission(self, request: Request, view: Any) -> bool:
        secret = app_settings.INBOUND_WEBHOOK_SECRET
        if not secret:
            raise exceptions.PermissionDenied(
                _(
                    "Inbound webhooks are off. Set "
                    "OMNICHANNEL['INBOUND_WEBHOOK_SECRET'] to turn them on."
                ),
                code="webhook_disabled",
            )
        header = request.headers.get("Authorization", "")
        scheme, _space, given = header.partition(" ")
        if scheme.lower() != "bearer" or not given:
            raise exceptions.NotAuthenticated(
                _("Send the webhook secret as 'Authorization: Bearer <secret>'.")
            )
        if not hmac.compare_digest(given.strip().encode(), str(secret).encode()):
            raise exceptions.AuthenticationFailed(
                _("The webhook secret is wrong."), code="invalid_secret"
            )
        return True


class InboundSerializer(serializers.Serializer):
    sender = serializers.CharField(
        max_length=320,
        help_text=_(
            "The sender's address or number; 'Name <address>' works for email."
        ),
    )
    text = serializers.CharField(
        trim_whitespace=False,
        allow_blank=True,
        required=False,
        default="",
        help_text=_("The plain-text body."),
    )
    received_at = serializers.DateTimeField(
        required=False,
        help_text=_("When the provider received it (ISO 8601); default now."),
    )
    message_id = serializers.CharField(
        max_length=255,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("The provider's id of the message; repeats with it are dropped."),
    )


class InboundEmailSerializer(InboundSerializer):
    html = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text=_("The HTML body, used when there is no plain-text body."),
    )
    subject = serializers.CharField(
        max_length=998, required=False, allow_blank=True, default=""
    )


class InboundResultSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(
        choices=["added", "duplicate", "keyword"],
        help_text=_(
            "added: stored as a new message; duplicate: stored before; keyword: a "
            "STOP or START SMS, handled as consent."
        ),
    )
    conversation = serializers.UUIDField(allow_null=True)
    message = serializers.IntegerField(allow_null=True)


class InboundWebhookView(APIView):
    authentication_classes: list = []
    permission_classes = [HasWebhookSecret]
    throttle_classes = [ScopedRateThrottle]
    rate_limit_scope = "inbound"
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    channel = ""
    serializer_class: type[InboundSerializer] = InboundSerializer

    def get_exception_handler(self) -> Any:
        return exception_handler

    def get_authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="inbound"'

    def text_of(self, data: dict[str, Any]) -> str:
        return data["text"]

    def sender_of(self, data: dict[str, Any]) -> str:
        return data["sender"]

    def post(self, request: Request) -> Response:
        serializer = self.serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        reference = data.get("message_id") or None
        existed = _stored(self.channel, reference)
        try:
            message = receive_inbound(
                self.channel,
                self.sender_of(data),
                self.text_of(data),
                received_at=data.get("received_at") or timezone.now(),
                reference=reference,
                subject=data.get("subject", ""),
            )
        except InvalidInboundMessage as error:
            field = {"sender_address": "sender"}.get(error.field, error.field)
            raise exceptions.ValidationError({field: [error.message]}) from None
        if message is None:
            keyword = {"outcome": "keyword", "conversation": None, "message": None}
            return Response(keyword, status=status.HTTP_200_OK)
        result: dict[str, Any] = {
            "outcome": "duplicate" if existed else "added",
            "conversation": str(message.conversation.uuid),
            "message": message.pk,
        }
        code = status.HTTP_200_OK if existed else status.HTTP_201_CREATED
        return Response(result, status=code)


def _stored(channel: str, reference: str | None) -> bool:
    from omnichannel.conversations.models import Message

    if not reference:
        return False
    return Message.objects.filter(channel=channel, external_id=reference[:255]).exists()


class InboundEmailView(InboundWebhookView):
    """Add an inbound email to the sender's conversation."""

    channel = ConversationChannel.EMAIL
    serializer_class = InboundEmailSerializer

    def sender_of(self, data: dict[str, Any]) -> str:
        return parseaddr(data["sender"])[1] or data["sender"]

    def text_of(self, data: dict[str, Any]) -> str:
        text = data.get("text") or strip_tags(data.get("html") or "")
        return strip_quoted_reply(text)

    @extend_schema(
        operation_id="inbound_email",
        request=InboundEmailSerializer,
        responses={200: InboundResultSerializer, 201: InboundResultSerializer},
        tags=["inbound"],
    )
    def post(self, request: Request) -> Response:
        return super().post(request)


class InboundSMSView(InboundWebhookView):
    """Add an inbound SMS to the sender's conversation; STOP and START go to
    the consent code instead."""

    channel = ConversationChannel.SMS

    @extend_schema(
        operation_id="inbound_sms",
        request=InboundSerializer,
        responses={200: InboundResultSerializer, 201: InboundResultSerializer},
        tags=["inbound"],
    )
    def post(self, request: Request) -> Response:
        return super().post(request)


def handle_anymail_inbound(event: Any, esp_name: str = "") -> None:
    """Add the email of an anymail inbound event; bad ones are logged and dropped."""
    message = getattr(event, "message", None)
    if message is None:
        return
    try:
        sender = message.from_email.addr_spec if message.from_email else ""
    except ValueError:
        # anymail raises AnymailInvalidAddress, a ValueError, for a bad From header.
        sender = ""
    text = message.text or strip_tags(message.html or "")
    received_at = getattr(event, "timestamp", None)
    if not isinstance(received_at, datetime) or timezone.is_naive(received_at):
        received_at = timezone.now()
    reference = message.get("Message-ID") or getattr(event, "event_id", None)
    try:
        receive_inbound(
            ConversationChannel.EMAIL,
            sender,
            strip_quoted_reply(text or ""),
            received_at=received_at,
            reference=str(reference) if reference else None,
            subject=message.subject or "",
        )
    except InvalidInboundMessage as error:
        logger.warning(
            "inbound email from %s dropped: %s is invalid", esp_name, error.field
        )
