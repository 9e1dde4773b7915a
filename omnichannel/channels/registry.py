"""The configured backend of each channel, from ``CHANNEL_BACKENDS``."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from omnichannel.channels.backends.base import BaseBackend
from omnichannel.channels.models import MessageChannel
from omnichannel.conf import app_settings

CONSOLE = "omnichannel.channels.backends.console.ConsoleBackend"
DEFAULT_BACKENDS: dict[str, str] = {
    MessageChannel.EMAIL: "omnichannel.channels.backends.email.EmailBackend",
    MessageChannel.SMS: CONSOLE,
    MessageChannel.PUSH: CONSOLE,
    MessageChannel.WEB_PUSH: CONSOLE,
    MessageChannel.WHATSAPP: CONSOLE,
    MessageChannel.WEBHOOK: CONSOLE,
    MessageChannel.ONSITE: "omnichannel.channels.backends.onsite.OnsiteBackend",
}

_backends: dict[str, BaseBackend] = {}


def backend_config(channel: str) -> tuple[str, dict[str, Any]]:
    """Return the dotted path and options of ``channel``'s backend."""
    if channel not in MessageChannel.values:
        choices = ", ".join(MessageChannel.values)
        raise ImproperlyConfigured(
            f"{channel!r} is not a channel; use one of {choices}."
        )
    configured = app_settings.CHANNEL_BACKENDS.get(channel)
    if configured is None:
        return DEFAULT_BACKENDS[channel], {}
    if isinstance(configured, str):
        return configured, {}
    if not isinstance(configured, dict) or "BACKEND" not in configured:
        raise ImproperlyConfigured(
            f"OMNICHANNEL['CHANNEL_BACKENDS'][{channel!r}] must be a dotted path or "
            'a dict with "BACKEND" and optional "OPTIONS".'
        )
    options = configured.get("OPTIONS", {})
    if not isinstance(options, dict):
        raise ImproperlyConfigured(
            f"OMNICHANNEL['CHANNEL_BACKENDS'][{channel!r}]['OPTIONS'] must be a dict."
        )
    return configured["BACKEND"], options


def load_backend(channel: str) -> BaseBackend:
    """Import and instantiate ``channel``'s backend; raise ImproperlyConfigured."""
    path, options = backend_config(channel)
    try:
        backend_class = import_string(path)
    except ImportError as error:
        raise ImproperlyConfigured(
            f"The backend {path!r} of channel {channel!r} cannot be imported: {error}"
        ) from error
    if not (isinstance(backend_class, type) and issubclass(backend_class, BaseBackend)):
        raise ImproperlyConfigured(
            f"The backend {path!r} of channel {channel!r} is not a subclass of "
            "omnichannel.channels.backends.base.BaseBackend."
        )
    try:
        backend = backend_class(**{"CHANNEL": channel, **options})
    except (TypeError, ValueError) as error:
        raise ImproperlyConfigured(
            f"The backend {path!r} of channel {channel!r} rejected its OPTIONS: {error}"
        ) from error
    if backend.channel != channel:
        raise ImproperlyConfigured(
            f"The backend {path!r} sends {backend.channel!r} messages, not {channel!r}."
        )
    return backend


def get_backend(channel: str) -> BaseBackend:
    """Return the backend of ``channel``, created once per process."""
    backend = _backends.get(channel)
    if backend is None:
        backend = _backends[channel] = load_backend(channel)
    return backend


@receiver(setting_changed)
def _reset(*, setting: str, **kwargs: Any) -> None:
    if setting == "OMNICHANNEL":
        _backends.clear()
        from omnichannel.channels.recommendations import reset_recommenders

        reset_recommenders()
