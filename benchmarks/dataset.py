"""The standard generated data set: customers with ten events each, seeded.

``generate(customers)`` writes ``customers`` profiles and ten times as many events
with ``INSERT ... SELECT`` over ``generate_series`` inside PostgreSQL, with a fixed
seed, so a million customers and ten million events take minutes, not hours.

Profiles: a country, 0 to 15 orders (most have few), a total spent to match, first
and last order dates, and a last visit in the 120 days before ``NOW``. Events, over
the 365 days before ``NOW``: 50% ``page_viewed``, 25% ``product_viewed``, 15%
``category_viewed``, 7% ``cart_updated`` and 3% ``order_placed``. Product and
category views carry one of ``CATEGORIES`` and a price. Popularity falls along the
list, as in a real catalogue: the first category gets 37% of the views, the last 2%.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=ZoneInfo("UTC"))
EVENTS_PER_CUSTOMER = 10
SEED = 0.20261204
CATEGORIES = [
    "Winter Jackets",
    "Rain Jackets",
    "Boots",
    "Sneakers",
    "Scarves",
    "Gloves",
    "Hats",
    "Jeans",
    "Shirts",
    "Dresses",
    "Socks",
    "Bags",
    "Belts",
    "Sweaters",
    "Shorts",
    "Swimwear",
    "Sandals",
    "Watches",
    "Sunglasses",
    "Pyjamas",
]


def generate(customers: int, *, emails: bool = False) -> None:
    """Insert profiles and events with a fixed seed, then analyse the tables."""
    generate_profiles(customers, emails=emails)
    generate_events(customers)


def generate_profiles(customers: int, *, emails: bool = False) -> tuple[int, int]:
    """Insert the profiles of the data set alone; return their first and last id.

    With ``emails``, profile number ``n`` (from 0, in id order) gets the address
    ``email_address(n)``; the random draws are the same either way.
    """
    from django.db import connection

    email = "'customer' || (n - 1) || '@example.com'" if emails else "''"
    with connection.cursor() as cursor:
        # One process draws the numbers in order, so the seed fixes the data.
        cursor.execute("SET max_parallel_workers_per_gather = 0")
        cursor.execute("SELECT setseed(%s)", [SEED])
        cursor.execute(
            f"""
            INSERT INTO omnichannel_profile
                (uuid, created_at, updated_at, email, phone, first_name, last_name,
                 time_zone, country, language, attributes, tags, order_count,
                 total_spent, average_order_value, currency, first_order_at,
                 last_order_at, last_seen_at)
            SELECT gen_random_uuid(), %(now)s - make_interval(days => 400 + age),
                   %(now)s, {email}, '', '', '', '',
                   (ARRAY['DE', 'FR', 'GB', 'NL', 'AT'])[1 + floor(random() * 5)::int],
                   '', '{{}}'::jsonb, '[]'::jsonb, orders, spent,
                   CASE WHEN orders > 0 THEN round(spent / orders, 2) ELSE 0 END, 'EUR',
                   CASE WHEN orders > 0
                        THEN %(now)s - make_interval(days => 400 + age) END,
                   CASE WHEN orders > 0
                        THEN %(now)s - make_interval(secs => random() * 34560000)
                   END,
                   %(now)s - make_interval(secs => random() * 86400 * 120)
            FROM (
                SELECT n, floor(power(random(), 3) * 16)::int AS orders,
                       floor(random() * 300)::int AS age,
                       round((random() * 140 + 10)::numeric, 2) AS unit
                FROM generate_series(1, %(customers)s) AS n
            ) AS drawn, LATERAL (SELECT drawn.orders * drawn.unit AS spent) AS money
            """,
            {"now": NOW, "customers": customers},
        )
        cursor.execute("ANALYZE omnichannel_profile")
        cursor.execute("SELECT min(id), max(id) FROM omnichannel_profile")
        return cursor.fetchone()


def generate_events(customers: int) -> None:
    """Insert ten events per customer over the profiles of ``generate_profiles``."""
    from django.db import connection

    categories = "ARRAY[" + ", ".join(f"'{name}'" for name in CATEGORIES) + "]"
    with connection.cursor() as cursor:
        cursor.execute("SET max_parallel_workers_per_gather = 0")
        cursor.execute("SELECT min(id), max(id) FROM omnichannel_profile")
        first_id, last_id = cursor.fetchone()
        cursor.execute(
            f"""
            INSERT INTO omnichannel_event
                (profile_id, name, occurred_at, received_at, source, properties,
                 object_type, object_id, currency)
            SELECT %(first)s + floor(random() * %(count)s)::bigint,
                   CASE WHEN kind < 0.5 THEN 'page_viewed'
                        WHEN kind < 0.75 THEN 'product_viewed'
                        WHEN kind < 0.9 THEN 'category_viewed'
                        WHEN kind < 0.97 THEN 'cart_updated'
                        ELSE 'order_placed' END,
                   at, at, 'web',
                   CASE WHEN kind >= 0.5 AND kind < 0.9
                        THEN jsonb_build_object(
                            'category',
                            ({categories})[1 + floor(power(random(), 3) * 20)::int],
                            'price', round((random() * 200)::numeric, 2))
                        ELSE '{{}}'::jsonb END,
                   '', '', ''
            FROM (
                SELECT random() AS kind,
                       %(now)s - make_interval(secs => random() * 86400 * 365) AS at
                FROM generate_series(1, %(events)s)
            ) AS drawn
            """,
            {
                "first": first_id,
                "count": last_id - first_id + 1,
                "now": NOW,
                "events": customers * EVENTS_PER_CUSTOMER,
            },
        )
        cursor.execute("ANALYZE omnichannel_event")


def email_address(index: int) -> str:
    """Return the address ``generate_profiles(..., emails=True)`` gives profile
    number ``index`` (from 0)."""
    return f"customer{index}@example.com"


def insert_email_identities() -> None:
    """Give every profile with an address its email identity, as the app would."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO omnichannel_identity
                (profile_id, kind, value, source, created_at, last_seen_at)
            SELECT id, 'email', email, '', created_at, created_at
            FROM omnichannel_profile WHERE email <> '' ORDER BY id
            """
        )
        cursor.execute("ANALYZE omnichannel_identity")


def insert_select(
    model: Any,
    columns: dict[str, str],
    source: str,
    params: dict[str, Any] | None = None,
) -> int:
    """Run ``INSERT INTO <model's table> SELECT <columns> <source>``; return the rows.

    ``columns`` maps column names to SQL expressions over ``source`` (the ``FROM``
    part and what follows, with named parameters). Any other non-null column gets
    the model field's default as one parameter, so a new column with a default
    needs no change here. Raises ``ValueError`` naming the column when a non-null
    column has no default or is unique, because one shared value cannot fill it.
    """
    from django.db import connection

    names = list(columns)
    values = list(columns.values())
    arguments = dict(params or {})
    for field in model._meta.concrete_fields:
        if field.column in columns or field.null or field is model._meta.auto_field:
            continue
        # Blank text fields default to "", as in Django.
        default = field.get_default()
        if field.unique or default is None:
            raise ValueError(
                f"insert_select({model.__name__}): column {field.column!r} needs an "
                "expression, because it is unique or has no default."
            )
        names.append(field.column)
        values.append(f"%(default_{field.column})s")
        arguments[f"default_{field.column}"] = field.get_db_prep_save(
            default, connection
        )
    table = connection.ops.quote_name(model._meta.db_table)
    quoted = ", ".join(connection.ops.quote_name(name) for name in names)
    statement = f"INSERT INTO {table} ({quoted}) SELECT {', '.join(values)} {source}"
    with connection.cursor() as cursor:
        cursor.execute(statement, arguments)
        count = cursor.rowcount
        cursor.execute(f"ANALYZE {table}")
    return count
