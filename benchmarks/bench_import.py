"""Order import and RFM scoring, on the CDNOW file and on a generated history.

* import rate: ``import_orders`` (the code behind ``omnichannel_import_orders``), in
  purchase rows per second. The reference is a bare ``COPY`` of the same rows, read
  from the same file, into a copy of the event table with the same indexes and no
  foreign keys. The import also writes profiles and identities, so the target is a
  quarter of the reference's rate;
* RFM scoring: ``score_all`` (delete the old scores, one ``INSERT ... SELECT`` with
  window functions, group sizes) against one hand-written ``SELECT`` of the same
  three quintile scores that writes nothing. Writing costs several times reading:
  at 20,000 profiles about half of the INSERT was the foreign-key check on each
  score row (EXPLAIN ANALYZE), so the target allows ten times the SELECT.

Both run first on the CDNOW file (69,659 rows of 23,570 customers, shipped in
``example_project/data``), then on a generated CDNOW-format file of ``customers``
customers with a fixed seed, each with one purchase plus a geometric number more
(mean 2.96 rows per customer, as in CDNOW), between 1997-01-01 and 1998-06-30.

PostgreSQL only. The data lives in a database of its own (the settings' test
database), created and dropped by this script.
"""

from __future__ import annotations

import random
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from benchmarks.common import ROOT, Result, best_of, isolated_database, setup_django

CDNOW_PATH = ROOT / "example_project" / "data" / "CDNOW_master.txt"
SEED = 20261204
FIRST_DAY = date(1997, 1, 1)
DAYS = 546
# One purchase, then each further one with this probability: mean 1 / (1 - p).
REPEAT_PROBABILITY = 0.662
REFERENCE_TABLE = "bench_event_copy"
REFERENCE_RFM_SQL = """
    SELECT count(*), sum(r), sum(f), sum(m) FROM (
        SELECT 1 + (5 * (RANK() OVER (ORDER BY last_order_at) - 1))
                   / (COUNT(*) OVER ()) AS r,
               1 + (5 * (RANK() OVER (ORDER BY order_count) - 1))
                   / (COUNT(*) OVER ()) AS f,
               1 + (5 * (RANK() OVER (ORDER BY total_spent) - 1))
                   / (COUNT(*) OVER ()) AS m
        FROM omnichannel_profile
        WHERE order_count > 0 AND merged_into_id IS NULL
    ) AS scores
"""


def write_history(path: Path, customers: int) -> int:
    """Write a CDNOW-format purchase file for ``customers`` customers; return rows."""
    rng = random.Random(SEED)
    rows = 0
    with path.open("w", encoding="utf-8") as handle:
        lines = []
        for customer in range(1, customers + 1):
            day = rng.randrange(DAYS)
            while True:
                when = FIRST_DAY + timedelta(days=day)
                cds = 1 + int(rng.expovariate(0.5))
                dollars = round(cds * rng.uniform(9.0, 16.0), 2)
                lines.append(f"{customer:07d} {when:%Y%m%d} {cds} {dollars:.2f}\n")
                rows += 1
                if rng.random() >= REPEAT_PROBABILITY:
                    break
                day = min(DAYS - 1, day + 1 + int(rng.expovariate(1 / 60)))
            if len(lines) >= 50_000:
                handle.writelines(lines)
                lines = []
        handle.writelines(lines)
    return rows


def copy_reference(path: Path) -> int:
    """COPY the file's rows into a copy of the event table; return the rows written.

    The table is emptied first, so every call writes the same rows into the same
    indexes.
    """
    from django.db import connection, transaction
    from psycopg.types.json import Jsonb

    rows = 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {REFERENCE_TABLE}")
        with (
            path.open(encoding="utf-8") as handle,
            cursor.cursor.copy(
                f"COPY {REFERENCE_TABLE} (profile_id, name, occurred_at, "
                "received_at, source, properties, object_type, object_id, revenue, "
                "currency, idempotency_key) FROM STDIN"
            ) as copy,
        ):
            for line_number, line in enumerate(handle, start=1):
                parts = line.split()
                if len(parts) != 4 or not parts[0].isdigit():
                    continue
                customer, day, cds, dollars = parts
                stamp = f"{day[:4]}-{day[4:6]}-{day[6:]} 12:00+00"
                copy.write_row(
                    (
                        int(customer),
                        "order_placed",
                        stamp,
                        stamp,
                        "import",
                        Jsonb({"quantity": int(cds)}),
                        "order",
                        str(line_number),
                        dollars,
                        "USD",
                        f"reference:{line_number}",
                    )
                )
                rows += 1
    return rows


def reset_tables() -> None:
    """Empty the profile tables and everything that refers to them."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE omnichannel_profile CASCADE")


def measure(path: Path, label: str, customers: int) -> list[Result]:
    """Import ``path`` into empty tables and score RFM, each beside its reference."""
    from django.db import connection

    from omnichannel.predictions.rfm import score_all
    from omnichannel.profiles.importer import import_orders

    reset_tables()
    started = time.perf_counter()
    result = import_orders(path, file_format="cdnow", currency="USD")
    seconds = time.perf_counter() - started
    if result.errors:
        raise AssertionError(f"{label}: {len(result.errors)} rows did not parse.")
    rows = result.rows_imported

    started = time.perf_counter()
    reference_rows = copy_reference(path)
    reference_seconds = time.perf_counter() - started
    if reference_rows != rows:
        raise AssertionError(
            f"{label}: the import wrote {rows} rows, the reference {reference_rows}."
        )

    def reference_rfm() -> None:
        with connection.cursor() as cursor:
            cursor.execute(REFERENCE_RFM_SQL)
            cursor.fetchone()

    sizes = score_all()
    scoring = best_of(score_all, repeat=2)
    reference_scoring = best_of(reference_rfm, repeat=2)
    return [
        Result(
            name=f"import: {label}, rows/s",
            value=round(rows / seconds, 1),
            unit="rows/s",
            reference_value=round(reference_rows / reference_seconds, 1),
            target="ratio>=0.25",
            customers=customers,
            reference="bare COPY of the same rows into a copy of the event table",
            note=f"{rows} rows, {result.profiles_created} profiles, {seconds:.1f} s",
        ),
        Result(
            name=f"import: {label}, RFM scoring",
            value=scoring,
            unit="s",
            reference_value=reference_scoring,
            target="ratio<=10",
            customers=customers,
            reference="one SELECT of the same quintile scores, nothing written",
            note=f"{sum(sizes.values())} profiles scored",
        ),
    ]


def run(customers: int) -> list[Result]:
    setup_django()
    from django.db import connection

    if connection.vendor != "postgresql":
        raise RuntimeError(
            "bench_import needs PostgreSQL; set DATABASE_URL, for example "
            "postgres://postgres@127.0.0.1:5432/test."
        )
    with isolated_database(), tempfile.TemporaryDirectory() as folder:
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TABLE {REFERENCE_TABLE} "
                "(LIKE omnichannel_event INCLUDING DEFAULTS INCLUDING IDENTITY "
                "INCLUDING INDEXES)"
            )
        results = measure(CDNOW_PATH, "CDNOW file", 23_570)
        path = Path(folder) / "history.txt"
        write_history(path, customers)
        results += measure(path, "generated history", customers)
    return results
