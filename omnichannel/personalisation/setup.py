"""Create or update placements, banners and pop-ups from code, such as a shop's seed.

Each function is idempotent by its natural key and validates like the admin does,
raising ``django.core.exceptions.ValidationError`` that names the field.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from omnichannel.personalisation.models import Banner, Placement, Popup


def _save(obj: Any, fields: dict[str, Any]) -> Any:
    for name, value in fields.items():
        setattr(obj, name, value)
    obj.full_clean()
    obj.save()
    return obj


@transaction.atomic
def save_placement(key: str, name: str, **fields: Any) -> Placement:
    """Create the placement ``key`` or update its fields; return it."""
    placement = Placement.objects.filter(key=key).first() or Placement(key=key)
    return _save(placement, {"name": name, **fields})


@transaction.atomic
def save_banner(
    placement: str, name: str, *, fallback: bool = False, **fields: Any
) -> Banner:
    """Create the banner ``name`` in a placement or update its fields; return it.

    With ``fallback=True`` the banner becomes the placement's fallback.
    Raises Placement.DoesNotExist when the placement was never saved.
    """
    slot = Placement.objects.get(key=placement)
    banner = Banner.objects.filter(placement=slot, name=name).first() or Banner(
        placement=slot, name=name
    )
    _save(banner, fields)
    if fallback and slot.fallback_id != banner.pk:
        slot.fallback = banner
        slot.full_clean()
        slot.save(update_fields=["fallback"])
    return banner


@transaction.atomic
def save_popup(key: str, name: str, title: str, **fields: Any) -> Popup:
    """Create the pop-up ``key`` or update its fields; return it."""
    popup = Popup.objects.filter(key=key).first() or Popup(key=key)
    return _save(popup, {"name": name, "title": title, **fields})
