"""The benchmark runner keeps working: a tiny run, its JSON, and its helpers.

Nothing here is timed; the figures of a tiny run mean nothing.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.__main__ import (
    growth_reading,
    growth_rows,
    main,
    parse_size,
    parse_sizes,
    print_markdown,
    status_rows,
    target_met,
)

ROOT = Path(__file__).resolve().parent.parent
REQUIRED_FIELDS = {
    "name": str,
    "unit": str,
    "target": str,
    "customers": int,
}
NUMERIC_FIELDS = ("value", "reference_value", "ratio", "peak_rss_mb")


def test_runner_tiny_run_writes_results(tmp_path, capsys):
    output = tmp_path / "results.json"
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    environment.pop("DATABASE_URL", None)
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--sizes",
            "100",
            "--only",
            "predictions_models",
            "--output",
            str(output),
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "figure" in completed.stdout

    rows = json.loads(output.read_text())
    assert isinstance(rows, list)
    assert rows
    for row in rows:
        for field, kind in REQUIRED_FIELDS.items():
            assert isinstance(row[field], kind), (field, row)
        for field in NUMERIC_FIELDS:
            assert isinstance(row[field], int | float), (field, row)
        assert row["status"] in ("met", "missed")
        assert row["peak_rss_mb"] > 0
    assert 100 in {row["customers"] for row in rows}

    print_markdown(rows)
    markdown = capsys.readouterr().out
    assert markdown.startswith("| figure | customers |")
    assert len(markdown.splitlines()) == len(rows) + 2


def test_runner_rejects_unknown_module(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--only", "no_such_benchmark"])
    assert exit_info.value.code == 2
    assert "no benchmark module matches" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2000", 2000), ("10k", 10_000), ("100K", 100_000), ("1m", 1_000_000)],
)
def test_parse_size_suffixes(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "ten", "1g", "-5", "0", "1.5m"])
def test_parse_size_invalid(text):
    with pytest.raises(argparse.ArgumentTypeError, match="invalid size"):
        parse_size(text)


def test_parse_sizes_sorted_unique():
    assert parse_sizes("1m, 10k,100k,10k") == [10_000, 100_000, 1_000_000]


@pytest.mark.parametrize(
    ("target", "value", "ratio", "met"),
    [
        ("ratio<=1.5", 9.0, 1.2, True),
        ("ratio<=1.5", 9.0, 1.6, False),
        (">=1000", 1500.0, 0.1, True),
        (">=1000", 999.0, 5.0, False),
        ("<=20", 19.5, 9.0, True),
        ("ratio>=0.1", 50.0, 0.05, False),
    ],
)
def test_target_met_cases(target, value, ratio, met):
    row = {"name": "figure", "target": target, "value": value, "ratio": ratio}
    assert target_met(row) is met


def test_target_invalid_names_figure():
    row = {"name": "figure", "target": "fast", "value": 1.0, "ratio": 1.0}
    with pytest.raises(ValueError, match="figure: target 'fast' is invalid"):
        target_met(row)


@pytest.mark.parametrize(
    ("unit", "value_factor", "reading"),
    [
        ("s", 100.0, "linear"),
        ("s", 10.0, "sub-linear"),
        ("ms", 1.1, "constant"),
        ("s", 1000.0, "super-linear"),
        ("s", 0.1, "falls"),
        ("rows/s", 0.95, "steady rate"),
        ("rows/s", 0.5, "rate falls"),
    ],
)
def test_growth_reading_from_100x_sizes(unit, value_factor, reading):
    assert growth_reading(unit, value_factor, 100.0) == reading


def test_growth_rows_skip_rows_without_values():
    rows = [
        {"name": "a", "unit": "s", "value": 1.0, "customers": 10, "peak_rss_mb": 100},
        {"name": "a", "unit": "s", "value": 10.0, "customers": 100, "peak_rss_mb": 200},
        {"name": "a", "unit": "s", "value": None, "customers": 1000},
    ]
    [growth] = growth_rows(rows)
    assert growth["from"] == 10
    assert growth["to"] == 100
    assert growth["reading"] == "linear"
    assert growth["memory_factor"] == 2.0


def test_status_rows_repeat_previous_names():
    previous = [{"name": "a", "unit": "s", "target": "<=1"}]
    [row] = status_rows("bench_x", 1_000_000, previous, "not run", "too slow")
    assert row["name"] == "a"
    assert row["value"] is None
    assert row["customers"] == 1_000_000
    assert row["note"] == "too slow"
    [fallback] = status_rows("bench_x", 10, [], "failed", "exited with status 1")
    assert fallback["name"] == "bench_x"
