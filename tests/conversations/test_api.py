"""The chat widget's REST API: tokens bound to the visitor cookie, messages, limits."""

import json
import uuid

import pytest
from django.urls import reverse

from omnichannel.conversations import services
from omnichannel.conversations.models import Conversation, Message
from omnichannel.profiles.models import Event, Identity

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_bot(omnichannel_settings):
    omnichannel_settings(CONVERSATION_BOT=None)


def test_start_returns_token_and_first_message(visitor):
    response = visitor.start("Where is my parcel?")

    assert response.status_code == 201
    data = response.json()
    assert len(data["token"]) >= 40
    assert data["conversation"]["status"] == "open"
    assert data["conversation"]["handler"] == "human"
    assert [m["body"] for m in data["messages"]] == ["Where is my parcel?"]
    assert data["messages"][0]["author"] == "customer"


def test_start_binds_conversation_to_visitor_cookie(visitor):
    visitor.start("Hi")

    conversation = Conversation.objects.get()
    cookie = visitor.client.cookies["omni_vid"].value
    assert conversation.visitor_id == cookie
    assert Identity.objects.filter(
        kind="visitor", value=cookie, profile=conversation.profile
    ).exists()


def test_start_stores_only_token_hash(visitor):
    visitor.start("Hi")

    conversation = Conversation.objects.get()
    assert visitor.token not in conversation.token_hash
    assert conversation.token_hash == services.hash_token(visitor.token)


def test_start_records_chat_events(visitor):
    visitor.start("Hi")

    names = sorted(Event.objects.values_list("name", flat=True))
    assert names == ["chat_message", "chat_started"]
    assert all("body" not in e.properties for e in Event.objects.all())


def test_start_without_message_opens_empty_conversation(visitor):
    response = visitor.start(None)

    assert response.status_code == 201
    assert response.json()["messages"] == []


def test_start_for_logged_in_user_uses_their_profile(visitor, django_user_model):
    from omnichannel.profiles.services import identify

    user = django_user_model.objects.create_user("anna", "anna@example.com", "pw")
    profile = identify(user=user, email="anna@example.com")
    visitor.client.force_login(user)

    visitor.start("Hello")

    assert Conversation.objects.get().profile == profile


def test_send_and_fetch_messages_since_id(visitor):
    visitor.start("First")
    first_id = visitor.messages().json()["messages"][0]["id"]

    response = visitor.send("Second")

    assert response.status_code == 201
    assert response.json()["body"] == "Second"
    page = visitor.messages(after=first_id).json()
    assert [m["body"] for m in page["messages"]] == ["Second"]
    assert page["has_more"] is False
    assert page["conversation"]["status"] == "open"


def test_fetch_pages_by_hundred(visitor):
    visitor.start("0")
    conversation = Conversation.objects.get()
    Message.objects.bulk_create(
        Message(conversation=conversation, author="customer", body=str(n))
        for n in range(1, 150)
    )

    first = visitor.messages().json()
    second = visitor.messages(after=first["messages"][-1]["id"]).json()

    assert len(first["messages"]) == 100
    assert first["has_more"] is True
    assert len(second["messages"]) == 50
    assert second["has_more"] is False


def test_fetch_rejects_bad_after(visitor):
    visitor.start("Hi")

    for value in ("abc", "-1", "1.5", str(2**63)):
        response = visitor.messages(after=value)
        assert response.status_code == 400
        assert response.json()["code"] == "invalid"
        assert "after" in response.json()["errors"]


def test_agent_reply_visible_to_visitor(visitor, agent):
    visitor.start("Hi")
    conversation = Conversation.objects.get()

    services.add_agent_reply(conversation, agent, "Hello, Maja here.")

    messages = visitor.messages().json()["messages"]
    assert messages[-1]["author"] == "agent"
    assert messages[-1]["author_name"] == "Maja"
    assert messages[-1]["body"] == "Hello, Maja here."


def test_detail_shows_status(visitor):
    visitor.start("Hi")

    response = visitor.detail()

    assert response.status_code == 200
    assert response.json()["id"] == visitor.conversation_id


def test_missing_token_is_401(visitor):
    visitor.start("Hi")

    response = visitor.client.get(
        reverse("omnichannel:chat_messages", args=[visitor.conversation_id])
    )

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_wrong_token_is_401(visitor):
    visitor.start("Hi")

    response = visitor.messages(token="not-the-token")

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def test_malformed_authorization_header_is_401(visitor):
    visitor.start("Hi")
    url = reverse("omnichannel:chat_messages", args=[visitor.conversation_id])

    response = visitor.client.get(url, HTTP_AUTHORIZATION="Bearer two parts")

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def test_visitor_cannot_read_another_conversation(make_visitor):
    anna, zoe = make_visitor(), make_visitor()
    anna.start("Anna's private question")
    zoe.start("Zoe's question")

    # Zoe uses her own token on Anna's conversation id.
    read = zoe.messages(conversation_id=anna.conversation_id)
    write = zoe.send("injected", conversation_id=anna.conversation_id)
    detail = zoe.detail(conversation_id=anna.conversation_id)

    for response in (read, write, detail):
        assert response.status_code == 404
        assert response.json()["code"] == "conversation_not_found"
        assert "Anna" not in response.content.decode()
    anna_conversation = Conversation.objects.get(uuid=anna.conversation_id)
    assert list(anna_conversation.messages.values_list("body", flat=True)) == [
        "Anna's private question"
    ]


def test_stolen_token_fails_in_another_browser(make_visitor):
    anna, thief = make_visitor(), make_visitor()
    anna.start("Hi")
    thief.client.get(reverse("omnichannel:chat_start"))  # gets its own cookie

    read = thief.messages(conversation_id=anna.conversation_id, token=anna.token)
    write = thief.send(
        "from elsewhere", conversation_id=anna.conversation_id, token=anna.token
    )

    for response in (read, write):
        assert response.status_code == 403
        assert response.json()["code"] == "visitor_mismatch"
    assert Message.objects.count() == 1


def test_token_without_cookie_is_rejected(visitor, make_visitor):
    visitor.start("Hi")
    fresh = make_visitor()

    response = fresh.messages(
        conversation_id=visitor.conversation_id, token=visitor.token
    )

    assert response.status_code == 403
    assert response.json()["code"] == "visitor_mismatch"


def test_unknown_conversation_id_is_404(visitor):
    visitor.start("Hi")

    for conversation_id in (str(uuid.uuid4()), "not-a-uuid"):
        response = visitor.messages(conversation_id=conversation_id)
        assert response.status_code == 404


def test_send_to_closed_conversation_is_409(visitor, agent):
    visitor.start("Hi")
    services.close(Conversation.objects.get(), by=agent)

    response = visitor.send("Still there?")

    assert response.status_code == 409
    assert response.json()["code"] == "conversation_closed"
    assert visitor.messages().status_code == 200


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", "may not be blank"),
        ("   \n\t ", "is empty"),
        ("x" * 2001, "has 2001 characters; the maximum is 2000"),
        ("a\x00b", "Null characters are not allowed"),
        ("a\ud800b", "Surrogate characters are not allowed"),
        (42, "Must be a string"),
        (None, "may not be null"),
    ],
)
def test_send_rejects_bad_body(visitor, body, expected):
    visitor.start("Hi")

    response = visitor.send_raw(json.dumps({"body": body}))

    assert response.status_code == 400
    data = response.json()
    assert data["code"] == "invalid"
    assert list(data["errors"]) == ["body"]
    assert expected in data["errors"]["body"][0]
    assert Message.objects.count() == 1


def test_send_accepts_message_at_max_length(visitor):
    visitor.start("Hi")

    response = visitor.send("y" * 2000)

    assert response.status_code == 201


def test_max_length_is_configurable(visitor, omnichannel_settings):
    omnichannel_settings(CHAT_MESSAGE_MAX_LENGTH=10)
    visitor.start("Hi")

    response = visitor.send("x" * 11)

    assert response.status_code == 400
    assert "maximum is 10" in response.json()["errors"]["body"][0]


def test_start_rejects_too_long_first_message(visitor):
    response = visitor.start("z" * 2001)

    assert response.status_code == 400
    assert "message" in response.json()["errors"]
    assert Conversation.objects.count() == 0


def test_send_strips_control_characters(visitor):
    visitor.start("Hi")

    response = visitor.send("  line one\r\nline\x07 two  ")

    assert response.json()["body"] == "line one\nline two"


def test_script_payload_is_returned_as_plain_text(visitor):
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    visitor.start(payload)

    response = visitor.messages()

    assert response["Content-Type"] == "application/json"
    assert response.json()["messages"][0]["body"] == payload


def test_form_encoded_post_is_rejected(visitor):
    response = visitor.client.post(reverse("omnichannel:chat_start"), {"message": "Hi"})

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert Conversation.objects.count() == 0


def test_malformed_json_is_400(visitor):
    visitor.start("Hi")

    response = visitor.send_raw('{"body": "unterminated')

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_visitor_start_rate_limit(visitor, omnichannel_settings):
    omnichannel_settings(
        CHAT_RATE_LIMITS={"start": {"visitor": "2/hour", "ip": "100/hour"}}
    )

    codes = [visitor.start("Hi").status_code for _ in range(3)]

    assert codes == [201, 201, 429]
    assert Conversation.objects.count() == 2


def test_visitor_message_rate_limit_reports_retry_after(visitor, omnichannel_settings):
    omnichannel_settings(
        CHAT_RATE_LIMITS={"message": {"visitor": "3/min", "ip": "100/min"}}
    )
    visitor.start("Hi")

    codes = [visitor.send(f"m{n}").status_code for n in range(4)]

    assert codes == [201, 201, 201, 429]
    response = visitor.send("again")
    assert response.json()["code"] == "throttled"
    assert 0 < int(response["Retry-After"]) <= 60


def test_ip_rate_limit_spans_visitors(make_visitor, omnichannel_settings):
    omnichannel_settings(
        CHAT_RATE_LIMITS={"start": {"visitor": "10/hour", "ip": "3/hour"}}
    )

    codes = [make_visitor("203.0.113.7").start("Hi").status_code for _ in range(4)]
    other_network = make_visitor("198.51.100.2").start("Hi").status_code

    assert codes == [201, 201, 201, 429]
    assert other_network == 201


def test_forwarded_for_header_does_not_escape_ip_limit(
    make_visitor, omnichannel_settings
):
    omnichannel_settings(
        CHAT_RATE_LIMITS={"start": {"visitor": "10/hour", "ip": "2/hour"}}
    )

    codes = [
        make_visitor("203.0.113.7")
        .start("Hi", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")
        .status_code
        for n in range(3)
    ]

    assert codes == [201, 201, 429]


def test_failed_tokens_count_against_read_limit(visitor, omnichannel_settings):
    omnichannel_settings(
        CHAT_RATE_LIMITS={"read": {"visitor": "3/min", "ip": "100/min"}}
    )
    visitor.start("Hi")

    codes = [visitor.messages(token=f"guess-{n}").status_code for n in range(4)]

    assert codes == [401, 401, 401, 429]


def test_rate_limit_none_means_unlimited(visitor, omnichannel_settings):
    omnichannel_settings(CHAT_RATE_LIMITS={"message": {"visitor": None, "ip": None}})
    visitor.start("Hi")

    codes = {visitor.send(f"m{n}").status_code for n in range(25)}

    assert codes == {201}


def _read_stream(response):
    return b"".join(response.streaming_content).decode()


def test_stream_sends_messages_as_events(visitor, omnichannel_settings):
    omnichannel_settings(CHAT_STREAM_SECONDS=0)
    visitor.start("Hello <b>there</b>")
    visitor.send("Second")
    url = reverse("omnichannel:chat_events", args=[visitor.conversation_id])

    response = visitor.client.get(
        url, {"token": visitor.token}, HTTP_ACCEPT="text/event-stream"
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    body = _read_stream(response)
    events = [block for block in body.split("\n\n") if block.startswith("id:")]
    assert len(events) == 2
    first = json.loads(events[0].split("data: ", 1)[1])
    assert first["body"] == "Hello <b>there</b>"
    assert body.startswith("retry:")


def test_stream_resumes_after_last_event_id(visitor, omnichannel_settings):
    omnichannel_settings(CHAT_STREAM_SECONDS=0)
    visitor.start("One")
    visitor.send("Two")
    first_id = Message.objects.order_by("id").first().pk
    url = reverse("omnichannel:chat_events", args=[visitor.conversation_id])

    response = visitor.client.get(
        url,
        {"token": visitor.token, "after": 0},
        HTTP_ACCEPT="text/event-stream",
        HTTP_LAST_EVENT_ID=str(first_id),
    )

    body = _read_stream(response)
    assert '"body": "Two"' in body
    assert '"body": "One"' not in body


def test_stream_ends_with_closed_event(visitor, agent, omnichannel_settings):
    omnichannel_settings(CHAT_STREAM_SECONDS=30)
    visitor.start("Hi")
    services.close(Conversation.objects.get(), by=agent)
    url = reverse("omnichannel:chat_events", args=[visitor.conversation_id])

    response = visitor.client.get(
        url, {"token": visitor.token}, HTTP_ACCEPT="text/event-stream"
    )

    body = _read_stream(response)
    assert body.rstrip().endswith("event: closed\ndata: {}")


def test_stream_needs_cookie_and_token(visitor, make_visitor):
    visitor.start("Hi")
    url = reverse("omnichannel:chat_events", args=[visitor.conversation_id])
    stranger = make_visitor()

    no_token = visitor.client.get(url, HTTP_ACCEPT="text/event-stream")
    other_browser = stranger.client.get(
        url, {"token": visitor.token}, HTTP_ACCEPT="text/event-stream"
    )

    assert no_token.status_code == 401
    assert other_browser.status_code == 403
    assert other_browser.content.startswith(b"event: error\ndata: ")


def test_token_in_query_is_not_accepted_for_writes(visitor):
    visitor.start("Hi")
    url = reverse("omnichannel:chat_messages", args=[visitor.conversation_id])

    response = visitor.client.post(
        f"{url}?token={visitor.token}", {"body": "x"}, format="json"
    )

    assert response.status_code == 401


def test_schema_documents_chat_endpoints():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)

    paths = schema["paths"]
    assert "/omnichannel/chat/conversations/" in paths
    messages = "/omnichannel/chat/conversations/{conversation_id}/messages/"
    assert set(paths[messages]) >= {"get", "post"}
    assert "/omnichannel/chat/conversations/{conversation_id}/events/" in paths
    assert paths[messages]["post"]["security"] == [{"chatToken": []}]
    scheme = schema["components"]["securitySchemes"]["chatToken"]
    assert scheme["scheme"] == "bearer"
    start = paths["/omnichannel/chat/conversations/"]["post"]
    assert "201" in start["responses"]
    assert "/omnichannel/inbound/email/" in paths
    assert "/omnichannel/customers/{profile_id}/context/" in paths


def test_poll_serializers_declare_model_labels():
    from rest_framework.serializers import ModelSerializer

    from omnichannel.conversations.api import ConversationSerializer, MessageSerializer

    # Declared fields: a ModelSerializer would rebuild them from the model per poll.
    assert not issubclass(MessageSerializer, ModelSerializer)
    assert not issubclass(ConversationSerializer, ModelSerializer)
    message_fields = MessageSerializer().fields
    conversation_fields = ConversationSerializer().fields
    assert message_fields["body"].label == "Text"
    assert message_fields["created_at"].label == "Sent"
    assert conversation_fields["handler"].label == "Answered by"
    assert conversation_fields["closed_at"].allow_null is True
    assert set(conversation_fields["status"].choices) == {"open", "closed"}
