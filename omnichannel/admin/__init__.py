"""Admin registrations, one module per domain."""

from omnichannel.admin import consent, predictions, profiles  # noqa: F401
