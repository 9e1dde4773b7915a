import logging
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.template import Context, Template
from django.test import RequestFactory

from omnichannel.offers import display
from omnichannel.offers.models import CustomerOffer
from omnichannel.offers.services import issue_code
from tests.factories import OfferFactory
from tests.offers.helpers import code_of, order_event

pytestmark = pytest.mark.django_db


def render(source, request=None, **context):
    template = Template("{% load omnichannel %}" + source)
    return template.render(Context({"request": request, **context}))


@pytest.fixture
def visitor_request(anna):
    """A request from Anna's browser: no login, her visitor cookie."""
    request = RequestFactory().get("/vip/")
    request.user = AnonymousUser()
    request.omnichannel_visitor_id = "b" * 32
    from omnichannel.profiles.services import identify

    identify(email="anna.example@example.com", visitor_id="b" * 32)
    return request


def test_offer_for_customer_gives_code_and_state(visitor_request, anna, offer):
    customer_offer = issue_code(offer, anna)

    html = render(
        '{% offer_for_customer "vip-early-access" as offer %}'
        "{{ offer.code }} {{ offer.state }} {{ offer.is_open }}",
        visitor_request,
    )

    assert html == f"{code_of(customer_offer)} issued True"


def test_offer_code_shows_code_and_marks_seen(visitor_request, anna, offer):
    customer_offer = issue_code(offer, anna)

    html = render('{% offer_code "vip-early-access" %}', visitor_request)

    assert "Your code:" in html
    assert code_of(customer_offer) in html
    customer_offer.refresh_from_db()
    assert customer_offer.state == CustomerOffer.State.SEEN


def test_offer_code_after_claim_says_used(visitor_request, anna, offer):
    customer_offer = issue_code(offer, anna)
    order_event(anna, code_of(customer_offer))

    html = render('{% offer_code "vip-early-access" %}', visitor_request)

    assert "You have already used this code" in html
    assert code_of(customer_offer) not in html


def test_offer_code_expired(visitor_request, anna):
    offer = OfferFactory(slug="short", code_valid_for=timedelta(days=1))
    customer_offer = issue_code(offer, anna)
    CustomerOffer.objects.filter(pk=customer_offer.pk).update(
        valid_until=customer_offer.issued_at - timedelta(seconds=1)
    )

    html = render('{% offer_code "short" %}', visitor_request)

    assert "This offer has expired." in html
    assert code_of(customer_offer) not in html


def test_offer_tags_anonymous_visitor_render_nothing(offer):
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    request.omnichannel_visitor_id = "c" * 32

    html = render(
        '{% offer_for_customer "vip-early-access" as offer %}[{{ offer }}]'
        '{% offer_code "vip-early-access" %}{% offer_popup "vip-early-access" %}',
        request,
    )

    assert html == "[None]"


def test_offer_tags_without_request_render_nothing(offer):
    assert render('{% offer_code "vip-early-access" %}').strip() == ""


def test_offer_popup_only_while_open(visitor_request, anna):
    offer = OfferFactory(slug="cart-free-shipping", kind="free_shipping", value=0)
    customer_offer = issue_code(offer, anna)

    before = render('{% offer_popup "cart-free-shipping" %}', visitor_request)
    order_event(anna, code_of(customer_offer))
    after = render('{% offer_popup "cart-free-shipping" %}', visitor_request)

    assert code_of(customer_offer) in before
    assert 'role="dialog"' in before
    assert after.strip() == ""


def test_offer_tags_take_profile_argument(anna, offer):
    customer_offer = issue_code(offer, anna)

    html = render('{% offer_code "vip-early-access" profile=customer %}', customer=anna)

    assert code_of(customer_offer) in html


def test_offer_tags_never_raise(monkeypatch, visitor_request, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(display, "offer_status", broken)
    monkeypatch.setattr(display, "popup_offer", broken)

    with caplog.at_level(logging.ERROR, logger="omnichannel.templatetags.omnichannel"):
        html = render(
            '{% offer_for_customer "vip-early-access" as offer %}[{{ offer }}]'
            '{% offer_code "vip-early-access" %}{% offer_popup "vip-early-access" %}',
            visitor_request,
        )

    assert html == "[None]"
    assert caplog.text.count("failed") == 3


def test_shop_vip_page_shows_personal_code(client, anna, offer):
    client.get("/")
    from omnichannel.profiles.services import identify

    identify(
        email="anna.example@example.com", visitor_id=client.cookies["omni_vid"].value
    )
    customer_offer = issue_code(offer, anna)

    response = client.get("/vip/")

    assert response.status_code == 200
    assert code_of(customer_offer) in response.content.decode()
