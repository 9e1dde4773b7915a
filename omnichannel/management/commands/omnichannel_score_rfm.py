from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from omnichannel.predictions.models import RFMGroup
from omnichannel.predictions.rfm import score_all


class Command(BaseCommand):
    help = "Score every profile with orders for RFM and print the size of each group."

    def handle(self, *args: Any, **options: Any) -> None:
        sizes = score_all()
        labels = dict(RFMGroup.choices)
        total = sum(sizes.values()) or 1
        self.stdout.write(f"{'RFM group':<22}{'profiles':>10}{'share':>8}")
        for group, size in sizes.items():
            self.stdout.write(
                f"{labels[group]!s:<22}{size:>10}{100 * size / total:>7.1f}%"
            )
        self.stdout.write(f"{'Total':<22}{sum(sizes.values()):>10}")
