"""System checks of ``OMNICHANNEL["ASSISTANT"]`` (ids omnichannel.E100-E109, W100)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.core.checks import Error, Warning

from omnichannel.assistant.settings import ASSISTANT_DEFAULTS
from omnichannel.conf import app_settings

SETTING = "OMNICHANNEL['ASSISTANT']"
NUMBERS: dict[str, tuple[type | tuple[type, ...], float, float | None]] = {
    # name -> (types, minimum, maximum)
    "TIMEOUT": ((int, float), 0.001, 600),
    "MAX_RETRIES": (int, 0, 10),
    "RETRY_BACKOFF": ((int, float), 0, 60),
    "MAX_RETRY_AFTER": ((int, float), 0, 600),
    "MAX_TOKENS": (int, 1, None),
    "TEMPERATURE": ((int, float), 0, 2),
    "VARIANT_COUNT": (int, 1, 10),
    "SMS_MAX_SEGMENTS": (int, 1, 10),
    "MCP_MAX_ROWS": (int, 1, 10_000),
}
TEXTS = ("MODEL", "API_KEY", "BRAND_VOICE", "LANGUAGE", "UNSUBSCRIBE_TEXT")


def check_assistant_settings() -> list[Any]:
    options = app_settings.ASSISTANT
    if not isinstance(options, dict):
        return [
            Error(
                f"{SETTING} must be a dict, not {type(options).__name__}.",
                hint='For example {"BASE_URL": "http://127.0.0.1:11434/v1", '
                '"MODEL": "llama3.1"}, or {} to run without a model.',
                id="omnichannel.E100",
            )
        ]
    errors: list[Any] = []
    for name in options:
        if name not in ASSISTANT_DEFAULTS:
            errors.append(
                Warning(
                    f"{SETTING}[{name!r}] is not a known assistant setting and is "
                    "ignored.",
                    hint=f"Known keys: {', '.join(sorted(ASSISTANT_DEFAULTS))}.",
                    id="omnichannel.W100",
                )
            )
    merged = {**ASSISTANT_DEFAULTS, **options}
    errors += _check_endpoint(merged)
    errors += _check_numbers(merged)
    errors += _check_texts(merged)
    errors += _check_budget_and_flags(merged)
    errors += _check_schedule(merged)
    return errors


def _check_endpoint(options: dict[str, Any]) -> list[Any]:
    url = options["BASE_URL"]
    if url is None:
        if options["MODEL"]:
            return [
                Error(
                    f"{SETTING} names MODEL {options['MODEL']!r} but no BASE_URL.",
                    hint="Set BASE_URL to the endpoint's /v1 address, or remove MODEL.",
                    id="omnichannel.E101",
                )
            ]
        return []
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        return [
            Error(
                f"{SETTING}['BASE_URL'] = {url!r} is not an http or https URL.",
                hint="Use the API root, such as 'http://127.0.0.1:11434/v1' (Ollama) "
                "or 'http://127.0.0.1:8000/v1' (vLLM); /chat/completions is added.",
                id="omnichannel.E101",
            )
        ]
    if not options["MODEL"]:
        return [
            Error(
                f"{SETTING} has a BASE_URL but no MODEL.",
                hint="Set MODEL to the name the endpoint serves, such as 'llama3.1'.",
                id="omnichannel.E102",
            )
        ]
    return []


def _check_numbers(options: dict[str, Any]) -> list[Any]:
    errors = []
    for name, (types, low, high) in NUMBERS.items():
        value = options[name]
        bad = isinstance(value, bool) or not isinstance(value, types)
        if not bad:
            bad = value < low or (high is not None and value > high)
        if bad:
            limit = f"from {low:g} to {high:g}" if high is not None else f">= {low:g}"
            errors.append(
                Error(
                    f"{SETTING}[{name!r}] = {value!r} is invalid.",
                    hint=f"Use a number {limit}; the default is "
                    f"{ASSISTANT_DEFAULTS[name]!r}.",
                    id="omnichannel.E103",
                )
            )
    return errors


def _check_texts(options: dict[str, Any]) -> list[Any]:
    errors = []
    for name in TEXTS:
        if not isinstance(options[name], str):
            errors.append(
                Error(
                    f"{SETTING}[{name!r}] must be a string, not "
                    f"{type(options[name]).__name__}.",
                    hint=f"The default is {ASSISTANT_DEFAULTS[name]!r}.",
                    id="omnichannel.E104",
                )
            )
    if (
        isinstance(options["UNSUBSCRIBE_TEXT"], str)
        and not options["UNSUBSCRIBE_TEXT"].strip()
    ):
        errors.append(
            Error(
                f"{SETTING}['UNSUBSCRIBE_TEXT'] is empty, so marketing email "
                "variants would not be checked for an unsubscribe line.",
                hint="Use the word your footers carry, such as 'unsubscribe'.",
                id="omnichannel.E104",
            )
        )
    return errors


def _check_budget_and_flags(options: dict[str, Any]) -> list[Any]:
    errors = []
    budget = options["DAILY_TOKEN_BUDGET"]
    if budget is not None and (
        isinstance(budget, bool) or not isinstance(budget, int) or budget < 1
    ):
        errors.append(
            Error(
                f"{SETTING}['DAILY_TOKEN_BUDGET'] = {budget!r} is invalid.",
                hint="Use a positive number of tokens per UTC day, or None for no "
                "limit.",
                id="omnichannel.E105",
            )
        )
    if not isinstance(options["SEND_CUSTOMER_DATA"], bool):
        errors.append(
            Error(
                f"{SETTING}['SEND_CUSTOMER_DATA'] must be True or False.",
                hint="False (the default) masks personal data before it leaves.",
                id="omnichannel.E106",
            )
        )
    return errors


def _check_schedule(options: dict[str, Any]) -> list[Any]:
    from omnichannel.schedule import parse_crontab

    try:
        parse_crontab(options["INSIGHTS_SCHEDULE"])
    except (TypeError, ValueError) as error:
        return [
            Error(
                f"{SETTING}['INSIGHTS_SCHEDULE'] is invalid: {error}",
                hint="Use five crontab fields, such as '0 6 * * 1' for Mondays 06:00.",
                id="omnichannel.E107",
            )
        ]
    return []
