"""Offers, each figure beside a hand-written reference.

* bulk issue (shop): ``issue_codes`` to a campaign of a tenth of the customers (at
  most ``CAMPAIGN``, a seeded random sample), with
  every code created as a shop discount through the shop adapter, against a bare
  bulk insert of the same customer-offer, code and shop discount rows;
* bulk issue (API only): the same for an offer whose codes stay out of the shop;
* claims: ``claim_code`` for a thousand codes, one order each, against as many
  single-row UPDATE statements by primary key;
* reading: ``offer_status`` for a thousand customers, as a page or the app reads
  it, against one hand-written SQL join per customer.

The customers are the profiles of the standard data set (``benchmarks.dataset``,
without its events), written in SQL with a fixed seed in a database of its own (the
test database name of the settings), created and dropped by this script.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from benchmarks import dataset
from benchmarks.common import Result, best_of, isolated_database, setup_django

UTC = ZoneInfo("UTC")
T0 = datetime(2026, 12, 4, 13, 0, tzinfo=UTC)
SAMPLE = 1000
# The campaign is a tenth of the customers up to this many codes. issue_codes
# creates each shop discount through the adapter, one call per code, so a tenth
# of 1M customers would take an hour; a fixed seeded sample measures the same
# work at every size, against tables that grow with the base.
CAMPAIGN = 1000


def generate(customers: int) -> list[int]:
    """Write the customers and return their ids in a seeded random order."""
    from omnichannel.profiles.models import Profile

    dataset.generate_profiles(customers)
    ids = list(Profile.objects.order_by("pk").values_list("pk", flat=True))
    random.Random(20261204).shuffle(ids)
    return ids


def _offer(slug: str, *, in_shop: bool) -> Any:
    from omnichannel.offers.models import Offer

    return Offer.objects.create(
        slug=slug,
        name=slug,
        kind=Offer.Kind.PERCENT,
        value=Decimal("10"),
        code_prefix="B",
        create_in_shop=in_shop,
    )


def _clear(offer: Any) -> None:
    from omnichannel.offers.models import CustomerOffer, OfferCode
    from omnichannel.profiles.models import Event
    from shop.models import Discount

    codes = list(
        OfferCode.objects.filter(customer_offer__offer=offer).values_list(
            "code", flat=True
        )
    )
    for start in range(0, len(codes), 5000):
        Discount.objects.filter(code__in=codes[start : start + 5000]).delete()
    OfferCode.objects.filter(customer_offer__offer=offer).delete()
    CustomerOffer.objects.filter(offer=offer).delete()
    Event.objects.filter(name="offer_issued", object_id=offer.slug).delete()


def bench_issue(ids: list[int], customers: int, *, in_shop: bool) -> Result:
    from omnichannel.offers.codes import make_code
    from omnichannel.offers.models import CustomerOffer, OfferCode
    from omnichannel.offers.services import issue_codes
    from shop.models import Discount

    campaign = ids[: max(min(customers // 10, CAMPAIGN), 1)]
    offer = _offer("bench-shop" if in_shop else "bench-api", in_shop=in_shop)

    def measured() -> None:
        _clear(offer)
        issue_codes(offer, campaign, source="benchmark", at=T0)

    def reference() -> None:
        _clear(offer)
        rows = CustomerOffer.objects.bulk_create(
            (
                CustomerOffer(offer=offer, profile_id=pk, issued_at=T0)
                for pk in campaign
            ),
            batch_size=5000,
        )
        codes = [make_code("B") for _ in rows]
        OfferCode.objects.bulk_create(
            (
                OfferCode(customer_offer=row, code=code, shop_code=code)
                for row, code in zip(rows, codes, strict=True)
            ),
            batch_size=5000,
        )
        if in_shop:
            Discount.objects.bulk_create(
                (
                    Discount(code=code, kind="percent", value=Decimal("10"))
                    for code in codes
                ),
                batch_size=5000,
            )

    reference_time = best_of(reference, repeat=2)
    value = best_of(measured, repeat=2)
    where = "shop" if in_shop else "API only"
    return Result(
        name=f"offers: issue {len(campaign)} codes ({where})",
        value=value,
        unit="s",
        reference_value=reference_time,
        reference="bulk insert of the same rows",
        target="ratio<=10",
        customers=customers,
        note="includes one offer_issued event per code and the journeys engine's "
        f"handling of each; the campaign is a seeded random sample of "
        f"{len(campaign)} customers",
    )


def bench_claims(ids: list[int], customers: int) -> Result:
    from django.db import connection, transaction

    from omnichannel.offers.models import CustomerOffer
    from omnichannel.offers.services import claim_code, issue_codes
    from omnichannel.profiles.models import Event, Profile

    offer = _offer("bench-claims", in_shop=False)
    sample = ids[:SAMPLE]
    rows = issue_codes(offer, sample, at=T0).created
    codes = {row.pk: row.codes.get().code for row in rows}
    profiles = Profile.objects.in_bulk(sample)
    table = CustomerOffer._meta.db_table

    def reset() -> None:
        CustomerOffer.objects.filter(offer=offer).update(
            state="issued", claimed_at=None, order_id=""
        )
        Event.objects.filter(name="offer_claimed").delete()

    def measured() -> None:
        reset()
        for row in rows:
            with transaction.atomic():
                claim_code(
                    codes[row.pk],
                    profiles[row.profile_id],
                    order_id=f"B-{row.pk}",
                    channel="app",
                    at=T0 + timedelta(hours=1),
                )

    def reference() -> None:
        reset()
        with connection.cursor() as cursor:
            for row in rows:
                with transaction.atomic():
                    cursor.execute(
                        f"UPDATE {table} SET state = 'claimed', claimed_at = %s, "
                        "order_id = %s WHERE id = %s AND state <> 'claimed'",
                        [T0 + timedelta(hours=1), f"B-{row.pk}", row.pk],
                    )

    reference_time = best_of(reference, repeat=2)
    value = best_of(measured, repeat=2)
    return Result(
        name=f"offers: claim {len(rows)} codes",
        value=value,
        unit="s",
        reference_value=reference_time,
        reference="one UPDATE per code",
        target="ratio<=8",
        customers=customers,
        note="each claim checks the code, locks the row and records an event",
    )


def bench_reading(ids: list[int], customers: int) -> Result:
    from django.db import connection

    from omnichannel.offers.models import CustomerOffer, Offer, OfferCode
    from omnichannel.offers.status import offer_status
    from omnichannel.profiles.models import Profile

    sample = ids[:SAMPLE]
    profiles = list(Profile.objects.in_bulk(sample).values())
    sql = (
        f"SELECT c.state, c.valid_until, c.issued_at, o.name, o.kind, o.value, "
        f"(SELECT code FROM {OfferCode._meta.db_table} k "
        f"WHERE k.customer_offer_id = c.id ORDER BY k.created_at, k.id LIMIT 1) "
        f"FROM {CustomerOffer._meta.db_table} c "
        f"JOIN {Offer._meta.db_table} o ON o.id = c.offer_id "
        "WHERE c.profile_id = %s AND o.slug = %s"
    )

    def reference() -> None:
        with connection.cursor() as cursor:
            for profile in profiles:
                cursor.execute(sql, [profile.pk, "bench-claims"])
                cursor.fetchone()

    def measured() -> None:
        for profile in profiles:
            offer_status(profile, "bench-claims")

    reference_time = best_of(reference)
    value = best_of(measured)
    return Result(
        name=f"offers: read {len(profiles)} customers' offers",
        value=value,
        unit="s",
        reference_value=reference_time,
        reference="one SQL join per customer",
        target="ratio<=10",
        customers=customers,
    )


def run(customers: int) -> list[Result]:
    setup_django()
    from django.conf import settings

    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        raise RuntimeError(
            "bench_offers needs PostgreSQL: set DATABASE_URL, for example "
            "postgres://postgres@127.0.0.1:5432/test."
        )
    with isolated_database():
        ids = generate(customers)
        return [
            bench_issue(ids, customers, in_shop=True),
            bench_issue(ids, customers, in_shop=False),
            bench_claims(ids, customers),
            bench_reading(ids, customers),
        ]
