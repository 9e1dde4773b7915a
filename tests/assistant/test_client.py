"""The model client against a scripted chat-completions server."""

import time

import pytest

from omnichannel.assistant.client import ChatClient, get_client, tokens_used_today
from omnichannel.assistant.exceptions import (
    BudgetExceeded,
    InvalidModelResponse,
    ModelNotConfigured,
    ModelUnavailable,
)
from omnichannel.assistant.models import ModelUsage
from tests.assistant.fake_model import Step, answer, error, slow

pytestmark = pytest.mark.django_db

HELLO = [{"role": "user", "content": "Hello"}]


def test_client_returns_text_and_records_usage(fake_model):
    fake_model.play(answer(" Hi there ", prompt_tokens=12, completion_tokens=3))

    completion = get_client().complete(HELLO, feature="test")

    assert completion.text == "Hi there"
    assert completion.attempts == 1
    usage = ModelUsage.objects.get()
    assert (usage.feature, usage.model) == ("test", "test-model")
    assert (usage.prompt_tokens, usage.completion_tokens) == (12, 3)
    assert usage.outcome == "ok"
    assert fake_model.requests[0]["model"] == "test-model"
    assert fake_model.requests[0]["messages"] == HELLO
    assert fake_model.headers[0]["Authorization"] == "Bearer sk-test"


def test_client_estimates_tokens_without_usage(fake_model):
    fake_model.play(answer("x" * 40))

    get_client().complete([{"role": "user", "content": "y" * 80}], feature="test")

    usage = ModelUsage.objects.get()
    assert usage.prompt_tokens == 20
    assert usage.completion_tokens == 10


def test_client_retries_429_honouring_retry_after(fake_model):
    fake_model.play(error(429, Retry_After="0.15"), answer("ok"))

    started = time.monotonic()
    completion = get_client().complete(HELLO, feature="test")

    assert completion.text == "ok"
    assert completion.attempts == 2
    assert time.monotonic() - started >= 0.15
    assert len(fake_model.requests) == 2


def test_client_retries_5xx_then_succeeds(fake_model):
    fake_model.play(error(500), error(503), answer("third time"))

    completion = get_client().complete(HELLO, feature="test")

    assert completion.text == "third time"
    assert completion.attempts == 3


def test_client_gives_up_after_retries(fake_model):
    fake_model.play(error(502), error(500), error(500), answer("too late"))

    with pytest.raises(ModelUnavailable, match="failed 3 times; last error: HTTP 500"):
        get_client().complete(HELLO, feature="test")

    assert len(fake_model.requests) == 3
    usage = ModelUsage.objects.get()
    assert usage.outcome == "failed"
    assert "HTTP 500" in usage.error


def test_client_does_not_retry_client_errors(fake_model):
    fake_model.play(error(400), answer("never"))

    with pytest.raises(ModelUnavailable, match="HTTP 400"):
        get_client().complete(HELLO, feature="test")

    assert len(fake_model.requests) == 1


def test_client_times_out_slow_answers(fake_model, assistant_settings):
    assistant_settings(TIMEOUT=0.2, MAX_RETRIES=1)
    fake_model.play(slow(0.6), slow(0.6))

    with pytest.raises(ModelUnavailable, match="no answer within 0.2 s"):
        get_client().complete(HELLO, feature="test")

    assert len(fake_model.requests) == 2


def test_client_waits_for_slow_answer_within_timeout(fake_model, assistant_settings):
    assistant_settings(TIMEOUT=2)
    fake_model.play(slow(0.3, "worth the wait"))

    assert get_client().complete(HELLO, feature="test").text == "worth the wait"


def test_client_rejects_answer_without_choices(fake_model):
    fake_model.play(Step(raw=b'{"object": "list", "data": []}'))

    with pytest.raises(InvalidModelResponse, match="choices"):
        get_client().complete(HELLO, feature="test")


def test_client_rejects_body_that_is_not_json(fake_model):
    fake_model.play(Step(raw=b"<html>proxy error</html>"))

    with pytest.raises(InvalidModelResponse, match="not JSON"):
        get_client().complete(HELLO, feature="test")


def test_client_refuses_when_budget_spent(fake_model, assistant_settings):
    assistant_settings(DAILY_TOKEN_BUDGET=100)
    fake_model.play(answer("a", prompt_tokens=90, completion_tokens=10), answer("b"))
    get_client().complete(HELLO, feature="test")

    with pytest.raises(BudgetExceeded, match="DAILY_TOKEN_BUDGET=100"):
        get_client().complete(HELLO, feature="test")

    assert len(fake_model.requests) == 1
    assert tokens_used_today() == 100


def test_client_caps_max_tokens_at_remaining_budget(fake_model, assistant_settings):
    assistant_settings(DAILY_TOKEN_BUDGET=1000, MAX_TOKENS=800)
    fake_model.play(answer("a", prompt_tokens=900, completion_tokens=0), answer("b"))
    client = get_client()
    client.complete(HELLO, feature="test")

    client.complete(HELLO, feature="test")

    assert fake_model.requests[0]["max_tokens"] == 800
    assert fake_model.requests[1]["max_tokens"] == 100


def test_budget_none_means_no_limit(fake_model, assistant_settings):
    assistant_settings(DAILY_TOKEN_BUDGET=None)
    fake_model.play(answer("a", prompt_tokens=10**7, completion_tokens=0), answer("b"))
    get_client().complete(HELLO, feature="test")

    assert get_client().complete(HELLO, feature="test").text == "b"


def test_no_client_without_model(settings):
    settings.OMNICHANNEL = {**settings.OMNICHANNEL, "ASSISTANT": {}}

    assert get_client() is None
    with pytest.raises(ModelNotConfigured, match="BASE_URL and MODEL"):
        ChatClient()


def test_client_reports_refused_connection(assistant_settings, settings):
    settings.OMNICHANNEL = {**settings.OMNICHANNEL, "ASSISTANT": {}}
    # Port 9 (discard) is closed on the test machines, so the connection fails.
    assistant_settings(
        BASE_URL="http://127.0.0.1:9/v1", MODEL="m", MAX_RETRIES=1, RETRY_BACKOFF=0
    )

    with pytest.raises(ModelUnavailable, match="connection failed"):
        get_client().complete(HELLO, feature="test")


def test_usage_admin_lists_requests(client, django_user_model, fake_model):
    fake_model.play(answer("hi", prompt_tokens=3, completion_tokens=2))
    get_client().complete(HELLO, feature="copy_subject")
    client.force_login(
        django_user_model.objects.create_superuser("boss", "b@x.com", "pw")
    )

    page = client.get("/admin/omnichannel/modelusage/")

    assert page.status_code == 200
    assert "copy_subject" in page.content.decode()
