"""Database helpers shared by the domains that write rows in batches."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, models


def bulk_update_rows(
    model: type[models.Model],
    rows: Sequence[models.Model],
    fields: Sequence[str],
) -> int:
    """Write ``fields`` of each of ``rows`` back to its row; return how many.

    PostgreSQL gets one ``UPDATE ... FROM (VALUES ...)`` statement. Other databases
    get Django's ``bulk_update``, whose ``CASE`` expression grows with rows times
    fields and costs far more to build. ``auto_now`` fields are not set here; the
    caller sets them like any other field it lists.
    """
    if not rows:
        return 0
    if connection.vendor != "postgresql":
        return model._default_manager.bulk_update(rows, fields, batch_size=500)

    meta = model._meta
    pk = meta.pk
    assert pk is not None
    columns = [meta.get_field(name) for name in fields]
    casts = [
        f"%s::{field.db_type(connection)}"
        for field in (pk, *columns)  # type: ignore[union-attr]
    ]
    values_row = "(" + ", ".join(casts) + ")"
    quote = connection.ops.quote_name
    names = ", ".join(quote(field.column) for field in (pk, *columns))
    assignments = ", ".join(
        f"{quote(field.column)} = new.{quote(field.column)}" for field in columns
    )
    table = quote(meta.db_table)
    updated = 0
    for start in range(0, len(rows), 500):
        chunk = rows[start : start + 500]
        params: list[object] = []
        for row in chunk:
            params.append(pk.get_db_prep_save(row.pk, connection))
            for field in columns:
                params.append(
                    field.get_db_prep_save(getattr(row, field.attname), connection)
                )
        sql = (
            f"UPDATE {table} AS old SET {assignments} "
            f"FROM (VALUES {', '.join([values_row] * len(chunk))}) AS new ({names}) "
            f"WHERE old.{quote(pk.column)} = new.{quote(pk.column)}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            updated += cursor.rowcount
    return updated
