"""Database helpers shared by the domains that read or write rows in batches."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any

from django.db import connection, models, transaction

#: Column types whose ``get_db_prep_save`` returns a value of this Python type
#: unchanged on PostgreSQL, so ``_db_value`` can skip the call for it.
PLAIN_TYPES: dict[str, type] = {
    "AutoField": int,
    "BigAutoField": int,
    "BigIntegerField": int,
    "BooleanField": bool,
    "CharField": str,
    "EmailField": str,
    "IntegerField": int,
    "PositiveBigIntegerField": int,
    "PositiveIntegerField": int,
    "PositiveSmallIntegerField": int,
    "SlugField": str,
    "SmallAutoField": int,
    "SmallIntegerField": int,
    "TextField": str,
    "URLField": str,
}


def stream(queryset: models.QuerySet[Any], chunk_size: int = 5000) -> Iterator[Any]:
    """Yield the rows of ``queryset``, fetched ``chunk_size`` at a time.

    The rows are read inside a transaction. Outside one, Django declares the
    PostgreSQL cursor WITH HOLD, and PostgreSQL then copies the whole result
    before the first row arrives. Only for loops that read: a write made while
    iterating would join this transaction.
    """
    with transaction.atomic(using=queryset.db):
        yield from queryset.iterator(chunk_size=chunk_size)


def bulk_update_rows(
    model: type[models.Model],
    rows: Sequence[models.Model],
    fields: Sequence[str],
) -> int:
    """Write ``fields`` of each of ``rows`` back to its row; return how many.

    PostgreSQL gets one ``UPDATE ... FROM unnest(...)`` statement with one array
    parameter per column, whatever the number of rows, so the statement stays short
    and its text is parsed once per process. Other databases get Django's
    ``bulk_update``, whose ``CASE`` expression grows with rows times fields.
    ``auto_now`` fields are not set here; the caller sets them like any other
    field it lists.
    """
    if not rows:
        return 0
    if connection.vendor != "postgresql":
        return model._default_manager.bulk_update(rows, fields, batch_size=500)
    sql, params = _update_statement(model, rows, fields, {})
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def bulk_update_rows_where(
    model: type[models.Model],
    rows: Sequence[models.Model],
    fields: Sequence[str],
    where: Mapping[str, Any],
) -> set[Any]:
    """Write ``fields`` of those ``rows`` whose stored columns still equal
    ``where``; return the primary keys of the rows written.

    Rows changed meanwhile by another transaction are left as they are, so the
    caller can tell them apart. On PostgreSQL this is one ``UPDATE ... RETURNING``
    statement, which re-checks ``where`` on a row that a concurrent transaction
    held locked. Other databases lock the matching rows with ``SELECT ... FOR
    UPDATE`` (where the database has it), then call ``bulk_update``; call it
    inside a transaction there.
    """
    if not rows:
        return set()
    if connection.vendor != "postgresql":
        keys = set(
            model._default_manager.select_for_update()
            .filter(pk__in=[row.pk for row in rows], **where)
            .values_list("pk", flat=True)
        )
        matching = [row for row in rows if row.pk in keys]
        if matching:
            model._default_manager.bulk_update(matching, fields, batch_size=500)
        return keys
    sql, params = _update_statement(model, rows, fields, where)
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} RETURNING old.{quote(model._meta.pk.column)}", params)
        return {key for (key,) in cursor.fetchall()}


def _update_statement(
    model: type[models.Model],
    rows: Sequence[models.Model],
    fields: Sequence[str],
    where: Mapping[str, Any],
) -> tuple[str, list[Any]]:
    """Return the ``UPDATE ... FROM unnest(...)`` statement of ``bulk_update_rows``
    and its parameters, with ``where`` as equality tests on the stored row."""
    meta = model._meta
    pk = meta.pk
    assert pk is not None
    columns = [pk, *(meta.get_field(name) for name in fields)]
    params: list[Any] = []
    for field in columns:
        read, convert = attrgetter(field.attname), _db_value(field)
        params.append([convert(read(row)) for row in rows])
    quote = connection.ops.quote_name
    casts = ", ".join(f"%s::{_array_type(field)}" for field in columns)
    names = ", ".join(quote(field.column) for field in columns)
    assignments = ", ".join(
        f"{quote(field.column)} = new.{quote(field.column)}" for field in columns[1:]
    )
    conditions = [f"old.{quote(pk.column)} = new.{quote(pk.column)}"]
    for name, value in where.items():
        field = meta.get_field(name)
        conditions.append(f"old.{quote(field.column)} = %s")
        params.append(_db_value(field)(value))
    sql = (
        f"UPDATE {quote(meta.db_table)} AS old SET {assignments} "
        f"FROM unnest({casts}) AS new ({names}) "
        f"WHERE {' AND '.join(conditions)}"
    )
    return sql, params


def copy_insert(model: type[models.Model], rows: Sequence[models.Model]) -> None:
    """Insert ``rows`` and set their primary keys, as ``bulk_create`` does.

    PostgreSQL takes the ids from the table's sequence in one query and the rows
    in one ``COPY``, which skips building and parsing an ``INSERT`` with a
    parameter for every field of every row. Other databases get ``bulk_create``.
    Either way a unique violation raises IntegrityError and inserts nothing.
    ``pre_save`` runs for every field first, so ``auto_now`` fields are set.
    """
    if not rows:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_create(rows, batch_size=1000)
        return

    meta = model._meta
    pk = meta.pk
    assert pk is not None
    fields = [field for field in meta.concrete_fields if not field.generated]
    readers = [(_reader(field), _db_value(field)) for field in fields]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    with connection.cursor() as cursor, connection.wrap_database_errors:
        missing = [row for row in rows if row.pk is None]
        if missing:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) "
                "FROM generate_series(1, %s)",
                [meta.db_table, pk.column, len(missing)],
            )
            for row, (value,) in zip(missing, cursor.fetchall(), strict=True):
                row.pk = value
        with cursor.copy(f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([convert(read(row)) for read, convert in readers])
    for row in rows:
        row._state.adding = False
        row._state.db = connection.alias


def _reader(field: Any) -> Callable[[models.Model], Any]:
    """Return a function reading a new row's value of ``field``, after
    ``pre_save`` where the field has one that changes the value."""
    if type(field).pre_save is models.Field.pre_save:
        return attrgetter(field.attname)
    if isinstance(field, models.DateField | models.TimeField) and not (
        field.auto_now or field.auto_now_add
    ):
        return attrgetter(field.attname)
    return lambda row: field.pre_save(row, True)


def _db_value(field: Any) -> Callable[[Any], Any]:
    """Return ``field.get_db_prep_save`` as a one-argument function.

    Values that the call would return unchanged on PostgreSQL (a ``str`` for a
    text column, an aware datetime) skip it, because a batch makes this call
    for every column of every row.
    """
    target = field.target_field if field.is_relation else field
    kind = target.get_internal_type()
    prepare = field.get_db_prep_save
    plain = PLAIN_TYPES.get(kind)
    if plain is not None:

        def convert(value: Any) -> Any:
            if value is None or type(value) is plain:
                return value
            return prepare(value, connection)

    elif kind == "DateTimeField":

        def convert(value: Any) -> Any:
            if value is None or (type(value) is datetime and value.tzinfo is not None):
                return value
            return prepare(value, connection)

    else:

        def convert(value: Any) -> Any:
            return prepare(value, connection)

    return convert


def _array_type(field: Any) -> str:
    """Return the PostgreSQL array type of a column, such as ``varchar(16)[]``."""
    return f"{field.db_type(connection)}[]"
