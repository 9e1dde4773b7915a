"""Admin registrations, one module per domain."""

from omnichannel.admin import channels, predictions, profiles  # noqa: F401
