import re

import pytest
from django.test import override_settings

from omnichannel.offers import codes
from omnichannel.offers.codes import (
    ALPHABET,
    guess_probability,
    make_code,
    normalise_code,
    unused_codes,
)
from omnichannel.offers.models import CustomerOffer, OfferCode


def test_make_code_uses_unambiguous_alphabet():
    code = make_code()

    assert len(code) == 10
    assert set(code) <= set(ALPHABET)
    assert not set(code) & set("01OI")


def test_make_code_puts_prefix_before_dash():
    assert re.fullmatch(r"SHIP-[A-Z2-9]{10}", make_code("SHIP"))


@override_settings(OMNICHANNEL={"OFFER_CODE_LENGTH": 16})
def test_make_code_length_follows_setting():
    assert len(make_code()) == 16


def test_normalise_code_trims_and_capitalises():
    assert normalise_code("  vip-ab2cd3ef4g \n") == "VIP-AB2CD3EF4G"


def test_guess_probability_at_default_length():
    # A million issued codes of 10 symbols from 32: about one hit in 10^9 guesses.
    assert guess_probability(1_000_000) == pytest.approx(8.88e-10, rel=0.01)


@pytest.mark.django_db
def test_unused_codes_are_distinct():
    drawn = unused_codes(2000, "X")

    assert len(drawn) == 2000
    assert len(set(drawn)) == 2000


@pytest.mark.django_db
def test_unused_codes_redraw_stored_code(monkeypatch, anna, offer):
    customer_offer = CustomerOffer.objects.create(offer=offer, profile=anna)
    OfferCode.objects.create(customer_offer=customer_offer, code="TAKEN")
    draws = iter(["TAKEN", "TAKEN", "FRESH"])
    monkeypatch.setattr(codes, "make_code", lambda prefix="": next(draws))

    assert unused_codes(1) == ["FRESH"]


@pytest.mark.django_db
def test_unused_codes_gives_up_after_attempts(monkeypatch, anna, offer):
    customer_offer = CustomerOffer.objects.create(offer=offer, profile=anna)
    OfferCode.objects.create(customer_offer=customer_offer, code="TAKEN")
    monkeypatch.setattr(codes, "make_code", lambda prefix="": "TAKEN")

    with pytest.raises(RuntimeError, match="OFFER_CODE_LENGTH"):
        unused_codes(1)
