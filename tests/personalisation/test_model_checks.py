"""Links of banners and the offer of a pop-up are checked when saved."""

import pytest
from django.core.exceptions import ValidationError

from omnichannel.personalisation.models import Popup, check_link
from tests.factories import OfferFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "link", ["/categories/parkas/", "https://shop.example/a", "http://shop.example/"]
)
def test_link_accepted(link):
    check_link(link)


@pytest.mark.parametrize(
    "link", ["/\\evil.example", "//evil.example", "javascript:alert(1)", "/a b"]
)
def test_link_rejected(link):
    with pytest.raises(ValidationError):
        check_link(link)


def _popup(**fields):
    return Popup(key="ship", name="Ship", title="Free shipping", **fields)


def test_popup_unknown_offer_rejected():
    with pytest.raises(ValidationError) as caught:
        _popup(offer_slug="nope").clean()

    assert "There is no offer nope" in str(caught.value.message_dict["offer_slug"])


def test_popup_known_offer_accepted():
    OfferFactory(slug="free-ship")

    _popup(offer_slug="free-ship").clean()
