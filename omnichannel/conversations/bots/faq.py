"""The default bot: replies from the FAQ table and hands over to a human.

It replies with the FAQ entry whose keywords match the message best. It hands over
when the customer requests a person (``CONVERSATION_HANDOVER_KEYWORDS``), when no
entry matches, or after an entry marked "hand over after answering".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from django.utils.translation import gettext_lazy as _

from omnichannel.conf import app_settings
from omnichannel.conversations.bots.base import BaseBot, BotReply
from omnichannel.conversations.models import Conversation, FaqEntry, Message

_WORD = re.compile(r"\w+")
# Words this long also match longer forms: "return" matches "returns".
PREFIX_MATCH_LENGTH = 4


def words(text: str) -> list[str]:
    """Return the words of ``text`` case-folded and without accents."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _WORD.findall(plain)


def _word_matches(
    keyword_word: str, message_words: Iterable[str], *, prefix: bool
) -> bool:
    for word in message_words:
        if word == keyword_word:
            return True
        if (
            prefix
            and len(keyword_word) >= PREFIX_MATCH_LENGTH
            and word.startswith(keyword_word)
        ):
            return True
    return False


def keyword_score(
    keyword: str, message_words: list[str], *, prefix: bool = True
) -> int:
    """Return the number of words in ``keyword`` when all of them are in the
    message, else 0; a longer matching phrase weighs more. With ``prefix`` off,
    only whole words match."""
    keyword_words = words(keyword)
    if not keyword_words:
        return 0
    if all(_word_matches(word, message_words, prefix=prefix) for word in keyword_words):
        return len(keyword_words)
    return 0


def best_entry(text: str, entries: Iterable[FaqEntry]) -> FaqEntry | None:
    """Return the entry with the highest keyword score; the lower position wins a
    tie. None when no keyword matches."""
    message_words = words(text)
    best: tuple[int, int, int] | None = None
    chosen = None
    for entry in entries:
        score = sum(keyword_score(k, message_words) for k in entry.keyword_list())
        if score == 0:
            continue
        rank = (score, -entry.position, -entry.pk)
        if best is None or rank > best:
            best, chosen = rank, entry
    return chosen


def asks_for_human(text: str) -> bool:
    """Tell whether the message requests a person with one of the hand-over words.

    Only whole words count, so "personal" does not match "person".
    """
    message_words = words(text)
    return any(
        keyword_score(keyword, message_words, prefix=False)
        for keyword in app_settings.CONVERSATION_HANDOVER_KEYWORDS
    )


class FaqBot(BaseBot):
    """Bot that replies from active :class:`FaqEntry` rows."""

    def reply(self, conversation: Conversation, message: Message) -> BotReply:
        if asks_for_human(message.body):
            return BotReply(hand_over=True)
        entry = best_entry(message.body, FaqEntry.objects.filter(is_active=True))
        if entry is None:
            return BotReply(
                text=str(_("I could not find an answer to that.")), hand_over=True
            )
        return BotReply(text=entry.answer, hand_over=entry.hand_over)
