from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from omnichannel.segments.membership import rebuild_segment
from omnichannel.segments.models import Segment, SegmentMembership
from tests.factories import ProfileFactory

pytestmark = pytest.mark.django_db

BUILDER_URL = "admin:omnichannel_segment_builder"
GERMANS = {"type": "profile", "field": "country", "op": "eq", "value": "DE"}


def builder_post(client, data, **extra):
    return client.post(reverse(BUILDER_URL), data, HTTP_HX_REQUEST="true", **extra)


def germans_form(**overrides):
    data = {
        "b0-kind": "group",
        "b0-match": "all",
        "b0-0-kind": "condition",
        "b0-0-type": "profile",
        "b0-0-shown_type": "profile",
        "b0-0-field": "country",
        "b0-0-op": "eq",
        "b0-0-value": "DE",
    }
    data.update(overrides)
    return data


def test_builder_shows_count_and_sample(admin_client):
    anna = ProfileFactory(country="DE", first_name="Anna")
    ProfileFactory(country="FR")

    response = builder_post(admin_client, germans_form())

    assert response.status_code == 200
    html = response.content.decode()
    assert '<p id="omni-count" style="font-size: 20px">1</p>' in html
    assert f"(#{anna.pk})" in html
    assert "Country is “DE”" in html


def test_builder_adds_condition_row(admin_client):
    response = builder_post(admin_client, germans_form(action="add-condition:0"))
    html = response.content.decode()
    assert 'name="b0-1-kind" value="condition"' in html
    assert 'name="b0-0-value" value="DE"' in html


def test_builder_adds_and_removes_group(admin_client):
    html = builder_post(
        admin_client, germans_form(action="add-group:0")
    ).content.decode()
    assert 'name="b0-1-kind" value="group"' in html

    data = germans_form(
        **{"b0-1-kind": "group", "b0-1-match": "any"}, action="remove:0-0"
    )
    html = builder_post(admin_client, data).content.decode()
    assert 'name="b0-0-kind" value="group"' in html
    assert "b0-1-kind" not in html


def test_builder_switching_type_resets_condition(admin_client):
    data = germans_form(**{"b0-0-type": "aggregate"})
    html = builder_post(admin_client, data).content.decode()
    assert 'name="b0-0-measure"' in html
    assert 'name="b0-0-shown_type" value="aggregate"' in html


def test_builder_marks_invalid_condition(admin_client):
    data = germans_form(**{"b0-0-field": "order_count"})
    data.update({"b0-0-type": "aggregate", "b0-0-shown_type": "aggregate"})
    data.pop("b0-0-field")
    data.update({"b0-0-measure": "order_count", "b0-0-op": "gte", "b0-0-value": "1.5"})

    html = builder_post(admin_client, data).content.decode()

    assert "must be a whole number" in html
    assert "all[0].value" in html
    assert "omni-count" not in html


def test_builder_event_condition_with_filter(admin_client):
    anna = ProfileFactory()
    anna.events.create(
        name="category_viewed",
        occurred_at=timezone.now() - timedelta(days=1),
        properties={"category": "Winter Jackets"},
    )
    data = {
        "b0-kind": "group",
        "b0-match": "all",
        "b0-0-kind": "condition",
        "b0-0-type": "event",
        "b0-0-shown_type": "event",
        "b0-0-event": "category_viewed",
        "b0-0-count_op": "gte",
        "b0-0-count_value": "1",
        "b0-0-within_value": "7",
        "b0-0-within_unit": "days",
        "b0-0-filters": "1",
        "b0-0-where0-property": "category",
        "b0-0-where0-op": "eq",
        "b0-0-where0-value": "Winter Jackets",
    }

    html = builder_post(admin_client, data).content.decode()

    assert '<p id="omni-count" style="font-size: 20px">1</p>' in html
    assert 'name="b0-0-where0-value" value="Winter Jackets"' in html


def test_builder_explains_profile(admin_client):
    anna = ProfileFactory(country="FR", email="anna@example.com")
    data = germans_form(explain_profile="anna@example.com")

    html = builder_post(admin_client, data).content.decode()

    assert f"(#{anna.pk})" in html
    assert "does not meet the rule" in html
    assert "Country is FR" in html


def test_builder_explain_unknown_profile(admin_client):
    html = builder_post(
        admin_client, germans_form(explain_profile="nobody@example.com")
    )
    assert "No profile has that id or email." in html.content.decode()


def test_builder_requires_staff(client):
    response = builder_post(client, germans_form())
    assert response.status_code == 302


def test_add_segment_saves_builder_rule(
    admin_client, django_capture_on_commit_callbacks
):
    anna = ProfileFactory(country="DE")
    data = germans_form(name="Germans", slug="germans", description="", is_active="on")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:omnichannel_segment_add"), data)

    assert response.status_code == 302
    segment = Segment.objects.get(slug="germans")
    assert segment.rules == {"all": [GERMANS]}
    assert set(segment.members()) == {anna}


def test_add_segment_rejects_invalid_rule(admin_client):
    data = germans_form(name="Bad", slug="bad", **{"b0-0-op": "in", "b0-0-value": ""})
    response = admin_client.post(reverse("admin:omnichannel_segment_add"), data)
    assert response.status_code == 200
    assert "all[0].value" in response.content.decode()
    assert not Segment.objects.filter(slug="bad").exists()


def test_change_page_shows_chart_and_changes(admin_client):
    anna = ProfileFactory(country="DE", total_spent=Decimal("10"))
    segment = Segment.objects.create(name="Germans", slug="germans", rules=GERMANS)
    rebuild_segment(segment)

    response = admin_client.get(
        reverse("admin:omnichannel_segment_change", args=[segment.pk])
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "omnichannel-size-chart" in html
    assert "0 to 1 members" in html
    assert str(anna) in html
    assert 'name="b0-0-value" value="DE"' in html


def test_delete_referenced_segment_is_protected(admin_client):
    used = Segment.objects.create(name="Germans", slug="germans", rules=GERMANS)
    Segment.objects.create(
        name="Not Germans",
        slug="not-germans",
        rules={"not": {"type": "segment", "segment": "germans"}},
    )
    response = admin_client.post(
        reverse("admin:omnichannel_segment_delete", args=[used.pk]), {"post": "yes"}
    )
    assert response.status_code == 200
    assert "not-germans" in response.content.decode()
    assert Segment.objects.filter(pk=used.pk).exists()


def test_rebuild_action(admin_client):
    ProfileFactory(country="DE")
    segment = Segment.objects.create(name="Germans", slug="germans", rules=GERMANS)
    response = admin_client.post(
        reverse("admin:omnichannel_segment_changelist"),
        {"action": "rebuild_now", "_selected_action": [segment.pk]},
        follow=True,
    )
    assert "1 entered, 0 exited" in response.content.decode()
    assert SegmentMembership.objects.filter(segment=segment).count() == 1


def test_changelist_shows_member_count(admin_client):
    ProfileFactory(country="DE")
    segment = Segment.objects.create(name="Germans", slug="germans", rules=GERMANS)
    rebuild_segment(segment)
    response = admin_client.get(reverse("admin:omnichannel_segment_changelist"))
    assert '<td class="field-member_count">1</td>' in response.content.decode()


def test_add_manual_segment(admin_client):
    data = germans_form(name="Imported", slug="imported", manual="on")
    response = admin_client.post(reverse("admin:omnichannel_segment_add"), data)
    assert response.status_code == 302
    assert Segment.objects.get(slug="imported").rules == {}


def test_builder_marks_manual_segment(admin_client):
    html = builder_post(admin_client, germans_form(manual="on")).content.decode()
    assert "Members are added by hand" in html
    assert "omni-count" not in html
