"""Weekly insights: the numbers per channel and journey, and who writes the text."""

import json
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from omnichannel.assistant.exceptions import InvalidRequest
from omnichannel.assistant.insights import (
    compute_week,
    invented_numbers,
    last_full_week,
    plain_summary,
    write_weekly_insight,
)
from omnichannel.assistant.models import WeeklyInsight
from omnichannel.assistant.tasks import INSIGHT_TASK, beat_schedule
from omnichannel.assistant.tasks import write_weekly_insight as insight_task
from omnichannel.channels.models import Delivery, MessageTemplate
from omnichannel.journeys.models import Journey
from omnichannel.schedule import beat_schedule as app_beat_schedule
from omnichannel.schedule import parse_crontab
from tests.assistant.fake_model import answer, error
from tests.factories import EventFactory, OrderEventFactory, ProfileFactory

pytestmark = pytest.mark.django_db

WEEK = date(2026, 11, 23)  # a Monday


def at(day, hour=12):
    return timezone.make_aware(datetime(2026, 11, day, hour))


@pytest.fixture
def week_data():
    template = MessageTemplate.objects.create(
        name="News", slug="news", channel="email", subject="News", body="<p>Hi</p>"
    )
    journey = Journey.objects.create(
        name="Welcome", slug="welcome", trigger_type="manual"
    )
    counter = iter(range(1000))

    def delivery(channel, sent, opened=None, clicked=None, journey_id=None):
        return Delivery.objects.create(
            profile=ProfileFactory(),
            channel=channel,
            template=template,
            dedupe_key=f"d{next(counter)}",
            status="sent",
            sent_at=sent,
            opened_at=opened,
            clicked_at=clicked,
            context={"journey_id": journey_id} if journey_id else {},
        )

    # The week before: 2 emails, 1 opened.
    delivery("email", at(17), opened=at(17, 13))
    delivery("email", at(18))
    # The week: 4 emails (3 from the journey), 2 opened, 1 clicked; 1 SMS.
    clicked = delivery("email", at(24), at(24, 13), at(24, 14), journey_id=journey.pk)
    delivery("email", at(24), at(25), journey_id=journey.pk)
    delivery("email", at(25), journey_id=journey.pk)
    delivery("email", at(26))
    delivery("sms", at(26))
    EventFactory(
        profile=clicked.profile,
        name="message_clicked",
        occurred_at=at(24, 14),
        properties={
            "channel": "email",
            "journey_id": journey.pk,
            "delivery_id": clicked.pk,
        },
    )
    OrderEventFactory(
        profile=clicked.profile, occurred_at=at(25), revenue=Decimal("80.00")
    )
    return journey


def row(rows, key):
    return next(r for r in rows if r["key"] == key)


def test_compute_week_counts_per_channel(week_data):
    metrics = compute_week(WEEK)

    email = row(metrics["channels"], "email")
    assert (email["sends"], email["sends_previous"], email["sends_change"]) == (
        4,
        2,
        100.0,
    )
    assert (email["opens"], email["opens_previous"], email["opens_change"]) == (
        2,
        1,
        100.0,
    )
    assert (email["clicks"], email["clicks_previous"], email["clicks_change"]) == (
        1,
        0,
        None,
    )
    assert (email["conversions"], email["revenue"]) == (1, "80.00")
    sms = row(metrics["channels"], "sms")
    assert (sms["sends"], sms["opens"]) == (1, 0)


def test_compute_week_counts_per_journey(week_data):
    metrics = compute_week(WEEK)

    [journey] = metrics["journeys"]
    assert journey["key"] == week_data.pk
    assert journey["name"] == "Welcome"
    assert (journey["sends"], journey["opens"], journey["clicks"]) == (3, 2, 1)
    assert (journey["conversions"], journey["revenue"]) == (1, "80.00")
    assert metrics["week_end"] == "2026-11-29"


def test_plain_summary_states_numbers_and_changes(week_data):
    text = plain_summary(compute_week(WEEK))

    assert "Week of 2026-11-23 to 2026-11-29" in text
    assert (
        "Channel email: 4 sends (+100.0%), 2 opens (+100.0%), "
        "1 clicks (none the week before)" in text
    )
    assert "80.00 EUR revenue" in text
    assert "Journey Welcome: 3 sends" in text


def test_insight_without_model_uses_numbers(week_data, settings):
    settings.OMNICHANNEL = {**settings.OMNICHANNEL, "ASSISTANT": {}}

    insight = write_weekly_insight(WEEK)

    assert insight.author == WeeklyInsight.Author.NUMBERS
    assert insight.note == ""
    assert insight.summary.startswith("Week of 2026-11-23")
    assert insight.metrics["channels"][0]["key"] == "email"


def test_insight_written_by_model_from_numbers(week_data, fake_model):
    fake_model.play(
        answer("Email sends doubled to 4 (+100.0%) and one click brought 80.00 EUR.")
    )

    insight = write_weekly_insight(WEEK)

    assert insight.author == WeeklyInsight.Author.MODEL
    assert insight.model == "test-model"
    assert insight.summary.startswith("Email sends doubled")
    sent = json.loads(fake_model.requests[0]["messages"][1]["content"])
    assert sent == insight.metrics


def test_insight_discards_text_with_invented_numbers(week_data, fake_model):
    fake_model.play(answer("Email revenue rose 35% to 1,250 EUR."))

    insight = write_weekly_insight(WEEK)

    assert insight.author == WeeklyInsight.Author.NUMBERS
    assert "numbers not in the data (1,250, 35)" in insight.note
    assert insight.summary.startswith("Week of")


def test_insight_falls_back_when_model_fails(week_data, fake_model):
    fake_model.play(error(500), error(500), error(500))

    insight = write_weekly_insight(WEEK)

    assert insight.author == WeeklyInsight.Author.NUMBERS
    assert "The model failed" in insight.note


def test_insight_rewrite_replaces_the_week(week_data, settings):
    settings.OMNICHANNEL = {**settings.OMNICHANNEL, "ASSISTANT": {}}
    write_weekly_insight(WEEK)

    write_weekly_insight(WEEK)

    assert WeeklyInsight.objects.count() == 1


def test_insight_rejects_future_week():
    with pytest.raises(InvalidRequest, match="is in the future"):
        write_weekly_insight(timezone.localdate() + timedelta(days=7))


def test_invented_numbers_accept_rounded_forms(week_data):
    metrics = compute_week(WEEK)

    assert invented_numbers("Revenue was 80 EUR, up 100% on 2 opens.", metrics) == []
    assert invented_numbers("About 81 EUR.", metrics) == ["81"]


def test_last_full_week_is_previous_monday():
    assert last_full_week(date(2026, 12, 2)) == date(2026, 11, 23)
    assert last_full_week(date(2026, 11, 30)) == date(2026, 11, 23)


def test_task_writes_the_insight(week_data, settings):
    settings.OMNICHANNEL = {**settings.OMNICHANNEL, "ASSISTANT": {}}

    result = insight_task.delay("2026-11-23").get()

    assert result == {"week_start": "2026-11-23", "author": "numbers"}


def test_beat_schedule_reads_setting(assistant_settings):
    assistant_settings(INSIGHTS_SCHEDULE="30 5 * * 2")

    entry = beat_schedule()["omnichannel-assistant-weekly-insight"]

    assert entry["task"] == INSIGHT_TASK
    assert entry["schedule"] == parse_crontab("30 5 * * 2")


def test_app_schedule_includes_weekly_insight(settings):
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "ASSISTANT": {"INSIGHTS_SCHEDULE": "0 8 * * 1"},
    }

    entry = app_beat_schedule()["omnichannel-assistant-weekly-insight"]

    assert entry["task"] == INSIGHT_TASK
    assert entry["schedule"] == parse_crontab("0 8 * * 1")


def test_admin_shows_numbers_beside_text(
    client, django_user_model, week_data, settings
):
    settings.OMNICHANNEL = {**settings.OMNICHANNEL, "ASSISTANT": {}}
    client.force_login(
        django_user_model.objects.create_superuser("boss", "b@x.com", "pw")
    )
    insight = write_weekly_insight(WEEK)

    page = client.get(
        reverse("admin:omnichannel_weeklyinsight_change", args=[insight.pk])
    )

    content = page.content.decode()
    assert page.status_code == 200
    assert "Week of 2026-11-23" in content
    assert "<th>email</th><td>4 <small>(2; +100.0%)</small></td>" in content
    assert "<th>Welcome</th>" in content


def test_admin_button_writes_last_week(client, django_user_model, settings):
    settings.OMNICHANNEL = {**settings.OMNICHANNEL, "ASSISTANT": {}}
    client.force_login(
        django_user_model.objects.create_superuser("boss", "b@x.com", "pw")
    )

    response = client.post(reverse("admin:omnichannel_weeklyinsight_write"))

    insight = WeeklyInsight.objects.get()
    assert insight.week_start == last_full_week()
    assert response.url == reverse(
        "admin:omnichannel_weeklyinsight_change", args=[insight.pk]
    )


def test_admin_action_rewrites_weeks(client, django_user_model, week_data, settings):
    settings.OMNICHANNEL = {**settings.OMNICHANNEL, "ASSISTANT": {}}
    client.force_login(
        django_user_model.objects.create_superuser("boss", "b@x.com", "pw")
    )
    insight = WeeklyInsight.objects.create(week_start=WEEK, summary="stale", metrics={})

    response = client.post(
        reverse("admin:omnichannel_weeklyinsight_changelist"),
        {"action": "rewrite", "_selected_action": [insight.pk]},
        follow=True,
    )

    insight.refresh_from_db()
    assert "Wrote 1 week again." in response.content.decode()
    assert insight.summary.startswith("Week of 2026-11-23")
