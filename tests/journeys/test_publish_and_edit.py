"""Publishing checks a journey's templates, and the admin keeps diagram edits."""

import json

import pytest
from django.urls import reverse

from omnichannel.channels.models import MessageTemplate
from omnichannel.journeys.graph import InvalidGraph
from omnichannel.journeys.models import Journey
from omnichannel.journeys.services import publish

pytestmark = pytest.mark.django_db


def _send_graph(channel="email", template="cart-reminder"):
    return {
        "start": "send",
        "steps": {
            "send": {"type": "send", "channel": channel, "template": template},
        },
    }


def _draft(graph, **fields):
    return Journey.objects.create(
        name="Cart reminder",
        slug="cart-reminder",
        trigger_type="manual",
        draft_graph=graph,
        **fields,
    )


@pytest.fixture
def email_template():
    return MessageTemplate.objects.create(
        name="Cart reminder",
        slug="cart-reminder",
        channel="email",
        subject="Your cart",
        body="Still thinking?",
    )


def test_publish_missing_template_rejected():
    journey = _draft(_send_graph(template="no-such-template"))

    with pytest.raises(InvalidGraph) as caught:
        publish(journey)

    assert "steps.send.template" in str(caught.value)
    assert "'no-such-template'" in str(caught.value)
    assert journey.versions.count() == 0


def test_publish_other_channel_template_rejected(email_template):
    journey = _draft(_send_graph(channel="sms"))

    with pytest.raises(InvalidGraph) as caught:
        publish(journey)

    assert "is for email, not sms" in str(caught.value)


def test_publish_best_channel_checks_each_template(email_template):
    graph = {
        "start": "best",
        "steps": {
            "best": {
                "type": "best_channel",
                "templates": {"email": "cart-reminder", "sms": "cart-sms"},
            }
        },
    }
    journey = _draft(graph)

    with pytest.raises(InvalidGraph) as caught:
        publish(journey)

    assert "steps.best.templates.sms" in str(caught.value)


def test_publish_matching_templates_accepted(email_template):
    journey = _draft(_send_graph())

    version = publish(journey)

    assert version.number == 1


def _form_data(page):
    form = page.context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is not None:
            data[name] = value
    return data


def _change_url(journey):
    return reverse("admin:omnichannel_journey_change", args=[journey.pk])


def test_journey_save_keeps_diagram_step(admin_client, email_template):
    journey = _draft(_send_graph())
    page = admin_client.get(_change_url(journey))
    data = _form_data(page)
    # The step editor saves a new wait step while the page is open.
    step_url = reverse("admin:omnichannel_journey_step", args=[journey.pk, "wait"])
    admin_client.post(
        step_url,
        {"key": "wait", "body": json.dumps({"type": "wait", "duration": "PT2H"})},
    )

    response = admin_client.post(_change_url(journey), data)

    assert response.status_code == 302
    journey.refresh_from_db()
    assert journey.draft_graph["steps"]["wait"]["duration"] == "PT2H"


def test_journey_save_stale_draft_rejected(admin_client, email_template):
    journey = _draft(_send_graph())
    page = admin_client.get(_change_url(journey))
    data = _form_data(page)
    step_url = reverse("admin:omnichannel_journey_step", args=[journey.pk, "wait"])
    admin_client.post(
        step_url,
        {"key": "wait", "body": json.dumps({"type": "wait", "duration": "PT2H"})},
    )
    data["draft_graph"] = json.dumps(_send_graph(template="other"))

    response = admin_client.post(_change_url(journey), data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["draft_graph"]
    assert "Reload the page" in errors[0]
    journey.refresh_from_db()
    assert journey.draft_graph["steps"]["wait"]["duration"] == "PT2H"


def test_journey_active_needs_published_version(admin_client):
    journey = _draft(_send_graph())
    data = _form_data(admin_client.get(_change_url(journey)))
    data["status"] = Journey.Status.ACTIVE

    response = admin_client.post(_change_url(journey), data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["status"]
    assert "Publish the draft" in errors[0]
    journey.refresh_from_db()
    assert journey.status == Journey.Status.DRAFT


def test_journey_save_reports_unknown_event(admin_client):
    journey = _draft(_send_graph())
    data = _form_data(admin_client.get(_change_url(journey)))
    data["trigger_type"] = "event"
    data["trigger_config"] = json.dumps({"event": "signup"})

    response = admin_client.post(_change_url(journey), data, follow=True)

    messages_shown = [str(message) for message in response.context["messages"]]
    assert any("'signup' is not an event type" in text for text in messages_shown)
