"""Channel affinity: how likely each customer is to engage with each channel.

For every customer and channel the input is the number of messages sent and the
number of those the customer engaged with (opened, clicked or replied). The score
is the posterior mean engagement rate under a beta prior centred on the channel's
shop-wide rate: ``(engaged + s * mu) / (sent + s)``, with ``mu`` the shop-wide rate
and ``s`` the prior strength in pseudo-messages, estimated per channel from the data
(see ``shrinkage``). A customer who was never sent a message on a channel gets the
channel's shop-wide rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from omnichannel.predictions.exceptions import InvalidSummaryInput
from omnichannel.predictions.optimise import FloatArray
from omnichannel.predictions.shrinkage import beta_binomial_strength

# Prior strength, in pseudo-messages, used for a channel where no customer was sent
# two or more messages.
DEFAULT_PRIOR_STRENGTH = 10.0

# Shop-wide rate assumed for a channel that has sent nothing yet. It only orders
# such a channel among the others; it is never shown as a measured rate.
UNMEASURED_CHANNEL_RATE = 0.0


@dataclass(frozen=True)
class AffinityScores:
    """Posterior engagement rates, one row per customer and one column per channel."""

    channels: tuple[str, ...]
    rates: FloatArray
    shop_rates: FloatArray
    prior_strengths: FloatArray

    def preferred_channels(
        self, available: npt.NDArray[np.bool_] | None = None
    ) -> list[str]:
        """Return each customer's channel with the highest rate ("" if none allowed).

        ``available`` (same shape as ``rates``) restricts the choice, for example to
        channels the customer can be reached on. Ties go to the earlier channel.
        """
        allowed = np.ones(self.rates.shape, dtype=bool)
        if available is not None:
            allowed = np.asarray(available, dtype=bool)
            if allowed.shape != self.rates.shape:
                raise InvalidSummaryInput(
                    f"available must have shape {self.rates.shape}, got "
                    f"{allowed.shape}."
                )
        if not self.channels:
            return [""] * self.rates.shape[0]
        best = np.argmax(np.where(allowed, self.rates, -np.inf), axis=1)
        reachable = np.asarray(allowed.any(axis=1), dtype=bool)
        return [
            self.channels[column] if ok else ""
            for column, ok in zip(best.tolist(), reachable.tolist(), strict=True)
        ]

    def as_dicts(self, decimals: int = 4) -> list[dict[str, float]]:
        """Return one {channel: rate} dict per customer, rounded for storage."""
        rounded = np.round(self.rates, decimals)
        return [
            dict(zip(self.channels, map(float, row), strict=True)) for row in rounded
        ]


def score_affinity(
    channels: Sequence[str],
    sent: FloatArray,
    engaged: FloatArray,
    *,
    prior_strength: float | None = None,
    prior: tuple[FloatArray, FloatArray] | None = None,
) -> AffinityScores:
    """Return per-customer engagement rates for each channel.

    ``sent`` and ``engaged`` have one row per customer and one column per channel.
    When a customer has more engagements than messages sent on a channel (sends
    that were not recorded), each engagement counts as a message, so the rate stays
    within 0..1. ``prior_strength`` fixes the strength of every channel instead of
    estimating it. ``prior`` passes the shop-wide rates and strengths of an earlier
    call (``AffinityScores.shop_rates`` and ``prior_strengths``), so that customers
    scored in separate batches share one prior.
    """
    names = tuple(channels)
    sent_counts = np.asarray(sent, dtype=np.float64)
    engaged_counts = np.asarray(engaged, dtype=np.float64)
    _check_counts(names, sent_counts, engaged_counts)
    if prior_strength is not None and not (
        np.isfinite(prior_strength) and prior_strength > 0
    ):
        raise InvalidSummaryInput(
            f"prior_strength must be a positive number, got {prior_strength!r}."
        )

    trials = np.maximum(sent_counts, engaged_counts)
    if prior is None:
        shop_rates, strengths = channel_prior(
            names, sent_counts, engaged_counts, prior_strength=prior_strength
        )
    else:
        shop_rates, strengths = (np.asarray(v, dtype=np.float64) for v in prior)
        if shop_rates.shape != (len(names),) or strengths.shape != (len(names),):
            raise InvalidSummaryInput(
                f"prior must hold {len(names)} shop rates and {len(names)} "
                f"strengths, one per channel."
            )

    rates = (engaged_counts + strengths * shop_rates) / (trials + strengths)
    return AffinityScores(
        channels=names, rates=rates, shop_rates=shop_rates, prior_strengths=strengths
    )


def channel_prior(
    channels: Sequence[str],
    sent: FloatArray,
    engaged: FloatArray,
    *,
    total_sent: FloatArray | None = None,
    total_engaged: FloatArray | None = None,
    prior_strength: float | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Return the shop-wide rate and the prior strength of each channel.

    The strengths are estimated from the per-customer ``sent`` and ``engaged``
    matrices (a sample of customers is enough). The rates come from
    ``total_sent``/``total_engaged`` (one number per channel, for all customers)
    when given, else from the column sums of the matrices.
    """
    names = tuple(channels)
    sent_counts = np.asarray(sent, dtype=np.float64)
    engaged_counts = np.asarray(engaged, dtype=np.float64)
    _check_counts(names, sent_counts, engaged_counts)
    trials = np.maximum(sent_counts, engaged_counts)
    if total_sent is None or total_engaged is None:
        shop_trials = trials.sum(axis=0)
        shop_successes = engaged_counts.sum(axis=0)
    else:
        shop_successes = np.asarray(total_engaged, dtype=np.float64)
        shop_trials = np.maximum(
            np.asarray(total_sent, dtype=np.float64), shop_successes
        )

    shop_rates = np.full(len(names), UNMEASURED_CHANNEL_RATE)
    strengths = np.full(len(names), DEFAULT_PRIOR_STRENGTH)
    for column in range(len(names)):
        if shop_trials[column] <= 0:
            continue
        mean = float(shop_successes[column] / shop_trials[column])
        shop_rates[column] = mean
        if prior_strength is not None:
            strengths[column] = prior_strength
        else:
            strengths[column] = beta_binomial_strength(
                trials[:, column],
                engaged_counts[:, column],
                mean,
                default=DEFAULT_PRIOR_STRENGTH,
            )
    return shop_rates, strengths


def _check_counts(
    names: tuple[str, ...], sent: FloatArray, engaged: FloatArray
) -> None:
    if len(set(names)) != len(names):
        raise InvalidSummaryInput(f"channels must be distinct, got {names!r}.")
    if sent.ndim != 2 or sent.shape != engaged.shape or sent.shape[1] != len(names):
        raise InvalidSummaryInput(
            f"sent and engaged must both have shape (customers, {len(names)}), got "
            f"{sent.shape} and {engaged.shape}."
        )
    for label, counts in (("sent", sent), ("engaged", engaged)):
        bad = ~np.isfinite(counts) | (counts < 0)
        if bad.any():
            row, column = (int(v[0]) for v in np.nonzero(bad))
            raise InvalidSummaryInput(
                f"{label} counts must be finite and >= 0; customer row {row}, "
                f"channel {names[column]!r} has {counts[row, column]!r}."
            )
