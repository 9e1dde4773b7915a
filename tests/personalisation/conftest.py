import pytest
from django.test import RequestFactory
from django.utils import timezone

from omnichannel.personalisation.models import Banner, Placement, Popup
from omnichannel.profiles.models import Identity
from omnichannel.segments.models import SegmentMembership
from tests.factories import IdentityFactory, ProfileFactory, SegmentFactory

WINTER_JACKETS = {
    "type": "event",
    "event": "category_viewed",
    "where": [{"property": "category", "op": "eq", "value": "winter-jackets"}],
    "within": {"value": 7, "unit": "days"},
}


def make_banner(placement, name="banner", **fields):
    fields.setdefault("title", name.title())
    return Banner.objects.create(placement=placement, name=name, **fields)


def make_popup(key="welcome", **fields):
    fields.setdefault("name", key)
    fields.setdefault("title", "Welcome")
    return Popup.objects.create(key=key, **fields)


def visitor_request(visitor_id="a" * 32, user=None, path="/"):
    from django.contrib.auth.models import AnonymousUser

    request = RequestFactory().get(path)
    request.omnichannel_visitor_id = visitor_id
    request.user = user or AnonymousUser()
    return request


def make_visitor(visitor_id="a" * 32, **fields):
    profile = ProfileFactory(**fields)
    IdentityFactory(profile=profile, kind=Identity.Kind.VISITOR, value=visitor_id)
    return profile


def join_segment(profile, slug):
    from omnichannel.segments.models import Segment

    segment = Segment.objects.filter(slug=slug).first() or SegmentFactory(slug=slug)
    return SegmentMembership.objects.create(
        segment=segment, profile=profile, entered_at=timezone.now()
    )


@pytest.fixture(autouse=True)
def fresh_banner_cache():
    """Start and end each test without cached banners, because a rolled-back
    transaction sends no signal that would clear them."""
    from omnichannel.personalisation.visitor import clear_banner_cache

    clear_banner_cache()
    yield
    clear_banner_cache()


@pytest.fixture
def hero(db):
    return Placement.objects.create(key="home-hero", name="Home hero")
