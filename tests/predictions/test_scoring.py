import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnichannel.predictions import scoring
from omnichannel.predictions.bgnbd import BGNBDParams
from omnichannel.predictions.exceptions import InvalidSummaryInput
from omnichannel.predictions.gammagamma import GammaGammaParams

TRANSACTIONS = BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
SPEND = GammaGammaParams(p=6.25, q=3.74, gamma=15.44)

positive = st.floats(min_value=0.01, max_value=100.0)


@settings(max_examples=60, deadline=None)
@given(
    r=positive,
    alpha=positive,
    a=positive,
    b=positive,
    frequency=st.integers(min_value=0, max_value=2000),
    age=st.floats(min_value=0.0, max_value=2000.0),
    recency_share=st.floats(min_value=0.0, max_value=1.0),
    spend=st.floats(min_value=-50.0, max_value=1e5),
)
def test_score_arrays_always_finite(
    r, alpha, a, b, frequency, age, recency_share, spend
):
    x = float(frequency)
    recency = age * recency_share if x > 0 else 0.0
    scores = scoring.score_arrays(
        BGNBDParams(r=r, alpha=alpha, a=a, b=b),
        SPEND,
        np.array([x]),
        np.array([recency]),
        np.array([age]),
        np.array([spend]),
    )
    for values in (
        scores.probability_alive,
        scores.expected_purchases_30d,
        scores.expected_purchases_90d,
        scores.probability_purchase_30d,
        scores.clv,
    ):
        assert np.isfinite(values).all()
        assert (values >= 0).all()
    assert scores.probability_alive[0] <= 1
    assert scores.probability_purchase_30d[0] <= scores.probability_alive[0] + 1e-12
    assert scores.expected_purchases_30d[0] <= scores.expected_purchases_90d[0] + 1e-12


def test_score_arrays_cleans_bad_summaries():
    scores = scoring.score_arrays(
        TRANSACTIONS,
        SPEND,
        np.array([np.nan, 2.0, 3.0]),
        np.array([0.0, 9.0, np.nan]),
        np.array([-1.0, 5.0, 10.0]),
        np.array([10.0, np.nan, -3.0]),
    )
    assert np.isfinite(scores.probability_alive).all()
    assert np.isfinite(scores.clv).all()


def test_score_arrays_without_spend_model():
    scores = scoring.score_arrays(
        TRANSACTIONS,
        None,
        np.array([1.0]),
        np.array([2.0]),
        np.array([3.0]),
        np.zeros(1),
    )
    assert scores.clv is None


def test_lifecycle_stages_thresholds():
    stages = scoring.lifecycle_stages(
        np.array([0.0, 1.0, 1.0, 1.0, 1.0]),
        np.array([0.9, 0.1, 0.5, 0.79, 0.8]),
        at_risk_from=0.5,
        churning_from=0.8,
    )
    assert stages.tolist() == ["one_time", "active", "at_risk", "at_risk", "churning"]


@pytest.mark.parametrize(("at_risk", "churning"), [(0.0, 0.5), (0.8, 0.5), (0.5, 1.2)])
def test_lifecycle_stages_rejects_bad_thresholds(at_risk, churning):
    with pytest.raises(InvalidSummaryInput, match="thresholds"):
        scoring.lifecycle_stages(
            np.ones(1), np.ones(1), at_risk_from=at_risk, churning_from=churning
        )
