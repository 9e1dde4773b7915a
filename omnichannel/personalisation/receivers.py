"""Clear the cached banners when a banner or placement changes."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from omnichannel.personalisation.models import Banner, Placement
from omnichannel.personalisation.visitor import clear_banner_cache


def banners_changed(sender: Any, **kwargs: Any) -> None:
    # Now for this process's next read, and again after commit, so a page served
    # while the transaction was open cannot keep the old list.
    clear_banner_cache()
    transaction.on_commit(clear_banner_cache)


def connect() -> None:
    for model in (Banner, Placement):
        post_save.connect(banners_changed, sender=model, dispatch_uid=f"{model}-save")
        post_delete.connect(
            banners_changed, sender=model, dispatch_uid=f"{model}-delete"
        )
