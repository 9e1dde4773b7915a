"""Builders shared by the audience tests."""

from datetime import timedelta

from django.utils import timezone

from omnichannel.audiences.hashing import sha256_hex
from omnichannel.consent.models import Channel
from omnichannel.consent.services import record_consent
from omnichannel.profiles.models import Profile
from omnichannel.segments.models import SegmentMembership
from tests.factories import AudienceFactory, SegmentFactory

GOOGLE_LIST = "8123456789"
GOOGLE_ACCOUNT = "123-456-7890"


def customer(segment, email="", phone="", consent=True, **fields):
    """Create a profile in ``segment``; ``consent`` None records no ads consent."""
    profile = Profile.objects.create(email=email, phone=phone, **fields)
    SegmentMembership.objects.create(
        segment=segment, profile=profile, entered_at=timezone.now()
    )
    if consent is not None:
        record_consent(
            profile,
            Channel.ADS,
            consent,
            source="test",
            at=timezone.now() - timedelta(seconds=1),
        )
    return profile


def leave(segment, profile):
    SegmentMembership.objects.filter(
        segment=segment, profile=profile, exited_at__isnull=True
    ).update(exited_at=timezone.now())


def meta_audience(segment=None, **fields):
    return AudienceFactory(
        segment=segment or SegmentFactory(),
        platform="meta",
        external_id=fields.pop("external_id", "23851234567890123"),
        **fields,
    )


def google_audience(segment=None, **fields):
    return AudienceFactory(
        segment=segment or SegmentFactory(),
        platform="google",
        external_id=fields.pop("external_id", GOOGLE_LIST),
        account_id=GOOGLE_ACCOUNT,
        **fields,
    )


def meta_email(email):
    """Return the Meta row of a profile that has only this (normalised) email."""
    return {"EMAIL": sha256_hex(email)}


def google_email(email):
    return {"emailAddress": sha256_hex(email)}
