from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from omnichannel.integrations.abandonment import detect_abandoned_carts


class Command(BaseCommand):
    help = (
        "Record a cart_abandoned event for each cart idle longer than "
        "OMNICHANNEL['CART_ABANDONED_AFTER']. Running it again adds nothing."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        recorded = detect_abandoned_carts()
        self.stdout.write(f"Abandoned carts recorded: {recorded}")
