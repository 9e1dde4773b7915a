"""Set-based writing of imported order rows on PostgreSQL.

A chunk of parsed rows goes into a temporary staging table through ``COPY``. Then a
fixed number of statements, whatever the number of rows, write it. They drop the rows
already stored and create the missing profiles, with their order aggregates, and
identities. Then they insert the order events and recompute the aggregates of the
existing profiles that got new events. Python prepares only the values that differ
from row to row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import connection, models
from django.utils import timezone

from omnichannel.profiles.aggregates import ORDER_EVENT, ORDER_REVERSAL_EVENTS
from omnichannel.profiles.models import Event, Identity, Profile

if TYPE_CHECKING:
    from omnichannel.profiles.importer import OrderRow

STAGE_TABLE = "omnichannel_import_stage"
NEW_CUSTOMER_TABLE = "omnichannel_import_new_customer"
TOUCHED_TABLE = "omnichannel_import_touched"
EXTERNAL = Identity.Kind.EXTERNAL.value


@dataclass
class ChunkCounts:
    """Counts of the rows and profiles that one chunk wrote or skipped."""

    imported: int
    skipped_existing: int
    profiles_created: int


def can_copy() -> bool:
    """Return whether the default database takes ``COPY`` from psycopg 3."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        return hasattr(cursor.cursor, "copy")


def write_chunk(
    rows: Sequence[OrderRow], profile_ids: dict[tuple[str, str, str], int]
) -> ChunkCounts:
    """Write one chunk of parsed rows; call inside a transaction.

    Rows with an email or phone must already be resolved to a profile in
    ``profile_ids`` (by their ``customer_key``). The other rows are resolved here by
    their external id, and a profile with that identity is created for each id not
    yet stored. The temporary tables are dropped at the end, or by the rollback
    when a statement fails.
    """
    currency = rows[0].currency
    with connection.cursor() as cursor:
        repeated = _stage(cursor, rows, profile_ids)
        skipped = repeated + _drop_stored(cursor)
        created = _create_profiles(cursor, currency)
        imported = _insert_events(cursor)
        _update_aggregates(cursor, currency)
        cursor.execute(
            f"DROP TABLE {STAGE_TABLE}, {NEW_CUSTOMER_TABLE}, {TOUCHED_TABLE}"
        )
    return ChunkCounts(
        imported=imported, skipped_existing=skipped, profiles_created=created
    )


def _table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _column_type(model: type[models.Model], name: str) -> str:
    return model._meta.get_field(name).db_type(connection)


def _stage(
    cursor: Any,
    rows: Sequence[OrderRow],
    profile_ids: dict[tuple[str, str, str], int],
) -> int:
    """Copy the rows into the staging table and return the number left out.

    A row is left out when an earlier row of the chunk has the same idempotency key.
    """
    cursor.execute(
        f"""
        CREATE TEMPORARY TABLE {STAGE_TABLE} (
            line_number integer NOT NULL,
            external_id {_column_type(Identity, "value")},
            profile_id bigint,
            occurred_at timestamp with time zone NOT NULL,
            revenue {_column_type(Event, "revenue")} NOT NULL,
            currency {_column_type(Event, "currency")} NOT NULL,
            properties jsonb NOT NULL,
            object_id {_column_type(Event, "object_id")} NOT NULL,
            idempotency_key {_column_type(Event, "idempotency_key")} NOT NULL
        )
        """
    )
    columns = (
        "line_number, external_id, profile_id, occurred_at, revenue, currency, "
        "properties, object_id, idempotency_key"
    )
    keys: set[str] = set()
    dumps = json.dumps
    sha1 = hashlib.sha1
    with cursor.cursor.copy(f"COPY {STAGE_TABLE} ({columns}) FROM STDIN") as copy:
        write_row = copy.write_row
        for row in rows:
            key = row.key
            if key in keys:
                continue
            keys.add(key)
            profile_id = profile_ids.get(row.customer_key) if profile_ids else None
            write_row(
                (
                    row.line_number,
                    None if profile_id else row.external_id,
                    profile_id,
                    row.occurred_at,
                    row.total,
                    row.currency,
                    dumps(row.properties),
                    sha1(key.encode()).hexdigest()[:32],
                    key,
                )
            )
    return len(rows) - len(keys)


# The statements below look rows up in the event and identity tables through scalar
# subqueries, which PostgreSQL runs as one index lookup per staged row. As joins,
# the planner read the whole table into a hash once its statistics were stale, as
# they are while an import grows it, which made each chunk slower than the last.


def _drop_stored(cursor: Any) -> int:
    """Delete the staged rows whose key is stored; return their number."""
    cursor.execute(
        f"""
        DELETE FROM {STAGE_TABLE} AS stage
        WHERE (
            SELECT event.id FROM {_table(Event)} AS event
            WHERE event.idempotency_key = stage.idempotency_key
        ) IS NOT NULL
        """
    )
    return cursor.rowcount


def _create_profiles(cursor: Any, currency: str) -> int:
    """Create a profile and an external identity for each unknown external id.

    The staged rows of such a customer are all its orders, since every row kept in
    the staging table has a key not stored yet, so the new profile gets its order
    aggregates here and needs no UPDATE later.
    """
    cursor.execute(
        f"""
        CREATE TEMPORARY TABLE {NEW_CUSTOMER_TABLE} AS
        SELECT nextval(pg_get_serial_sequence(%s, %s)) AS profile_id, external_id,
               order_count, total_spent, first_order_at, last_order_at
        FROM (
            SELECT customer.*
            FROM (
                SELECT stage.external_id,
                       min(stage.line_number) AS first_line,
                       count(*) AS order_count,
                       sum(stage.revenue) AS total_spent,
                       min(stage.occurred_at) AS first_order_at,
                       max(stage.occurred_at) AS last_order_at
                FROM {STAGE_TABLE} AS stage
                WHERE stage.external_id IS NOT NULL
                GROUP BY stage.external_id
            ) AS customer
            WHERE (
                SELECT identity.id FROM {_table(Identity)} AS identity
                WHERE identity.kind = %s AND identity.value = customer.external_id
            ) IS NULL
            ORDER BY customer.first_line
        ) AS missing
        """,
        [Profile._meta.db_table, Profile._meta.pk.column, EXTERNAL],
    )
    created = cursor.rowcount
    if not created:
        return 0

    now = timezone.now()
    _insert_from(
        cursor,
        Profile(created_at=now, updated_at=now, currency=currency),
        {
            "id": "profile_id",
            "uuid": "gen_random_uuid()",
            "order_count": "order_count",
            "total_spent": "total_spent",
            "average_order_value": "total_spent / order_count",
            "first_order_at": "first_order_at",
            "last_order_at": "last_order_at",
        },
    )
    _insert_from(
        cursor,
        Identity(kind=EXTERNAL, source="import", created_at=now, last_seen_at=now),
        {"profile_id": "profile_id", "value": "external_id"},
    )
    return created


def _insert_from(cursor: Any, template: models.Model, varying: dict[str, str]) -> None:
    """Insert one row per new customer: ``varying`` maps attribute names to SQL
    expressions over the new-customer table, the template gives every other field.
    """
    model = type(template)
    columns = []
    expressions = []
    params = []
    for field in model._meta.concrete_fields:
        if field.attname in varying:
            columns.append(connection.ops.quote_name(field.column))
            expressions.append(varying[field.attname])
            continue
        if field.primary_key:
            continue
        # auto_now and auto_now_add fields take their value here.
        field.pre_save(template, add=True)
        columns.append(connection.ops.quote_name(field.column))
        expressions.append("%s")
        params.append(
            field.get_db_prep_save(getattr(template, field.attname), connection)
        )
    cursor.execute(
        f"INSERT INTO {_table(model)} ({', '.join(columns)}) "
        f"SELECT {', '.join(expressions)} FROM {NEW_CUSTOMER_TABLE} "
        "ORDER BY profile_id",
        params,
    )


def _insert_events(cursor: Any) -> int:
    """Insert one order event per staged row; return the number inserted.

    ``ON CONFLICT DO NOTHING`` skips keys that an import running beside this one
    stored since the staged rows were checked. The existing profiles that got
    events go into the touched table. The events get their ids in the order of the
    staging table's sequential scan, which is the file's order for a table filled
    once by ``COPY``. Nothing depends on that order.
    """
    cursor.execute(
        f"CREATE TEMPORARY TABLE {TOUCHED_TABLE} (profile_id bigint PRIMARY KEY)"
    )
    received_at: datetime = timezone.now()
    cursor.execute(
        f"""
        WITH inserted AS (
            INSERT INTO {_table(Event)} (
                profile_id, name, occurred_at, received_at, source, properties,
                object_type, object_id, revenue, currency, idempotency_key
            )
            SELECT coalesce(
                       stage.profile_id,
                       (
                           SELECT identity.profile_id
                           FROM {_table(Identity)} AS identity
                           WHERE identity.kind = %s
                             AND identity.value = stage.external_id
                       )
                   ),
                   %s, stage.occurred_at, %s, 'import', stage.properties, 'order',
                   stage.object_id, stage.revenue, stage.currency,
                   stage.idempotency_key
            FROM {STAGE_TABLE} AS stage
            ON CONFLICT DO NOTHING
            RETURNING profile_id
        ), touched AS (
            INSERT INTO {TOUCHED_TABLE}
            SELECT DISTINCT profile_id FROM inserted
            WHERE NOT EXISTS (
                SELECT 1 FROM {NEW_CUSTOMER_TABLE} AS new_customer
                WHERE new_customer.profile_id = inserted.profile_id
            )
        )
        SELECT count(*) FROM inserted
        """,
        [EXTERNAL, ORDER_EVENT, received_at],
    )
    return cursor.fetchone()[0]


def _update_aggregates(cursor: Any, currency: str) -> None:
    """Recompute the order aggregates of the touched profiles in one UPDATE.

    The figures are those of ``recompute_aggregates``: order events that no
    cancellation or refund of the same object reverses. A profile without a currency
    takes the import's.
    """
    cursor.execute(f"SELECT count(*) FROM {TOUCHED_TABLE}")
    if not cursor.fetchone()[0]:
        return
    cursor.execute(f"ANALYZE {TOUCHED_TABLE}")
    reversals = ", ".join(["%s"] * len(ORDER_REVERSAL_EVENTS))
    cursor.execute(
        f"""
        UPDATE {_table(Profile)} AS profile
        SET order_count = orders.order_count,
            total_spent = orders.total_spent,
            first_order_at = orders.first_order_at,
            last_order_at = orders.last_order_at,
            average_order_value = CASE
                WHEN orders.order_count > 0
                THEN orders.total_spent / orders.order_count
                ELSE 0
            END,
            currency = CASE
                WHEN profile.currency = '' THEN %s ELSE profile.currency
            END
        FROM {TOUCHED_TABLE} AS touched
        CROSS JOIN LATERAL (
            SELECT count(*) AS order_count,
                   coalesce(sum(event.revenue), 0) AS total_spent,
                   min(event.occurred_at) AS first_order_at,
                   max(event.occurred_at) AS last_order_at
            FROM {_table(Event)} AS event
            WHERE event.profile_id = touched.profile_id
              AND event.name = %s
              AND NOT EXISTS (
                  SELECT 1 FROM {_table(Event)} AS reversal
                  WHERE reversal.profile_id = event.profile_id
                    AND reversal.name IN ({reversals})
                    AND reversal.object_type = event.object_type
                    AND reversal.object_id = event.object_id
              )
        ) AS orders
        WHERE profile.id = touched.profile_id
        """,
        [currency, ORDER_EVENT, *ORDER_REVERSAL_EVENTS],
    )
