"""Signals sent by the predictions domain, and the thresholds that trigger them."""

from __future__ import annotations

import logging
import numbers
from collections.abc import Callable, Iterable

from django.dispatch import Signal

from omnichannel.conf import app_settings

logger = logging.getLogger(__name__)

#: Sent when a scoring run moves a profile's churn risk across a threshold (see
#: ``churn_risk_thresholds``), once per threshold crossed, after the batch that
#: stores the new score has been written (and committed, unless the caller has a
#: transaction open). ``current > previous`` means the risk rose; receivers that
#: start win-back journeys should check that. Not sent on a profile's first score
#: (there is no ``previous``) or when the new run has no purchase score for the
#: profile. Sender: ``CustomerPrediction``.
#: Arguments: ``profile`` (Profile), ``previous`` and ``current`` (float, churn
#: risk from 0 to 1), ``threshold`` (float).
churn_risk_crossed = Signal()

_threshold_sources: list[Callable[[], Iterable[float]]] = []


def add_threshold_source(source: Callable[[], Iterable[float]]) -> None:
    """Register a callable that returns more churn-risk thresholds to watch.

    Another domain (journeys, for triggers with their own threshold) registers one
    in its ``ready()``; it is called at the start of every scoring run. Adding the
    same callable twice has no effect.
    """
    if source not in _threshold_sources:
        _threshold_sources.append(source)


def remove_threshold_source(source: Callable[[], Iterable[float]]) -> None:
    """Unregister a callable added with ``add_threshold_source``."""
    if source in _threshold_sources:
        _threshold_sources.remove(source)


def churn_risk_thresholds() -> tuple[float, ...]:
    """Return the sorted thresholds from the setting and every registered source.

    Values that are not numbers in (0, 1] are skipped with a warning.
    """
    candidates: list[object] = list(app_settings.PREDICTIONS_CHURN_RISK_THRESHOLDS)
    for source in _threshold_sources:
        candidates.extend(source())
    thresholds = set()
    for value in candidates:
        if (
            isinstance(value, numbers.Real)
            and not isinstance(value, bool)
            and 0 < float(value) <= 1
        ):
            thresholds.add(float(value))
        else:
            logger.warning("ignoring churn-risk threshold %r: not in (0, 1]", value)
    return tuple(sorted(thresholds))
