"""The outbox: create Delivery rows, dispatch them once, record each outcome.

``dispatch_delivery`` checks consent, suppression and the address at send time,
renders, and calls the backend only after its transaction commits. The row is
locked while it is checked and moved to ``sending``, so a second worker or a
retried task finds it taken and never sends twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from omnichannel.channels import links
from omnichannel.channels.backends.base import BaseBackend, OutgoingMessage, SendResult
from omnichannel.channels.compose import (
    LinkPolicy,
    RenderedMessage,
    compose,
    with_overrides,
)
from omnichannel.channels.models import (
    Delivery,
    MessageTemplate,
    ShortLink,
)
from omnichannel.channels.registry import get_backend
from omnichannel.channels.rendering import build_context, prefetch
from omnichannel.channels.signals import delivery_status_changed
from omnichannel.conf import app_settings, import_object
from omnichannel.consent.models import Purpose, Suppression
from omnichannel.consent.services import has_consent, is_suppressed
from omnichannel.consent.unsubscribe import build_unsubscribe_headers
from omnichannel.exceptions import (
    DeliveryError,
    InvalidAddress,
    ProviderError,
    RenderError,
)
from omnichannel.ops.logcontext import bind_log_ids, log_ids
from omnichannel.profiles.models import Profile
from omnichannel.profiles.services import track

logger = logging.getLogger(__name__)

Status = Delivery.Status
DUE_STATUSES = (Status.PENDING, Status.DEFERRED)
MAX_ERROR_LENGTH = 500


def _survivor(profile: Profile) -> Profile:
    seen = set()
    while profile.merged_into_id is not None and profile.pk not in seen:
        seen.add(profile.pk)
        profile = Profile.objects.get(pk=profile.merged_into_id)
    return profile


def _check_context(context: Any) -> dict[str, Any]:
    if context is None:
        return {}
    if not isinstance(context, Mapping):
        raise DeliveryError("context must be a dict of template variables.")
    try:
        json.dumps(dict(context))
    except (TypeError, ValueError) as error:
        raise DeliveryError(
            f"context must be JSON serialisable, as it is stored: {error}"
        ) from None
    return dict(context)


WEBHOOK_TEMPLATE_SLUG = "webhook"


def default_webhook_template() -> MessageTemplate:
    """Return the template of webhook deliveries created without one."""
    template, _created = MessageTemplate.objects.get_or_create(
        slug=WEBHOOK_TEMPLATE_SLUG,
        defaults={
            "name": "Webhook",
            "channel": "webhook",
            "purpose": Purpose.TRANSACTIONAL,
            "body": "",
            "recommendation_count": 0,
        },
    )
    return template


def build_delivery(
    profile: Profile,
    channel: str,
    template: MessageTemplate | None,
    *,
    dedupe_key: str,
    context: Mapping[str, Any] | None = None,
    source_type: str = "",
    source_id: str | int = "",
    step_key: str = "",
    scheduled_at: datetime | None = None,
) -> Delivery:
    """Return an unsaved, checked Delivery; raise DeliveryError on bad arguments.

    ``create_delivery`` saves one; the journey engine inserts many at once.
    """
    if template is None and channel == "webhook":
        template = default_webhook_template()
    if template is None:
        raise DeliveryError(f"A {channel} delivery needs a message template.")
    if not dedupe_key or len(dedupe_key) > 200:
        raise DeliveryError("dedupe_key must be 1 to 200 characters.")
    if template.channel != channel:
        raise DeliveryError(
            f"Template {template.slug!r} is for {template.channel!r}, not {channel!r}."
        )
    if scheduled_at is not None and timezone.is_naive(scheduled_at):
        raise DeliveryError("scheduled_at must be timezone-aware.")
    return Delivery(
        dedupe_key=dedupe_key,
        profile=_survivor(profile),
        channel=channel,
        template=template,
        context=_check_context(context),
        source_type=source_type[:32],
        source_id=str(source_id)[:64],
        step_key=step_key[:100],
        scheduled_at=scheduled_at,
    )


def create_delivery(
    profile: Profile,
    channel: str,
    template: MessageTemplate | None,
    *,
    dedupe_key: str,
    context: Mapping[str, Any] | None = None,
    source_type: str = "",
    source_id: str | int = "",
    step_key: str = "",
    scheduled_at: datetime | None = None,
) -> tuple[Delivery, bool]:
    """Return the delivery of ``dedupe_key``, creating it if there is none.

    The second value is True when this call created it. A key that exists already
    returns the existing row unchanged, whatever the other arguments, so a retried
    step never makes a second message. A webhook needs no template: its payload
    carries the context. Raises DeliveryError on bad arguments.
    """
    row = build_delivery(
        profile,
        channel,
        template,
        dedupe_key=dedupe_key,
        context=context,
        source_type=source_type,
        source_id=source_id,
        step_key=step_key,
        scheduled_at=scheduled_at,
    )
    existing = Delivery.objects.filter(dedupe_key=dedupe_key).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            row.save(force_insert=True)
            return row, True
    except IntegrityError:
        existing = Delivery.objects.filter(dedupe_key=dedupe_key).first()
        if existing is None:
            raise
        return existing, False


def dispatch_later(delivery_id: int) -> None:
    """Queue ``dispatch_delivery_task`` once the current transaction commits."""
    from omnichannel.channels.tasks import dispatch_delivery_task

    transaction.on_commit(lambda: dispatch_delivery_task.delay(delivery_id))


def _is_due(delivery: Delivery, now: datetime) -> bool:
    if delivery.status not in DUE_STATUSES:
        return False
    if delivery.scheduled_at is not None and delivery.scheduled_at > now:
        return False
    return delivery.next_attempt_at is None or delivery.next_attempt_at <= now


def _set_status(
    delivery: Delivery,
    status: str,
    reason: str = "",
    error: str = "",
    **fields: Any,
) -> None:
    previous = delivery.status
    delivery.status = status
    delivery.reason = reason
    delivery.error = error[:MAX_ERROR_LENGTH]
    for name, value in fields.items():
        setattr(delivery, name, value)
    delivery.save()
    if previous != status:
        delivery_status_changed.send(
            sender=Delivery, delivery=delivery, previous_status=previous
        )


def _track_outcome(delivery: Delivery, name: str, **properties: Any) -> None:
    from omnichannel.channels.tracking import delivery_properties

    track(
        name,
        profile=delivery.profile,
        properties=delivery_properties(delivery, **properties),
        object_type="delivery",
        object_id=delivery.pk,
        source="channels",
        idempotency_key=f"{name}:{delivery.pk}",
    )


def _guard(
    delivery: Delivery, backend: BaseBackend, now: datetime
) -> tuple[str, str, list[str]]:
    """Return (status, reason, addresses); a status means do not send."""
    profile = delivery.profile
    template = delivery.template
    if profile.erased_at is not None:
        return Status.SUPPRESSED, "erased", []
    if not template.is_active:
        return Status.CANCELLED, "template_inactive", []
    consent_channel = backend.consent_channel
    if (
        consent_channel
        and template.purpose != Purpose.TRANSACTIONAL
        and not has_consent(profile, consent_channel, template.purpose, now)
    ):
        return Status.SUPPRESSED, "no_consent", []
    try:
        addresses = backend.get_addresses(profile)
    except InvalidAddress as error:
        return Status.FAILED, error.reason, []
    suppression_channel = consent_channel or delivery.channel
    allowed = [
        address
        for address in addresses
        if not is_suppressed(suppression_channel, address)
    ]
    if not allowed:
        return Status.SUPPRESSED, "suppressed", []
    return "", "", allowed


def _paused_until(delivery: Delivery, now: datetime) -> tuple[datetime, str] | None:
    """Ask each callable in ``SEND_PAUSES`` whether the send must wait; return the
    first (until, reason) given. A paused message is deferred, never dropped."""
    if delivery.template.purpose == Purpose.TRANSACTIONAL:
        return None
    for path in app_settings.SEND_PAUSES:
        answer = import_object(path)(delivery, now)
        if answer is not None:
            return answer
    return None


def _shortener(delivery: Delivery, tracked: bool) -> Callable[[str], str]:
    def shorten(url: str) -> str:
        for _attempt in range(3):
            code = links.new_short_code()
            try:
                with transaction.atomic():
                    ShortLink.objects.create(
                        code=code, url=url, delivery=delivery if tracked else None
                    )
            except IntegrityError:
                continue
            return links.short_url(code)
        return url

    return shorten


def render_for(
    delivery: Delivery, *, at: datetime | None = None
) -> tuple[RenderedMessage, bool]:
    """Render ``delivery`` for its profile; return it and whether it is tracked."""
    template = delivery.template
    profile = delivery.profile
    personalisation = prefetch(
        [profile], recommendation_count=template.recommendation_count, at=at
    )
    tracked = profile.pk in personalisation.tracking
    policy = LinkPolicy(
        campaign=template.utm_campaign or template.slug,
        delivery_id=delivery.pk,
        track=tracked,
        shorten=_shortener(delivery, tracked) if delivery.channel == "sms" else None,
    )
    context = build_context(profile, personalisation, delivery.context)
    return compose(with_overrides(template, delivery.context), context, policy), tracked


def _outgoing(
    delivery: Delivery,
    rendered: RenderedMessage,
    addresses: list[str],
    tracked: bool,
) -> OutgoingMessage:
    template = delivery.template
    headers: dict[str, str] = {}
    if delivery.channel == "email" and template.purpose != Purpose.TRANSACTIONAL:
        headers = build_unsubscribe_headers(delivery.profile, "email", template.purpose)
    return OutgoingMessage(
        channel=delivery.channel,
        to=addresses,
        rendered=rendered,
        delivery_id=delivery.pk,
        profile_id=delivery.profile_id,
        template_slug=template.slug,
        purpose=template.purpose,
        track=tracked,
        headers=headers,
        metadata={
            "profile_uuid": str(delivery.profile.uuid),
            "context": delivery.context,
            "whatsapp_template": template.whatsapp_template,
            "whatsapp_language": template.whatsapp_language,
        },
    )


def dispatch_delivery(delivery_id: int) -> Delivery:
    """Check, render and send one delivery if it is due; return it.

    Consent, suppression and the address are read now, never from a copy made
    when the row was created. A refused send is recorded once as ``suppressed``
    or ``failed`` and never retried. A provider error is retried with exponential
    back-off up to ``DELIVERY_MAX_ATTEMPTS``. A row in any other state than
    ``pending`` or a due ``deferred`` is returned untouched. The backend is called
    after the transaction commits, so inside an outer transaction the row is
    returned in ``sending`` state.
    """
    with log_ids(delivery_id=delivery_id):
        return _dispatch(delivery_id)


def _dispatch(delivery_id: int) -> Delivery:
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("profile", "template")
            .get(pk=delivery_id)
        )
        bind_log_ids(profile_id=delivery.profile_id, step=delivery.step_key or None)
        if not _is_due(delivery, now):
            return delivery
        backend = get_backend(delivery.channel)
        status, reason, addresses = _guard(delivery, backend, now)
        if status:
            _refuse(delivery, status, reason)
            return delivery
        pause = _paused_until(delivery, now)
        if pause is not None:
            until, reason = pause
            _set_status(delivery, Status.DEFERRED, reason, next_attempt_at=until)
            return delivery
        try:
            rendered, tracked = render_for(delivery, at=now)
        except RenderError as error:
            logger.warning("delivery %s failed to render: %s", delivery.pk, error)
            _set_status(delivery, Status.FAILED, "render_error", str(error))
            _track_outcome(delivery, "message_failed", reason="render_error")
            return delivery
        _snapshot(delivery, rendered, addresses)
        if rendered.held_reason:
            _set_status(delivery, Status.HELD, rendered.held_reason)
            logger.warning(
                "delivery %s held for review: %s", delivery.pk, rendered.held_reason
            )
            return delivery
        message = _outgoing(delivery, rendered, addresses, tracked)
        _set_status(
            delivery,
            Status.SENDING,
            attempts=delivery.attempts + 1,
            sending_started_at=now,
            next_attempt_at=None,
        )
        transaction.on_commit(lambda: _send(delivery.pk, backend, message))
    return Delivery.objects.select_related("profile", "template").get(pk=delivery_id)


def _snapshot(
    delivery: Delivery, rendered: RenderedMessage, addresses: list[str]
) -> None:
    delivery.address = ", ".join(addresses)[:500]
    delivery.subject = rendered.subject[:300]
    delivery.body_text = rendered.text
    delivery.body_html = rendered.html
    if rendered.sms is not None:
        delivery.sms_encoding = rendered.sms.encoding
        delivery.sms_segments = rendered.sms.segments


def _refuse(delivery: Delivery, status: str, reason: str, error: str = "") -> None:
    _set_status(delivery, status, reason, error)
    if status == Status.SUPPRESSED:
        _track_outcome(delivery, "message_suppressed", reason=reason)
    elif status == Status.FAILED:
        _track_outcome(delivery, "message_failed", reason=reason)
    logger.info("delivery %s not sent: %s %s", delivery.pk, status, reason)


def _send(delivery_id: int, backend: BaseBackend, message: OutgoingMessage) -> None:
    try:
        result = backend.send(message)
    except InvalidAddress as error:
        _record_invalid_address(delivery_id, message, error)
    except ProviderError as error:
        _record_provider_error(delivery_id, error)
    except Exception as error:
        logger.exception("backend of delivery %s raised", delivery_id)
        _record_provider_error(
            delivery_id, ProviderError(f"{type(error).__name__}: {error}")
        )
    else:
        _record_sent(delivery_id, result)


def _locked_sending(delivery_id: int) -> Delivery | None:
    delivery = (
        Delivery.objects.select_for_update(of=("self",))
        .select_related("profile", "template")
        .get(pk=delivery_id)
    )
    if delivery.status != Status.SENDING:
        logger.warning(
            "delivery %s left %s while sending; outcome not recorded",
            delivery_id,
            delivery.status,
        )
        return None
    return delivery


def _record_sent(delivery_id: int, result: SendResult) -> None:
    with transaction.atomic():
        delivery = _locked_sending(delivery_id)
        if delivery is None:
            return
        _set_status(
            delivery,
            Status.SENT,
            provider_message_id=result.provider_message_id[:255],
            sent_at=timezone.now(),
        )
        _track_outcome(delivery, "message_sent", rejected=len(result.rejected))
    logger.info("delivery %s sent on %s", delivery_id, delivery.channel)


def _record_invalid_address(
    delivery_id: int, message: OutgoingMessage, error: InvalidAddress
) -> None:
    with transaction.atomic():
        delivery = _locked_sending(delivery_id)
        if delivery is None:
            return
        if error.reason == "suppressed":
            # The provider reported an opt-out (an SMS STOP) that the app missed.
            for address in message.to:
                Suppression.objects.get_or_create(
                    channel=delivery.channel,
                    address=address,
                    defaults={"reason": "provider_opt_out"},
                )
            _refuse(delivery, Status.SUPPRESSED, "suppressed")
        else:
            _refuse(delivery, Status.FAILED, "invalid_address", str(error))


def retry_delay(attempts: int, retry_after: float | None = None) -> timedelta:
    """Return the wait before attempt ``attempts + 1``: doubling, capped."""
    base = app_settings.DELIVERY_RETRY_DELAY
    delay = min(
        base * (2 ** max(attempts - 1, 0)), app_settings.DELIVERY_RETRY_MAX_DELAY
    )
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=retry_after))
    return delay


def _record_provider_error(delivery_id: int, error: ProviderError) -> None:
    with transaction.atomic():
        delivery = _locked_sending(delivery_id)
        if delivery is None:
            return
        detail = f"{error.code}: {error}" if error.code else str(error)
        if error.retryable and delivery.attempts < app_settings.DELIVERY_MAX_ATTEMPTS:
            delay = retry_delay(delivery.attempts, error.retry_after)
            _set_status(
                delivery,
                Status.DEFERRED,
                "provider_error",
                detail,
                next_attempt_at=timezone.now() + delay,
            )
            logger.warning(
                "delivery %s attempt %d failed (%s); retry in %ss",
                delivery_id,
                delivery.attempts,
                error.code,
                int(delay.total_seconds()),
            )
            return
        _set_status(delivery, Status.FAILED, "provider_error", detail)
        _track_outcome(delivery, "message_failed", reason="provider_error")
        logger.warning(
            "delivery %s failed after %d attempts (%s)",
            delivery_id,
            delivery.attempts,
            error.code,
        )


def defer_delivery(delivery: Delivery, until: datetime, reason: str) -> Delivery:
    """Move a pending or deferred delivery to ``until``, keeping it due later."""
    if timezone.is_naive(until):
        raise DeliveryError("until must be timezone-aware.")
    with transaction.atomic():
        locked = Delivery.objects.select_for_update().get(pk=delivery.pk)
        if locked.status in DUE_STATUSES:
            _set_status(locked, Status.DEFERRED, reason, next_attempt_at=until)
    return locked


def cancel_delivery(delivery: Delivery, reason: str) -> Delivery:
    """Cancel a delivery that has not started sending; return it."""
    with transaction.atomic():
        locked = Delivery.objects.select_for_update().get(pk=delivery.pk)
        if locked.status in DUE_STATUSES:
            _set_status(locked, Status.CANCELLED, reason)
    return locked


def due_deliveries(now: datetime | None = None) -> QuerySet[Delivery]:
    """Return the deliveries whose time has come and that no task is known to hold.

    A pending row is left to the task its creator queued for
    ``DELIVERY_PENDING_GRACE``, and for as long again after each time the sweep
    queued it (``next_attempt_at`` of a pending row is when the sweep last did).
    """
    # NOTE: a row waiting behind a backlog longer than the grace is queued again once
    # per grace period; the copies do nothing but cost a task each.
    now = now or timezone.now()
    cutoff = now - app_settings.DELIVERY_PENDING_GRACE
    unclaimed = Q(next_attempt_at__isnull=True, created_at__lte=cutoff) | Q(
        next_attempt_at__lte=cutoff
    )
    pending = Q(status=Status.PENDING) & unclaimed & ~Q(scheduled_at__gt=now)
    deferred = Q(status=Status.DEFERRED, next_attempt_at__lte=now)
    return Delivery.objects.filter(pending | deferred)


def due_delivery_ids(now: datetime | None = None, limit: int = 500) -> list[int]:
    """Return ids of deliveries whose time has come, oldest first."""
    now = now or timezone.now()
    due = due_deliveries(now)
    pending = due.filter(status=Status.PENDING)
    deferred = due.filter(status=Status.DEFERRED)
    ids = list(pending.order_by("created_at").values_list("pk", flat=True)[:limit])
    ids += list(
        deferred.order_by("next_attempt_at").values_list("pk", flat=True)[:limit]
    )
    return ids[:limit]


def mark_queued(ids: list[int], now: datetime | None = None) -> int:
    """Record that the sweep queued these pending deliveries now; return the count.

    ``due_deliveries`` then skips them for ``DELIVERY_PENDING_GRACE``, so a long
    queue does not collect a copy of the same task at every sweep.
    """
    return Delivery.objects.filter(pk__in=ids, status=Status.PENDING).update(
        next_attempt_at=now or timezone.now()
    )


def fail_interrupted(now: datetime | None = None) -> int:
    """Resume or fail rows stuck in ``sending`` past ``DELIVERY_SENDING_TIMEOUT``;
    return how many were handled.

    Whether such a message reached the provider is unknown. When the channel's
    backend is ``idempotent`` (its provider drops a second send of the same
    delivery id) and attempts remain, the row is deferred to now and sent again.
    Otherwise it is failed as ``interrupted`` and not sent again: a duplicate is
    worse than a gap the team can see and resend.
    """
    now = now or timezone.now()
    cutoff = now - app_settings.DELIVERY_SENDING_TIMEOUT
    failed = resumed = 0
    for pk in Delivery.objects.filter(
        status=Status.SENDING, sending_started_at__lt=cutoff
    ).values_list("pk", flat=True):
        with transaction.atomic(), log_ids(delivery_id=pk):
            delivery = _locked_sending(pk)
            if delivery is None:
                continue
            if (
                get_backend(delivery.channel).idempotent
                and delivery.attempts < app_settings.DELIVERY_MAX_ATTEMPTS
            ):
                _set_status(
                    delivery, Status.DEFERRED, "interrupted", next_attempt_at=now
                )
                resumed += 1
                continue
            _set_status(delivery, Status.FAILED, "interrupted")
            failed += 1
    if failed:
        logger.warning("%d deliveries were interrupted while sending", failed)
    if resumed:
        logger.warning(
            "%d deliveries were interrupted while sending; sending them again",
            resumed,
        )
    return failed + resumed
