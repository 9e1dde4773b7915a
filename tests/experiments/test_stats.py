"""The statistics, checked against scipy computations written out in each test."""

import math

import numpy as np
import pytest
from scipy import integrate
from scipy import stats as scipy_stats

from omnichannel.exceptions import InsufficientData
from omnichannel.experiments import stats

# (control conversions, control trials, variant conversions, variant trials)
PROPORTION_CASES = [
    (100, 1000, 130, 1000),
    (120, 2400, 95, 2300),
    (0, 500, 7, 480),
    (3, 10, 6, 11),
    (0, 1, 1, 1),
    (5000, 100_000, 5200, 100_000),
]


def scipy_beta_superiority(a_c, b_c, a_v, b_v):
    """P(Beta(a_v, b_v) > Beta(a_c, b_c)) by adaptive quadrature over the variant."""
    low = scipy_stats.beta.ppf(1e-13, a_v, b_v)
    high = scipy_stats.beta.ppf(1 - 1e-13, a_v, b_v)
    mean = a_v / (a_v + b_v)
    value, _ = integrate.quad(
        lambda x: scipy_stats.beta.pdf(x, a_v, b_v) * scipy_stats.beta.cdf(x, a_c, b_c),
        low,
        high,
        points=[mean],
        limit=500,
    )
    return value


@pytest.mark.parametrize("s1,n1,s2,n2", PROPORTION_CASES)
def test_ztest_matches_scipy_chi_square(s1, n1, s2, n2):
    table = [[s1, n1 - s1], [s2, n2 - s2]]
    chi2, p_value, _, _ = scipy_stats.chi2_contingency(table, correction=False)

    result = stats.two_proportion_ztest(s1, n1, s2, n2)

    assert result.z**2 == pytest.approx(chi2, rel=1e-9)
    assert result.p_value == pytest.approx(p_value, rel=1e-9)
    assert math.copysign(1, result.z) == math.copysign(1, s2 / n2 - s1 / n1)


@pytest.mark.parametrize("s1,n1,s2,n2", PROPORTION_CASES)
def test_ztest_one_sided_and_interval(s1, n1, s2, n2):
    p1, p2 = s1 / n1, s2 / n2
    pooled = (s1 + s2) / (n1 + n2)
    z = (p2 - p1) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    margin = 1.959963984540054 * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)

    larger = stats.two_proportion_ztest(s1, n1, s2, n2, alternative="larger")
    smaller = stats.two_proportion_ztest(s1, n1, s2, n2, alternative="smaller")

    assert larger.p_value == pytest.approx(scipy_stats.norm.sf(z), rel=1e-9)
    assert smaller.p_value == pytest.approx(scipy_stats.norm.cdf(z), rel=1e-9)
    assert larger.ci_low == pytest.approx(p2 - p1 - margin, abs=1e-12)
    assert larger.ci_high == pytest.approx(p2 - p1 + margin, abs=1e-12)


def test_ztest_zero_conversions_both():
    result = stats.two_proportion_ztest(0, 400, 0, 450)

    assert result.z == 0
    assert result.p_value == 1
    assert result.difference == 0
    assert result.relative_lift is None
    assert result.ci_low == result.ci_high == 0


def test_ztest_all_converted_both():
    result = stats.two_proportion_ztest(12, 12, 9, 9)

    assert result.p_value == 1
    assert result.relative_lift == 0


def test_ztest_relative_lift():
    result = stats.two_proportion_ztest(100, 1000, 130, 1000)

    assert result.relative_lift == pytest.approx(0.3)
    assert result.difference == pytest.approx(0.03)


@pytest.mark.parametrize(
    "args,error",
    [
        ((5, 0, 1, 10), InsufficientData),
        ((1, 10, 5, 0), InsufficientData),
        ((11, 10, 1, 10), ValueError),
        ((-1, 10, 1, 10), ValueError),
        ((1.5, 10, 1, 10), ValueError),
        ((True, 10, 1, 10), ValueError),
    ],
)
def test_ztest_bad_counts_rejected(args, error):
    with pytest.raises(error):
        stats.two_proportion_ztest(*args)


def test_ztest_bad_alternative_rejected():
    with pytest.raises(ValueError, match="alternative"):
        stats.two_proportion_ztest(1, 10, 2, 10, alternative="greater")


@pytest.mark.parametrize("s1,n1,s2,n2", PROPORTION_CASES)
def test_probability_to_beat_matches_quadrature(s1, n1, s2, n2):
    expected = scipy_beta_superiority(1 + s1, 1 + n1 - s1, 1 + s2, 1 + n2 - s2)

    assert stats.probability_to_beat_control(s1, n1, s2, n2) == pytest.approx(
        expected, abs=1e-6
    )


def test_probability_to_beat_matches_monte_carlo():
    rng = np.random.default_rng(20261204)
    control = rng.beta(1 + 48, 1 + 952, size=2_000_000)
    variant = rng.beta(1 + 61, 1 + 939, size=2_000_000)
    simulated = float(np.mean(variant > control))

    exact = stats.probability_to_beat_control(48, 1000, 61, 1000)

    # The Monte Carlo standard error is below 0.0003 at two million draws.
    assert exact == pytest.approx(simulated, abs=0.0015)


def test_probability_to_beat_tiny_sample_hand_worked():
    # Posteriors Beta(1, 2) for 0 of 1 and Beta(2, 1) for 1 of 1:
    # integral of 2x * (2x - x^2) over [0, 1] = 4/3 - 1/2 = 5/6.
    assert stats.probability_to_beat_control(0, 1, 1, 1) == pytest.approx(5 / 6)
    assert stats.probability_to_beat_control(1, 1, 0, 1) == pytest.approx(1 / 6)


def test_probability_to_beat_identical_is_half():
    assert stats.probability_to_beat_control(37, 800, 37, 800) == pytest.approx(0.5)
    assert stats.probability_to_beat_control(0, 300, 0, 300) == pytest.approx(0.5)


def test_probability_to_beat_zero_conversions_unequal_sizes():
    # No conversions anywhere: the larger group is surer its rate is low.
    expected = scipy_beta_superiority(1, 11, 1, 1001)

    result = stats.probability_to_beat_control(0, 10, 0, 1000)

    assert result == pytest.approx(expected, abs=1e-6)
    assert result < 0.5


def test_probability_to_beat_jeffreys_prior_integrated():
    expected = scipy_beta_superiority(0.5 + 30, 0.5 + 470, 0.5 + 45, 0.5 + 455)

    result = stats.probability_to_beat_control(
        30, 500, 45, 500, prior_alpha=0.5, prior_beta=0.5
    )

    assert result == pytest.approx(expected, abs=1e-6)


def test_probability_to_beat_bad_prior_rejected():
    with pytest.raises(ValueError, match="prior_alpha"):
        stats.probability_to_beat_control(1, 10, 2, 10, prior_alpha=0)


def welch_cases():
    rng = np.random.default_rng(7)
    # Revenue per recipient: most recipients buy nothing, a few buy a lot.
    control = np.where(rng.random(900) < 0.04, rng.gamma(2.0, 30.0, 900), 0.0)
    variant = np.where(rng.random(950) < 0.05, rng.gamma(2.0, 28.0, 950), 0.0)
    return [
        (control, variant),
        ([0, 0, 10, 20, 0], [0, 5, 30, 40, 0, 0]),
        ([1.0, 2.0], [3.0, 5.0, 9.0]),
    ]


@pytest.mark.parametrize("control,variant", welch_cases())
@pytest.mark.parametrize(
    "alternative,scipy_alternative",
    [("two-sided", "two-sided"), ("larger", "greater"), ("smaller", "less")],
)
def test_revenue_test_matches_scipy_welch(
    control, variant, alternative, scipy_alternative
):
    expected = scipy_stats.ttest_ind(
        variant, control, equal_var=False, alternative=scipy_alternative
    )

    result = stats.revenue_per_recipient_test(control, variant, alternative=alternative)

    assert result.t == pytest.approx(expected.statistic, rel=1e-9)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert result.degrees_of_freedom == pytest.approx(expected.df, rel=1e-9)


@pytest.mark.parametrize("control,variant", welch_cases())
def test_revenue_test_interval_matches_scipy(control, variant):
    expected = scipy_stats.ttest_ind(
        variant, control, equal_var=False
    ).confidence_interval(0.95)

    result = stats.revenue_per_recipient_test(control, variant)

    assert result.ci_low == pytest.approx(expected.low, rel=1e-9)
    assert result.ci_high == pytest.approx(expected.high, rel=1e-9)


def test_revenue_test_from_sums_equals_arrays():
    control = [0, 0, 12.5, 0, 40, 0, 0, 7.25]
    variant = [0, 19.9, 0, 0, 0, 55, 3]
    summaries = [
        stats.SampleSummary.from_sums(
            len(values), sum(values), sum(v * v for v in values)
        )
        for values in (control, variant)
    ]

    from_arrays = stats.revenue_per_recipient_test(control, variant)
    from_sums = stats.revenue_per_recipient_test(*summaries)

    assert from_sums.t == pytest.approx(from_arrays.t, rel=1e-9)
    assert from_sums.p_value == pytest.approx(from_arrays.p_value, rel=1e-9)


def test_revenue_test_zero_revenue_both():
    result = stats.revenue_per_recipient_test([0.0] * 20, [0.0] * 25)

    assert result.p_value == 1
    assert result.t == 0
    assert result.relative_lift is None


def test_revenue_test_constant_different():
    result = stats.revenue_per_recipient_test([5.0] * 4, [7.0] * 4)

    assert result.p_value == 0
    assert result.t == math.inf


@pytest.mark.parametrize("control", [[], [3.0]])
def test_revenue_test_tiny_sample_rejected(control):
    with pytest.raises(InsufficientData, match="at least 2"):
        stats.revenue_per_recipient_test(control, [1.0, 2.0, 3.0])


def test_revenue_test_nan_rejected():
    with pytest.raises(ValueError, match="finite"):
        stats.revenue_per_recipient_test([1.0, float("nan")], [1.0, 2.0])


def test_sample_size_known_figure():
    # 10% baseline, +10% relative (to 11%), alpha 0.05 two-sided, power 0.8.
    assert stats.sample_size_for_lift(0.10, 0.10) == 14751


@pytest.mark.parametrize(
    "baseline,lift,alpha,power",
    [(0.10, 0.10, 0.05, 0.8), (0.02, 0.25, 0.05, 0.9), (0.30, -0.05, 0.01, 0.8)],
)
def test_sample_size_reaches_power(baseline, lift, alpha, power):
    p1, p2 = baseline, baseline * (1 + lift)
    pooled = (p1 + p2) / 2
    z_alpha = scipy_stats.norm.isf(alpha / 2)

    def achieved_power(n):
        null_se = math.sqrt(2 * pooled * (1 - pooled) / n)
        alt_se = math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / n)
        return scipy_stats.norm.cdf((abs(p2 - p1) - z_alpha * null_se) / alt_se)

    n = stats.sample_size_for_lift(baseline, lift, alpha=alpha, power=power)

    assert achieved_power(n) >= power
    assert achieved_power(n - 1) < power


def test_sample_size_simulated_power():
    rng = np.random.default_rng(99)
    n = stats.sample_size_for_lift(0.05, 0.30)
    control = rng.binomial(n, 0.05, size=4000)
    variant = rng.binomial(n, 0.065, size=4000)
    pooled = (control + variant) / (2 * n)
    z = (variant - control) / n / np.sqrt(pooled * (1 - pooled) * 2 / n)
    rejected = np.mean(np.abs(z) > scipy_stats.norm.isf(0.025))

    # 4000 simulated experiments: the standard error of the rate is about 0.006.
    assert rejected == pytest.approx(0.8, abs=0.025)


def test_sample_size_one_sided_smaller():
    assert stats.sample_size_for_lift(
        0.1, 0.1, alternative="larger"
    ) < stats.sample_size_for_lift(0.1, 0.1)


@pytest.mark.parametrize(
    "baseline,lift,match",
    [
        (0.0, 0.1, "baseline_rate"),
        (1.0, 0.1, "baseline_rate"),
        (0.1, 0.0, "relative_lift"),
        (0.6, 1.0, "outside"),
    ],
)
def test_sample_size_bad_input_rejected(baseline, lift, match):
    with pytest.raises(ValueError, match=match):
        stats.sample_size_for_lift(baseline, lift)


def test_sample_size_bad_power_rejected():
    with pytest.raises(ValueError, match="power"):
        stats.sample_size_for_lift(0.1, 0.1, power=1.0)


def test_mean_sample_size_reaches_t_test_power():
    n = stats.sample_size_for_mean_lift(4.0, 25.0, 0.15)
    df = 2 * n - 2
    noncentrality = 0.6 / (25.0 * math.sqrt(2 / n))
    critical = scipy_stats.t.isf(0.025, df)
    power = scipy_stats.nct.sf(critical, df, noncentrality) + scipy_stats.nct.cdf(
        -critical, df, noncentrality
    )

    assert power == pytest.approx(0.8, abs=0.005)


def test_sample_ratio_mismatch_hand_worked():
    # Expected 500 and 500: chi-square = 100^2/500 * 2 = 40 on one degree of freedom.
    expected = scipy_stats.chi2.sf(40, 1)

    assert stats.sample_ratio_mismatch([600, 400], [1, 1]) == pytest.approx(expected)
    assert stats.sample_ratio_mismatch([500, 500], [1, 1]) == pytest.approx(1.0)
    assert stats.sample_ratio_mismatch([300, 600], [1, 2]) == pytest.approx(1.0)


def test_sample_ratio_mismatch_empty_rejected():
    with pytest.raises(InsufficientData):
        stats.sample_ratio_mismatch([0, 0], [1, 1])
