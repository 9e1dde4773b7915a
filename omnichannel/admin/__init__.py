"""Admin registrations, one module per domain."""

from omnichannel.admin import predictions, profiles, segments  # noqa: F401
