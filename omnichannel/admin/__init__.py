"""Admin registrations, one module per domain."""

from omnichannel.admin import audiences, predictions, profiles  # noqa: F401
