import pytest

from tests.assistant.fake_model import FakeModel


@pytest.fixture(scope="session")
def fake_model_server():
    server = FakeModel().start()
    yield server
    server.stop()


@pytest.fixture
def fake_model(fake_model_server, settings):
    """A scripted chat-completions server, configured as the assistant's model."""
    fake_model_server.play()
    fake_model_server.requests.clear()
    fake_model_server.headers.clear()
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "ASSISTANT": {
            "BASE_URL": fake_model_server.base_url,
            "MODEL": "test-model",
            "API_KEY": "sk-test",
            "TIMEOUT": 0.5,
            "MAX_RETRIES": 2,
            "RETRY_BACKOFF": 0.01,
            "MAX_RETRY_AFTER": 0.2,
        },
    }
    return fake_model_server


@pytest.fixture
def assistant_settings(settings):
    """Return a function that overrides keys of OMNICHANNEL['ASSISTANT']."""

    def override(**values):
        current = settings.OMNICHANNEL.get("ASSISTANT", {})
        settings.OMNICHANNEL = {
            **settings.OMNICHANNEL,
            "ASSISTANT": {**current, **values},
        }

    return override
