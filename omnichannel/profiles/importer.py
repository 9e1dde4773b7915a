"""Import order histories from files into profiles and order events.

Imports write events in bulk and send no signals, so history never triggers journeys.
Each row gets an idempotency key, so importing a file again adds nothing. The file is
read and written in chunks of ``CHUNK_SIZE`` rows, so memory stays flat on large
files. On PostgreSQL with psycopg 3 a chunk goes through a staging table
(:mod:`omnichannel.profiles.staging`); other databases use ``bulk_create``.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import zoneinfo
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from omnichannel.conf import app_settings
from omnichannel.exceptions import ImportRowError, InvalidIdentifier
from omnichannel.profiles import staging
from omnichannel.profiles.batch import EVENT_COLUMNS as BATCH_EVENT_COLUMNS
from omnichannel.profiles.models import Event, Identity, Profile
from omnichannel.profiles.services import (
    collect_identifiers,
    recompute_aggregates,
    resolve_profile,
)

logger = logging.getLogger(__name__)

FORMATS = ("cdnow", "csv")
CSV_REQUIRED = ("order_id", "created_at", "total")
CSV_CUSTOMER_COLUMNS = ("customer_id", "email", "phone")
BATCH_SIZE = 5000
CHUNK_SIZE = BATCH_SIZE * 4
# Limits that keep the idempotency key (200 characters), the external id (255) and
# the revenue (14 digits, 2 of them decimals) within their columns.
CDNOW_MAX_CUSTOMER_LENGTH = 100
MAX_QUANTITY_DIGITS = 9
CSV_MAX_CUSTOMER_LENGTH = 255 - len("csv:")
MAX_ORDER_ID_LENGTH = 200 - len("import:csv:")
MAX_AMOUNT = Decimal("999999999999.99")
# The event columns the import writes: those of a batch, but the id, which the
# database assigns here.
EVENT_COLUMNS = tuple(column for column in BATCH_EVENT_COLUMNS if column != "id")


@dataclass(slots=True)
class OrderRow:
    """One parsed purchase row."""

    line_number: int
    key: str
    occurred_at: datetime
    total: Decimal
    currency: str
    external_id: str = ""
    email: str = ""
    phone: str = ""
    first_name: str = ""
    last_name: str = ""
    properties: dict[str, Any] = field(default_factory=dict)

    @property
    def customer_key(self) -> tuple[str, str, str]:
        return (self.external_id, self.email, self.phone)


@dataclass
class ImportResult:
    rows_read: int = 0
    rows_imported: int = 0
    rows_skipped_existing: int = 0
    profiles_created: int = 0
    errors: list[ImportRowError] = field(default_factory=list)


def _shop_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(app_settings.DEFAULT_TIME_ZONE or settings.TIME_ZONE)


def _at_noon(day: date, zone: zoneinfo.ZoneInfo | None = None) -> datetime:
    # A purchase known only by its date is placed at noon in the shop's zone, so
    # that it stays on the same calendar day in UTC and in every European zone.
    return datetime.combine(day, time(12, 0), tzinfo=zone or _shop_zone())


def _parse_amount(text: str, line_number: int, column: str) -> Decimal:
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ImportRowError(
            line_number, f"{column} {text!r} is not a decimal number."
        ) from None
    if not amount.is_finite():
        raise ImportRowError(line_number, f"{column} {text!r} is not a finite number.")
    if amount < 0:
        raise ImportRowError(
            line_number,
            f"{column} {text!r} is negative; import refunds as separate events.",
        )
    if amount > MAX_AMOUNT:
        raise ImportRowError(
            line_number, f"{column} {text!r} is larger than {MAX_AMOUNT}."
        )
    return amount.quantize(Decimal("0.01"))


def parse_cdnow(
    lines: Iterable[str], currency: str
) -> Iterator[OrderRow | ImportRowError]:
    """Parse CDNOW rows: ``customer date cds dollars`` or, in the 1/10 sample file,
    ``customer sample_id date cds dollars``. A header line is skipped."""
    seen: Counter[bytes] = Counter()
    # A history spans a few hundred or thousand days, so each date is parsed once.
    days: dict[str, datetime] = {}
    zone = _shop_zone()
    for line_number, line in enumerate(lines, start=1):
        parts = line.split()
        if not parts:
            continue
        if line_number == 1 and not parts[0].isdigit():
            continue
        if len(parts) == 5:
            parts = [parts[0], parts[2], parts[3], parts[4]]
        if len(parts) != 4:
            yield ImportRowError(
                line_number,
                f"expected 4 columns (customer, YYYYMMDD date, CDs, dollars), "
                f"found {len(parts)}.",
            )
            continue
        customer, day_text, quantity_text, amount_text = parts
        if len(customer) > CDNOW_MAX_CUSTOMER_LENGTH:
            yield ImportRowError(
                line_number,
                f"customer id {customer[:20]!r}... is longer than "
                f"{CDNOW_MAX_CUSTOMER_LENGTH} characters.",
            )
            continue
        occurred_at = days.get(day_text)
        if occurred_at is None:
            try:
                day = datetime.strptime(day_text, "%Y%m%d").date()
            except ValueError:
                yield ImportRowError(
                    line_number, f"date {day_text!r} is not a YYYYMMDD date."
                )
                continue
            occurred_at = days[day_text] = _at_noon(day, zone)
        if not quantity_text.isdigit():
            yield ImportRowError(
                line_number, f"number of CDs {quantity_text!r} is not a whole number."
            )
            continue
        if len(quantity_text) > MAX_QUANTITY_DIGITS:
            yield ImportRowError(
                line_number,
                f"number of CDs {quantity_text!r} has more than "
                f"{MAX_QUANTITY_DIGITS} digits.",
            )
            continue
        try:
            amount = _parse_amount(amount_text, line_number, "dollar value")
        except ImportRowError as error:
            yield error
            continue
        identity = "import:cdnow:" + ":".join(
            (customer, day_text, quantity_text, str(amount))
        )
        # Identical rows are separate purchases; the occurrence number keeps them
        # apart. The counter keeps an 8-byte digest per row instead of the text, so
        # a file of millions of rows fits in memory. Two rows whose digests collided
        # would still get distinct keys, and the same ones on every run.
        digest = hashlib.blake2b(identity.encode(), digest_size=8).digest()
        seen[digest] += 1
        key = f"{identity}:{seen[digest]}"
        yield OrderRow(
            line_number=line_number,
            key=key,
            occurred_at=occurred_at,
            total=amount,
            currency=currency,
            external_id=f"cdnow:{customer}",
            properties={"quantity": int(quantity_text)},
        )


def parse_csv(
    lines: Iterable[str], currency: str
) -> Iterator[OrderRow | ImportRowError]:
    """Parse a CSV file with a header: order_id, created_at, total, and at least one
    of customer_id, email, phone; optional currency, first_name, last_name."""
    reader = csv.DictReader(lines)
    columns = set(reader.fieldnames or [])
    missing = [name for name in CSV_REQUIRED if name not in columns]
    if missing or not columns & set(CSV_CUSTOMER_COLUMNS):
        wanted = ", ".join(missing) or "one of " + ", ".join(CSV_CUSTOMER_COLUMNS)
        yield ImportRowError(1, f"the header lacks the column(s) {wanted}.")
        return
    for row in reader:
        line_number = reader.line_num
        order_id = (row.get("order_id") or "").strip()
        if not order_id:
            yield ImportRowError(line_number, "order_id is empty.")
            continue
        if len(order_id) > MAX_ORDER_ID_LENGTH:
            yield ImportRowError(
                line_number,
                f"order_id {order_id[:20]!r}... is longer than "
                f"{MAX_ORDER_ID_LENGTH} characters.",
            )
            continue
        created_text = (row.get("created_at") or "").strip()
        occurred_at = (
            parse_datetime(created_text)
            if "T" in created_text or " " in created_text
            else None
        )
        if occurred_at is None:
            day = parse_date(created_text) if created_text else None
            if day is None:
                yield ImportRowError(
                    line_number,
                    f"created_at {created_text!r} is not an ISO 8601 date or datetime.",
                )
                continue
            occurred_at = _at_noon(day)
        elif timezone.is_naive(occurred_at):
            occurred_at = occurred_at.replace(tzinfo=_shop_zone())
        try:
            total = _parse_amount(
                (row.get("total") or "").strip(), line_number, "total"
            )
        except ImportRowError as error:
            yield error
            continue
        row_currency = (row.get("currency") or currency).strip().upper()
        if len(row_currency) != 3 or not row_currency.isalpha():
            yield ImportRowError(
                line_number, f"currency {row_currency!r} is not an ISO 4217 code."
            )
            continue
        customer_id = (row.get("customer_id") or "").strip()
        email = (row.get("email") or "").strip()
        phone = (row.get("phone") or "").strip()
        if not (customer_id or email or phone):
            yield ImportRowError(
                line_number, "the row has no customer_id, email or phone."
            )
            continue
        if len(customer_id) > CSV_MAX_CUSTOMER_LENGTH:
            yield ImportRowError(
                line_number,
                f"customer_id {customer_id[:20]!r}... is longer than "
                f"{CSV_MAX_CUSTOMER_LENGTH} characters.",
            )
            continue
        yield OrderRow(
            line_number=line_number,
            key=f"import:csv:{order_id}",
            occurred_at=occurred_at,
            total=total,
            currency=row_currency,
            external_id=f"csv:{customer_id}" if customer_id else "",
            email=email,
            phone=phone,
            first_name=(row.get("first_name") or "").strip(),
            last_name=(row.get("last_name") or "").strip(),
            properties={"order_id": order_id},
        )


def import_orders(
    path: Path | str,
    *,
    file_format: str,
    strict: bool = False,
    currency: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import an order file; in strict mode the first bad row stops it and nothing is
    written. Otherwise bad rows are reported in the result and the rest imported."""
    if file_format not in FORMATS:
        raise ValueError(f"Unknown format {file_format!r}; use one of {FORMATS}.")
    currency = currency or app_settings.DEFAULT_CURRENCY
    parser = parse_cdnow if file_format == "cdnow" else parse_csv
    result = ImportResult()
    with open(path, encoding="utf-8", newline="") as handle:
        items = parser(handle, currency)
        if strict:
            # One transaction for the whole file, so a bad row near the end still
            # leaves nothing written.
            with transaction.atomic():
                _import_items(items, result, file_format, strict, progress)
        else:
            _import_items(items, result, file_format, strict, progress)
    logger.info(
        "imported %d of %d rows (%d already present, %d errors)",
        result.rows_imported,
        result.rows_read + len(result.errors),
        result.rows_skipped_existing,
        len(result.errors),
    )
    return result


def _import_items(
    items: Iterable[OrderRow | ImportRowError],
    result: ImportResult,
    file_format: str,
    strict: bool,
    progress: Callable[[int], None] | None,
) -> None:
    use_staging = staging.can_copy()
    chunk: list[OrderRow] = []
    for item in items:
        if isinstance(item, ImportRowError):
            if strict:
                raise item
            result.errors.append(item)
            continue
        chunk.append(item)
        if len(chunk) >= CHUNK_SIZE:
            _import_chunk(chunk, result, file_format, strict, use_staging, progress)
            chunk = []
    if chunk:
        _import_chunk(chunk, result, file_format, strict, use_staging, progress)


def _import_chunk(
    chunk: list[OrderRow],
    result: ImportResult,
    file_format: str,
    strict: bool,
    use_staging: bool,
    progress: Callable[[int], None] | None,
) -> None:
    if file_format == "csv":
        _check_csv_identifiers(chunk, result, strict)
    result.rows_read += len(chunk)
    with transaction.atomic():
        if use_staging:
            _write_chunk_staged(chunk, result)
        else:
            _write_chunk(chunk, result)
    if progress:
        progress(len(chunk))


def _check_csv_identifiers(
    rows: list[OrderRow], result: ImportResult, strict: bool
) -> None:
    from omnichannel.profiles.normalise import normalise_email, normalise_phone

    good = []
    for row in rows:
        try:
            if row.email:
                row.email = normalise_email(row.email)
            if row.phone:
                row.phone = normalise_phone(row.phone)
        except InvalidIdentifier as error:
            failure = ImportRowError(row.line_number, f"{error.field}: {error.message}")
            if strict:
                raise failure from None
            result.errors.append(failure)
            continue
        good.append(row)
    rows[:] = good


def _write_chunk_staged(rows: list[OrderRow], result: ImportResult) -> None:
    # Customers known by email or phone are resolved one by one, for rows
    # not stored yet. The staging table resolves the external ids.
    identified = [row for row in rows if row.email or row.phone]
    profile_ids: dict[tuple[str, str, str], int] = {}
    if identified:
        existing = _existing_keys(identified)
        result.rows_skipped_existing += len(
            [row for row in identified if row.key in existing]
        )
        rows = [row for row in rows if row.key not in existing]
        profile_ids = _identify_customers(
            [row for row in identified if row.key not in existing], result
        )
    if not rows:
        return
    counts = staging.write_chunk(rows, profile_ids)
    result.rows_imported += counts.imported
    result.rows_skipped_existing += counts.skipped_existing
    result.profiles_created += counts.profiles_created


def _write_chunk(rows: list[OrderRow], result: ImportResult) -> None:
    # A key repeated within the chunk counts as present from its second row on.
    seen = _existing_keys(rows)
    new_rows = []
    for row in rows:
        if row.key not in seen:
            seen.add(row.key)
            new_rows.append(row)
    result.rows_skipped_existing += len(rows) - len(new_rows)
    if not new_rows:
        return
    profile_ids = _profiles_for(new_rows, result)
    result.rows_imported += _insert_events(new_rows, profile_ids)
    touched = sorted(set(profile_ids.values()))
    for start in range(0, len(touched), BATCH_SIZE):
        recompute_aggregates(touched[start : start + BATCH_SIZE])
    Profile.objects.filter(pk__in=touched, currency="").update(
        currency=new_rows[0].currency
    )


def _event_values(row: OrderRow, profile_id: int, received_at: datetime) -> tuple:
    return (
        profile_id,
        "order_placed",
        row.occurred_at,
        received_at,
        "import",
        row.properties,
        "order",
        hashlib.sha1(row.key.encode()).hexdigest()[:32],
        row.total,
        row.currency,
        row.key,
    )


def _insert_events(
    rows: list[OrderRow], profile_ids: dict[tuple[str, str, str], int]
) -> int:
    """Insert one order event per row, skipping keys stored meanwhile; return the
    number of rows passed."""
    received_at = timezone.now()
    events = [
        Event(
            **dict(
                zip(
                    EVENT_COLUMNS,
                    _event_values(row, profile_ids[row.customer_key], received_at),
                    strict=True,
                )
            )
        )
        for row in rows
    ]
    Event.objects.bulk_create(events, batch_size=BATCH_SIZE, ignore_conflicts=True)
    return len(events)


def _create_profiles(external_ids: list[str]) -> list[int]:
    """Create one profile per external id, with its identity; return the ids."""
    now = timezone.now()
    profiles = Profile.objects.bulk_create(
        [Profile(created_at=now) for _ in external_ids], batch_size=BATCH_SIZE
    )
    Identity.objects.bulk_create(
        [
            Identity(
                profile_id=profile.pk,
                kind=Identity.Kind.EXTERNAL,
                value=value,
                source="import",
            )
            for profile, value in zip(profiles, external_ids, strict=True)
        ],
        batch_size=BATCH_SIZE,
    )
    return [profile.pk for profile in profiles]


def _existing_keys(rows: list[OrderRow]) -> set[str]:
    keys: set[str] = set()
    for start in range(0, len(rows), BATCH_SIZE):
        batch = [row.key for row in rows[start : start + BATCH_SIZE]]
        keys.update(
            Event.objects.filter(idempotency_key__in=batch).values_list(
                "idempotency_key", flat=True
            )
        )
    return keys


def _profiles_for(
    rows: list[OrderRow], result: ImportResult
) -> dict[tuple[str, str, str], int]:
    keys = {row.customer_key: row for row in rows}
    mapping: dict[tuple[str, str, str], int] = {}
    external_only = [key for key in keys if key[0] and not key[1] and not key[2]]

    # Customers known only by an external id are resolved in bulk.
    for start in range(0, len(external_only), BATCH_SIZE):
        batch = external_only[start : start + BATCH_SIZE]
        values = [key[0] for key in batch]
        found = dict(
            Identity.objects.filter(
                kind=Identity.Kind.EXTERNAL, value__in=values
            ).values_list("value", "profile_id")
        )
        missing = [value for value in values if value not in found]
        if missing:
            found.update(zip(missing, _create_profiles(missing), strict=True))
            result.profiles_created += len(missing)
        for key in batch:
            mapping[key] = found[key[0]]

    mapping.update(_identify_customers(rows, result))
    return mapping


def _identify_customers(
    rows: list[OrderRow], result: ImportResult
) -> dict[tuple[str, str, str], int]:
    """Resolve the customers of rows with an email or phone as ``identify()`` does,
    counting the profiles it creates in ``result``."""
    keys = {row.customer_key: row for row in rows if row.email or row.phone}
    mapping: dict[tuple[str, str, str], int] = {}
    for key, row in keys.items():
        identifiers = collect_identifiers(
            email=row.email or None,
            phone=row.phone or None,
            external_id=row.external_id or None,
        )
        resolution = resolve_profile(
            identifiers,
            source="import",
            traits={"first_name": row.first_name, "last_name": row.last_name},
        )
        if resolution.created:
            result.profiles_created += 1
        mapping[key] = resolution.profile.pk
    return mapping
