"""The model client: one interface over any OpenAI-compatible chat-completions API.

``get_client()`` returns a :class:`ChatClient` built from ``OMNICHANNEL["ASSISTANT"]``,
or None when no model is configured, which every feature treats as "use the path
without a model". A request is rejected before it is sent when today's token budget
is spent; every request, successful or failed, is stored as a ``ModelUsage`` row.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
from django.db.models import F, Sum

from omnichannel.assistant.exceptions import (
    BudgetExceeded,
    InvalidModelResponse,
    ModelNotConfigured,
    ModelUnavailable,
)
from omnichannel.assistant.models import ModelUsage
from omnichannel.assistant.settings import assistant_settings, model_configured

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Used to estimate tokens when an endpoint leaves ``usage`` out of its answer.
CHARACTERS_PER_TOKEN = 4


@dataclass(frozen=True)
class Completion:
    """The text of a model's answer and what it cost."""

    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    attempts: int


def utc_today() -> Any:
    return datetime.now(UTC).date()


def tokens_used_today() -> int:
    """Return the prompt and completion tokens spent since midnight UTC."""
    total = ModelUsage.objects.filter(day=utc_today()).aggregate(
        total=Sum(F("prompt_tokens") + F("completion_tokens"))
    )["total"]
    return int(total or 0)


def remaining_budget() -> int | None:
    """Return the tokens left today, or None when there is no daily limit."""
    budget = assistant_settings()["DAILY_TOKEN_BUDGET"]
    if budget is None:
        return None
    return max(0, int(budget) - tokens_used_today())


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // CHARACTERS_PER_TOKEN)


class ChatClient:
    """Send chat messages to the configured endpoint and return the answer.

    Timeouts, connection errors, 429 and 5xx answers are retried ``MAX_RETRIES``
    times with exponential back-off, honouring ``Retry-After`` up to
    ``MAX_RETRY_AFTER`` seconds. Other 4xx answers fail at once.
    """

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self.options = options or assistant_settings()
        if not self.options.get("BASE_URL") or not self.options.get("MODEL"):
            raise ModelNotConfigured(
                "OMNICHANNEL['ASSISTANT'] needs BASE_URL and MODEL to use a model."
            )
        self.url = str(self.options["BASE_URL"]).rstrip("/") + "/chat/completions"
        self.model = str(self.options["MODEL"])
        self.session = requests.Session()

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        feature: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Completion:
        """Return the model's answer to ``messages``; ``feature`` labels the usage row.

        Raise BudgetExceeded before sending when today's budget is spent,
        ModelUnavailable after the last failed attempt, and InvalidModelResponse
        when the answer is not a chat completion.
        """
        max_tokens = int(max_tokens or self.options["MAX_TOKENS"])
        left = remaining_budget()
        if left is not None and left <= 0:
            raise BudgetExceeded(
                "Today's model token budget is spent "
                f"(DAILY_TOKEN_BUDGET={self.options['DAILY_TOKEN_BUDGET']}); "
                "features fall back to their paths without a model until midnight UTC."
            )
        if left is not None:
            # NOTE: two requests running at once can both pass this check, so the
            # budget can be exceeded by at most one answer per concurrent request.
            max_tokens = min(max_tokens, left)
        body = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": (
                self.options["TEMPERATURE"] if temperature is None else temperature
            ),
            "stream": False,
        }
        started = time.monotonic()
        try:
            data, attempts = self._post(body)
            completion = self._parse(data, messages, attempts)
        except (ModelUnavailable, InvalidModelResponse) as error:
            self._record_failure(feature, started, error)
            raise
        self._record(feature, started, completion)
        return completion

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.options.get("API_KEY"):
            headers["Authorization"] = f"Bearer {self.options['API_KEY']}"
        return headers

    def _post(self, body: dict[str, Any]) -> tuple[Any, int]:
        retries = int(self.options["MAX_RETRIES"])
        timeout = float(self.options["TIMEOUT"])
        last_error = ""
        for attempt in range(1, retries + 2):
            retry_after = None
            try:
                response = self.session.post(
                    self.url, json=body, headers=self._headers(), timeout=timeout
                )
            except requests.Timeout:
                last_error = f"no answer within {timeout:g} s"
            except requests.ConnectionError as error:
                last_error = f"connection failed: {type(error).__name__}"
            else:
                if response.status_code == 200:
                    try:
                        return response.json(), attempt
                    except ValueError:
                        raise InvalidModelResponse(
                            f"{self.url} responded 200 with a body that is not JSON."
                        ) from None
                if response.status_code not in RETRY_STATUSES:
                    raise ModelUnavailable(
                        f"{self.url} responded with HTTP {response.status_code}: "
                        f"{response.text[:200]}"
                    )
                last_error = f"HTTP {response.status_code}"
                retry_after = self._retry_after(response)
            if attempt <= retries:
                delay = float(self.options["RETRY_BACKOFF"]) * 2 ** (attempt - 1)
                if retry_after is not None:
                    delay = max(delay, retry_after)
                logger.warning(
                    "model request failed (%s), attempt %d of %d; retrying in %.2f s",
                    last_error,
                    attempt,
                    retries + 1,
                    delay,
                )
                time.sleep(delay)
        raise ModelUnavailable(
            f"The model at {self.url} failed {retries + 1} times; last error: "
            f"{last_error}."
        )

    def _retry_after(self, response: requests.Response) -> float | None:
        value = response.headers.get("Retry-After", "")
        try:
            seconds = float(value)
        except ValueError:
            return None
        return min(max(seconds, 0.0), float(self.options["MAX_RETRY_AFTER"]))

    def _parse(
        self, data: Any, messages: list[dict[str, str]], attempts: int
    ) -> Completion:
        try:
            text = data["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise InvalidModelResponse(
                f"{self.url} responded without choices[0].message.content; is it an "
                "OpenAI-compatible chat-completions endpoint?"
            ) from None
        if not isinstance(text, str):
            raise InvalidModelResponse("The model's message content is not text.")
        usage = data.get("usage") if isinstance(data, dict) else None
        usage = usage if isinstance(usage, dict) else {}
        prompt = usage.get("prompt_tokens")
        if not isinstance(prompt, int):
            prompt = _estimate_tokens("".join(m.get("content", "") for m in messages))
        answer = usage.get("completion_tokens")
        if not isinstance(answer, int):
            answer = _estimate_tokens(text)
        return Completion(
            text=text.strip(),
            model=str(data.get("model") or self.model),
            prompt_tokens=max(0, prompt),
            completion_tokens=max(0, answer),
            attempts=attempts,
        )

    def _record(self, feature: str, started: float, completion: Completion) -> None:
        ModelUsage.objects.create(
            day=utc_today(),
            feature=feature[:32],
            model=completion.model[:200],
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            attempts=completion.attempts,
            duration_ms=int((time.monotonic() - started) * 1000),
        )

    def _record_failure(self, feature: str, started: float, error: Exception) -> None:
        logger.warning("model request for %s failed: %s", feature, error)
        ModelUsage.objects.create(
            day=utc_today(),
            feature=feature[:32],
            model=self.model[:200],
            outcome=ModelUsage.Outcome.FAILED,
            error=str(error)[:300],
            duration_ms=int((time.monotonic() - started) * 1000),
        )


def get_client() -> ChatClient | None:
    """Return a client for the configured model, or None when none is configured."""
    if not model_configured():
        return None
    return ChatClient()
