"""A chat bot that replies with facts the app retrieved, phrased by the model.

The app, not the model, looks up the facts: matching FAQ entries and the
conversation's own customer's orders (status from the Event log, delivery from the
shop adapter's ``get_delivery_status``). The model only phrases them. An answer is
discarded, and the conversation handed to a human, when it quotes an order number,
a code, a percentage or an amount that is not in the facts, so the bot cannot invent
an order or a discount. Without a model the bot answers with the FAQ text or a
plain sentence per order.

Select it with ``OMNICHANNEL["CONVERSATION_BOT"]`` set to
``"omnichannel.assistant.bot.AssistantBot"``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from omnichannel.assistant.client import get_client
from omnichannel.assistant.exceptions import AssistantError
from omnichannel.assistant.privacy import mask_text, sends_customer_data
from omnichannel.assistant.settings import setting
from omnichannel.conversations.bots.base import BaseBot, BotReply
from omnichannel.conversations.bots.faq import (
    asks_for_human,
    keyword_score,
    words,
)
from omnichannel.conversations.customer import recent_orders
from omnichannel.conversations.models import Conversation, FaqEntry, Message

logger = logging.getLogger(__name__)

FAQ_FACTS = 3
ORDER_FACTS = 5
# NOTE: an order older than the customer's latest 100 counts as not theirs, so the
# bot hands over instead of answering.
ORDER_LOOKUP = 100
HISTORY_MESSAGES = 6
HANDOVER_TOKEN = "HANDOVER"
# Shorter numbers after "order" are quantities ("order 2 mugs"), not order numbers.
MIN_ORDER_ID_LENGTH = 3
ORDER_WORDS = {"order", "orders", "bestellung", "commande", "pedido", "ordine"}
DELIVERY_WORDS = {
    "delivery",
    "deliver",
    "delivered",
    "shipping",
    "shipped",
    "parcel",
    "package",
    "tracking",
    "status",
    "arrive",
    "where",
}
DISCOUNT_WORDS = {
    "discount",
    "coupon",
    "voucher",
    "promo",
    "promotion",
    "rabatt",
    "gutschein",
    "cheaper",
}
# A token that contains a digit (order numbers, codes like SAVE20) or is written
# in capitals of five or more letters (codes like FREESHIP).
_ID_TOKEN = re.compile(r"(?<![\w-])(?=[\w-]*\d)[A-Za-z0-9][\w-]{2,}(?![\w-])")
_CAPS_TOKEN = re.compile(r"(?<!\w)[A-Z][A-Z0-9]{4,}(?!\w)")
_PERCENT = re.compile(r"\d+(?:[.,]\d+)?\s?%")
_AMOUNT = re.compile(
    r"(?:[$€£]\s?\d+(?:[.,]\d+)?|\d+(?:[.,]\d+)?\s?(?:EUR|USD|GBP|[$€£]))"
)
# A number the customer writes after "order" or "#": the order they ask about.
_ORDER_REFERENCE = re.compile(
    r"(?:order|#|no\.?|number)\s*#?\s*([A-Za-z0-9-]*\d[A-Za-z0-9-]*)", re.I
)


@dataclass
class Facts:
    """What the app found for one message: the only things an answer may state."""

    faq: list[FaqEntry] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    requested_order_ids: list[str] = field(default_factory=list)
    foreign_order_ids: list[str] = field(default_factory=list)
    asks_discount: bool = False
    asks_orders: bool = False

    def as_text(self) -> str:
        lines = []
        for entry in self.faq:
            lines.append(f"FAQ: {entry.question}\nAnswer: {entry.answer}")
        for order in self.orders:
            lines.append(order_sentence(order))
        return "\n\n".join(lines)


def order_sentence(order: dict[str, Any]) -> str:
    """Describe one order in one plain sentence (the answer without a model)."""
    total = order["total"]
    placed = order["placed_at"].strftime("%Y-%m-%d") if order.get("placed_at") else ""
    text = _(
        "Order %(id)s, placed on %(date)s for %(amount)s %(currency)s, is %(status)s."
    ) % {
        "id": order["order_id"],
        "date": placed,
        "amount": total["amount"],
        "currency": total["currency"],
        "status": order["status"],
    }
    delivery = order.get("delivery")
    if isinstance(delivery, dict) and delivery:
        details = ", ".join(
            f"{key.replace('_', ' ')}: {value}" for key, value in delivery.items()
        )
        text += " " + _("Delivery: %(details)s.") % {"details": details}
    return text


def _order_adapter() -> Any:
    from omnichannel.integrations.base import OrderAdapter
    from omnichannel.integrations.registry import configured_adapters

    for adapter in configured_adapters().values():
        if isinstance(adapter, OrderAdapter):
            return adapter
    return None


def gather_facts(conversation: Conversation, text: str) -> Facts:
    """Look up the FAQ entries and the customer's own orders that ``text`` needs."""
    message_words = words(text)
    word_set = set(message_words)
    facts = Facts(asks_discount=bool(word_set & DISCOUNT_WORDS))

    scored = []
    for entry in FaqEntry.objects.filter(is_active=True):
        score = sum(keyword_score(k, message_words) for k in entry.keyword_list())
        if score:
            scored.append((-score, entry.position, entry.pk, entry))
    facts.faq = [
        item[3] for item in sorted(scored, key=lambda item: item[:3])[:FAQ_FACTS]
    ]

    facts.requested_order_ids = [
        match.group(1)
        for match in _ORDER_REFERENCE.finditer(text)
        if len(match.group(1)) >= MIN_ORDER_ID_LENGTH
    ]
    facts.asks_orders = bool(word_set & ORDER_WORDS) or bool(
        word_set & DELIVERY_WORDS and not facts.faq
    )
    if not (facts.asks_orders or facts.requested_order_ids):
        return facts

    # A number the customer names is looked for among more orders than the latest
    # few that answer "where is my order?".
    count = ORDER_LOOKUP if facts.requested_order_ids else ORDER_FACTS
    own = recent_orders(conversation.profile, count=count)
    own_ids = {order["order_id"].casefold() for order in own}
    facts.foreign_order_ids = [
        order_id
        for order_id in facts.requested_order_ids
        if order_id.casefold() not in own_ids
    ]
    if facts.requested_order_ids:
        requested = {order_id.casefold() for order_id in facts.requested_order_ids}
        own = [order for order in own if order["order_id"].casefold() in requested]
    adapter = _order_adapter()
    for order in own:
        if adapter is not None:
            try:
                order["delivery"] = adapter.get_delivery_status(order["order_id"])
            except Exception:  # noqa: BLE001 - a broken hook must not stop the reply
                logger.exception(
                    "get_delivery_status failed for order %s", order["order_id"]
                )
    facts.orders = own
    return facts


def invented_tokens(answer: str, facts_text: str) -> list[str]:
    """Return the order numbers, codes, percentages and amounts of ``answer`` that
    are not in ``facts_text``."""
    haystack = facts_text.casefold()
    compact = re.sub(r"\s", "", haystack)
    found = []
    for pattern in (_ID_TOKEN, _CAPS_TOKEN):
        for token in pattern.findall(answer):
            if token.casefold() not in haystack:
                found.append(token)
    for pattern in (_PERCENT, _AMOUNT):
        for token in pattern.findall(answer):
            number = re.sub(r"[^\d.,]", "", token)
            if (
                re.sub(r"\s", "", token).casefold() not in compact
                and number not in haystack
            ):
                found.append(token)
    return sorted(set(found))


class AssistantBot(BaseBot):
    """Bot that answers from the FAQ table and the customer's own orders."""

    def reply(self, conversation: Conversation, message: Message) -> BotReply:
        text = message.body
        if asks_for_human(text):
            return BotReply(hand_over=True)
        facts = gather_facts(conversation, text)

        if facts.foreign_order_ids:
            return BotReply(
                text=_(
                    "I can only look up orders placed with your account, and I cannot "
                    "find that order number there. A colleague will take over."
                ),
                hand_over=True,
            )
        if facts.asks_discount and not facts.faq:
            return BotReply(
                text=_(
                    "I cannot create or hand out discount codes in this chat. A "
                    "colleague will take over."
                ),
                hand_over=True,
            )
        if facts.asks_orders and not facts.orders and not facts.faq:
            return BotReply(
                text=_(
                    "I could not find any orders on your account. A colleague will "
                    "take over."
                ),
                hand_over=True,
            )
        if not facts.faq and not facts.orders:
            return BotReply(
                text=_("I could not find an answer to that."), hand_over=True
            )

        client = get_client()
        if client is not None:
            answer = self._model_answer(client, conversation, message, facts)
            if answer is not None:
                return answer
        return self._plain_answer(facts)

    def _plain_answer(self, facts: Facts) -> BotReply:
        if facts.orders:
            return BotReply(
                text="\n".join(order_sentence(order) for order in facts.orders)
            )
        entry = facts.faq[0]
        return BotReply(text=entry.answer, hand_over=entry.hand_over)

    def _model_answer(
        self, client: Any, conversation: Conversation, message: Message, facts: Facts
    ) -> BotReply | None:
        known = self._personal_values(conversation)
        facts_text = facts.as_text()
        system = "\n".join(
            line
            for line in (
                "You are the customer service assistant of a shop.",
                f"Brand voice: {setting('BRAND_VOICE')}"
                if setting("BRAND_VOICE")
                else "",
                f"Answer in this language: {setting('LANGUAGE')}, unless the customer "
                "writes in another language.",
                "Answer only with the facts below, in two or three sentences. Never "
                "mention an order, code, discount, price or date that is not in the "
                "facts. If the facts do not answer the question, reply "
                f"{HANDOVER_TOKEN}.",
                "Facts:",
                # The facts are the shop's FAQ text and order data: only the
                # customer's own names and address are masked in them.
                mask_text(facts_text, known, patterns=False),
            )
            if line
        )
        messages = [{"role": "system", "content": system}]
        for earlier in self._history(conversation, message):
            role = "user" if earlier.author == Message.Author.CUSTOMER else "assistant"
            messages.append({"role": role, "content": mask_text(earlier.body, known)})
        messages.append({"role": "user", "content": mask_text(message.body, known)})
        try:
            completion = client.complete(messages, feature="chat_bot", temperature=0.2)
        except AssistantError as error:
            logger.warning(
                "chat bot reply in conversation %s fell back to the path "
                "without a model: %s",
                conversation.pk,
                error,
            )
            return None

        answer = completion.text.strip()
        if not answer or HANDOVER_TOKEN in answer:
            return BotReply(hand_over=True)
        invented = invented_tokens(answer, facts_text)
        if invented:
            logger.warning(
                "discarded a model answer in conversation %s: "
                "%d value(s) not in the facts",
                conversation.pk,
                len(invented),
            )
            return BotReply(hand_over=True)
        hand_over = any(entry.hand_over for entry in facts.faq[:1])
        return BotReply(text=answer, hand_over=hand_over)

    def _history(self, conversation: Conversation, message: Message) -> list[Message]:
        earlier = (
            conversation.messages.exclude(pk=message.pk)
            .filter(author__in=[Message.Author.CUSTOMER, Message.Author.BOT])
            .order_by("-created_at", "-id")[:HISTORY_MESSAGES]
        )
        return list(reversed(earlier))

    def _personal_values(self, conversation: Conversation) -> list[str]:
        if sends_customer_data():
            return []
        profile = conversation.profile
        values = [profile.first_name, profile.last_name]
        attributes = profile.attributes if isinstance(profile.attributes, dict) else {}
        for key in ("address", "street", "city", "postcode", "zip"):
            if isinstance(attributes.get(key), str):
                values.append(attributes[key])
        return [v for v in values if v]
