"""On-site personalisation: the time three placements add to a page request.

The page is a shop-like template rendered by a view for a visitor cookie, with three
placements: a hero whose banner needs "viewed Winter Jackets in the last 7 days", a
navigation item for a segment, and a sidebar for an RFM group. The reference is the
same view and template with the three tags replaced by fixed HTML, timed in the same
run, alternating request by request. Visitors are drawn from the generated
customers, so both anonymous-like and known profiles with events are measured.
"""

from __future__ import annotations

import random
import time
from typing import Any

from benchmarks.common import Result, isolated_database, percentile
from benchmarks.dataset import generate_profiles, insert_select

SEED = 20261204
REQUESTS = 2000
WARM_UP = 50
CATEGORIES = ["winter-jackets", "knitwear", "mugs", "accessories"]

PAGE = """<!doctype html><html><head><title>Shop</title></head><body>
<header><a href="/">Shop</a> NAV</header>
<section class="hero">HERO</section>
<main>{% for product in products %}<div class="product">{{ product }}</div>
{% endfor %}</main>
<aside>SIDEBAR</aside>
</body></html>"""
PERSONALISED = "{% load omnichannel %}" + (
    PAGE.replace("NAV", '{% placement "nav" %}')
    .replace("HERO", '{% placement "home-hero" %}')
    .replace("SIDEBAR", '{% placement "sidebar" %}')
)
PLAIN = (
    PAGE.replace("NAV", '<a href="/vip/">VIP</a>')
    .replace("HERO", "<h1>Warm through the northern winter</h1>")
    .replace("SIDEBAR", "<p>Free returns</p>")
)
PRODUCTS = [f"Product {index}" for index in range(12)]


def _generate(customers: int) -> list[str]:
    """Create profiles with visitor cookies, events, memberships and RFM groups in
    SQL with a fixed seed; return the visitor ids.

    Profile number ``n`` (from 0, in id order) has the visitor id ``n`` in 32 hex
    digits. Every tenth profile is in the VIP segment, every third has an RFM group,
    and each has 0 to 6 category views over the last 30 days.
    """
    from django.db import connection
    from django.utils import timezone

    from omnichannel.predictions.models import RFMScore
    from omnichannel.profiles.models import Event, Identity
    from omnichannel.segments.models import Segment, SegmentMembership

    first_id, _last_id = generate_profiles(customers)
    insert_select(
        Identity,
        {
            "profile_id": "id",
            "kind": "'visitor'",
            "value": "lpad(to_hex(id - %(first)s), 32, '0')",
        },
        "FROM omnichannel_profile ORDER BY id",
        {"first": first_id},
    )
    vip = Segment.objects.create(name="VIP", slug="vip")
    insert_select(
        SegmentMembership,
        {"segment_id": "%(segment)s", "profile_id": "id"},
        "FROM omnichannel_profile WHERE (id - %(first)s) %% 10 = 0 ORDER BY id",
        {"segment": vip.pk, "first": first_id},
    )
    with connection.cursor() as cursor:
        cursor.execute("SET max_parallel_workers_per_gather = 0")
        cursor.execute("SELECT setseed(%s)", [SEED / 10**8])
    groups = "ARRAY['champions', 'loyal', 'at_risk', 'lost']"
    insert_select(
        RFMScore,
        {
            "profile_id": "id",
            "recency_score": "5",
            "frequency_score": "5",
            "monetary_score": "5",
            "group": f"({groups})[1 + floor(random() * 4)::int]",
        },
        "FROM omnichannel_profile WHERE (id - %(first)s) %% 3 = 0 ORDER BY id",
        {"first": first_id},
    )
    categories = "ARRAY[" + ", ".join(f"'{name}'" for name in CATEGORIES) + "]"
    insert_select(
        Event,
        {
            "profile_id": "views.profile_id",
            "name": "'category_viewed'",
            "occurred_at": "%(now)s - make_interval(hours => views.hours)",
            "received_at": "%(now)s",
            "source": "'web'",
            "properties": f"jsonb_build_object('category', ({categories})"
            f"[1 + floor(random() * {len(CATEGORIES)})::int])",
        },
        """FROM (
            SELECT p.id AS profile_id, 1 + floor(random() * 24 * 30)::int AS hours
            FROM (
                SELECT id, floor(random() * 7)::int AS count FROM omnichannel_profile
            ) AS p
            CROSS JOIN LATERAL generate_series(1, p.count)
        ) AS views""",
        {"now": timezone.now()},
    )
    _analyze()
    return [f"{index:032x}" for index in range(customers)]


def _analyze() -> None:
    """Refresh PostgreSQL's statistics, as autovacuum would after a bulk load."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def _placements() -> None:
    from omnichannel.api import save_banner, save_placement

    for key in ("home-hero", "nav", "sidebar"):
        save_placement(key, key)
    save_banner(
        "home-hero",
        "parkas",
        title="Parkas for the coldest days",
        link_url="/categories/parkas/",
        priority=10,
        rules={
            "type": "event",
            "event": "category_viewed",
            "where": [{"property": "category", "op": "eq", "value": "winter-jackets"}],
            "within": {"value": 7, "unit": "days"},
        },
    )
    save_banner(
        "home-hero",
        "generic",
        title="Warm through the northern winter",
        fallback=True,
    )
    save_banner(
        "nav",
        "vip",
        title="VIP offers",
        link_url="/vip/",
        rules={"type": "segment", "segment": "vip"},
    )
    save_banner(
        "sidebar",
        "champions",
        title="Thank you for being a champion",
        rules={"type": "rfm", "field": "group", "op": "eq", "value": "champions"},
    )
    save_banner("sidebar", "returns", title="Free returns", priority=-1)


def _view(template: Any) -> Any:
    from django.http import HttpResponse

    def view(request: Any) -> HttpResponse:
        return HttpResponse(template.render({"products": PRODUCTS}, request))

    return view


def _request(visitor_id: str) -> Any:
    from django.contrib.auth.models import AnonymousUser
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    request.omnichannel_visitor_id = visitor_id
    return request


def _measure(visitors: list[str]) -> tuple[list[float], list[float]]:
    from django.template import engines

    engine = engines["django"]
    personalised = _view(engine.from_string(PERSONALISED))
    plain = _view(engine.from_string(PLAIN))
    rng = random.Random(SEED)
    with_tags: list[float] = []
    without: list[float] = []
    for index in range(REQUESTS + WARM_UP):
        visitor = rng.choice(visitors)
        timings = []
        for view in (personalised, plain):
            request = _request(visitor)
            start = time.perf_counter()
            view(request)
            timings.append((time.perf_counter() - start) * 1000)
        if index >= WARM_UP:
            with_tags.append(timings[0])
            without.append(timings[1])
    return with_tags, without


def _check_output(visitors: list[str]) -> None:
    """Fail the run if the placements render nothing, so a broken tag is not fast."""
    from django.template import engines

    html = engines["django"].from_string(PERSONALISED).render({}, _request(visitors[0]))
    if "omnichannel-banner" not in html:
        raise RuntimeError("The personalised page rendered no banner.")


def run(customers: int) -> list[Result]:
    with isolated_database():
        visitors = _generate(customers)
        _placements()
        _check_output(visitors)
        with_tags, without = _measure(visitors)

    results = []
    for label, fraction in (("p50", 0.5), ("p95", 0.95)):
        page = percentile(with_tags, fraction)
        reference = percentile(without, fraction)
        results.append(
            Result(
                name=f"personalisation: 3 placements, added ms {label}",
                value=round(page - reference, 4),
                unit="ms",
                reference_value=round(reference, 4),
                target="<=1" if label == "p50" else "<=5",
                customers=customers,
                reference="the same page with fixed HTML in place of the tags",
                note=(
                    f"{label} of {REQUESTS} requests: {page:.3f} ms with the "
                    f"placements, {reference:.3f} ms without; each request runs the "
                    "two personalisation queries"
                ),
            )
        )
    return results
