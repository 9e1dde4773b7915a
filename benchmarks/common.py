"""Shared pieces of the benchmark suite: Django setup, timing, the result record."""

from __future__ import annotations

import os
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def setup_django() -> None:
    """Configure Django with the test settings on the database in DATABASE_URL."""
    for path in (str(ROOT), str(ROOT / "example_project")):
        if path not in sys.path:
            sys.path.insert(0, path)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    # Tasks run eagerly in the calling process, as the test settings ask; without
    # this app .delay() would publish to a broker.
    import tests.celery_app  # noqa: F401


@contextmanager
def isolated_database() -> Iterator[None]:
    """Create the settings' test database, run the block on it, then drop it."""
    from django.db import connection

    original = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(original, verbosity=0)


@dataclass
class Result:
    """One figure, measured beside its reference in the same run."""

    name: str
    value: float
    unit: str
    reference_value: float
    target: str
    customers: int
    reference: str = ""
    note: str = ""
    ratio: float = 0.0
    peak_rss_mb: float = 0.0

    def __post_init__(self) -> None:
        if not self.ratio and self.reference_value:
            self.ratio = round(self.value / self.reference_value, 3)
        self.peak_rss_mb = peak_rss_mb()

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def peak_rss_mb() -> float:
    """Return the peak resident set size of this process in MiB (Linux units)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def best_of(function: Callable[[], Any], repeat: int = 3) -> float:
    """Return the fastest of ``repeat`` timings of ``function``, in seconds."""
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        timings.append(time.perf_counter() - start)
    return min(timings)


def percentile(samples: list[float], fraction: float) -> float:
    """Return the ``fraction`` quantile of ``samples`` (0.95 for p95)."""
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[
        round(fraction * 100) - 1
    ]
