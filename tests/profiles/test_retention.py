from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from omnichannel.profiles.models import Event
from omnichannel.profiles.retention import apply_event_retention
from omnichannel.profiles.tasks import apply_event_retention_task
from tests.factories import EventFactory, OrderEventFactory, ProfileFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def make(name, age_days, profile):
    factory = OrderEventFactory if name == "order_placed" else EventFactory
    return factory(
        profile=profile, name=name, occurred_at=NOW - timedelta(days=age_days)
    )


@pytest.fixture
def history():
    profile = ProfileFactory()
    return {
        "old_page": make("page_viewed", 400, profile),
        "new_page": make("page_viewed", 10, profile),
        "old_order": make("order_placed", 3000, profile),
        "old_custom": make("custom", 400, profile),
        "old_signup": make("signed_up", 900, profile),
    }


def remaining():
    return set(Event.objects.values_list("pk", flat=True))


def test_retention_default_deletes_old_browsing_only(history):
    counts = apply_event_retention(now=NOW)
    assert counts == {"page_viewed": 1}
    assert history["old_page"].pk not in remaining()
    assert history["old_order"].pk in remaining()
    assert history["old_custom"].pk in remaining()


@override_settings(
    OMNICHANNEL={
        "EVENT_RETENTION": {
            "page_viewed": timedelta(days=30),
            "signed_up": None,
            "order_placed": timedelta(days=1),
            "*": timedelta(days=365),
        }
    }
)
def test_retention_per_type_and_wildcard(history):
    counts = apply_event_retention(now=NOW)
    assert counts == {"page_viewed": 1, "*": 1}
    kept = remaining()
    assert history["old_custom"].pk not in kept
    assert history["old_signup"].pk in kept
    assert history["old_order"].pk in kept
    assert history["new_page"].pk in kept


def test_retention_dry_run_deletes_nothing(history):
    counts = apply_event_retention(now=NOW, dry_run=True)
    assert counts == {"page_viewed": 1}
    assert len(remaining()) == 5


def test_retention_keeps_order_totals(history):
    from omnichannel.profiles.aggregates import recompute_aggregates

    profile = history["old_order"].profile
    apply_event_retention(now=NOW)
    recompute_aggregates([profile.pk])
    profile.refresh_from_db()
    assert profile.total_spent == Decimal("10.00")


def test_retention_task_and_command(history, capsys):
    assert apply_event_retention_task() == {"page_viewed": 1}
    history2 = make("page_viewed", 500, history["new_page"].profile)
    call_command("omnichannel_apply_retention", "--dry-run")
    assert "would delete 1 events" in capsys.readouterr().out
    call_command("omnichannel_apply_retention")
    assert history2.pk not in remaining()
