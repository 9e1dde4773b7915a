import datetime
import zoneinfo
from decimal import Decimal
from pathlib import Path

import pytest

from omnichannel.predictions.datasets import read_cdnow
from omnichannel.predictions.summary import summarise_transactions

CDNOW = Path(__file__).resolve().parent.parent / "data" / "cdnow"
CALIBRATION_END = datetime.date(1997, 9, 30)
HOLDOUT_END = datetime.date(1998, 6, 30)


@pytest.fixture(scope="session")
def cdnow_sample_rows():
    return read_cdnow(CDNOW / "CDNOW_sample.txt")


@pytest.fixture(scope="session")
def cdnow_master_rows():
    return read_cdnow(CDNOW / "CDNOW_master.txt")


@pytest.fixture(scope="session")
def cdnow_sample(cdnow_sample_rows):
    rows = cdnow_sample_rows
    return summarise_transactions(
        rows.customer_ids,
        rows.dates,
        rows.amounts,
        calibration_end=CALIBRATION_END,
        holdout_end=HOLDOUT_END,
    )


BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def at_noon(day, zone=BERLIN):
    """Return noon of a date (or YYYY-MM-DD string) as an aware datetime."""
    if isinstance(day, str):
        day = datetime.date.fromisoformat(day)
    return datetime.datetime.combine(day, datetime.time(12), tzinfo=zone)


def add_orders(profile, orders):
    """Store order_placed events: a list of (date, amount) pairs."""
    from omnichannel.profiles.models import Event

    Event.objects.bulk_create(
        Event(
            profile=profile,
            name="order_placed",
            occurred_at=at_noon(day),
            revenue=None if amount is None else Decimal(str(amount)),
            object_type="order",
            object_id=f"{profile.pk}-{index}",
        )
        for index, (day, amount) in enumerate(orders)
    )


def load_cdnow_into_database(rows):
    """Store CDNOW purchase rows as profiles with order events, one per row."""
    from omnichannel.profiles.models import Event, Profile

    customer_ids = sorted(set(rows.customer_ids.tolist()))
    profiles = Profile.objects.bulk_create(Profile() for _ in customer_ids)
    profile_of = {cid: p for cid, p in zip(customer_ids, profiles, strict=True)}
    Event.objects.bulk_create(
        (
            Event(
                profile=profile_of[int(cid)],
                name="order_placed",
                occurred_at=at_noon(str(day)),
                revenue=Decimal(f"{amount:.2f}"),
                object_type="order",
                object_id=str(index),
            )
            for index, (cid, day, amount) in enumerate(
                zip(rows.customer_ids, rows.dates, rows.amounts, strict=True)
            )
        ),
        batch_size=2000,
    )
    return profile_of
