import numpy as np
import pytest
from scipy import integrate, optimize, stats

from omnichannel.predictions import bgnbd
from omnichannel.predictions.bgnbd import BGNBDParams
from omnichannel.predictions.exceptions import (
    InsufficientHistory,
    InvalidSummaryInput,
    ScoringFailed,
)

PUBLISHED = BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)


@pytest.fixture(scope="module")
def sample_fit(cdnow_sample):
    return bgnbd.fit(cdnow_sample.frequency, cdnow_sample.recency, cdnow_sample.T)


def test_fit_cdnow_sample_published_parameters(sample_fit):
    assert sample_fit.converged
    assert sample_fit.params["r"] == pytest.approx(0.243, abs=0.005)
    assert sample_fit.params["alpha"] == pytest.approx(4.414, abs=0.005)
    assert sample_fit.params["a"] == pytest.approx(0.793, abs=0.005)
    assert sample_fit.params["b"] == pytest.approx(2.426, abs=0.005)


def test_fit_cdnow_sample_log_likelihood(sample_fit):
    assert sample_fit.log_likelihood == pytest.approx(-9582.4, abs=0.05)
    assert sample_fit.n_customers == 2357


def test_fit_cdnow_master_converges(cdnow_master_rows):
    from omnichannel.predictions.summary import summarise_transactions

    from .conftest import CALIBRATION_END

    rows = cdnow_master_rows
    summary = summarise_transactions(
        rows.customer_ids, rows.dates, rows.amounts, calibration_end=CALIBRATION_END
    )
    result = bgnbd.fit(summary.frequency, summary.recency, summary.T)
    assert len(summary) == 23570
    assert result.converged
    # The full data set lands close to the sample's estimates.
    assert result.params["r"] == pytest.approx(0.243, abs=0.02)
    assert result.params["a"] == pytest.approx(0.793, abs=0.1)


def test_log_likelihood_gradient_matches_finite_differences(cdnow_sample):
    x, t_x, age = cdnow_sample.frequency, cdnow_sample.recency, cdnow_sample.T

    def value(log_params):
        return bgnbd._log_likelihood_and_gradient(
            log_params, x, t_x, age, None, gradient=False
        )[0].sum()

    def gradient(log_params):
        return bgnbd._log_likelihood_and_gradient(
            log_params, x, t_x, age, None, gradient=True
        )[1]

    for point in (np.log([0.243, 4.414, 0.793, 2.426]), np.log([1.5, 0.4, 3.0, 0.7])):
        numeric = optimize.approx_fprime(point, value, 1e-6)
        assert np.allclose(gradient(point), numeric, rtol=1e-4, atol=1e-2)


def test_log_likelihood_single_customer_closed_form():
    # x = 0: LL = ln B(a, b) / B(a, b) + r ln(alpha / (alpha + T)).
    value = bgnbd.log_likelihood(
        PUBLISHED, np.array([0.0]), np.array([0.0]), np.array([10.0])
    )
    expected = PUBLISHED.r * np.log(PUBLISHED.alpha / (PUBLISHED.alpha + 10.0))
    assert value[0] == pytest.approx(expected)


def test_probability_alive_without_repeat_is_one():
    alive = bgnbd.probability_alive(
        PUBLISHED, np.array([0.0, 0.0]), np.array([0.0, 0.0]), np.array([1.0, 500.0])
    )
    assert alive.tolist() == [1.0, 1.0]


def test_probability_alive_falls_with_time_since_last_purchase():
    alive = bgnbd.probability_alive(
        PUBLISHED,
        np.array([3.0, 3.0, 3.0]),
        np.array([30.0, 20.0, 5.0]),
        np.array([30.0, 30.0, 30.0]),
    )
    assert alive[0] > alive[1] > alive[2]
    assert np.all((alive > 0) & (alive <= 1))


def test_probability_alive_extreme_values_finite():
    alive = bgnbd.probability_alive(
        PUBLISHED, np.array([5000.0]), np.array([0.001]), np.array([1e6])
    )
    assert np.isfinite(alive).all()
    assert alive[0] < 1e-300


@pytest.mark.parametrize(
    ("x", "t_x", "age", "t"),
    [
        (0, 0, 10, 4.3),
        (2, 30.4, 38.9, 39),
        (7, 35, 38, 13),
        (30, 50, 52, 52),
        (1, 1, 2, 100),
    ],
)
def test_expected_purchases_matches_numerical_integral(x, t_x, age, t):
    # Given activity, E[Y(t)] = E_p[(1 - ((alpha + T) / (alpha + T + p t))^(r + x)) / p]
    # with p ~ Beta(a, b + x).
    p = PUBLISHED

    def integrand(dropout):
        survive = ((p.alpha + age) / (p.alpha + age + dropout * t)) ** (p.r + x)
        return (1 - survive) / dropout * stats.beta.pdf(dropout, p.a, p.b + x)

    alive = bgnbd.probability_alive(p, np.array([x]), np.array([t_x]), np.array([age]))
    expected = integrate.quad(integrand, 0, 1, limit=200)[0] * alive[0]
    value = bgnbd.expected_purchases(
        p, t, np.array([x]), np.array([t_x]), np.array([age])
    )
    assert value[0] == pytest.approx(expected, rel=1e-7)


@pytest.mark.parametrize(
    ("params", "x", "age", "t"),
    [
        (PUBLISHED, 100, 20, 52.18),
        (PUBLISHED, 3000, 1000, 52.18),
        (BGNBDParams(r=5, alpha=0.1, a=0.05, b=50), 20, 5, 12.9),
        (BGNBDParams(r=50, alpha=5000, a=0.5, b=0.5), 0, 0, 4.3),
        (BGNBDParams(r=2, alpha=2, a=1.0, b=1.0), 100, 20, 52.18),
    ],
)
def test_expected_purchases_extreme_customers_accurate(params, x, age, t):
    # Many purchases, a + b = 1 with x = 0 (c = 0) and a = 1: the textbook closed
    # form overflows or divides by zero on these.
    def integrand(dropout):
        survive = -np.expm1(
            -(params.r + x) * np.log1p(dropout * t / (params.alpha + age))
        )
        return survive / dropout * stats.beta.pdf(dropout, params.a, params.b + x)

    mean = params.a / (params.a + params.b + x)
    expected = integrate.quad(
        integrand, 0, 1, points=[mean / 10, mean, min(0.999, 10 * mean)], limit=500
    )[0]
    value = bgnbd.expected_purchases_if_active(
        params, t, np.array([x]), np.array([age])
    )
    assert np.isfinite(value).all()
    assert value[0] == pytest.approx(expected, rel=1e-6)


def test_expected_purchases_fallback_integration_matches(monkeypatch):
    # Force every row through the numerical fallback.
    args = (PUBLISHED, 13.0, np.array([0.0, 4.0, 40.0]), np.array([2.0, 30.0, 38.0]))
    closed_form = bgnbd.expected_purchases_if_active(*args)
    monkeypatch.setattr(bgnbd, "hyp2f1", lambda *values: np.full(3, np.nan))
    integrated = bgnbd.expected_purchases_if_active(*args)
    assert np.allclose(integrated, closed_form, rtol=1e-7)


def test_expected_purchases_fallback_limit_raises(monkeypatch):
    monkeypatch.setattr(bgnbd, "_MAX_INTEGRATED_ROWS", 2)
    monkeypatch.setattr(bgnbd, "hyp2f1", lambda *values: np.full(3, np.nan))
    with pytest.raises(ScoringFailed, match="failed on 3 customers"):
        bgnbd.expected_purchases_if_active(PUBLISHED, 13.0, np.ones(3), np.full(3, 5.0))


def test_expected_purchases_a_equal_one_finite():
    params = BGNBDParams(r=0.5, alpha=3.0, a=1.0, b=2.0)
    nearby = BGNBDParams(r=0.5, alpha=3.0, a=1.0001, b=2.0)
    args = (10.0, np.array([2.0]), np.array([5.0]), np.array([8.0]))
    at_one = bgnbd.expected_purchases(params, *args)
    assert np.isfinite(at_one).all()
    assert at_one[0] == pytest.approx(
        bgnbd.expected_purchases(nearby, *args)[0], rel=1e-3
    )


def test_expected_purchases_zero_horizon():
    value = bgnbd.expected_purchases(
        PUBLISHED, 0, np.array([1.0]), np.array([1.0]), np.array([2.0])
    )
    assert value.tolist() == [0.0]


def test_expected_purchases_negative_horizon_rejected():
    with pytest.raises(InvalidSummaryInput, match="horizon"):
        bgnbd.expected_purchases(
            PUBLISHED, -1, np.array([1.0]), np.array([1.0]), np.array([2.0])
        )


def test_expected_purchases_new_customer_published_curve():
    # Equation (6) at t = 0 is 0 and grows with t.
    values = bgnbd.expected_purchases_new_customer(
        PUBLISHED, np.array([0.0, 39.0, 78.0])
    )
    assert values[0] == 0.0
    assert 0 < values[1] < values[2]


def test_probability_any_purchase_matches_simulation():
    rng = np.random.default_rng(7)
    p = PUBLISHED
    x, t_x, age, horizon = 4.0, 20.0, 30.0, 8.0
    n = 400_000
    alive = bgnbd.probability_alive(p, np.array([x]), np.array([t_x]), np.array([age]))[
        0
    ]
    # Draw from the posterior: active with probability `alive`, then a rate from
    # Gamma(r + x, alpha + T); an active customer buys in the window with
    # probability 1 - exp(-rate * horizon).
    active = rng.random(n) < alive
    rate = rng.gamma(p.r + x, 1.0 / (p.alpha + age), n)
    buys = active & (rng.random(n) < -np.expm1(-rate * horizon))
    value = bgnbd.probability_any_purchase(
        p, horizon, np.array([x]), np.array([t_x]), np.array([age])
    )[0]
    assert value == pytest.approx(buys.mean(), abs=0.005)
    assert value <= alive


def test_fit_rejects_recency_greater_than_t():
    with pytest.raises(InvalidSummaryInput, match="recency is greater than T"):
        bgnbd.fit(np.array([1.0, 0.0]), np.array([5.0, 0.0]), np.array([4.0, 3.0]))


def test_fit_rejects_fractional_frequency():
    with pytest.raises(InvalidSummaryInput, match="whole number"):
        bgnbd.fit(np.array([1.5]), np.array([1.0]), np.array([4.0]))


def test_fit_rejects_nan():
    with pytest.raises(InvalidSummaryInput, match="not finite"):
        bgnbd.fit(np.array([1.0]), np.array([np.nan]), np.array([4.0]))


def test_fit_without_repeat_customers_raises_insufficient_history():
    with pytest.raises(InsufficientHistory, match="repeat purchase"):
        bgnbd.fit(np.zeros(50), np.zeros(50), np.full(50, 10.0))


def test_fit_below_minimum_customers_raises_insufficient_history(cdnow_sample):
    with pytest.raises(InsufficientHistory, match="at least 5000 customers"):
        bgnbd.fit(
            cdnow_sample.frequency,
            cdnow_sample.recency,
            cdnow_sample.T,
            min_customers=5000,
        )


def test_fit_unidentified_dropout_reports_not_converged():
    # Every customer still buying at the end of the period: nobody ever drops out,
    # so the dropout probability runs to zero and the fit cannot converge.
    frequency = np.array([10.0, 12.0, 8.0, 15.0] * 10)
    result = bgnbd.fit(frequency, np.full(40, 20.0), np.full(40, 20.0))
    assert not result.converged
    assert "edge of the search range" in result.message


def test_params_from_dict_rejects_missing_and_negative():
    with pytest.raises(InvalidSummaryInput, match="missing alpha"):
        BGNBDParams.from_dict({"r": 1, "a": 1, "b": 1})
    with pytest.raises(InvalidSummaryInput, match="positive"):
        BGNBDParams.from_dict({"r": 1, "alpha": -1, "a": 1, "b": 1})


def test_expected_purchases_distinct_pairs_match_direct():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 5, 2000).astype(float)
    age = rng.integers(0, 30, 2000) / 7.0
    horizons = [4.3, 12.9, 52.2]
    shared = bgnbd.expected_purchases_if_active_at(PUBLISHED, horizons, x, age)
    for t, values in zip(horizons, shared, strict=True):
        direct = bgnbd.expected_purchases_if_active(PUBLISHED, t, x, age)
        assert np.allclose(values, direct, rtol=1e-12)
