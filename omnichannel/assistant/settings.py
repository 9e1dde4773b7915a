"""The ``OMNICHANNEL["ASSISTANT"]`` settings, merged over their defaults."""

from __future__ import annotations

from typing import Any

from omnichannel.conf import app_settings

ASSISTANT_DEFAULTS: dict[str, Any] = {
    # Base URL of an OpenAI-compatible API, such as "http://127.0.0.1:11434/v1"
    # for Ollama; None turns every model feature off.
    "BASE_URL": None,
    "MODEL": "",
    # Sent as "Authorization: Bearer <API_KEY>"; local servers usually need none.
    "API_KEY": "",
    # Seconds to wait for the connection and for the response.
    "TIMEOUT": 30,
    # Further attempts after a timeout, a connection error, 429 or 5xx.
    "MAX_RETRIES": 2,
    # Seconds before the first retry, doubled on each retry.
    "RETRY_BACKOFF": 1.0,
    # Longest wait in seconds honoured from a Retry-After header.
    "MAX_RETRY_AFTER": 30,
    # Prompt and completion tokens allowed per UTC day; None means no limit.
    "DAILY_TOKEN_BUDGET": 200_000,
    "MAX_TOKENS": 800,
    "TEMPERATURE": 0.7,
    # False masks emails, phone numbers, names and addresses before a request
    # leaves, and in the answers of the MCP server.
    "SEND_CUSTOMER_DATA": False,
    # How the shop writes, given to the model with every copy request.
    "BRAND_VOICE": "",
    # Language of generated copy, bot answers and insights (a language name or
    # code the model understands, such as "en" or "German").
    "LANGUAGE": "en",
    "VARIANT_COUNT": 3,
    # Text a marketing email body must contain (matched case-insensitively).
    "UNSUBSCRIBE_TEXT": "unsubscribe",
    # Segments an SMS variant may use when its template sets no limit.
    "SMS_MAX_SEGMENTS": 1,
    # When the weekly insight is written: five crontab fields, celery's time zone.
    "INSIGHTS_SCHEDULE": "0 6 * * 1",
    # Largest number of rows an MCP tool returns in one call.
    "MCP_MAX_ROWS": 200,
}


def assistant_settings() -> dict[str, Any]:
    """Return the assistant settings: the user's keys over the defaults."""
    user = app_settings.ASSISTANT
    merged = dict(ASSISTANT_DEFAULTS)
    if isinstance(user, dict):
        merged.update(user)
    return merged


def setting(name: str) -> Any:
    """Return one assistant setting, such as ``setting("MODEL")``."""
    return assistant_settings()[name]


def model_configured() -> bool:
    """Tell whether a model endpoint is configured."""
    return bool(setting("BASE_URL")) and bool(setting("MODEL"))
