"""Routing to the bot or the human queue, and the default FAQ bot."""

import pytest

from omnichannel.conversations import routing, services
from omnichannel.conversations.bots.base import BaseBot, BotReply
from omnichannel.conversations.bots.faq import asks_for_human, best_entry, words
from omnichannel.conversations.models import Conversation, FaqEntry
from tests.factories import ProfileFactory

pytestmark = pytest.mark.django_db

VISITOR = "e" * 32


class EchoBot(BaseBot):
    def reply(self, conversation, message):
        return BotReply(text=f"echo: {message.body}")


class BrokenBot(BaseBot):
    def reply(self, conversation, message):
        raise RuntimeError("model server down")


class NotABot:
    pass


@pytest.fixture
def faq():
    return [
        FaqEntry.objects.create(
            question="How long does delivery take?",
            keywords="delivery, shipping time, how long",
            answer="Parcels arrive in 2 to 3 working days.",
            position=1,
        ),
        FaqEntry.objects.create(
            question="How do I return an item?",
            keywords="return, refund",
            answer="Use the return form in your account within 30 days.",
            position=2,
        ),
        FaqEntry.objects.create(
            question="Damaged goods",
            keywords="damaged, broken",
            answer="Sorry about that! Please send a photo.",
            hand_over=True,
            position=3,
        ),
    ]


def _chat(body, run):
    profile = ProfileFactory()
    with run():
        conversation, _ = services.start_conversation(
            profile, visitor_id=VISITOR, body=body
        )
    conversation.refresh_from_db()
    return conversation


def _bodies(conversation):
    return list(conversation.messages.order_by("id").values_list("author", "body"))


def test_words_fold_case_and_accents():
    assert words("Livraison Détaillée, SHIPPING!") == [
        "livraison",
        "detaillee",
        "shipping",
    ]


def test_best_entry_prefers_longer_phrase(faq):
    assert best_entry("what is the shipping time?", faq) == faq[0]
    assert best_entry("Can I get a refund for returns?", faq) == faq[1]
    assert best_entry("hello there", faq) is None


def test_best_entry_tie_goes_to_lower_position(faq):
    faq[1].keywords = "delivery"
    faq[1].position = 0
    faq[1].save()

    assert best_entry("delivery", faq) == faq[1]


def test_handover_words_match_whole_words_only():
    assert asks_for_human("Can I talk to a human please")
    assert asks_for_human("AGENT")
    assert not asks_for_human("my personal data")
    assert not asks_for_human("humane treatment")


def test_faq_bot_answers_from_table(faq, on_commit):
    conversation = _chat("How long is delivery to Berlin?", on_commit)

    assert _bodies(conversation) == [
        ("customer", "How long is delivery to Berlin?"),
        ("bot", "Parcels arrive in 2 to 3 working days."),
    ]
    assert conversation.handler == "bot"
    assert conversation.waiting_since is None


def test_faq_bot_hands_over_without_match(faq, on_commit):
    conversation = _chat("Do you sell gift cards?", on_commit)

    authors = [author for author, _ in _bodies(conversation)]
    assert authors == ["customer", "bot", "system"]
    assert conversation.handler == "human"
    assert conversation.waiting_since is not None


def test_faq_bot_hands_over_on_request(faq, on_commit):
    conversation = _chat("I want to talk to a person", on_commit)

    assert [a for a, _ in _bodies(conversation)] == ["customer", "system"]
    assert conversation.handler == "human"


def test_faq_entry_can_answer_then_hand_over(faq, on_commit):
    conversation = _chat("My mug arrived broken", on_commit)

    assert _bodies(conversation)[1] == ("bot", "Sorry about that! Please send a photo.")
    assert conversation.handler == "human"
    assert conversation.waiting_since is not None


def test_bot_stops_answering_after_handover(faq, on_commit):
    conversation = _chat("agent please", on_commit)

    with on_commit():
        services.add_customer_message(conversation, "How long is delivery?")

    assert [a for a, _ in _bodies(conversation)] == ["customer", "system", "customer"]


def test_custom_bot_from_settings(omnichannel_settings, on_commit):
    omnichannel_settings(CONVERSATION_BOT=f"{__name__}.EchoBot")

    conversation = _chat("ping", on_commit)

    assert _bodies(conversation)[-1] == ("bot", "echo: ping")


def test_broken_bot_hands_over(omnichannel_settings, on_commit):
    omnichannel_settings(CONVERSATION_BOT=f"{__name__}.BrokenBot")

    conversation = _chat("hello", on_commit)

    assert conversation.handler == "human"
    assert [a for a, _ in _bodies(conversation)] == ["customer", "system"]


def test_no_bot_routes_to_humans(omnichannel_settings, on_commit):
    omnichannel_settings(CONVERSATION_BOT=None)

    conversation = _chat("hello", on_commit)

    assert conversation.handler == "human"
    assert [a for a, _ in _bodies(conversation)] == ["customer"]


def test_bot_only_on_configured_channels(faq, on_commit):
    with on_commit():
        conversation, _ = services.start_conversation(
            ProfileFactory(), channel="email", body="How long is delivery?"
        )

    assert conversation.handler == "human"
    assert [a for a, _ in _bodies(conversation)] == ["customer"]


def test_bot_hands_over_sms_in_chat_conversation(faq, on_commit):
    conversation = _chat("How long is delivery?", on_commit)
    conversation.handler = Conversation.Handler.BOT
    conversation.save()

    with on_commit():
        services.add_customer_message(conversation, "and returns?", channel="sms")

    conversation.refresh_from_db()
    assert conversation.handler == "human"


def test_load_bot_rejects_other_classes(omnichannel_settings):
    from django.core.exceptions import ImproperlyConfigured

    omnichannel_settings(CONVERSATION_BOT=f"{__name__}.NotABot")
    with pytest.raises(ImproperlyConfigured, match="not a subclass"):
        routing.load_bot()

    omnichannel_settings(CONVERSATION_BOT="no.such.Bot")
    with pytest.raises(ImproperlyConfigured, match="cannot be imported"):
        routing.load_bot()
