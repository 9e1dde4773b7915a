"""Finding the profile a GDPR command is about."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from omnichannel.exceptions import InvalidIdentifier
from omnichannel.profiles.models import Profile
from omnichannel.profiles.services import find_profile


def add_lookup_arguments(parser: Any) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--email", help="Email address of the customer.")
    group.add_argument("--phone", help="Phone number of the customer.")
    group.add_argument("--profile", help="Profile uuid.")


def profile_from_options(options: dict[str, Any]) -> Profile:
    try:
        profile = find_profile(
            email=options.get("email"),
            phone=options.get("phone"),
            uuid=options.get("profile"),
        )
    except InvalidIdentifier as error:
        raise CommandError(f"--{error.field}: {error.message}") from None
    if profile is None:
        raise CommandError("No profile matches; check the value and try again.")
    return profile
