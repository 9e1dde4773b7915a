"""Ad platform clients, loaded from ``OMNICHANNEL["AUDIENCE_PLATFORMS"]``."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from omnichannel.audiences.platforms.base import AdPlatform
from omnichannel.conf import app_settings
from omnichannel.exceptions import PlatformNotConfigured

_instances: dict[str, AdPlatform] = {}


def load_platform(key: str, options: Any) -> AdPlatform:
    """Build the client for platform ``key``; raise ImproperlyConfigured if invalid."""
    where = f"OMNICHANNEL['AUDIENCE_PLATFORMS'][{key!r}]"
    if not isinstance(options, dict):
        raise ImproperlyConfigured(f"{where} must be a dict of options.")
    path = options.get("BACKEND")
    if not isinstance(path, str) or not path:
        raise ImproperlyConfigured(
            f"{where} has no 'BACKEND', the dotted path of an AdPlatform subclass."
        )
    try:
        backend = import_string(path)
    except ImportError as error:
        raise ImproperlyConfigured(
            f"{where}['BACKEND'] = {path!r} cannot be imported: {error}"
        ) from None
    if not (isinstance(backend, type) and issubclass(backend, AdPlatform)):
        raise ImproperlyConfigured(
            f"{where}['BACKEND'] = {path!r} is not a subclass of "
            "omnichannel.audiences.platforms.base.AdPlatform."
        )
    return backend(key, options)


def get_platform(key: str) -> AdPlatform:
    """Return the client of platform ``key``, built once per settings change."""
    if key not in _instances:
        platforms = app_settings.AUDIENCE_PLATFORMS
        if not isinstance(platforms, dict) or key not in platforms:
            raise PlatformNotConfigured(
                f"No ad platform {key!r} in OMNICHANNEL['AUDIENCE_PLATFORMS']. Add "
                "it with a 'BACKEND' path, or point the audience at a configured one."
            )
        _instances[key] = load_platform(key, platforms[key])
    return _instances[key]


def platform_choices() -> list[tuple[str, str]]:
    """Return (key, label) of every configured platform, for forms and filters."""
    platforms = app_settings.AUDIENCE_PLATFORMS
    if not isinstance(platforms, dict):
        return []
    choices = []
    for key in platforms:
        try:
            label = get_platform(key).label or key
        except (ImproperlyConfigured, PlatformNotConfigured):
            label = key
        choices.append((key, f"{label} ({key})" if label != key else key))
    return choices


@receiver(setting_changed)
def _forget_platforms(*, setting: str, **kwargs: Any) -> None:
    if setting == "OMNICHANNEL":
        _instances.clear()
