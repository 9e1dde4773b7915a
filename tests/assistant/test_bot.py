"""The grounded chat bot: FAQ and own orders, hand-over, and nothing invented."""

from decimal import Decimal

import pytest
from django.utils import timezone

from omnichannel.assistant.bot import invented_tokens
from omnichannel.conversations import services
from omnichannel.conversations.models import FaqEntry
from tests.assistant.fake_model import answer, error
from tests.factories import EventFactory, OrderEventFactory, ProfileFactory

pytestmark = pytest.mark.django_db

VISITOR = "a" * 32
BOT = "omnichannel.assistant.bot.AssistantBot"


@pytest.fixture(autouse=True)
def assistant_bot(settings):
    settings.OMNICHANNEL = {
        **settings.OMNICHANNEL,
        "CONVERSATION_BOT": BOT,
        "SHOP_ADAPTERS": {
            "handmade.Order": "tests.assistant.adapters.ShippingOrderAdapter"
        },
    }


@pytest.fixture
def faq():
    return [
        FaqEntry.objects.create(
            question="How long does delivery take?",
            keywords="delivery time, how long, shipping time",
            answer="Parcels arrive in 2 to 3 working days.",
        ),
        FaqEntry.objects.create(
            question="Can I return an item?",
            keywords="return, refund",
            answer="Returns are free within 30 days.",
        ),
    ]


@pytest.fixture
def customer():
    profile = ProfileFactory(
        first_name="Anna", last_name="Lee", email="anna@example.com"
    )
    placed = timezone.now() - timezone.timedelta(days=2)
    OrderEventFactory(
        profile=profile,
        object_id="1001",
        revenue=Decimal("59.90"),
        occurred_at=placed,
        properties={"lines": [{"sku": "MUG", "name": "Mug", "quantity": 2}]},
    )
    EventFactory(
        profile=profile, name="order_paid", object_type="order", object_id="1001"
    )
    return profile


@pytest.fixture
def stranger():
    profile = ProfileFactory(first_name="Bob")
    OrderEventFactory(profile=profile, object_id="2002", revenue=Decimal("480.00"))
    return profile


def chat(profile, body, on_commit):
    with on_commit():
        conversation, _ = services.start_conversation(
            profile, visitor_id=VISITOR, body=body
        )
    conversation.refresh_from_db()
    return conversation


def replies(conversation):
    return list(
        conversation.messages.exclude(author="customer")
        .order_by("id")
        .values_list("author", "body")
    )


def test_bot_without_model_answers_from_faq(faq, customer, on_commit, settings):
    conversation = chat(customer, "What is the delivery time to Vienna?", on_commit)

    assert replies(conversation) == [("bot", "Parcels arrive in 2 to 3 working days.")]
    assert conversation.handler == "bot"


def test_bot_without_model_reports_own_order(customer, on_commit):
    conversation = chat(customer, "Where is my order 1001?", on_commit)

    [(author, body)] = replies(conversation)
    assert author == "bot"
    assert "Order 1001" in body
    assert "59.90 EUR" in body
    assert "is paid" in body
    assert "carrier: DHL" in body
    assert "expected on: 2026-12-08" in body


def test_bot_lists_recent_orders_when_no_number_given(customer, on_commit):
    conversation = chat(customer, "What is the status of my order?", on_commit)

    assert "Order 1001" in replies(conversation)[0][1]


def test_bot_refuses_another_customers_order(customer, stranger, fake_model, on_commit):
    fake_model.play(answer("Order 2002 for 480.00 EUR is on its way."))

    conversation = chat(customer, "What is the status of order 2002?", on_commit)

    text = " ".join(body for _author, body in replies(conversation))
    assert "2002" not in text.replace("that order number", "")
    assert "480" not in text
    assert "only look up orders placed with your account" in text
    assert conversation.handler == "human"
    assert fake_model.requests == []


def test_bot_reads_small_number_as_quantity(customer, on_commit):
    conversation = chat(customer, "Can I order 2 more like my last order?", on_commit)

    assert "Order 1001" in replies(conversation)[0][1]


def test_bot_gives_no_discount_without_model(customer, on_commit, settings):
    conversation = chat(customer, "Can I get a discount code please?", on_commit)

    text = " ".join(body for _author, body in replies(conversation))
    assert "cannot create or hand out discount codes" in text
    assert conversation.handler == "human"


def test_bot_discards_discount_the_model_invents(faq, customer, fake_model, on_commit):
    # The FAQ matches "return", so the model is asked; it invents a code.
    fake_model.play(
        answer("Returns are free. Use code SAVE20 for 20% off your next order!")
    )

    conversation = chat(customer, "Do I get a discount on a return?", on_commit)

    text = " ".join(body for _author, body in replies(conversation))
    assert "SAVE20" not in text
    assert "20%" not in text
    assert conversation.handler == "human"
    assert len(fake_model.requests) == 1


def test_bot_discards_invented_order_number(customer, fake_model, on_commit):
    fake_model.play(answer("Your order 1001 and your order 1002 have both shipped."))

    conversation = chat(customer, "Where is my order?", on_commit)

    text = " ".join(body for _author, body in replies(conversation))
    assert "1002" not in text
    assert conversation.handler == "human"


def test_bot_sends_model_answer_grounded_in_facts(customer, fake_model, on_commit):
    fake_model.play(
        answer("Good news: order 1001 is paid and ships with DHL, due 2026-12-08.")
    )

    conversation = chat(customer, "Where is my order 1001?", on_commit)

    assert replies(conversation) == [
        ("bot", "Good news: order 1001 is paid and ships with DHL, due 2026-12-08.")
    ]
    assert conversation.handler == "bot"
    prompt = fake_model.prompt_text()
    assert "Order 1001, placed on" in prompt
    assert "carrier: DHL" in prompt


def test_bot_masks_personal_data_in_prompt(customer, fake_model, on_commit):
    fake_model.play(answer("Order 1001 is paid."))

    chat(
        customer,
        "I am Anna Lee, anna@example.com, +43 660 1234567: order 1001?",
        on_commit,
    )

    prompt = fake_model.prompt_text()
    assert "anna@example.com" not in prompt
    assert "1234567" not in prompt
    assert "Anna" not in prompt
    assert "[name]" in prompt


def test_bot_keeps_shop_contact_in_facts(customer, fake_model, on_commit):
    FaqEntry.objects.create(
        question="How do I reach you?",
        keywords="contact, reach",
        answer="Write to help@shop.example or call +49 30 9876543.",
    )
    fake_model.play(answer("Write to help@shop.example or call +49 30 9876543."))

    conversation = chat(
        customer, "How can I contact you? I am anna@example.com", on_commit
    )

    prompt = fake_model.prompt_text()
    assert "help@shop.example" in prompt
    assert "anna@example.com" not in prompt
    assert replies(conversation) == [
        ("bot", "Write to help@shop.example or call +49 30 9876543.")
    ]


def test_bot_sends_personal_data_when_allowed(
    customer, fake_model, assistant_settings, on_commit
):
    assistant_settings(SEND_CUSTOMER_DATA=True)
    fake_model.play(answer("Order 1001 is paid."))

    chat(customer, "I am Anna, anna@example.com: order 1001?", on_commit)

    assert "anna@example.com" in fake_model.prompt_text()


def test_bot_hands_over_when_model_is_unsure(faq, customer, fake_model, on_commit):
    fake_model.play(answer("HANDOVER"))

    conversation = chat(customer, "How long does delivery take for a sofa?", on_commit)

    assert conversation.handler == "human"
    assert [a for a, _b in replies(conversation)] == ["system"]


def test_bot_falls_back_to_faq_when_model_fails(faq, customer, fake_model, on_commit):
    fake_model.play(error(503), error(503), error(503))

    conversation = chat(customer, "How long does delivery take?", on_commit)

    assert replies(conversation) == [("bot", "Parcels arrive in 2 to 3 working days.")]


def test_bot_hands_over_when_asked(faq, customer, fake_model, on_commit):
    conversation = chat(customer, "I want to talk to a human", on_commit)

    assert conversation.handler == "human"
    assert fake_model.requests == []


def test_bot_hands_over_without_facts(faq, customer, fake_model, on_commit):
    conversation = chat(customer, "Do you sell gift cards?", on_commit)

    assert conversation.handler == "human"
    assert fake_model.requests == []


def test_bot_hands_over_when_customer_has_no_orders(on_commit):
    conversation = chat(ProfileFactory(), "Where is my order?", on_commit)

    assert "could not find any orders" in replies(conversation)[0][1]
    assert conversation.handler == "human"


def test_invented_tokens_allow_facts_only():
    facts = (
        "Order 1001, placed on 2026-12-01 for 59.90 EUR, is paid. "
        "Free returns: 30 days."
    )

    assert invented_tokens("Order 1001 is paid (59.90 EUR).", facts) == []
    assert invented_tokens("Use FREESHIP or WELCOME10.", facts) == [
        "FREESHIP",
        "WELCOME10",
    ]
    assert invented_tokens("You get 15% off.", facts) == ["15%"]
    assert invented_tokens("That is €12.50 back.", facts) == ["€12.50"]
