"""Admin registrations, one module per domain."""

from omnichannel.admin import analytics, experiments, predictions, profiles  # noqa: F401
