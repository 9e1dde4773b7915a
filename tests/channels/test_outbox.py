from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail

from omnichannel.channels import services
from omnichannel.channels.backends import locmem
from omnichannel.channels.models import Delivery, MessageTemplate
from omnichannel.channels.tasks import dispatch_delivery_task, dispatch_due_deliveries
from omnichannel.consent.models import Suppression
from omnichannel.consent.services import record_consent
from omnichannel.exceptions import DeliveryError, InvalidAddress, ProviderError
from omnichannel.profiles.models import Event
from tests.factories import ProfileFactory

BERLIN = ZoneInfo("Europe/Berlin")
Status = Delivery.Status


def dispatch(on_commit, delivery):
    with on_commit():
        services.dispatch_delivery(delivery.pk)
    delivery.refresh_from_db()
    return delivery


@pytest.mark.django_db
def test_create_delivery_is_idempotent_on_dedupe_key(customer, email_template):
    first, created = services.create_delivery(
        customer, "email", email_template, dedupe_key="42:email-1:0", step_key="e1"
    )
    again, created_again = services.create_delivery(
        customer,
        "email",
        email_template,
        dedupe_key="42:email-1:0",
        context={"different": True},
    )
    assert created is True
    assert created_again is False
    assert again.pk == first.pk
    assert again.context == {}
    assert Delivery.objects.count() == 1


@pytest.mark.django_db
def test_create_delivery_rejects_bad_arguments(customer, email_template):
    with pytest.raises(DeliveryError, match="dedupe_key"):
        services.create_delivery(customer, "email", email_template, dedupe_key="")
    with pytest.raises(DeliveryError, match="is for 'email', not 'sms'"):
        services.create_delivery(customer, "sms", email_template, dedupe_key="k")
    with pytest.raises(DeliveryError, match="JSON serialisable"):
        services.create_delivery(
            customer, "email", email_template, dedupe_key="k", context={"x": object()}
        )
    with pytest.raises(DeliveryError, match="timezone-aware"):
        services.create_delivery(
            customer,
            "email",
            email_template,
            dedupe_key="k",
            scheduled_at=datetime(2026, 12, 4, 10, 0),
        )
    assert not Delivery.objects.exists()


@pytest.mark.django_db
def test_dispatch_sends_email_once(on_commit, customer, email_template):
    delivery, _ = services.create_delivery(
        customer, "email", email_template, dedupe_key="once", context={"code": "X1"}
    )
    delivery = dispatch(on_commit, delivery)
    assert delivery.status == Status.SENT
    assert delivery.attempts == 1
    assert delivery.sent_at is not None
    assert delivery.subject == "Zoe, your cart is waiting"
    assert delivery.provider_message_id.startswith("<")
    assert len(mail.outbox) == 1

    delivery = dispatch(on_commit, delivery)
    assert len(mail.outbox) == 1
    assert delivery.attempts == 1
    assert Event.objects.filter(name="message_sent", profile=customer).count() == 1


@pytest.mark.django_db
def test_dispatch_inside_transaction_sends_after_commit(
    django_capture_on_commit_callbacks, customer, email_template
):
    delivery, _ = services.create_delivery(
        customer, "email", email_template, dedupe_key="after-commit"
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        returned = services.dispatch_delivery(delivery.pk)
    assert returned.status == Status.SENDING
    assert len(mail.outbox) == 0
    assert len(callbacks) == 1
    callbacks[0]()
    delivery.refresh_from_db()
    assert delivery.status == Status.SENT
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_withdrawn_consent_suppresses_once_never_retried(on_commit, email_template):
    # Email 2 of a cascade: consent given in March, withdrawn at 13:20 on the day
    # of the cart, the email falls due the next morning.
    profile = ProfileFactory(email="zoe.sample@example.com", first_name="Zoe")
    record_consent(
        profile, "email", True, at=datetime(2026, 3, 2, 10, 0, tzinfo=BERLIN)
    )
    record_consent(
        profile, "email", False, at=datetime(2026, 12, 4, 13, 20, tzinfo=BERLIN)
    )
    delivery, _ = services.create_delivery(
        profile, "email", email_template, dedupe_key="a3:email-2:0"
    )
    with time_machine.travel(datetime(2026, 12, 5, 10, 0, tzinfo=BERLIN), tick=False):
        delivery = dispatch(on_commit, delivery)
        assert delivery.status == Status.SUPPRESSED
        assert delivery.reason == "no_consent"
        for _ in range(3):
            delivery = dispatch(on_commit, delivery)
        assert dispatch_due_deliveries() == 0
    assert delivery.status == Status.SUPPRESSED
    assert delivery.attempts == 0
    assert len(mail.outbox) == 0
    assert Event.objects.filter(name="message_suppressed").count() == 1


@pytest.mark.django_db
def test_stop_one_second_before_sms_wins(on_commit, locmem_channels, sms_template):
    profile = ProfileFactory(phone="+447700900789", first_name="Zoe")
    record_consent(profile, "sms", True, at=datetime(2026, 3, 2, 10, 0, tzinfo=BERLIN))
    record_consent(
        profile, "sms", False, at=datetime(2026, 12, 5, 9, 59, 59, tzinfo=BERLIN)
    )
    delivery, _ = services.create_delivery(
        profile, "sms", sms_template, dedupe_key="a3b:sms:0"
    )
    with time_machine.travel(datetime(2026, 12, 5, 10, 0, tzinfo=BERLIN), tick=False):
        delivery = dispatch(on_commit, delivery)
        delivery = dispatch(on_commit, delivery)
    assert delivery.status == Status.SUPPRESSED
    assert delivery.reason == "no_consent"
    assert locmem.outbox == []
    assert Event.objects.filter(name="message_suppressed").count() == 1


@pytest.mark.django_db
def test_consent_read_at_send_not_at_creation(on_commit, customer, email_template):
    delivery, _ = services.create_delivery(
        customer, "email", email_template, dedupe_key="late-withdrawal"
    )
    record_consent(customer, "email", False)
    delivery = dispatch(on_commit, delivery)
    assert delivery.status == Status.SUPPRESSED


@pytest.mark.django_db
def test_suppressed_address_not_sent(on_commit, customer, email_template):
    Suppression.objects.create(
        channel="email", address="zoe.sample@example.com", reason="bounce"
    )
    delivery, _ = services.create_delivery(
        customer, "email", email_template, dedupe_key="suppressed"
    )
    delivery = dispatch(on_commit, delivery)
    assert delivery.status == Status.SUPPRESSED
    assert delivery.reason == "suppressed"
    assert len(mail.outbox) == 0


@pytest.mark.django_db
def test_transactional_message_needs_no_consent(on_commit):
    template = MessageTemplate.objects.create(
        name="Receipt",
        slug="receipt",
        channel="email",
        purpose="transactional",
        subject="Your order",
        body="<p>Thanks</p>",
    )
    profile = ProfileFactory(email="buyer@example.com")
    delivery, _ = services.create_delivery(
        profile, "email", template, dedupe_key="receipt-1"
    )
    delivery = dispatch(on_commit, delivery)
    assert delivery.status == Status.SENT
    assert "List-Unsubscribe" not in mail.outbox[0].extra_headers


@pytest.mark.django_db
def test_missing_and_invalid_addresses_fail_without_retry(on_commit, email_template):
    nobody = ProfileFactory(email="")
    record_consent(nobody, "email", True)
    delivery, _ = services.create_delivery(
        nobody, "email", email_template, dedupe_key="no-address"
    )
    delivery = dispatch(on_commit, delivery)
    assert delivery.status == Status.FAILED
    assert delivery.reason == "no_address"

    broken = ProfileFactory(email="not-an-address")
    record_consent(broken, "email", True)
    delivery, _ = services.create_delivery(
        broken, "email", email_template, dedupe_key="bad-address"
    )
    delivery = dispatch(on_commit, delivery)
    assert delivery.status == Status.FAILED
    assert delivery.reason == "invalid_address"
    assert len(mail.outbox) == 0


def failing_backend(settings, *failures):
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "CHANNEL_BACKENDS": {
            "sms": {
                "BACKEND": "omnichannel.channels.backends.locmem.LocmemBackend",
                "OPTIONS": {"FAIL_WITH": list(failures)},
            }
        },
        "DELIVERY_MAX_ATTEMPTS": 3,
        "DELIVERY_RETRY_DELAY": timedelta(minutes=1),
    }


@pytest.mark.django_db
def test_provider_error_retries_with_backoff_then_fails(
    on_commit, settings, customer, sms_template
):
    failing_backend(
        settings,
        ProviderError("down", code="503"),
        ProviderError("down", code="503"),
        ProviderError("down", code="503"),
    )
    start = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)
    delivery, _ = services.create_delivery(
        customer, "sms", sms_template, dedupe_key="retry"
    )
    with time_machine.travel(start, tick=False) as clock:
        delivery = dispatch(on_commit, delivery)
        assert delivery.status == Status.DEFERRED
        assert delivery.reason == "provider_error"
        assert delivery.next_attempt_at == start + timedelta(minutes=1)

        delivery = dispatch(on_commit, delivery)  # not due yet
        assert delivery.attempts == 1

        clock.move_to(start + timedelta(minutes=1))
        delivery = dispatch(on_commit, delivery)
        assert delivery.attempts == 2
        assert delivery.next_attempt_at == start + timedelta(minutes=3)

        clock.move_to(start + timedelta(minutes=3))
        delivery = dispatch(on_commit, delivery)
    assert delivery.status == Status.FAILED
    assert delivery.reason == "provider_error"
    assert delivery.attempts == 3
    assert locmem.outbox == []


@pytest.mark.django_db
def test_retry_honours_provider_retry_after(
    on_commit, settings, customer, sms_template
):
    failing_backend(settings, ProviderError("slow down", retry_after=600, code="429"))
    start = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)
    delivery, _ = services.create_delivery(
        customer, "sms", sms_template, dedupe_key="retry-after"
    )
    with time_machine.travel(start, tick=False) as clock:
        delivery = dispatch(on_commit, delivery)
        assert delivery.next_attempt_at == start + timedelta(minutes=10)
        clock.move_to(start + timedelta(minutes=10))
        with on_commit():
            assert dispatch_due_deliveries() == 1
    delivery.refresh_from_db()
    assert delivery.status == Status.SENT
    assert len(locmem.outbox) == 1


@pytest.mark.django_db
def test_permanent_provider_error_not_retried(
    on_commit, settings, customer, sms_template
):
    failing_backend(settings, ProviderError("bad request", retryable=False, code="400"))
    delivery, _ = services.create_delivery(
        customer, "sms", sms_template, dedupe_key="permanent"
    )
    delivery = dispatch(on_commit, delivery)
    assert delivery.status == Status.FAILED
    assert delivery.attempts == 1


@pytest.mark.django_db
def test_provider_opt_out_becomes_suppression(
    on_commit, settings, customer, sms_template
):
    failing_backend(settings, InvalidAddress("unsubscribed", reason="suppressed"))
    delivery, _ = services.create_delivery(
        customer, "sms", sms_template, dedupe_key="opt-out"
    )
    delivery = dispatch(on_commit, delivery)
    assert delivery.status == Status.SUPPRESSED
    assert Suppression.objects.filter(channel="sms", address="+447700900789").exists()


@pytest.mark.django_db
def test_sending_row_is_not_sent_by_second_worker(on_commit, customer, email_template):
    delivery, _ = services.create_delivery(
        customer, "email", email_template, dedupe_key="race"
    )
    Delivery.objects.filter(pk=delivery.pk).update(status=Status.SENDING)
    delivery = dispatch(on_commit, delivery)
    assert delivery.status == Status.SENDING
    assert len(mail.outbox) == 0


@pytest.mark.django_db
def test_interrupted_send_fails_instead_of_resending(customer, email_template):
    delivery, _ = services.create_delivery(
        customer, "email", email_template, dedupe_key="interrupted"
    )
    started = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Status.SENDING, sending_started_at=started
    )
    with time_machine.travel(started + timedelta(minutes=20), tick=False):
        dispatch_due_deliveries()
    delivery.refresh_from_db()
    assert delivery.status == Status.FAILED
    assert delivery.reason == "interrupted"
    assert len(mail.outbox) == 0


@pytest.mark.django_db
def test_scheduled_delivery_waits(on_commit, customer, email_template):
    later = datetime(2027, 1, 5, 9, 0, tzinfo=UTC)
    delivery, _ = services.create_delivery(
        customer, "email", email_template, dedupe_key="scheduled", scheduled_at=later
    )
    with time_machine.travel(later - timedelta(hours=1), tick=False):
        delivery = dispatch(on_commit, delivery)
        assert delivery.status == Status.PENDING
        assert dispatch_due_deliveries() == 0
    with time_machine.travel(later, tick=False), on_commit():
        assert dispatch_due_deliveries() == 1
    delivery.refresh_from_db()
    assert delivery.status == Status.SENT


@pytest.mark.django_db
def test_deferred_delivery_is_sent_when_due_never_dropped(
    on_commit, customer, email_template
):
    delivery, _ = services.create_delivery(
        customer, "email", email_template, dedupe_key="quiet"
    )
    resume = datetime(2027, 1, 5, 0, 0, tzinfo=UTC)
    services.defer_delivery(delivery, resume, "quiet_hours")
    delivery.refresh_from_db()
    assert delivery.status == Status.DEFERRED
    assert delivery.reason == "quiet_hours"
    with time_machine.travel(resume - timedelta(minutes=1), tick=False):
        delivery = dispatch(on_commit, delivery)
        assert delivery.status == Status.DEFERRED
    with time_machine.travel(resume, tick=False):
        delivery = dispatch(on_commit, delivery)
    assert delivery.status == Status.SENT


@pytest.mark.django_db
def test_cancelled_delivery_never_sent(on_commit, customer, email_template):
    delivery, _ = services.create_delivery(
        customer, "email", email_template, dedupe_key="cancel"
    )
    services.cancel_delivery(delivery, "goal_reached")
    delivery = dispatch(on_commit, delivery)
    assert delivery.status == Status.CANCELLED
    assert delivery.reason == "goal_reached"
    assert len(mail.outbox) == 0


@pytest.mark.django_db
def test_dispatch_task_runs_delivery(on_commit, customer, email_template):
    delivery, _ = services.create_delivery(
        customer, "email", email_template, dedupe_key="task"
    )
    with on_commit():
        dispatch_delivery_task.delay(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == Status.SENT
    assert dispatch_delivery_task.acks_late is True
    assert dispatch_delivery_task.reject_on_worker_lost is True


@pytest.mark.django_db
def test_render_error_fails_delivery_not_raises(on_commit, customer):
    template = MessageTemplate.objects.create(
        name="Dated",
        slug="dated",
        channel="email",
        subject="Hi",
        body="<p>{% for code in offer_codes %}{{ code }}{% endfor %}</p>",
    )
    delivery, _ = services.create_delivery(
        customer,
        "email",
        template,
        dedupe_key="render-error",
        context={"offer_codes": 5},
    )
    delivery = dispatch(on_commit, delivery)
    assert delivery.status == Status.FAILED
    assert delivery.reason == "render_error"
    assert "not iterable" in delivery.error
    assert len(mail.outbox) == 0


@pytest.mark.django_db
def test_delivery_follows_merged_profile(on_commit, customer, email_template):
    from omnichannel.profiles.services import merge_profiles

    other = ProfileFactory(email="")
    merge_profiles(customer, other)
    other.refresh_from_db()
    delivery, _ = services.create_delivery(
        other, "email", email_template, dedupe_key="merged"
    )
    assert delivery.profile_id == customer.pk


@pytest.mark.django_db
def test_webhook_delivery_without_template_uses_default(settings, on_commit):
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "CHANNEL_BACKENDS": {
            "webhook": {
                "BACKEND": "omnichannel.channels.backends.locmem.LocmemBackend",
                "OPTIONS": {"URL": "https://crm.example/hooks"},
            }
        },
    }
    profile = ProfileFactory()
    delivery, created = services.create_delivery(
        profile, "webhook", None, dedupe_key="hook-none", context={"cart": 3}
    )
    assert created is True
    assert delivery.template.slug == "webhook"
    with on_commit():
        services.dispatch_delivery(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == Status.SENT
    assert locmem.outbox[0].metadata["context"] == {"cart": 3}


@pytest.mark.django_db
def test_email_delivery_without_template_rejected(customer):
    with pytest.raises(DeliveryError, match="needs a message template"):
        services.create_delivery(customer, "email", None, dedupe_key="none")


@pytest.mark.django_db
def test_dispatch_later_sends_after_commit(on_commit, customer, email_template):
    delivery, _ = services.create_delivery(
        customer, "email", email_template, dedupe_key="later"
    )
    with on_commit():
        services.dispatch_later(delivery.pk)
        assert len(mail.outbox) == 0
    delivery.refresh_from_db()
    assert delivery.status == Status.SENT
    assert len(mail.outbox) == 1
