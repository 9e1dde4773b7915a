"""Dispatching many deliveries at once, as the journey engine hands them over.

``dispatch_many`` applies the rules of ``services.dispatch_delivery`` to a batch:
each row is locked, checked at send time (erasure, consent, address, suppression,
send pauses), rendered and moved to ``sending`` in one transaction, and the
backends are called after it commits. What the checks need is read for the whole
batch in a few queries: the consent ledger, the suppression list, segments,
tracking consent and recommendations. Outcomes are written back in bulk.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from omnichannel.channels.backends.base import BaseBackend, OutgoingMessage, SendResult
from omnichannel.channels.compose import LinkPolicy, compose, with_overrides
from omnichannel.channels.models import Delivery, MessageTemplate
from omnichannel.channels.registry import get_backend
from omnichannel.channels.rendering import Personalisation, build_context, prefetch
from omnichannel.channels.services import (
    MAX_ERROR_LENGTH,
    Status,
    _is_due,
    _outgoing,
    _record_invalid_address,
    _record_provider_error,
    _shortener,
    _snapshot,
)
from omnichannel.channels.signals import delivery_status_changed
from omnichannel.conf import app_settings, import_object
from omnichannel.consent.models import ConsentRecord, Purpose, Suppression
from omnichannel.consent.services import normalise_address
from omnichannel.db import bulk_update_rows, bulk_update_rows_where
from omnichannel.exceptions import InvalidAddress, ProviderError, RenderError

logger = logging.getLogger(__name__)

#: Delivery fields a dispatch may change, written back in one statement.
DISPATCH_FIELDS = (
    "status",
    "reason",
    "error",
    "attempts",
    "address",
    "subject",
    "body_text",
    "body_html",
    "sms_encoding",
    "sms_segments",
    "provider_message_id",
    "sending_started_at",
    "sent_at",
    "next_attempt_at",
    "updated_at",
)
#: The fields recording a provider's acceptance; the rendered message stays as is.
SENT_FIELDS = (
    "status",
    "reason",
    "error",
    "provider_message_id",
    "sent_at",
    "updated_at",
)


class _Consents:
    """The latest consent row per profile, channel and purpose, read once."""

    def __init__(self, deliveries: Sequence[Delivery], now: datetime) -> None:
        self.latest: dict[tuple[int, str, str], bool] = {}
        wanted: set[tuple[str, str]] = set()
        for delivery in deliveries:
            channel = get_backend(delivery.channel).consent_channel
            if channel and delivery.template.purpose != Purpose.TRANSACTIONAL:
                wanted.add((channel, delivery.template.purpose))
        if not wanted:
            return
        query = Q()
        for channel, purpose in wanted:
            query |= Q(channel=channel, purpose=purpose)
        rows = (
            ConsentRecord.objects.filter(query)
            .filter(
                profile_id__in={delivery.profile_id for delivery in deliveries},
                topic="",
                recorded_at__lte=now,
            )
            .order_by("recorded_at", "id")
            .values_list("profile_id", "channel", "purpose", "granted")
        )
        for profile_id, channel, purpose, granted in rows:
            self.latest[(profile_id, channel, purpose)] = granted

    def granted(self, profile_id: int, channel: str, purpose: str) -> bool:
        return self.latest.get((profile_id, channel, purpose), False)


def _suppressed(pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Return the (channel, normalised address) pairs on the suppression list."""
    by_channel: dict[str, set[str]] = defaultdict(set)
    for channel, address in pairs:
        by_channel[channel].add(address)
    if not by_channel:
        return set()
    query = Q()
    for channel, addresses in by_channel.items():
        query |= Q(channel=channel, address__in=addresses)
    return set(Suppression.objects.filter(query).values_list("channel", "address"))


def _check(
    deliveries: Sequence[Delivery], now: datetime
) -> tuple[list[tuple[Delivery, list[str]]], list[tuple[Delivery, str, str, str]]]:
    """Split due deliveries into (delivery, addresses) to send and refusals.

    The rules are those of ``services._guard``, with the ledger and the
    suppression list read once for the batch.
    """
    consents = _Consents(deliveries, now)
    allowed: list[tuple[Delivery, list[str]]] = []
    refused: list[tuple[Delivery, str, str, str]] = []
    candidates: list[tuple[Delivery, str, list[tuple[str, str]]]] = []
    for delivery in deliveries:
        profile = delivery.profile
        template = delivery.template
        backend = get_backend(delivery.channel)
        consent_channel = backend.consent_channel
        if profile.erased_at is not None:
            refused.append((delivery, Status.SUPPRESSED, "erased", ""))
            continue
        if not template.is_active:
            refused.append((delivery, Status.CANCELLED, "template_inactive", ""))
            continue
        if (
            consent_channel
            and template.purpose != Purpose.TRANSACTIONAL
            and not consents.granted(profile.pk, consent_channel, template.purpose)
        ):
            refused.append((delivery, Status.SUPPRESSED, "no_consent", ""))
            continue
        try:
            addresses = backend.get_addresses(profile)
        except InvalidAddress as error:
            refused.append((delivery, Status.FAILED, error.reason, ""))
            continue
        channel = consent_channel or delivery.channel
        pairs = [
            (address, (channel, normalise_address(channel, address)))
            for address in addresses
        ]
        candidates.append((delivery, channel, pairs))  # type: ignore[arg-type]
    suppressed = _suppressed(pair for _d, _c, pairs in candidates for _a, pair in pairs)
    for delivery, _channel, pairs in candidates:
        addresses = [address for address, pair in pairs if pair not in suppressed]  # type: ignore[misc]
        if addresses:
            allowed.append((delivery, addresses))
        else:
            refused.append((delivery, Status.SUPPRESSED, "suppressed", ""))
    return allowed, refused


def _pauses(
    deliveries: Sequence[Delivery], now: datetime
) -> dict[int, tuple[datetime, str]]:
    """Return the deliveries that a callable in ``SEND_PAUSES`` holds back.

    A callable may offer ``many(deliveries, now)``, returning a dict of delivery id
    to (until, reason), to answer for a batch at once; otherwise it is called per
    delivery. The first answer per delivery wins, as in ``dispatch_delivery``.
    """
    candidates = [d for d in deliveries if d.template.purpose != Purpose.TRANSACTIONAL]
    paused: dict[int, tuple[datetime, str]] = {}
    for path in app_settings.SEND_PAUSES:
        pending = [d for d in candidates if d.pk not in paused]
        if not pending:
            break
        function = import_object(path)
        many = getattr(function, "many", None)
        if many is not None:
            for pk, answer in many(pending, now).items():
                paused.setdefault(pk, answer)
            continue
        for delivery in pending:
            answer = function(delivery, now)
            if answer is not None:
                paused[delivery.pk] = answer
    return paused


def _change(
    delivery: Delivery,
    status: str,
    reason: str = "",
    error: str = "",
    **fields: Any,
) -> str:
    previous = delivery.status
    delivery.status = status
    delivery.reason = reason
    delivery.error = error[:MAX_ERROR_LENGTH]
    delivery.updated_at = timezone.now()
    for name, value in fields.items():
        setattr(delivery, name, value)
    return previous


def _save(
    changes: list[tuple[Delivery, str]], fields: tuple[str, ...] = DISPATCH_FIELDS
) -> None:
    """Write the changed rows in one statement, then announce each change."""
    bulk_update_rows(Delivery, [delivery for delivery, _ in changes], fields)
    _announce(changes)


def _announce(changes: list[tuple[Delivery, str]]) -> None:
    """Send ``delivery_status_changed`` for each row whose status changed."""
    for delivery, previous in changes:
        if previous != delivery.status:
            delivery_status_changed.send(
                sender=Delivery, delivery=delivery, previous_status=previous
            )


def track_outcomes(outcomes: Sequence[tuple[Delivery, str, dict[str, Any]]]) -> None:
    """Record a message event per (delivery, event name, properties), in bulk.

    Erased profiles take no events, so theirs are left out.
    """
    from omnichannel.channels.tracking import delivery_properties
    from omnichannel.profiles.batch import store_events
    from omnichannel.profiles.payloads import EventInput

    items = [
        EventInput(
            name=name,
            profile_uuid=delivery.profile.uuid,
            properties=delivery_properties(delivery, **properties),
            source="channels",
            object_type="delivery",
            object_id=str(delivery.pk),
            idempotency_key=f"{name}:{delivery.pk}",
        )
        for delivery, name, properties in outcomes
        if delivery.profile.erased_at is None
    ]
    if items:
        # The profiles came with the deliveries, so they are not read again.
        profiles = {
            delivery.profile.uuid: delivery.profile for delivery, _n, _p in outcomes
        }
        store_events(items, profiles)


def dispatch_many(delivery_ids: Sequence[int]) -> int:
    """Check, render and send the due deliveries among ``delivery_ids``.

    Returns how many were handed to a backend. Rows that are not due are left
    untouched, as ``dispatch_delivery`` leaves them. Backends are called after the
    transaction commits, through ``send_many``, one call per channel.
    """
    now = timezone.now()
    outgoing: dict[str, list[OutgoingMessage]] = defaultdict(list)
    sending: dict[int, Delivery] = {}
    with transaction.atomic():
        locked = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("profile")
            .filter(pk__in=list(delivery_ids))
            .order_by("pk")
        )
        due = [delivery for delivery in locked if _is_due(delivery, now)]
        if not due:
            return 0
        # A batch has few templates, so each is read once and shared by its rows.
        templates = MessageTemplate.objects.in_bulk({d.template_id for d in due})
        for delivery in due:
            delivery.template = templates[delivery.template_id]
        changes: list[tuple[Delivery, str]] = []
        events: list[tuple[Delivery, str, dict[str, Any]]] = []

        allowed, refused = _check(due, now)
        for delivery, status, reason, error in refused:
            changes.append((delivery, _change(delivery, status, reason, error)))
            if status == Status.SUPPRESSED:
                events.append((delivery, "message_suppressed", {"reason": reason}))
            elif status == Status.FAILED:
                events.append((delivery, "message_failed", {"reason": reason}))

        paused = _pauses([delivery for delivery, _ in allowed], now)
        ready = []
        for delivery, addresses in allowed:
            if delivery.pk in paused:
                until, reason = paused[delivery.pk]
                previous = _change(
                    delivery, Status.DEFERRED, reason, next_attempt_at=until
                )
                changes.append((delivery, previous))
            else:
                ready.append((delivery, addresses))

        for delivery, message in _render(ready, now, changes, events):
            outgoing[delivery.channel].append(message)
            sending[delivery.pk] = delivery
        _save(changes)
        track_outcomes(events)
        if outgoing:
            batches = dict(outgoing)
            transaction.on_commit(lambda: send_batches(batches, sending))
    sent = sum(len(messages) for messages in outgoing.values())
    logger.info(
        "dispatched %d of %d deliveries (%d rejected, %d paused)",
        sent,
        len(delivery_ids),
        len(refused),
        len(paused),
    )
    return sent


def _render(
    ready: list[tuple[Delivery, list[str]]],
    now: datetime,
    changes: list[tuple[Delivery, str]],
    events: list[tuple[Delivery, str, dict[str, Any]]],
) -> Iterable[tuple[Delivery, OutgoingMessage]]:
    """Render each ready delivery, recording render errors and held messages."""
    by_count: dict[int, list[Delivery]] = defaultdict(list)
    for delivery, _ in ready:
        by_count[delivery.template.recommendation_count].append(delivery)
    personalisations: dict[int, Personalisation] = {
        count: prefetch([d.profile for d in group], recommendation_count=count, at=now)
        for count, group in by_count.items()
    }
    for delivery, addresses in ready:
        template = delivery.template
        personalisation = personalisations[template.recommendation_count]
        tracked = delivery.profile_id in personalisation.tracking
        policy = LinkPolicy(
            campaign=template.utm_campaign or template.slug,
            delivery_id=delivery.pk,
            track=tracked,
            shorten=_shortener(delivery, tracked)
            if delivery.channel == "sms"
            else None,
        )
        context = build_context(delivery.profile, personalisation, delivery.context)
        try:
            rendered = compose(
                with_overrides(template, delivery.context), context, policy
            )
        except RenderError as error:
            logger.warning("delivery %s failed to render: %s", delivery.pk, error)
            previous = _change(delivery, Status.FAILED, "render_error", str(error))
            changes.append((delivery, previous))
            events.append((delivery, "message_failed", {"reason": "render_error"}))
            continue
        _snapshot(delivery, rendered, addresses)
        if rendered.held_reason:
            previous = _change(delivery, Status.HELD, rendered.held_reason)
            changes.append((delivery, previous))
            logger.warning(
                "delivery %s held for review: %s", delivery.pk, rendered.held_reason
            )
            continue
        message = _outgoing(delivery, rendered, addresses, tracked)
        previous = _change(
            delivery,
            Status.SENDING,
            attempts=delivery.attempts + 1,
            sending_started_at=now,
            next_attempt_at=None,
        )
        changes.append((delivery, previous))
        yield delivery, message


def send_batches(
    batches: dict[str, list[OutgoingMessage]],
    deliveries: Mapping[int, Delivery] | None = None,
) -> None:
    """Hand each channel's messages to its backend, then record the outcomes.

    ``deliveries`` are the rows as this process moved them to ``sending``, by id.
    ``record_sent_many`` then writes the sent rows without reading them again.
    """
    for channel, messages in batches.items():
        backend = get_backend(channel)
        results = send_all(backend, messages)
        sent: list[tuple[int, SendResult]] = []
        for message, result in zip(messages, results, strict=True):
            assert message.delivery_id is not None
            if isinstance(result, SendResult):
                sent.append((message.delivery_id, result))
            elif isinstance(result, InvalidAddress):
                _record_invalid_address(message.delivery_id, message, result)
            else:
                _record_provider_error(message.delivery_id, result)
        record_sent_many(sent, deliveries)


def send_all(
    backend: BaseBackend, messages: list[OutgoingMessage]
) -> list[SendResult | InvalidAddress | ProviderError]:
    """Call the backend's ``send_many``, turning any other exception into a
    ProviderError for every message, as ``services._send`` does for one."""
    try:
        return backend.send_many(messages)
    except Exception as error:
        logger.exception("backend of channel %s raised", backend.channel)
        failure = ProviderError(f"{type(error).__name__}: {error}")
        return [failure for _ in messages]


def record_sent_many(
    sent: Sequence[tuple[int, SendResult]],
    deliveries: Mapping[int, Delivery] | None = None,
) -> None:
    """Mark deliveries still in ``sending`` as sent and record ``message_sent``.

    One conditional ``UPDATE`` writes every row that is still ``sending``; a row
    that another process moved on meanwhile (``fail_interrupted`` after
    ``DELIVERY_SENDING_TIMEOUT``) keeps its state. ``deliveries`` are the rows as
    the caller holds them in memory, by id, with their profile and template; the
    rows not among them are read in one query.
    """
    if not sent:
        return
    results = dict(sent)
    known = deliveries or {}
    rows = [known[pk] for pk in results if pk in known]
    missing = [pk for pk in results if pk not in known]
    if missing:
        rows += (
            Delivery.objects.select_related("profile", "template")
            .filter(pk__in=missing)
            .order_by("pk")
        )
    now = timezone.now()
    changes = []
    for delivery in rows:
        if delivery.status != Status.SENDING:
            # Read from the database above: no longer ours to record.
            _warn_not_sending(delivery.pk)
            continue
        result = results[delivery.pk]
        previous = _change(
            delivery,
            Status.SENT,
            provider_message_id=result.provider_message_id[:255],
            sent_at=now,
        )
        changes.append((delivery, previous))
    with transaction.atomic():
        written = bulk_update_rows_where(
            Delivery,
            [delivery for delivery, _ in changes],
            SENT_FIELDS,
            {"status": Status.SENDING},
        )
        recorded = []
        events = []
        for delivery, previous in changes:
            if delivery.pk not in written:
                _warn_not_sending(delivery.pk)
                continue
            recorded.append((delivery, previous))
            events.append(
                (
                    delivery,
                    "message_sent",
                    {"rejected": len(results[delivery.pk].rejected)},
                )
            )
        _announce(recorded)
        track_outcomes(events)
    logger.info("recorded %d deliveries as sent", len(recorded))


def _warn_not_sending(delivery_id: int) -> None:
    logger.warning(
        "delivery %s is no longer in sending; outcome not recorded", delivery_id
    )
