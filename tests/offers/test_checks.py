from datetime import timedelta

import pytest
from django.test import override_settings

from omnichannel.checks import _check_offers


def ids(**settings):
    base = {"SHOP_ADAPTERS": {"shop.Order": "shop.omnichannel_adapters.OrderAdapter"}}
    with override_settings(OMNICHANNEL={**base, **settings}):
        return [message.id for message in _check_offers()]


def test_checks_default_settings_pass():
    assert ids() == []


@pytest.mark.parametrize("length", [7, 28, "10", True])
def test_checks_code_length(length):
    assert ids(OFFER_CODE_LENGTH=length) == ["omnichannel.E050"]


@pytest.mark.parametrize(
    "name", ["OFFER_CODE_CHECKS_PER_IP", "OFFER_CODE_CHECKS_PER_PROFILE"]
)
@pytest.mark.parametrize("value", [0, -1, 2.5, None])
def test_checks_limits(name, value):
    assert ids(**{name: value}) == ["omnichannel.E051"]


@pytest.mark.parametrize("window", [timedelta(0), 600, None])
def test_checks_window(window):
    assert ids(OFFER_CODE_CHECK_WINDOW=window) == ["omnichannel.E052"]


def test_checks_unknown_cache():
    assert ids(OFFER_RATE_LIMIT_CACHE="redis") == ["omnichannel.E053"]


def test_checks_dummy_cache_warns():
    caches = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "none": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    }
    with override_settings(CACHES=caches):
        assert ids(OFFER_RATE_LIMIT_CACHE="none") == ["omnichannel.W051"]


def test_checks_no_code_adapter_warns():
    with override_settings(OMNICHANNEL={"SHOP_ADAPTERS": {}}):
        assert [message.id for message in _check_offers()] == ["omnichannel.W050"]
