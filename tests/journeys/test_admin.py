import json

import pytest
from django.urls import reverse

from omnichannel.journeys.models import Journey
from omnichannel.profiles.services import identify
from tests.journeys.helpers import make_journey

pytestmark = pytest.mark.django_db

GRAPH = {
    "start": "wait",
    "steps": {
        "wait": {"type": "wait", "duration": "PT1H", "next": "tag"},
        "tag": {"type": "update_profile", "add_tags": ["reached"]},
    },
}


def test_journey_change_page_draws_steps(admin_client):
    journey = make_journey(GRAPH)
    page = admin_client.get(
        reverse("admin:omnichannel_journey_change", args=[journey.pk])
    )
    assert page.status_code == 200
    body = page.content.decode()
    assert "wait PT1H" in body
    assert "omni-box" in body


def test_step_editor_saves_valid_step(admin_client):
    journey = make_journey(GRAPH)
    url = reverse("admin:omnichannel_journey_step", args=[journey.pk, "tag"])
    response = admin_client.post(
        url,
        {
            "key": "tag",
            "body": json.dumps({"type": "update_profile", "add_tags": ["x"]}),
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    journey.refresh_from_db()
    assert journey.draft_graph["steps"]["tag"]["add_tags"] == ["x"]
    assert journey.current_version.graph["steps"]["tag"]["add_tags"] == ["reached"]


def test_step_editor_rejects_bad_json_with_line(admin_client):
    journey = make_journey(GRAPH)
    url = reverse("admin:omnichannel_journey_step", args=[journey.pk, "tag"])
    response = admin_client.post(
        url, {"key": "tag", "body": '{"type": "exit",\n oops}'}
    )
    assert response.status_code == 200
    assert "Invalid JSON at line 2" in response.content.decode()
    journey.refresh_from_db()
    assert journey.draft_graph == GRAPH


def test_step_editor_reports_graph_problem(admin_client):
    journey = make_journey(GRAPH)
    url = reverse("admin:omnichannel_journey_step", args=[journey.pk, "tag"])
    body = json.dumps({"type": "wait", "duration": "PT1H", "next": "missing"})
    response = admin_client.post(url, {"key": "tag", "body": body})
    assert "steps.tag.next" in response.content.decode()


def test_dry_run_lists_path_and_keeps_nothing(admin_client):
    journey = make_journey(GRAPH)
    profile = identify(email="zoe.sample@example.com")
    url = reverse("admin:omnichannel_journey_dry_run", args=[journey.pk])
    response = admin_client.post(url, {"customer": "zoe.sample@example.com"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "update_profile" in body
    assert journey.enrollments.count() == 0
    profile.refresh_from_db()
    assert profile.tags == []


def test_dry_run_unknown_customer_is_clear(admin_client):
    journey = make_journey(GRAPH)
    url = reverse("admin:omnichannel_journey_dry_run", args=[journey.pk])
    response = admin_client.post(url, {"customer": "nobody@example.com"})
    assert "No customer with the email address or id nobody@example.com" in (
        response.content.decode()
    )


def test_pause_action(admin_client):
    journey = make_journey(GRAPH)
    admin_client.post(
        reverse("admin:omnichannel_journey_changelist"),
        {"action": "pause_selected", "_selected_action": [journey.pk]},
    )
    journey.refresh_from_db()
    assert journey.status == Journey.Status.PAUSED


def test_staff_without_permission_cannot_edit_steps(client, django_user_model):
    journey = make_journey(GRAPH)
    user = django_user_model.objects.create_user("clerk", password="x", is_staff=True)
    client.force_login(user)
    url = reverse("admin:omnichannel_journey_step", args=[journey.pk, "tag"])
    response = client.post(url, {"key": "tag", "body": '{"type": "exit"}'})
    assert response.status_code == 403
