"""Conversation services: the marketing pause, idle closing, routing of answers."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from omnichannel.conversations import services, signals
from omnichannel.conversations.models import Conversation, Message
from omnichannel.exceptions import ConversationClosed, InvalidMessage
from omnichannel.profiles.services import merge_profiles
from tests.factories import ProfileFactory

pytestmark = pytest.mark.django_db

VISITOR = "f" * 32


@pytest.fixture(autouse=True)
def no_bot(omnichannel_settings):
    omnichannel_settings(CONVERSATION_BOT=None)


def test_start_chat_needs_visitor_id():
    with pytest.raises(ValueError, match="visitor cookie"):
        services.start_conversation(ProfileFactory())


def test_start_email_conversation_has_no_token():
    conversation, token = services.start_conversation(
        ProfileFactory(), channel="email", subject="Order"
    )

    assert token == ""
    assert conversation.token_hash == ""
    assert conversation.handler == "human"


def test_two_chats_never_share_token_hash():
    profile = ProfileFactory()
    first, token_one = services.start_conversation(profile, visitor_id=VISITOR)
    second, token_two = services.start_conversation(profile, visitor_id=VISITOR)

    assert token_one != token_two
    assert first.token_hash != second.token_hash
    assert services.conversation_for_token(token_two) == second
    assert services.conversation_for_token("") is None
    assert services.conversation_for_token("x" * 500) is None


def test_has_open_conversation_while_open():
    profile = ProfileFactory()
    assert services.has_open_conversation(profile) is False

    conversation, _ = services.start_conversation(profile, visitor_id=VISITOR)
    assert services.has_open_conversation(profile) is True

    services.close(conversation)
    assert services.has_open_conversation(profile) is False


def test_has_open_conversation_ignores_idle_answered_conversation():
    profile = ProfileFactory()
    conversation, _ = services.start_conversation(profile, visitor_id=VISITOR)
    later = timezone.now() + timedelta(hours=49)

    assert services.has_open_conversation(profile, at=later) is False


def test_has_open_conversation_while_customer_waits():
    profile = ProfileFactory()
    services.start_conversation(profile, visitor_id=VISITOR, body="Help?")
    later = timezone.now() + timedelta(days=10)

    assert services.has_open_conversation(profile, at=later) is True


def test_has_open_conversation_not_before_it_started():
    profile = ProfileFactory()
    services.start_conversation(profile, visitor_id=VISITOR, body="Help?")
    earlier = timezone.now() - timedelta(minutes=5)

    assert services.has_open_conversation(profile, at=earlier) is False


def test_has_open_conversation_follows_merge():
    survivor, loser = ProfileFactory(), ProfileFactory()
    services.start_conversation(loser, visitor_id=VISITOR, body="Hi")

    merge_profiles(survivor, loser)
    loser.refresh_from_db()

    assert services.has_open_conversation(survivor) is True
    assert services.has_open_conversation(loser) is True


def test_marketing_paused_follows_setting(omnichannel_settings):
    profile = ProfileFactory()
    services.start_conversation(profile, visitor_id=VISITOR, body="Hi")
    assert services.marketing_paused(profile) is True

    omnichannel_settings(PAUSE_MARKETING_DURING_CONVERSATION=False)

    assert services.marketing_paused(profile) is False
    assert services.has_open_conversation(profile) is True


def test_close_idle_conversations():
    profile = ProfileFactory()
    idle, _ = services.start_conversation(profile, visitor_id=VISITOR)
    waiting, _ = services.start_conversation(profile, visitor_id=VISITOR, body="?")
    fresh, _ = services.start_conversation(profile, visitor_id=VISITOR)
    old = timezone.now() - timedelta(hours=49)
    Conversation.objects.filter(pk__in=[idle.pk, waiting.pk]).update(
        last_message_at=old
    )

    closed = services.close_idle_conversations()

    assert closed == 1
    statuses = dict(Conversation.objects.values_list("pk", "status"))
    assert statuses == {idle.pk: "closed", waiting.pk: "open", fresh.pk: "open"}
    idle.refresh_from_db()
    assert idle.close_reason == "idle"


def test_customer_message_sets_waiting_since_once():
    profile = ProfileFactory()
    conversation, _ = services.start_conversation(profile, visitor_id=VISITOR)
    first = services.add_customer_message(conversation, "one")
    services.add_customer_message(conversation, "two")

    conversation.refresh_from_db()
    assert conversation.waiting_since == first.created_at


def test_customer_message_to_closed_conversation_raises():
    conversation, _ = services.start_conversation(ProfileFactory(), visitor_id=VISITOR)
    services.close(conversation)

    with pytest.raises(ConversationClosed):
        services.add_customer_message(conversation, "hello?")


def test_clean_body_messages():
    with pytest.raises(InvalidMessage) as error:
        services.clean_body("abc", max_length=2)
    assert error.value.code == "max_length"
    assert error.value.field == "body"
    assert services.clean_body(" a\r\nb ", max_length=5) == "a\nb"


def test_agent_reply_goes_out_where_customer_last_wrote(agent):
    profile = ProfileFactory(email="anna@example.com")
    conversation, _ = services.start_conversation(
        profile, visitor_id=VISITOR, body="chat"
    )
    services.add_customer_message(
        conversation, "by email", channel="email", metadata={"address": profile.email}
    )

    reply = services.add_agent_reply(conversation, agent, "Answer")

    assert reply.channel == "email"
    assert reply.delivery_status == Message.Delivery.PENDING


def test_assign_rejects_user_without_permission(django_user_model, agent):
    conversation, _ = services.start_conversation(ProfileFactory(), visitor_id=VISITOR)
    staff = django_user_model.objects.create_user("s", is_staff=True)

    with pytest.raises(ValueError, match="cannot be assigned"):
        services.assign(conversation, staff, by=agent)

    staff.user_permissions.add(Permission.objects.get(codename="handle_conversation"))
    staff = django_user_model.objects.get(pk=staff.pk)
    assert services.assign(conversation, staff, by=agent) is not None
    assert services.assign(conversation, staff, by=agent) is None


def test_close_twice_adds_one_notice():
    conversation, _ = services.start_conversation(ProfileFactory(), visitor_id=VISITOR)

    services.close(conversation)
    services.close(conversation)

    assert conversation.messages.filter(author="system").count() == 1


def test_signals_sent_after_commit(django_capture_on_commit_callbacks):
    received = []

    def remember(signal_name):
        def handler(sender, **kwargs):
            received.append(signal_name)

        return handler

    handlers = {
        "opened": remember("opened"),
        "message": remember("message"),
        "closed": remember("closed"),
    }
    signals.conversation_opened.connect(handlers["opened"])
    signals.message_created.connect(handlers["message"])
    signals.conversation_closed.connect(handlers["closed"])
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            conversation, _ = services.start_conversation(
                ProfileFactory(), visitor_id=VISITOR, body="Hi"
            )
            services.close(conversation)
        assert received == []
        for callback in callbacks:
            callback()
    finally:
        signals.conversation_opened.disconnect(handlers["opened"])
        signals.message_created.disconnect(handlers["message"])
        signals.conversation_closed.disconnect(handlers["closed"])

    assert received == ["opened", "message", "message", "closed"]


def test_erasure_hook_deletes_conversations():
    profile = ProfileFactory()
    services.start_conversation(profile, visitor_id=VISITOR, body="private")

    deleted = Conversation.gdpr_erase(profile)

    assert deleted == 1
    assert Message.objects.count() == 0
