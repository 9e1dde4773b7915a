"""Install the shop's placements, banners and pop-up, idempotently."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = __doc__.splitlines()[0]

    def handle(self, *args: Any, **options: Any) -> None:
        if not apps.is_installed("omnichannel"):
            raise CommandError("The omnichannel app is not installed.")
        from django.core.exceptions import ValidationError

        from shop.personalisation import install_personalisation

        # The rules name the default segments and the pop-up the default offers.
        call_command("omnichannel_install_segments", stdout=self.stdout)
        call_command("omnichannel_install_offers", stdout=self.stdout)
        try:
            created = install_personalisation()
        except ValidationError as error:
            raise CommandError(f"The personalisation is invalid: {error}") from None
        for name, obj in created.items():
            self.stdout.write(f"{name}: {obj}")
