import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone

from omnichannel.consent.double_opt_in import (
    confirmation_url,
    make_opt_in_token,
    request_email_opt_in,
)
from omnichannel.consent.models import ConsentRecord, OptInRequest
from omnichannel.consent.services import has_consent
from omnichannel.profiles.services import identify

pytestmark = pytest.mark.django_db


@pytest.fixture
def opt_in(django_capture_on_commit_callbacks):
    profile = identify(email="lena@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        return request_email_opt_in(
            profile,
            wording_version="newsletter-2026-01",
            source="footer-form",
            ip_address="203.0.113.9",
            user_agent="Mozilla/5.0 (signup)",
        )


def path_of(url):
    return url.replace("https://shop.example", "")


def test_opt_in_sends_link_and_grants_nothing_yet(opt_in):
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["lena@example.org"]
    assert confirmation_url(opt_in).split("/confirm/")[0] in message.body
    assert has_consent(opt_in.profile, "email") is False
    assert ConsentRecord.objects.count() == 0


def test_confirm_get_changes_nothing(opt_in):
    link = re.search(r"https://\S+", mail.outbox[0].body).group(0)
    response = Client().get(path_of(link))
    assert response.status_code == 200
    assert b"<form" in response.content
    assert ConsentRecord.objects.count() == 0


def test_confirm_post_grants_with_proof(opt_in):
    link = re.search(r"https://\S+", mail.outbox[0].body).group(0)
    client = Client(enforce_csrf_checks=True)
    page = client.get(path_of(link))
    token = page.context["csrf_token"]
    response = client.post(
        path_of(link),
        {"csrfmiddlewaretoken": token},
        REMOTE_ADDR="198.51.100.20",
        HTTP_USER_AGENT="Mozilla/5.0 (click)",
    )
    assert response.status_code == 200
    record = ConsentRecord.objects.get()
    assert record.granted is True
    assert record.source == "double-opt-in"
    assert record.wording_version == "newsletter-2026-01"
    assert record.ip_address == "198.51.100.20"
    assert record.proof["request_ip_address"] == "203.0.113.9"
    assert record.proof["request_user_agent"] == "Mozilla/5.0 (signup)"
    assert record.proof["request_source"] == "footer-form"
    opt_in.refresh_from_db()
    assert opt_in.confirmed_at is not None
    assert opt_in.consent_record_id == record.pk
    assert has_consent(opt_in.profile, "email") is True


def test_confirm_twice_records_once(opt_in):
    path = path_of(confirmation_url(opt_in))
    Client().post(path)
    Client().post(path)
    assert ConsentRecord.objects.count() == 1


def test_confirm_expired_link_records_nothing(opt_in):
    path = path_of(confirmation_url(opt_in))
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        response = Client().post(path)
    assert response.status_code == 400
    assert b"expired" in response.content
    assert ConsentRecord.objects.count() == 0


def test_confirm_altered_link_records_nothing(opt_in):
    token = make_opt_in_token(opt_in)
    altered = token[:-3] + ("abc" if not token.endswith("abc") else "xyz")
    response = Client().post(f"/omnichannel/confirm/{altered}/")
    assert response.status_code == 400
    assert b"not valid" in response.content
    assert ConsentRecord.objects.count() == 0


def test_opt_in_without_email_is_rejected():
    profile = identify(phone="+447700900123")
    with pytest.raises(ValueError, match="no email"):
        request_email_opt_in(profile, source="form")
    assert OptInRequest.objects.count() == 0


def test_confirm_for_erased_profile_records_nothing(opt_in):
    from omnichannel.consent.gdpr import erase_profile

    erase_profile(opt_in.profile)
    response = Client().post(path_of(confirmation_url(opt_in)))
    assert response.status_code == 400
    assert ConsentRecord.objects.count() == 0
