"""STOP and START keywords of inbound SMS.

A STOP keyword puts the number on the SMS suppression list, which blocks every SMS
including service messages, and withdraws SMS marketing consent in the ledger. A
START keyword lifts a suppression that STOP set (not one from a bounce) and grants
SMS marketing consent, because the customer asked for the messages themselves.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from omnichannel.conf import app_settings
from omnichannel.consent.models import Channel, Purpose, Suppression
from omnichannel.consent.services import set_consent, suppress, unsuppress
from omnichannel.profiles.normalise import normalise_phone
from omnichannel.profiles.services import find_profile, identify

logger = logging.getLogger(__name__)

_NOT_WORD = re.compile(r"[^\w ]+")


def keyword_of(text: str) -> str:
    """Return the message as a keyword candidate: upper case, no punctuation,
    single spaces (``" Stop. "`` gives ``"STOP"``)."""
    return " ".join(_NOT_WORD.sub(" ", text or "").upper().split())


def _keywords(setting: list[str]) -> set[str]:
    return {keyword_of(word) for word in setting}


def handle_sms_keyword(phone: str, text: str, at: datetime | None = None) -> bool:
    """Apply a STOP or START keyword sent from ``phone`` at ``at``.

    Returns False when the message is not a keyword, so the caller can pass it on
    (to a chat, say). The message must be the keyword alone. Raises
    InvalidIdentifier when ``phone`` is not a phone number.
    """
    keyword = keyword_of(text)
    is_stop = keyword in _keywords(app_settings.SMS_STOP_KEYWORDS)
    is_start = keyword in _keywords(app_settings.SMS_START_KEYWORDS)
    if not (is_stop or is_start):
        return False
    number = normalise_phone(phone)
    at = at or timezone.now()
    proof = {"keyword": keyword, "received_at": at.isoformat()}

    with transaction.atomic():
        if is_stop:
            suppress(
                Channel.SMS, number, Suppression.Reason.SMS_STOP, details=proof, at=at
            )
            profile = find_profile(phone=number)
            if profile is not None and profile.erased_at is None:
                set_consent(
                    profile,
                    Channel.SMS,
                    False,
                    purpose=Purpose.MARKETING,
                    at=at,
                    source="sms-keyword",
                    address=number,
                    proof=proof,
                )
        else:
            unsuppress(Channel.SMS, number, reasons=[Suppression.Reason.SMS_STOP])
            profile = identify(phone=number, source="sms")
            set_consent(
                profile,
                Channel.SMS,
                True,
                purpose=Purpose.MARKETING,
                at=at,
                source="sms-keyword",
                address=number,
                proof=proof,
            )
    logger.info("applied SMS keyword %s", "STOP" if is_stop else "START")
    return True
