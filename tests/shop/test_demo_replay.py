"""The demo's replay of the journey recipes over imported customers."""

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from omnichannel.channels.models import Delivery
from omnichannel.consent.models import ConsentRecord
from omnichannel.journeys.models import Enrollment
from omnichannel.profiles.models import Identity, Profile
from omnichannel.segments.models import Segment, SegmentMembership
from shop.demo_replay import replay, report, seed_sample_contacts

pytestmark = pytest.mark.django_db

CLOCK = datetime(1998, 6, 30, 23, 59, tzinfo=UTC)


@pytest.fixture
def hibernating():
    """Twenty imported customers, all in the Hibernating segment."""
    call_command("omnichannel_install_segments", stdout=io.StringIO())
    call_command("omnichannel_install_recipes", stdout=io.StringIO())
    segment = Segment.objects.get(slug="rfm-hibernating")
    for number in range(1, 21):
        profile = Profile.objects.create(
            first_order_at=CLOCK - timedelta(days=500), order_count=1
        )
        Identity.objects.create(
            profile=profile, kind="external", value=f"cdnow:{number:05d}"
        )
        SegmentMembership.objects.create(segment=segment, profile=profile)


def counts():
    return (
        Enrollment.objects.count(),
        Delivery.objects.filter(status="sent").count(),
        Delivery.objects.count(),
        ConsentRecord.objects.count(),
    )


def test_seed_gives_every_tenth_customer_contact(hibernating):
    assert seed_sample_contacts() == 2
    assert seed_sample_contacts() == 0

    emails = sorted(Profile.objects.exclude(email="").values_list("email", flat=True))
    assert emails == ["customer-00010@example.com", "customer-00020@example.com"]
    assert ConsentRecord.objects.filter(granted=True, source="demo").count() == 2


def test_replay_sends_win_back_to_consented(
    hibernating, django_capture_on_commit_callbacks
):
    seed_sample_contacts()
    output = io.StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        replay(CLOCK, output)

    win_back = Delivery.objects.filter(template__slug="win-back")
    assert win_back.filter(status="sent").count() == 2
    assert win_back.filter(status="suppressed", reason="no_consent").count() == 18
    assert "20 customers enrolled" in output.getvalue()
    # The test's transaction holds the sends until the block ends; report again.
    summary = io.StringIO()
    report(summary)
    text = summary.getvalue()
    line = next(row for row in text.splitlines() if row.startswith("win-back"))
    assert line.split()[1:3] == ["20", "2"]
    assert "no_consent: 18" in line


def test_replay_twice_changes_no_count(hibernating, django_capture_on_commit_callbacks):
    seed_sample_contacts()
    with django_capture_on_commit_callbacks(execute=True):
        replay(CLOCK, io.StringIO())
    before = counts()

    seed_sample_contacts()
    with django_capture_on_commit_callbacks(execute=True):
        replay(CLOCK, io.StringIO())

    assert counts() == before
