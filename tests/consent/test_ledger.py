from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from omnichannel.consent.models import ConsentRecord, ConsentWording, Purpose
from omnichannel.consent.services import (
    consent_state,
    has_consent,
    is_suppressed,
    record_consent,
    set_consent,
    suppress,
    unsuppress,
)
from omnichannel.exceptions import LedgerError
from omnichannel.profiles.services import identify

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=BERLIN)


@pytest.fixture
def profile():
    return identify(email="zoe.sample@example.com", phone="+447700900789")


def test_record_consent_keeps_proof(profile):
    record = record_consent(
        profile,
        "email",
        True,
        source="popup",
        ip_address="203.0.113.7",
        user_agent="Mozilla/5.0",
        wording_version="newsletter-2026-01",
        at=T0,
    )
    stored = ConsentRecord.objects.get(pk=record.pk)
    assert stored.recorded_at == T0
    assert stored.address == "zoe.sample@example.com"
    assert stored.ip_address == "203.0.113.7"
    assert stored.user_agent == "Mozilla/5.0"
    assert stored.wording_version == "newsletter-2026-01"


def test_record_consent_rejects_unknown_channel(profile):
    with pytest.raises(ValueError, match="channel"):
        record_consent(profile, "fax", True)
    with pytest.raises(ValueError, match="purpose"):
        record_consent(profile, "email", True, purpose="spam")
    assert ConsentRecord.objects.count() == 0


def test_ledger_rows_cannot_change(profile):
    record = record_consent(profile, "email", True)
    record.granted = False
    with pytest.raises(LedgerError):
        record.save()
    with pytest.raises(LedgerError):
        record.delete()
    with pytest.raises(LedgerError):
        ConsentRecord.objects.all().delete()
    with pytest.raises(LedgerError):
        ConsentRecord.objects.update(granted=False)
    assert ConsentRecord.objects.get().granted is True


def test_wording_text_cannot_change():
    wording = ConsentWording.objects.create(version="v1", text="We send offers.")
    wording.text = "We send other things."
    with pytest.raises(LedgerError):
        wording.save()


def test_has_consent_reads_state_at_time(profile):
    record_consent(profile, "email", True, at=T0)
    withdrawn = T0 + timedelta(days=30)
    record_consent(profile, "email", False, at=withdrawn)
    assert has_consent(profile, "email", at=T0 - timedelta(seconds=1)) is False
    assert has_consent(profile, "email", at=T0) is True
    assert has_consent(profile, "email", at=withdrawn - timedelta(seconds=1)) is True
    assert has_consent(profile, "email", at=withdrawn) is False
    assert has_consent(profile, "sms", at=withdrawn) is False


def test_has_consent_transactional_needs_no_grant(profile):
    assert has_consent(profile, "email", Purpose.TRANSACTIONAL) is True
    record_consent(profile, "email", False, purpose=Purpose.TRANSACTIONAL)
    assert has_consent(profile, "email", Purpose.TRANSACTIONAL) is False


def test_has_consent_topic_opt_out(profile):
    record_consent(profile, "email", True, at=T0)
    assert has_consent(profile, "email", topic="new-arrivals") is True
    record_consent(profile, "email", False, topic="new-arrivals")
    assert has_consent(profile, "email", topic="new-arrivals") is False
    assert has_consent(profile, "email", topic="offers") is True
    assert has_consent(profile, "email") is True


def test_has_consent_topic_needs_purpose_consent(profile):
    record_consent(profile, "email", True, topic="new-arrivals")
    assert has_consent(profile, "email", topic="new-arrivals") is False


def test_has_consent_erased_profile_is_false(profile):
    from omnichannel.consent.gdpr import erase_profile

    record_consent(profile, "email", True)
    erase_profile(profile)
    profile.refresh_from_db()
    assert has_consent(profile, "email") is False


def test_set_consent_records_only_changes(profile):
    assert set_consent(profile, "email", True, source="form") is not None
    assert set_consent(profile, "email", True, source="form") is None
    assert set_consent(profile, "email", False, source="link") is not None
    assert set_consent(profile, "email", False, source="link") is None
    assert ConsentRecord.objects.count() == 2


def test_set_consent_withdrawal_without_grant_is_recorded(profile):
    assert set_consent(profile, "sms", False, source="sms-keyword") is not None
    assert set_consent(profile, "sms", False, source="sms-keyword") is None


def test_consent_state_per_channel(profile):
    record_consent(profile, "email", True, at=T0, source="popup")
    record_consent(profile, "email", False, topic="offers", at=T0)
    state = consent_state(profile)
    assert state["email"].granted is True
    assert state["email"].record.source == "popup"
    assert state["email"].topics_opted_out == ["offers"]
    assert state["sms"].granted is False
    assert state["sms"].record is None


def test_consent_state_merged_profiles_latest_wins():
    from omnichannel.profiles.merging import merge_profiles

    survivor = identify(email="keep@example.com")
    loser = identify(phone="+447700900456")
    record_consent(survivor, "email", True, at=T0)
    record_consent(loser, "email", False, at=T0 + timedelta(hours=1))
    merge_profiles(survivor, loser)
    assert has_consent(survivor, "email") is False


@pytest.mark.parametrize(
    ("stored", "checked"),
    [
        ("Anna.Example@Example.COM ", "anna.example@example.com"),
        ("anna.example@example.com", "ANNA.EXAMPLE@example.com"),
    ],
)
def test_suppression_matches_normalised_email(stored, checked):
    suppress("email", stored, "bounce")
    assert is_suppressed("email", checked) is True
    assert is_suppressed("sms", checked) is False


def test_suppression_matches_normalised_phone():
    suppress("sms", "+44 7700 900123", "sms_stop")
    assert is_suppressed("sms", "+447700900123") is True
    assert is_suppressed("sms", "0044 7700 900123") is True


def test_suppression_first_reason_kept_and_unsuppress_by_reason():
    suppress("sms", "+447700900123", "bounce")
    _row, created = suppress("sms", "+447700900123", "sms_stop")
    assert created is False
    assert unsuppress("sms", "+447700900123", reasons=["sms_stop"]) == 0
    assert is_suppressed("sms", "+447700900123") is True
    assert unsuppress("sms", "+447700900123") == 1
    assert is_suppressed("sms", "+447700900123") is False
