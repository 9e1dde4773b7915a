"""Errors of the assistant; each also subclasses the built-in it resembles."""

from __future__ import annotations

from omnichannel.exceptions import OmnichannelError


class AssistantError(OmnichannelError):
    """Base class of the assistant's errors."""


class ModelNotConfigured(AssistantError, RuntimeError):
    """No model is configured: ``OMNICHANNEL["ASSISTANT"]`` lacks BASE_URL or MODEL."""


class ModelUnavailable(AssistantError, ConnectionError):
    """The model endpoint failed, timed out or kept refusing after every retry."""


class BudgetExceeded(AssistantError, RuntimeError):
    """Today's token budget (``DAILY_TOKEN_BUDGET``) is spent."""


class InvalidModelResponse(AssistantError, ValueError):
    """The endpoint answered, but not in the chat-completions format expected."""


class InvalidRequest(AssistantError, ValueError):
    """A caller passed a bad value; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
