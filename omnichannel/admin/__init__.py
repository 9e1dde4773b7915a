"""Admin registrations, one module per domain."""

from omnichannel.admin import journeys, predictions, profiles  # noqa: F401
