"""Email through Django's email framework, so any django-anymail provider works.

The message has a text and an HTML part, the RFC 8058 unsubscribe headers for
marketing mail, and anymail's ``metadata`` and tracking flags: providers track
opens and clicks only for recipients who consented to it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.message import make_msgid
from django.core.validators import validate_email

from omnichannel.channels.backends.base import (
    BaseBackend,
    OutgoingMessage,
    SendResult,
)
from omnichannel.conf import app_settings
from omnichannel.consent.models import Channel
from omnichannel.exceptions import InvalidAddress, ProviderError
from omnichannel.profiles.models import Profile


class EmailBackend(BaseBackend):
    """Send through ``settings.EMAIL_BACKEND``, or the ``EMAIL_BACKEND`` option.

    Options: ``EMAIL_BACKEND`` (dotted path of a Django email backend) and
    ``CONNECTION_OPTIONS`` (keyword arguments for it, such as ``host`` and
    ``port`` of the SMTP backend).
    """

    channel = "email"
    consent_channel = Channel.EMAIL

    def get_addresses(self, profile: Profile) -> list[str]:
        address = (profile.email or "").strip()
        if not address:
            raise InvalidAddress(
                "The profile has no email address.", reason="no_address"
            )
        try:
            validate_email(address)
        except ValidationError:
            raise InvalidAddress("The email address is not valid.") from None
        return [address]

    def connection(self) -> Any:
        return get_connection(
            self.option("EMAIL_BACKEND"),
            fail_silently=False,
            **self.option("CONNECTION_OPTIONS", {}),
        )

    def build(self, message: OutgoingMessage) -> EmailMultiAlternatives:
        rendered = message.rendered
        sender = app_settings.EMAIL_FROM or settings.DEFAULT_FROM_EMAIL
        domain = sender.rsplit("@", 1)[-1].strip(">") or None
        headers = {"Message-ID": make_msgid(domain=domain), **message.headers}
        email = EmailMultiAlternatives(
            subject=rendered.subject,
            body=rendered.text,
            from_email=sender,
            to=message.to,
            headers=headers,
        )
        email.attach_alternative(rendered.html, "text/html")
        # Read by django-anymail backends, ignored by Django's own.
        email.metadata = {  # type: ignore[attr-defined]
            **message.metadata,
            "delivery_id": str(message.delivery_id or ""),
        }
        email.tags = [message.template_slug] if message.template_slug else []  # type: ignore[attr-defined]
        email.track_opens = message.track  # type: ignore[attr-defined]
        email.track_clicks = message.track  # type: ignore[attr-defined]
        return email

    def send(self, message: OutgoingMessage) -> SendResult:
        email = self.build(message)
        try:
            sent = self.connection().send_messages([email])
        except (OSError, ValueError) as error:
            raise ProviderError(
                f"The email backend failed: {type(error).__name__}: {error}",
                code="email_backend",
            ) from error
        except Exception as error:
            # django-anymail raises AnymailError subclasses; rejected recipients
            # and API errors are worth retrying only when the ESP is down.
            raise _anymail_error(error) from error
        if not sent:
            raise ProviderError("The email backend sent no message.", code="not_sent")
        return SendResult(provider_message_id=_message_id(email))


def _message_id(email: EmailMultiAlternatives) -> str:
    status = getattr(email, "anymail_status", None)
    if status is not None and status.message_id:
        return str(status.message_id)
    return str(email.extra_headers.get("Message-ID", ""))


def _anymail_error(error: Exception) -> Exception:
    try:
        from anymail.exceptions import AnymailError, AnymailRecipientsRefused
    except ImportError:  # pragma: no cover - anymail is a dependency
        return error
    if isinstance(error, AnymailRecipientsRefused):
        return InvalidAddress("The email provider refused the recipient.")
    if isinstance(error, AnymailError):
        status = getattr(error, "status_code", None)
        retryable = status is None or status == 429 or status >= 500
        return ProviderError(
            f"The email provider failed: {error}",
            retryable=retryable,
            code="anymail",
            status=status,
        )
    return error
