import numpy as np
import pytest

from omnichannel.predictions import affinity
from omnichannel.predictions.exceptions import InvalidSummaryInput

CHANNELS = ("email", "sms", "push")


def shop(extra_sent=(), extra_engaged=()):
    """A hundred customers: email engages 20% of the time, sms 50%, push never sent."""
    rng = np.random.default_rng(2)
    sent = np.zeros((100, 3))
    sent[:, 0] = 10
    sent[:, 1] = 4
    engaged = np.zeros((100, 3))
    engaged[:, 0] = rng.binomial(10, 0.2, 100)
    engaged[:, 1] = rng.binomial(4, 0.5, 100)
    if extra_sent:
        sent = np.vstack([sent, extra_sent])
        engaged = np.vstack([engaged, extra_engaged])
    return sent, engaged


def test_affinity_shop_rates_from_totals():
    sent, engaged = shop()
    scores = affinity.score_affinity(CHANNELS, sent, engaged)
    assert scores.shop_rates[0] == pytest.approx(engaged[:, 0].sum() / 1000)
    assert scores.shop_rates[2] == affinity.UNMEASURED_CHANNEL_RATE


def test_affinity_new_customer_gets_shop_rate():
    sent, engaged = shop([[0, 0, 0]], [[0, 0, 0]])
    scores = affinity.score_affinity(CHANNELS, sent, engaged)
    assert np.allclose(scores.rates[-1], scores.shop_rates)
    assert scores.preferred_channels()[-1] == "sms"


def test_affinity_strong_history_overrides_shop():
    sent, engaged = shop([[60, 20, 0]], [[55, 0, 0]])
    scores = affinity.score_affinity(CHANNELS, sent, engaged)
    assert scores.preferred_channels()[-1] == "email"
    assert scores.rates[-1, 0] > 0.6
    assert scores.rates[-1, 1] < scores.shop_rates[1]


def test_affinity_rates_within_unit_interval():
    sent, engaged = shop([[1, 0, 0]], [[4, 0, 3]])
    scores = affinity.score_affinity(CHANNELS, sent, engaged)
    assert np.all((scores.rates >= 0) & (scores.rates <= 1))


def test_affinity_available_mask_restricts_choice():
    sent, engaged = shop([[0, 0, 0], [0, 0, 0]], [[0, 0, 0], [0, 0, 0]])
    scores = affinity.score_affinity(CHANNELS, sent, engaged)
    available = np.ones(scores.rates.shape, dtype=bool)
    available[-2, 1] = False
    available[-1, :] = False
    preferred = scores.preferred_channels(available)
    assert preferred[-2] == "email"
    assert preferred[-1] == ""


def test_affinity_as_dicts_rounded():
    sent, engaged = shop()
    first = affinity.score_affinity(CHANNELS, sent, engaged).as_dicts()[0]
    assert set(first) == set(CHANNELS)
    assert all(round(value, 4) == value for value in first.values())


@pytest.mark.parametrize(
    ("channels", "sent", "engaged", "message"),
    [
        (("email", "email"), np.zeros((1, 2)), np.zeros((1, 2)), "distinct"),
        (("email",), np.zeros((1, 2)), np.zeros((1, 2)), "shape"),
        (("email",), np.array([[-1.0]]), np.zeros((1, 1)), "sent counts"),
        (("email",), np.zeros((1, 1)), np.array([[np.nan]]), "engaged counts"),
    ],
)
def test_affinity_rejects_bad_input(channels, sent, engaged, message):
    with pytest.raises(InvalidSummaryInput, match=message):
        affinity.score_affinity(channels, sent, engaged)
