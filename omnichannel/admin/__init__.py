"""Admin registrations, one module per domain."""

from omnichannel.admin import conversations, predictions, profiles  # noqa: F401
