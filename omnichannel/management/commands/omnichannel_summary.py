from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db.models import Max, Min, Sum

from omnichannel.predictions.models import RFMGroup
from omnichannel.predictions.rfm import group_sizes
from omnichannel.profiles.models import Event, Profile


class Command(BaseCommand):
    help = "Print counts of profiles, events, orders and RFM groups."

    def handle(self, *args: Any, **options: Any) -> None:
        profiles = Profile.objects.filter(merged_into__isnull=True)
        orders = Event.objects.filter(name="order_placed")
        span = orders.aggregate(first=Min("occurred_at"), last=Max("occurred_at"))
        revenue = orders.aggregate(total=Sum("revenue"))["total"] or 0
        rows = [
            ("Profiles", profiles.count()),
            ("Profiles with orders", profiles.filter(order_count__gt=0).count()),
            ("Events", Event.objects.count()),
            ("Order events", orders.count()),
            ("Revenue", f"{revenue:,.2f}"),
            ("First order", f"{span['first']:%Y-%m-%d}" if span["first"] else "-"),
            ("Last order", f"{span['last']:%Y-%m-%d}" if span["last"] else "-"),
        ]
        for label, value in rows:
            self.stdout.write(f"{label:<22}{value!s:>14}")
        labels = dict(RFMGroup.choices)
        self.stdout.write("")
        for group, size in group_sizes().items():
            self.stdout.write(f"{labels[group]!s:<22}{size:>14}")
