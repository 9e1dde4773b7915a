"""System checks for the prediction settings (ids omnichannel.E060-E069, W060-W069)."""

from __future__ import annotations

import numbers
from typing import Any

from django.core.checks import Error, Tags, Warning, register

from omnichannel.conf import app_settings


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


@register(Tags.compatibility)
def check_prediction_settings(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    return [
        *_check_thresholds(),
        *_check_discount_rate(),
        *_check_counts(),
        *_check_priors(),
        *_check_schedules(),
    ]


def _check_thresholds() -> list[Any]:
    errors: list[Any] = []
    at_risk = app_settings.PREDICTIONS_AT_RISK_FROM
    churning = app_settings.PREDICTIONS_CHURNING_FROM
    if not (
        _is_number(at_risk) and _is_number(churning) and 0 < at_risk <= churning <= 1
    ):
        errors.append(
            Error(
                f"OMNICHANNEL['PREDICTIONS_AT_RISK_FROM'] = {at_risk!r} and "
                f"['PREDICTIONS_CHURNING_FROM'] = {churning!r} must be churn risks "
                "with 0 < at risk <= churning <= 1.",
                hint="The defaults are 0.5 and 0.8.",
                id="omnichannel.E060",
            )
        )
    thresholds = app_settings.PREDICTIONS_CHURN_RISK_THRESHOLDS
    if not isinstance(thresholds, list | tuple) or not all(
        _is_number(value) and 0 < value <= 1 for value in thresholds
    ):
        errors.append(
            Error(
                f"OMNICHANNEL['PREDICTIONS_CHURN_RISK_THRESHOLDS'] = {thresholds!r} "
                "must be a list of churn risks between 0 (exclusive) and 1.",
                hint="For example [0.5, 0.8]; use [] to send no churn_risk_crossed "
                "signals.",
                id="omnichannel.E061",
            )
        )
    return errors


def _check_discount_rate() -> list[Any]:
    rate = app_settings.PREDICTIONS_ANNUAL_DISCOUNT_RATE
    if not (_is_number(rate) and rate > -1):
        return [
            Error(
                f"OMNICHANNEL['PREDICTIONS_ANNUAL_DISCOUNT_RATE'] = {rate!r} must be "
                "a number greater than -1.",
                hint="Write 10% a year as 0.1.",
                id="omnichannel.E062",
            )
        ]
    if rate > 1:
        return [
            Warning(
                f"OMNICHANNEL['PREDICTIONS_ANNUAL_DISCOUNT_RATE'] = {rate!r} is more "
                "than 100% a year.",
                hint="The rate is a fraction: write 10% a year as 0.1, not 10.",
                id="omnichannel.W060",
            )
        ]
    return []


def _check_counts() -> list[Any]:
    errors: list[Any] = []
    for name in (
        "PREDICTIONS_MIN_CUSTOMERS",
        "PREDICTIONS_MIN_REPEAT_CUSTOMERS",
        "PREDICTIONS_BATCH_SIZE",
        "PREDICTIONS_ENGAGEMENT_DAYS",
    ):
        value = getattr(app_settings, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            errors.append(
                Error(
                    f"OMNICHANNEL[{name!r}] = {value!r} must be a whole number >= 1.",
                    hint="See docs/settings.md for the default.",
                    id="omnichannel.E063",
                )
            )
    penalizer = app_settings.PREDICTIONS_PENALIZER
    if not (_is_number(penalizer) and penalizer >= 0):
        errors.append(
            Error(
                f"OMNICHANNEL['PREDICTIONS_PENALIZER'] = {penalizer!r} must be a "
                "number >= 0.",
                hint="0 fits plain maximum likelihood; try 0.001 to 0.1 on small "
                "shops whose fits do not converge.",
                id="omnichannel.E064",
            )
        )
    return errors


def _check_priors() -> list[Any]:
    strength = app_settings.PREDICTIONS_SEND_TIME_PRIOR_STRENGTH
    if strength is not None and not (_is_number(strength) and strength > 0):
        return [
            Error(
                f"OMNICHANNEL['PREDICTIONS_SEND_TIME_PRIOR_STRENGTH'] = {strength!r} "
                "must be None or a positive number of pseudo-events.",
                hint="None estimates it from the data.",
                id="omnichannel.E065",
            )
        ]
    return []


def _check_schedules() -> list[Any]:
    from omnichannel.schedule import parse_crontab

    errors: list[Any] = []
    for name in ("PREDICTIONS_FIT_SCHEDULE", "PREDICTIONS_SCORE_SCHEDULE"):
        value = getattr(app_settings, name)
        try:
            parse_crontab(value)
        except (ValueError, TypeError) as error:
            errors.append(
                Error(
                    f"OMNICHANNEL[{name!r}] = {value!r} is not a valid crontab "
                    f"expression: {error}",
                    hint='Use five fields, for example "0 2 * * 0" for Sundays at '
                    "02:00.",
                    id="omnichannel.E066",
                )
            )
    return errors
