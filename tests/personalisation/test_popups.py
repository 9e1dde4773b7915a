"""Choosing and rendering pop-ups: triggers, rules, offers, email capture."""

from datetime import timedelta

import pytest
from django.template import Context, Template
from django.utils import timezone

from omnichannel.offers.models import CustomerOffer
from omnichannel.personalisation.services import choose_popup, render_popup
from tests.factories import OfferFactory
from tests.personalisation.conftest import (
    join_segment,
    make_popup,
    make_visitor,
    visitor_request,
)

pytestmark = pytest.mark.django_db

CART_ABANDONERS = {"type": "segment", "segment": "cart-abandoners"}


def returning_visitor(**fields):
    return make_visitor(last_seen_at=timezone.now() - timedelta(hours=3), **fields)


def test_return_popup_shows_on_return_visit(db):
    popup = make_popup("free-shipping", trigger="return", rules=CART_ABANDONERS)
    join_segment(returning_visitor(), "cart-abandoners")

    assert choose_popup(visitor_request()) == popup


def test_return_popup_waits_for_a_return_visit(db):
    make_popup("free-shipping", trigger="return", rules=CART_ABANDONERS)
    profile = make_visitor(last_seen_at=timezone.now() - timedelta(minutes=5))
    join_segment(profile, "cart-abandoners")

    assert choose_popup(visitor_request()) is None


def test_popup_rule_excludes_non_members(db):
    make_popup("free-shipping", trigger="return", rules=CART_ABANDONERS)
    returning_visitor()

    assert choose_popup(visitor_request()) is None


def test_highest_priority_popup_wins(db):
    make_popup("low", priority=1)
    high = make_popup("high", priority=9)

    assert choose_popup(visitor_request()) == high


def test_email_popup_skips_subscribed_visitor(db):
    from omnichannel.consent.services import record_consent

    make_popup("newsletter", collect_email=True)
    profile = make_visitor(email="ada@example.com")
    record_consent(profile, "email", True, source="signup")

    assert choose_popup(visitor_request()) is None


def test_email_popup_shows_after_withdrawal(db):
    from omnichannel.consent.services import record_consent

    popup = make_popup("newsletter", collect_email=True, rules=CART_ABANDONERS)
    profile = make_visitor(email="ada@example.com")
    join_segment(profile, "cart-abandoners")
    record_consent(profile, "email", True, source="signup")
    record_consent(profile, "email", False, source="preference_centre")

    assert choose_popup(visitor_request()) == popup


def test_email_popup_shows_to_new_visitor(db):
    popup = make_popup("newsletter", collect_email=True)

    assert choose_popup(visitor_request()) == popup


def test_plain_popup_shows_to_subscribed_visitor(db):
    from omnichannel.consent.services import record_consent

    popup = make_popup("sale")
    profile = make_visitor(email="ada@example.com")
    record_consent(profile, "email", True, source="signup")

    assert choose_popup(visitor_request()) == popup


def test_popup_outside_schedule_is_not_shown(db):
    make_popup("later", starts_at=timezone.now() + timedelta(days=1))
    make_popup("off", is_active=False)

    assert choose_popup(visitor_request()) is None


def test_popup_markup_carries_trigger_and_stays_hidden(db):
    make_popup("exit", trigger="exit_intent", delay_seconds=0, max_per_visitor=2)

    html = render_popup(visitor_request())

    assert 'data-omnichannel-popup="exit"' in html
    assert 'data-trigger="exit_intent"' in html
    assert 'data-max-shows="2"' in html
    assert " hidden>" in html


def test_popup_with_email_capture_renders_form(db):
    make_popup(
        "newsletter",
        collect_email=True,
        consent_text="Send me offers by email.",
        preference_key="interest",
        preference_choices=["Men", "Women"],
    )

    html = render_popup(visitor_request())

    assert 'action="/omnichannel/personalisation/popups/newsletter/submit/"' in html
    assert "Send me offers by email." in html
    assert 'value="Women"' in html


def test_popup_acknowledges_used_offer_code(db):
    offer = OfferFactory(slug="free-shipping")
    profile = returning_visitor()
    CustomerOffer.objects.create(
        offer=offer,
        profile=profile,
        state=CustomerOffer.State.CLAIMED,
        claimed_at=timezone.now(),
    )
    make_popup("shipping", offer_slug="free-shipping")

    html = render_popup(visitor_request())

    assert "You have already used this code" in html


def test_popup_tag_renders_nothing_without_popups(db):
    html = Template("{% load omnichannel %}{% omnichannel_popup %}").render(
        Context({"request": visitor_request()})
    )

    assert html == ""
