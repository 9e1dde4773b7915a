"""System checks of the integration settings."""

from datetime import timedelta

import pytest
from django.test import override_settings

from omnichannel.checks import check_settings


def check_ids(**settings):
    with override_settings(OMNICHANNEL=settings):
        # Only the ids of the integration checks: other domains warn about their
        # own settings, which these tests leave out.
        return [
            message.id
            for message in check_settings()
            if message.id[len("omnichannel.") + 1 :].startswith("09")
        ]


def test_defaults_pass():
    assert check_ids() == []


@pytest.mark.parametrize("policy", ["ignore", "", None])
def test_bad_error_policy(policy):
    assert check_ids(SHOP_ADAPTER_ERRORS=policy) == ["omnichannel.E090"]


@pytest.mark.parametrize(
    "settings",
    [
        {"CART_ABANDONED_AFTER": 3600},
        {"CART_ABANDONED_AFTER": timedelta(0)},
        {"CART_ABANDONED_MAX_AGE": timedelta(hours=-1)},
        {
            "CART_ABANDONED_AFTER": timedelta(days=7),
            "CART_ABANDONED_MAX_AGE": timedelta(days=7),
        },
    ],
)
def test_bad_abandonment_settings(settings):
    assert set(check_ids(**settings)) == {"omnichannel.E091"}


def test_bad_oscar_statuses_without_oscar_adapters():
    assert check_ids(OSCAR_ORDER_STATUSES={"cancelled": "Cancelled"}) == [
        "omnichannel.E092"
    ]
