import numpy as np
import pytest
from scipy import optimize

from omnichannel.predictions import gammagamma
from omnichannel.predictions.exceptions import InsufficientHistory, InvalidSummaryInput
from omnichannel.predictions.gammagamma import GammaGammaParams

PUBLISHED = GammaGammaParams(p=6.25, q=3.74, gamma=15.44)


def test_fit_cdnow_sample_published_parameters(cdnow_sample):
    result = gammagamma.fit(cdnow_sample.frequency, cdnow_sample.monetary_value)
    assert result.converged
    assert result.n_customers == 946
    assert result.params["p"] == pytest.approx(6.25, abs=0.005)
    assert result.params["q"] == pytest.approx(3.74, abs=0.005)
    assert result.params["gamma"] == pytest.approx(15.44, abs=0.005)


def test_gradient_matches_finite_differences(cdnow_sample):
    usable = gammagamma.fitting_mask(
        cdnow_sample.frequency, cdnow_sample.monetary_value
    )
    x = cdnow_sample.frequency[usable]
    m = cdnow_sample.monetary_value[usable]

    def value(log_params):
        return gammagamma._log_likelihood_and_gradient(
            log_params, x, m, gradient=False
        )[0].sum()

    point = np.log([6.0, 3.0, 20.0])
    analytic = gammagamma._log_likelihood_and_gradient(point, x, m, gradient=True)[1]
    numeric = optimize.approx_fprime(point, value, 1e-6)
    assert np.allclose(analytic, numeric, rtol=1e-4, atol=1e-2)


def test_fit_leaves_out_zero_spend_customers(cdnow_sample):
    frequency = np.append(cdnow_sample.frequency, [3.0, 0.0])
    monetary = np.append(cdnow_sample.monetary_value, [0.0, 0.0])
    result = gammagamma.fit(frequency, monetary)
    assert result.n_customers == 946
    assert result.params["p"] == pytest.approx(6.25, abs=0.005)


def test_fit_too_few_repeat_customers_raises():
    with pytest.raises(InsufficientHistory, match="at least 20 customers"):
        gammagamma.fit(
            np.array([1.0, 2.0, 0.0]), np.array([5.0, 7.0, 0.0]), min_customers=20
        )


def test_fit_heavy_tailed_spend_reports_not_converged():
    # Mean spends spread over six orders of magnitude give q <= 1.
    rng = np.random.default_rng(3)
    frequency = np.ones(300)
    monetary = np.exp(rng.normal(0.0, 4.0, 300))
    result = gammagamma.fit(frequency, monetary)
    assert not result.converged
    assert "<= 1" in result.message


def test_fit_rejects_shape_mismatch():
    with pytest.raises(InvalidSummaryInput, match="same shape"):
        gammagamma.fit(np.array([1.0, 2.0]), np.array([5.0]))


def test_expected_spend_blends_customer_and_population():
    spend = gammagamma.expected_spend(
        PUBLISHED, np.array([0.0, 1.0, 50.0]), np.array([0.0, 80.0, 80.0])
    )
    population = PUBLISHED.population_mean_spend
    assert spend[0] == pytest.approx(population)
    assert population < spend[1] < spend[2] < 80.0
    assert spend[2] == pytest.approx(80.0, rel=0.05)


def test_expected_spend_zero_and_negative_mean_finite():
    spend = gammagamma.expected_spend(
        PUBLISHED, np.array([2.0, 2.0]), np.array([0.0, -5.0])
    )
    assert np.isfinite(spend).all()
    assert spend[0] == spend[1]
    assert spend[0] > 0


def test_expected_spend_rejects_q_at_most_one():
    with pytest.raises(InvalidSummaryInput, match="q <= 1"):
        gammagamma.expected_spend(
            GammaGammaParams(p=1, q=0.9, gamma=1), np.ones(1), np.ones(1)
        )


def test_log_likelihood_rejects_zero_spend():
    with pytest.raises(InvalidSummaryInput, match="monetary_value > 0"):
        gammagamma.log_likelihood(PUBLISHED, np.array([2.0]), np.array([0.0]))
