import pytest
from django.core import mail
from django.urls import reverse

from omnichannel.channels.backends import locmem
from omnichannel.channels.models import MessageTemplate
from tests.factories import ProfileFactory


@pytest.fixture
def editor(admin_client):
    return admin_client


def form_data(**fields):
    data = {
        "name": "Welcome",
        "slug": "welcome",
        "channel": "email",
        "purpose": "marketing",
        "subject": "Welcome {{ first_name }}",
        "preheader": "",
        "body": "<p>Hi {{ first_name }}</p>",
        "text_body": "",
        "css": "",
        "url": "",
        "sms_max_segments": "0",
        "sms_overflow": "transliterate",
        "whatsapp_template": "",
        "whatsapp_language": "en",
        "utm_campaign": "",
        "recommendation_count": "4",
        "is_active": "on",
    }
    data.update(fields)
    return data


@pytest.mark.django_db
def test_admin_rejects_syntax_error_with_line(editor):
    response = editor.post(
        reverse("admin:omnichannel_messagetemplate_add"),
        form_data(body="<p>ok</p>\n<p>{% for x in %}</p>"),
    )
    assert response.status_code == 200
    assert "Line 2:" in response.content.decode()
    assert not MessageTemplate.objects.exists()


@pytest.mark.django_db
def test_admin_saves_valid_template(editor):
    response = editor.post(
        reverse("admin:omnichannel_messagetemplate_add"), form_data()
    )
    assert response.status_code == 302
    assert MessageTemplate.objects.get().slug == "welcome"


@pytest.mark.django_db
def test_admin_change_form_has_preview_panel(editor):
    template = MessageTemplate.objects.create(
        name="W", slug="w", channel="email", subject="S", body="<p>x</p>"
    )
    response = editor.get(
        reverse("admin:omnichannel_messagetemplate_change", args=[template.pk])
    )
    content = response.content.decode()
    assert reverse("admin:omnichannel_messagetemplate_preview") in content
    assert 'name="preview_profile"' in content


@pytest.mark.django_db
def test_admin_preview_renders_unsaved_form_as_customer(editor):
    profile = ProfileFactory(first_name="Lena", email="lena@example.org")
    response = editor.post(
        reverse("admin:omnichannel_messagetemplate_preview"),
        form_data(
            preview_profile="lena@example.org",
            body="<p>Hi {{ first_name }}, {{ nothing }}!</p>",
        ),
    )
    content = response.content.decode()
    assert response.status_code == 200
    assert "Welcome Lena" in content
    assert "Hi Lena, !" in content
    assert str(profile) in content


@pytest.mark.django_db
def test_admin_preview_shows_sms_encoding_and_segments(editor):
    profile = ProfileFactory(first_name="Zoë")
    response = editor.post(
        reverse("admin:omnichannel_messagetemplate_preview"),
        form_data(
            channel="sms",
            subject="",
            body="Hello {{ first_name }}",
            preview_profile=str(profile.pk),
        ),
    )
    content = response.content.decode()
    assert "UCS-2" in content
    assert "1 segment" in content


@pytest.mark.django_db
def test_admin_preview_reports_syntax_error(editor):
    ProfileFactory(email="p@example.org")
    response = editor.post(
        reverse("admin:omnichannel_messagetemplate_preview"),
        form_data(body="{% if %}", preview_profile="p@example.org"),
    )
    assert "body: Line 1:" in response.content.decode()


@pytest.mark.django_db
def test_admin_preview_needs_customer(editor):
    response = editor.post(
        reverse("admin:omnichannel_messagetemplate_preview"), form_data()
    )
    assert "Choose a customer" in response.content.decode()


@pytest.mark.django_db
def test_admin_test_send_email(editor):
    ProfileFactory(first_name="Lena", email="lena@example.org")
    response = editor.post(
        reverse("admin:omnichannel_messagetemplate_test_send"),
        form_data(preview_profile="lena@example.org", test_address="crm@shop.example"),
    )
    assert response.status_code == 200
    [message] = mail.outbox
    assert message.to == ["crm@shop.example"]
    assert message.subject == "[Test] Welcome Lena"
    assert "/omnichannel/t/" not in message.alternatives[0][0]


@pytest.mark.django_db
def test_admin_test_send_sms_through_backend(editor, locmem_channels):
    profile = ProfileFactory(first_name="Anna")
    response = editor.post(
        reverse("admin:omnichannel_messagetemplate_test_send"),
        form_data(
            channel="sms",
            subject="",
            body="Hi {{ first_name }}",
            preview_profile=str(profile.pk),
            test_address="+447700900999",
        ),
    )
    assert response.status_code == 200
    assert locmem.outbox[0].to == ["+447700900999"]
    assert locmem.outbox[0].test is True
    assert locmem.outbox[0].rendered.text.startswith("Hi Anna")


@pytest.mark.django_db
def test_admin_test_send_without_address_fails(editor):
    ProfileFactory(email="p@example.org")
    response = editor.post(
        reverse("admin:omnichannel_messagetemplate_test_send"),
        form_data(preview_profile="p@example.org"),
    )
    assert response.status_code == 400
    assert "Enter the address" in response.content.decode()
    assert mail.outbox == []


@pytest.mark.django_db
def test_admin_preview_needs_staff(client):
    response = client.post(
        reverse("admin:omnichannel_messagetemplate_preview"), form_data()
    )
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def held_delivery(status="held"):
    from omnichannel.channels.models import Delivery

    template = MessageTemplate.objects.create(
        name="S", slug="s", channel="sms", body="Hi", recommendation_count=0
    )
    return Delivery.objects.create(
        profile=ProfileFactory(),
        channel="sms",
        template=template,
        dedupe_key="held-1",
        status=status,
        reason="too_many_segments",
    )


@pytest.mark.django_db
def test_admin_retry_held_makes_delivery_pending(editor):
    delivery = held_delivery()
    response = editor.post(
        reverse("admin:omnichannel_delivery_changelist"),
        {"action": "retry_held", "_selected_action": [delivery.pk]},
    )
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == "pending"
    assert delivery.reason == ""


@pytest.mark.django_db
def test_admin_cancel_leaves_sent_deliveries(editor):
    delivery = held_delivery(status="sent")
    editor.post(
        reverse("admin:omnichannel_delivery_changelist"),
        {"action": "cancel_waiting", "_selected_action": [delivery.pk]},
    )
    delivery.refresh_from_db()
    assert delivery.status == "sent"
