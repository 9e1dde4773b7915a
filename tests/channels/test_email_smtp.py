"""Email sent through Django's SMTP backend to a real SMTP server process."""

import email
import email.policy
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from omnichannel.channels import links, services
from omnichannel.channels.models import Delivery
from omnichannel.consent.services import record_consent

ROOT = Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server(tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.channels.smtp_server", str(port), str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().strip() == "ready"
        yield port, tmp_path
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def smtp_settings(settings, smtp_server):
    port, directory = smtp_server
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "EMAIL_FROM": "Shop <news@shop.example>",
        "UNSUBSCRIBE_MAILTO": "unsubscribe@shop.example",
        "CHANNEL_BACKENDS": {
            "email": {
                "BACKEND": "omnichannel.channels.backends.email.EmailBackend",
                "OPTIONS": {
                    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                    "CONNECTION_OPTIONS": {
                        "host": "127.0.0.1",
                        "port": port,
                        "timeout": 10,
                    },
                },
            }
        },
    }
    return directory


def received(directory):
    files = sorted(directory.glob("*.eml"))
    return [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in files
    ]


@pytest.mark.django_db
def test_smtp_message_has_parts_headers_and_tracking(
    on_commit, smtp_settings, customer, email_template
):
    record_consent(customer, "tracking", True)
    delivery, _ = services.create_delivery(
        customer, "email", email_template, dedupe_key="smtp-1"
    )
    with on_commit():
        services.dispatch_delivery(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.SENT

    [message] = received(smtp_settings)
    assert message["X-Envelope-To"] == "zoe.sample@example.com"
    assert message["Subject"] == "Zoe, your cart is waiting"
    assert message["From"] == "Shop <news@shop.example>"
    assert message["Message-ID"] == delivery.provider_message_id
    unsubscribe = str(message["List-Unsubscribe"]).strip()
    assert unsubscribe.startswith("<https://shop.example/omnichannel/unsubscribe/")
    assert "<mailto:unsubscribe@shop.example?subject=unsubscribe%20" in unsubscribe
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Hello Zoe," in text
    assert 'style="color: #333333;"' in html
    assert "/omnichannel/t/o/" in html

    click = html.split('href="')[1].split('"')[0].replace("&amp;", "&")
    token = urlsplit(click).path.split("/t/c/")[1].strip("/")
    delivery_id, target = links.read_click_token(token)
    assert delivery_id == delivery.pk
    query = parse_qs(urlsplit(target).query)
    assert target.startswith("https://shop.example/cart?")
    assert query["utm_source"] == ["omnichannel"]
    assert query["utm_medium"] == ["email"]
    assert query["utm_campaign"] == ["cart-reminder"]


@pytest.mark.django_db
def test_smtp_message_without_tracking_consent_has_clean_links(
    on_commit, smtp_settings, customer, email_template
):
    delivery, _ = services.create_delivery(
        customer, "email", email_template, dedupe_key="smtp-clean"
    )
    with on_commit():
        services.dispatch_delivery(delivery.pk)
    [message] = received(smtp_settings)
    html = message.get_body(("html",)).get_content()
    assert "/omnichannel/t/" not in html
    assert 'href="https://shop.example/cart?utm_source=omnichannel' in html


@pytest.mark.django_db
def test_smtp_server_down_is_retried(on_commit, settings, customer, email_template):
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "CHANNEL_BACKENDS": {
            "email": {
                "BACKEND": "omnichannel.channels.backends.email.EmailBackend",
                "OPTIONS": {
                    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                    "CONNECTION_OPTIONS": {
                        "host": "127.0.0.1",
                        "port": free_port(),
                        "timeout": 2,
                    },
                },
            }
        },
    }
    delivery, _ = services.create_delivery(
        customer, "email", email_template, dedupe_key="smtp-down"
    )
    with on_commit():
        services.dispatch_delivery(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DEFERRED
    assert delivery.reason == "provider_error"
    assert "email_backend" in delivery.error
