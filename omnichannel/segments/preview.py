"""Counting and sampling the members of a rule while it is being edited."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import OperationalError, connection, transaction

from omnichannel.conf import app_settings
from omnichannel.profiles.models import Profile
from omnichannel.segments.membership import matching_profiles

logger = logging.getLogger(__name__)


@dataclass
class Preview:
    """How many profiles a rule matches now, with a few of them."""

    count: int | None = None
    sample: list[Profile] = field(default_factory=list)
    timed_out: bool = False


def preview_rule(
    rule: dict[str, Any], now: datetime | None = None, sample_size: int = 10
) -> Preview:
    """Count and sample the profiles that meet a valid rule.

    On PostgreSQL the queries stop after ``SEGMENT_PREVIEW_TIMEOUT``; the preview is
    then marked ``timed_out`` instead of holding the admin page.
    """
    profiles = matching_profiles(rule, now)
    timeout = app_settings.SEGMENT_PREVIEW_TIMEOUT
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    milliseconds = max(1, int(timeout.total_seconds() * 1000))
                    cursor.execute(f"SET LOCAL statement_timeout = {milliseconds}")
            count = profiles.count()
            sample = list(profiles.order_by("-pk")[:sample_size])
    except OperationalError:
        logger.warning("segment preview timed out after %s", timeout)
        return Preview(timed_out=True)
    return Preview(count=count, sample=sample)
