from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from omnichannel.journeys.recipes import RECIPES, install_recipes


class Command(BaseCommand):
    help = (
        "Install the ready-made journeys (abandoned cart, VIP loop, win-back, "
        "review request, back in stock) and their templates. Existing ones are "
        "left as they are."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "recipes",
            nargs="*",
            help="Slugs of the recipes to install (default: all). "
            + ", ".join(recipe.slug for recipe in RECIPES),
        )
        parser.add_argument(
            "--draft", action="store_true", help="Publish but leave them inactive."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        known = {recipe.slug for recipe in RECIPES}
        unknown = sorted(set(options["recipes"]) - known)
        if unknown:
            raise CommandError(
                f"Unknown recipe(s): {', '.join(unknown)}. Choose from "
                f"{', '.join(sorted(known))}."
            )
        installed = install_recipes(
            activate=not options["draft"], only=options["recipes"] or None
        )
        for journey in installed:
            state = (
                journey.status
                if journey.current_version_id
                else "draft (trigger missing)"
            )
            self.stdout.write(f"Installed journey {journey.slug}: {state}")
        if not installed:
            self.stdout.write("All recipes were already installed.")
