"""System checks of the Oscar settings."""

import pytest
from django.conf import settings
from django.test import override_settings

from omnichannel.checks import check_settings
from omnichannel.integrations.oscar import SHOP_ADAPTERS


def check_ids(**changes):
    with override_settings(OMNICHANNEL={**settings.OMNICHANNEL, **changes}):
        # Only the ids of the integration checks: other domains warn about their
        # own settings, which these tests leave out.
        return [
            message.id
            for message in check_settings()
            if message.id[len("omnichannel.") + 1 :].startswith("09")
        ]


def test_oscar_settings_pass():
    assert check_ids() == []


def test_adapter_on_wrong_model():
    swapped = {
        "order.Order": SHOP_ADAPTERS["basket.Basket"],
        "basket.Basket": SHOP_ADAPTERS["order.Order"],
    }

    assert check_ids(SHOP_ADAPTERS=swapped).count("omnichannel.E093") == 2


def test_one_oscar_adapter_warns():
    only_orders = {"order.Order": SHOP_ADAPTERS["order.Order"]}

    assert check_ids(SHOP_ADAPTERS=only_orders) == ["omnichannel.W091"]


def test_missing_middleware_warns():
    middleware = [
        name
        for name in settings.MIDDLEWARE
        if name != "omnichannel.middleware.OmnichannelMiddleware"
    ]

    with override_settings(MIDDLEWARE=middleware):
        assert check_ids() == ["omnichannel.W090"]


@pytest.mark.parametrize(
    "statuses",
    [
        ["Cancelled"],
        {"cancelled": "Cancelled"},
        {"shipped": ["Complete"]},
        {"paid": [1]},
    ],
)
def test_bad_order_statuses(statuses):
    assert check_ids(OSCAR_ORDER_STATUSES=statuses) == ["omnichannel.E092"]
