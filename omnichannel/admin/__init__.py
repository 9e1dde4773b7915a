"""Admin registrations, one module per domain."""

from omnichannel.admin import predictions, profiles  # noqa: F401
