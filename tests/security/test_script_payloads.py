"""Script payloads in profile fields, event properties, chat messages and template
variables are stored as sent and shown only as text: in the admin, the agent
console, emails and the chat widget."""

import re
from pathlib import Path

import pytest
from django.contrib import admin
from django.core import mail
from django.urls import reverse

from omnichannel.channels import links, services
from omnichannel.channels.models import Delivery, MessageTemplate
from omnichannel.consent.services import record_consent
from omnichannel.consent.unsubscribe import (
    make_preferences_token,
    make_unsubscribe_token,
)
from omnichannel.conversations import services as conversations
from omnichannel.conversations.models import Message
from omnichannel.conversations.widget import chat_widget_html
from omnichannel.profiles.models import Event, Profile
from tests.factories import EventFactory, ProfileFactory
from tests.security.conftest import HOSTILE, IMG, JS_URL, SCRIPT, assert_escaped

pytestmark = pytest.mark.django_db

STATIC = Path(__file__).resolve().parents[2] / "omnichannel" / "static" / "omnichannel"


def _hostile_profile():
    profile = ProfileFactory(
        first_name=SCRIPT,
        last_name=IMG,
        attributes={"website": JS_URL, "note": SCRIPT},
        tags=[SCRIPT],
    )
    EventFactory(
        profile=profile,
        name="page_viewed",
        properties={"url": JS_URL, "title": SCRIPT, "referrer": IMG},
    )
    return profile


@pytest.mark.parametrize("payload", HOSTILE)
def test_identify_stores_payload_verbatim(api, payload):
    response = api.post(
        reverse("omnichannel:api-identify"),
        {"email": "zoe@shop.example", "traits": {"first_name": payload}},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert Profile.objects.get(uuid=response.json()["profile"]).first_name == payload


def test_event_properties_stored_verbatim(api):
    properties = {"title": SCRIPT, "url": JS_URL, "referrer": IMG}
    response = api.post(
        reverse("omnichannel:api-events"),
        {"event": "page_viewed", "email": "zoe@shop.example", "properties": properties},
        format="json",
    )

    assert response.status_code in (200, 201, 202), response.content
    event = Event.objects.get(name="page_viewed")
    assert event.properties["title"] == SCRIPT
    assert event.properties["url"] == JS_URL
    assert event.properties["referrer"] == IMG


def test_admin_profile_pages_escape_payloads(admin_client):
    profile = _hostile_profile()
    pages = [
        reverse("admin:omnichannel_profile_changelist"),
        reverse("admin:omnichannel_profile_change", args=[profile.pk]),
        reverse("admin:omnichannel_event_changelist"),
        reverse("admin:omnichannel_event_change", args=[profile.events.get().pk]),
    ]

    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        for payload in (SCRIPT, IMG):
            assert_escaped(html, payload)


def test_admin_changelist_search_escapes_query(admin_client):
    url = reverse("admin:omnichannel_profile_changelist")
    response = admin_client.get(url, {"q": SCRIPT})

    assert response.status_code == 200
    assert_escaped(response.content.decode(), SCRIPT)


def test_console_escapes_chat_message_and_profile(client, django_user_model):
    agent = django_user_model.objects.create_superuser("agent", "a@shop.example", "pw")
    client.force_login(agent)
    profile = _hostile_profile()
    conversation, _token = conversations.start_conversation(
        profile, visitor_id="v" * 32, body=f"{IMG} {SCRIPT} {JS_URL}"
    )
    pages = [
        reverse("omnichannel:console"),
        reverse("omnichannel:console_list"),
        reverse("omnichannel:console_conversation", args=[conversation.uuid]),
        reverse("omnichannel:console_messages", args=[conversation.uuid]),
    ]

    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert_escaped(html, SCRIPT)
        assert_escaped(html, IMG)
    assert Message.objects.get(conversation=conversation).body.startswith(IMG)


def test_chat_api_returns_message_as_text(client):
    start = client.post(
        reverse("omnichannel:chat_start"),
        {"message": SCRIPT},
        content_type="application/json",
    )

    assert start.status_code == 201, start.content
    assert start["Content-Type"] == "application/json"
    assert Message.objects.get().body == SCRIPT


def test_chat_widget_puts_text_only_with_text_content():
    script = (STATIC / "chat-widget.js").read_text()

    assert "innerHTML" not in script
    assert "insertAdjacentHTML" not in script
    assert "document.write" not in script
    assert "eval(" not in script


def test_chat_widget_tag_escapes_options():
    html = str(chat_widget_html(title=IMG, greeting=SCRIPT))

    assert_escaped(html, IMG)
    assert_escaped(html, SCRIPT)
    assert "&quot;&gt;&lt;img" in html


def test_email_escapes_template_variables(on_commit):
    profile = ProfileFactory(first_name=SCRIPT, last_name=IMG, email="zoe@shop.example")
    record_consent(profile, "email", True, source="test")
    template = MessageTemplate.objects.create(
        name="Hostile",
        slug="hostile",
        channel="email",
        subject="Hi {{ first_name }}",
        body=(
            "<p>Hello {{ first_name }} {{ profile.last_name }}</p>"
            '<p><a href="{{ site }}">shop</a> {{ note }}</p>'
        ),
        recommendation_count=0,
    )
    delivery, _ = services.create_delivery(
        profile,
        "email",
        template,
        dedupe_key="hostile",
        context={"note": IMG, "site": JS_URL},
    )
    with on_commit():
        services.dispatch_delivery(delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT, delivery.error
    message = mail.outbox[-1]
    html = next(body for body, kind in message.alternatives if kind == "text/html")
    assert_escaped(html, SCRIPT)
    assert_escaped(html, IMG)
    assert not re.search(r"<a[^>]+href=\"?javascript:", html, re.IGNORECASE)
    assert "\n" not in message.subject


@pytest.mark.parametrize(
    "target",
    [
        "javascript:alert(1)",
        " JavaScript:alert(1)",
        "jav&#x09;ascript:alert(1)",
        "&#106;avascript:alert(1)",
        "vbscript:msgbox(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
    ],
)
def test_script_link_targets_are_neutralised(target):
    html = f"<a href=\"{target}\">x</a><img src='{target}'>"

    assert links.neutralise_script_links(html) == "<a href=\"#\">x</a><img src='#'>"


def test_web_link_targets_are_kept():
    html = (
        '<a href="https://shop.example/a?b=1&amp;c=2">x</a><a href="mailto:a@b.c">m</a>'
    )

    assert links.neutralise_script_links(html) == html


def test_consent_pages_escape_profile_fields(client):
    profile = ProfileFactory(first_name=SCRIPT, last_name=IMG, email="z@shop.example")
    record_consent(profile, "email", True, source="test")
    pages = [
        reverse("omnichannel:preferences", args=[make_preferences_token(profile)]),
        reverse("omnichannel:unsubscribe", args=[make_unsubscribe_token(profile)]),
    ]

    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert_escaped(html, SCRIPT)
        assert_escaped(html, IMG)


def test_every_admin_changelist_escapes_search(admin_client):
    _hostile_profile()
    models = [
        model
        for model in admin.site._registry
        if model._meta.app_label == "omnichannel"
    ]

    assert models
    for model in models:
        url = reverse(
            f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"
        )
        response = admin_client.get(url, {"q": IMG})
        assert response.status_code in (200, 302), url
        assert_escaped(response.content.decode(), IMG)
