"""Admin registrations, one module per domain."""

from omnichannel.admin import (
    analytics,  # noqa: F401
    assistant,  # noqa: F401
    audiences,  # noqa: F401
    channels,  # noqa: F401
    consent,  # noqa: F401
    conversations,  # noqa: F401
    experiments,  # noqa: F401
    journeys,  # noqa: F401
    offers,  # noqa: F401
    personalisation,  # noqa: F401
    predictions,  # noqa: F401
    profiles,  # noqa: F401
    segments,  # noqa: F401
)
