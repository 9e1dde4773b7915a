"""Bulk writes through PostgreSQL's ``COPY``, for imports of many rows.

``bulk_create`` prepares every value of every row through its model field and builds
one large parameterised statement. In a profile of the CDNOW import that Python work
took about as long as the database's own. Here only the values that differ from row
to row are passed in, and the others are prepared once from a template instance.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, models


def can_copy() -> bool:
    """Return whether the default database takes ``COPY`` from psycopg 3."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        return hasattr(cursor.cursor, "copy")


def allocate_ids(model: type[models.Model], count: int) -> list[int]:
    """Reserve ``count`` primary keys from the model's identity sequence."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) "
            "FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def copy_rows(
    template: models.Model,
    varying: Sequence[str],
    rows: Iterable[Sequence[Any]],
) -> int:
    """Write one row per item of ``rows`` with ``COPY``; return the number written.

    Each item contains the values of the fields named in ``varying`` (attribute names,
    such as ``profile_id``), ready for the database. Every other concrete field
    takes the template's value; the primary key is left to the database unless
    ``varying`` names it. Call :func:`can_copy` first.
    """
    model = type(template)
    fields = [
        field
        for field in model._meta.concrete_fields
        if field.attname in varying or not field.primary_key
    ]
    unknown = set(varying) - {field.attname for field in fields}
    if unknown:
        raise ValueError(
            f"{model.__name__} has no concrete field named {sorted(unknown)}."
        )
    for field in fields:
        if field.attname not in varying:
            # auto_now and auto_now_add fields take their value here.
            field.pre_save(template, add=True)
    constants = {
        field.attname: field.get_db_prep_save(
            getattr(template, field.attname), connection
        )
        for field in fields
        if field.attname not in varying
    }
    positions = {name: index for index, name in enumerate(varying)}
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    written = 0
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(
                    [
                        row[positions[field.attname]]
                        if field.attname in positions
                        else constants[field.attname]
                        for field in fields
                    ]
                )
                written += 1
    return written
