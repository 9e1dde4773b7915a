import numpy as np
import pytest

from omnichannel.predictions import bgnbd, clv, gammagamma
from omnichannel.predictions.bgnbd import BGNBDParams
from omnichannel.predictions.exceptions import InvalidSummaryInput
from omnichannel.predictions.gammagamma import GammaGammaParams

TRANSACTIONS = BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
SPEND = GammaGammaParams(p=6.25, q=3.74, gamma=15.44)
CUSTOMERS = {
    "frequency": np.array([0.0, 2.0, 10.0, 10.0]),
    "recency": np.array([0.0, 30.4, 38.0, 5.0]),
    "T": np.array([38.9, 38.9, 38.9, 38.9]),
    "monetary_value": np.array([0.0, 22.3, 45.0, 45.0]),
}


def test_clv_without_discount_is_purchases_times_spend():
    value = clv.customer_lifetime_value(
        TRANSACTIONS, SPEND, **CUSTOMERS, months=12, annual_discount_rate=0.0
    )
    weeks = 12 * clv.WEEKS_PER_MONTH
    purchases = bgnbd.expected_purchases(
        TRANSACTIONS,
        weeks,
        CUSTOMERS["frequency"],
        CUSTOMERS["recency"],
        CUSTOMERS["T"],
    )
    spend = gammagamma.expected_spend(
        SPEND, CUSTOMERS["frequency"], CUSTOMERS["monetary_value"]
    )
    assert np.allclose(value, purchases * spend, rtol=1e-10)


def test_clv_discount_lowers_value():
    plain = clv.customer_lifetime_value(
        TRANSACTIONS, SPEND, **CUSTOMERS, annual_discount_rate=0.0
    )
    discounted = clv.customer_lifetime_value(
        TRANSACTIONS, SPEND, **CUSTOMERS, annual_discount_rate=0.2
    )
    assert np.all(discounted < plain)
    assert np.all(discounted > plain / 1.2)


def test_clv_longer_horizon_higher_value():
    short = clv.customer_lifetime_value(TRANSACTIONS, SPEND, **CUSTOMERS, months=3)
    long = clv.customer_lifetime_value(TRANSACTIONS, SPEND, **CUSTOMERS, months=24)
    assert np.all(long > short)


def test_clv_lapsed_customer_lower_than_recent():
    value = clv.customer_lifetime_value(TRANSACTIONS, SPEND, **CUSTOMERS)
    assert value[2] > value[3]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"months": 0}, "months"), ({"annual_discount_rate": float("nan")}, "discount")],
)
def test_clv_rejects_bad_arguments(kwargs, message):
    with pytest.raises(InvalidSummaryInput, match=message):
        clv.customer_lifetime_value(TRANSACTIONS, SPEND, **CUSTOMERS, **kwargs)
