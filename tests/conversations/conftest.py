import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.urls import reverse
from rest_framework.test import APIClient


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Rate-limit counts live in the cache; each test starts from zero."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def omnichannel_settings(settings):
    """Return a function that overrides keys of the OMNICHANNEL setting."""

    def override(**values):
        settings.OMNICHANNEL = {**settings.OMNICHANNEL, **values}

    return override


@pytest.fixture
def agent(django_user_model):
    user = django_user_model.objects.create_user(
        "maja", "maja@example.com", "pw", is_staff=True, first_name="Maja"
    )
    user.user_permissions.add(Permission.objects.get(codename="handle_conversation"))
    return user


@pytest.fixture
def agent_client(client, agent):
    client.force_login(agent)
    return client


class Visitor:
    """One browser: an API client with its own visitor cookie."""

    def __init__(self, remote_addr="127.0.0.1"):
        self.client = APIClient(REMOTE_ADDR=remote_addr)
        self.token = None
        self.conversation_id = None

    def start(self, message="Hello", **extra):
        data = {} if message is None else {"message": message}
        response = self.client.post(
            reverse("omnichannel:chat_start"), data, format="json", **extra
        )
        if response.status_code == 201:
            self.token = response.json()["token"]
            self.conversation_id = response.json()["conversation"]["id"]
        return response

    def auth(self, token=None):
        token = token or self.token
        return {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}

    def send(self, body, *, conversation_id=None, token=None):
        url = reverse(
            "omnichannel:chat_messages",
            args=[conversation_id or self.conversation_id],
        )
        return self.client.post(url, {"body": body}, format="json", **self.auth(token))

    def send_raw(self, payload):
        """Post a JSON document as text, so lone surrogates arrive escaped."""
        url = reverse("omnichannel:chat_messages", args=[self.conversation_id])
        return self.client.post(
            url, data=payload, content_type="application/json", **self.auth()
        )

    def messages(self, after=None, *, conversation_id=None, token=None):
        url = reverse(
            "omnichannel:chat_messages",
            args=[conversation_id or self.conversation_id],
        )
        query = {} if after is None else {"after": after}
        return self.client.get(url, query, **self.auth(token))

    def detail(self, *, conversation_id=None, token=None):
        url = reverse(
            "omnichannel:chat_conversation",
            args=[conversation_id or self.conversation_id],
        )
        return self.client.get(url, **self.auth(token))


@pytest.fixture
def visitor():
    return Visitor()


@pytest.fixture
def make_visitor():
    return Visitor
