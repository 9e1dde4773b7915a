"""Signal handlers of the audience sync, connected in ``OmnichannelConfig.ready``."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.core.cache import cache
from django.db import transaction

from omnichannel.audiences import services
from omnichannel.audiences.models import SyncRun
from omnichannel.audiences.tasks import sync_audience
from omnichannel.conf import app_settings
from omnichannel.profiles.models import Profile
from omnichannel.profiles.signals import profile_erased
from omnichannel.segments.models import Segment
from omnichannel.segments.signals import segment_entered, segment_exited

logger = logging.getLogger(__name__)


def remove_erased_profile(sender: Any, profile: Profile, **kwargs: Any) -> None:
    """Mark the profile for removal from every audience and send it after commit."""
    audience_ids = services.forget_profile(profile.pk)
    if audience_ids:
        logger.info(
            "Profile %s erased: removal queued for %d ad audiences",
            profile.pk,
            len(audience_ids),
        )
    for audience_id in audience_ids:
        transaction.on_commit(
            partial(
                sync_audience.delay,
                audience_id,
                SyncRun.Trigger.ERASURE,
                removals_only=True,
            )
        )


def segment_changed(sender: Any, segment: Segment, **kwargs: Any) -> None:
    """Bring the segment's audience syncs forward, once per delay window."""
    delay = app_settings.AUDIENCE_SYNC_DELAY_AFTER_CHANGE
    if delay is None:
        return
    # A recompute sends one signal per member; one update per window is enough.
    key = f"omnichannel:audiences:changed:{segment.pk}"
    if cache.add(key, 1, timeout=max(1, int(delay.total_seconds()))):
        services.bring_forward(segment.pk)


def connect() -> None:
    profile_erased.connect(
        remove_erased_profile, dispatch_uid="omnichannel-audiences-erasure"
    )
    for signal in (segment_entered, segment_exited):
        signal.connect(segment_changed, dispatch_uid="omnichannel-audiences-segment")
