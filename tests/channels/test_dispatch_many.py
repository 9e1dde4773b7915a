"""Dispatching a batch of deliveries at once, as the journey engine does."""

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from omnichannel.channels import services
from omnichannel.channels.backends import locmem
from omnichannel.channels.backends.base import SendResult
from omnichannel.channels.dispatch import dispatch_many, record_sent_many
from omnichannel.channels.models import Delivery, MessageTemplate
from omnichannel.consent.models import Suppression
from omnichannel.consent.services import record_consent
from omnichannel.exceptions import ProviderError
from omnichannel.profiles.merging import merge_profiles
from omnichannel.profiles.models import Event
from tests.factories import ProfileFactory

pytestmark = pytest.mark.django_db
Status = Delivery.Status


def make(profile, template, key, **fields):
    delivery, _created = services.create_delivery(
        profile, template.channel, template, dedupe_key=key, **fields
    )
    return delivery


def statuses(*deliveries):
    result = []
    for delivery in deliveries:
        delivery.refresh_from_db()
        result.append((delivery.status, delivery.reason))
    return result


@pytest.fixture
def others():
    """A customer without consent and one whose address is suppressed."""
    silent = ProfileFactory(email="no.consent@example.com", first_name="Nia")
    suppressed = ProfileFactory(email="bounced@example.com", first_name="Bo")
    record_consent(suppressed, "email", True)
    Suppression.objects.create(
        channel="email", address="bounced@example.com", reason="hard_bounce"
    )
    return silent, suppressed


def test_dispatch_many_applies_guards_per_recipient(
    on_commit, customer, others, email_template
):
    silent, suppressed = others
    sent = make(customer, email_template, "a")
    no_consent = make(silent, email_template, "b")
    blocked = make(suppressed, email_template, "c")

    with on_commit():
        handed = dispatch_many([sent.pk, no_consent.pk, blocked.pk])

    assert handed == 1
    assert statuses(sent, no_consent, blocked) == [
        (Status.SENT, ""),
        (Status.SUPPRESSED, "no_consent"),
        (Status.SUPPRESSED, "suppressed"),
    ]
    assert [message.to for message in mail.outbox] == [["zoe.sample@example.com"]]
    assert mail.outbox[0].subject == "Zoe, your cart is waiting"
    sent.refresh_from_db()
    assert sent.subject == "Zoe, your cart is waiting"
    assert sent.attempts == 1
    assert sent.sent_at is not None


def test_dispatch_many_records_events(on_commit, customer, others, email_template):
    silent, _suppressed = others
    sent = make(customer, email_template, "a")
    refused = make(silent, email_template, "b")

    with on_commit():
        dispatch_many([sent.pk, refused.pk])

    names = set(
        Event.objects.filter(object_type="delivery").values_list("name", "object_id")
    )
    assert names == {
        ("message_sent", str(sent.pk)),
        ("message_suppressed", str(refused.pk)),
    }


def test_dispatch_many_sends_once(on_commit, customer, email_template):
    delivery = make(customer, email_template, "a")

    with on_commit():
        dispatch_many([delivery.pk])
    with on_commit():
        again = dispatch_many([delivery.pk])
    services.dispatch_delivery(delivery.pk)

    assert again == 0
    assert len(mail.outbox) == 1


def test_dispatch_many_defers_on_provider_error(
    on_commit, settings, customer, sms_template
):
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "CHANNEL_BACKENDS": {
            "sms": {
                "BACKEND": "omnichannel.channels.backends.locmem.LocmemBackend",
                "OPTIONS": {"FAIL_WITH": [ProviderError("busy", code="429")]},
            }
        },
    }
    second = ProfileFactory(phone="+447700900111", first_name="Al")
    record_consent(second, "sms", True)
    failing = make(customer, sms_template, "a")
    working = make(second, sms_template, "b")

    with on_commit():
        dispatch_many([failing.pk, working.pk])

    assert statuses(failing, working) == [
        (Status.DEFERRED, "provider_error"),
        (Status.SENT, ""),
    ]
    assert len(locmem.outbox) == 1


def test_dispatch_many_render_error_fails_one(on_commit, customer, email_template):
    broken = MessageTemplate.objects.create(
        name="Broken",
        slug="broken",
        channel="email",
        subject="Hi",
        body="<p>Hi</p>",
    )
    # Written past the model's validation, as an old row could be: it cannot compile.
    MessageTemplate.objects.filter(pk=broken.pk).update(body="{% if %}")
    good = make(customer, email_template, "a")
    bad = make(customer, broken, "b")

    with on_commit():
        dispatch_many([good.pk, bad.pk])

    assert statuses(good, bad) == [
        (Status.SENT, ""),
        (Status.FAILED, "render_error"),
    ]
    assert len(mail.outbox) == 1


def test_dispatch_many_queries_do_not_grow(on_commit, email_template):
    def dispatch(count, prefix):
        ids = []
        for number in range(count):
            profile = ProfileFactory(email=f"{prefix}.{number}@example.com")
            record_consent(profile, "email", True)
            ids.append(make(profile, email_template, f"{prefix}{number}").pk)
        with CaptureQueriesContext(connection) as queries, on_commit():
            assert dispatch_many(ids) == count
        return len(queries)

    dispatch(1, "warm")

    assert dispatch(2, "few") == dispatch(12, "many")


def test_record_sent_many_leaves_rows_moved_on(customer, email_template):
    still_sending = make(customer, email_template, "a")
    moved = make(customer, email_template, "b")
    Delivery.objects.filter(pk__in=[still_sending.pk, moved.pk]).update(
        status="sending"
    )
    still_sending.refresh_from_db()
    moved.refresh_from_db()
    # Another process failed the second row as interrupted meanwhile.
    Delivery.objects.filter(pk=moved.pk).update(status="failed", reason="interrupted")

    record_sent_many(
        [(still_sending.pk, SendResult("id-a")), (moved.pk, SendResult("id-b"))],
        {still_sending.pk: still_sending, moved.pk: moved},
    )

    assert statuses(still_sending, moved) == [
        (Status.SENT, ""),
        (Status.FAILED, "interrupted"),
    ]
    assert still_sending.provider_message_id == "id-a"
    sent_events = Event.objects.filter(name="message_sent")
    assert list(sent_events.values_list("object_id", flat=True)) == [
        str(still_sending.pk)
    ]


def test_record_sent_many_reads_unknown_rows(customer, email_template):
    delivery = make(customer, email_template, "a")
    Delivery.objects.filter(pk=delivery.pk).update(status="sending")

    record_sent_many([(delivery.pk, SendResult("id-a"))])

    assert statuses(delivery) == [(Status.SENT, "")]
    assert Event.objects.filter(name="message_sent").count() == 1


def _sending(profile, template, key):
    delivery = make(profile, template, key)
    Delivery.objects.filter(pk=delivery.pk).update(status="sending")
    return Delivery.objects.select_related("profile", "template").get(pk=delivery.pk)


def test_record_sent_many_reads_no_profile_it_holds(customer, email_template):
    delivery = _sending(customer, email_template, "a")

    with CaptureQueriesContext(connection) as queries:
        record_sent_many([(delivery.pk, SendResult("id-a"))], {delivery.pk: delivery})

    profile_reads = [
        q["sql"]
        for q in queries
        if q["sql"].startswith("SELECT") and 'FROM "omnichannel_profile"' in q["sql"]
    ]
    # Only the lock against concurrent merges reads the profile table.
    assert len(profile_reads) == 1
    if connection.vendor == "postgresql":
        assert "FOR NO KEY UPDATE" in profile_reads[0]
    assert Event.objects.filter(name="message_sent", profile=customer).count() == 1


def test_record_sent_many_follows_merge_since_read(customer, email_template):
    delivery = _sending(customer, email_template, "a")
    survivor = ProfileFactory(email="survivor@example.com")
    # Merged by another process after the dispatch read the delivery's profile.
    merge_profiles(survivor, customer)

    record_sent_many([(delivery.pk, SendResult("id-a"))], {delivery.pk: delivery})

    sent = Event.objects.get(name="message_sent")
    assert sent.profile_id == survivor.pk
