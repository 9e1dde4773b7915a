"""Run every benchmark and print one table; write benchmarks/results.json.

Usage: ``python -m benchmarks [--sizes 10k,100k,1m] [--only NAME,...]``. Each module
``benchmarks/bench_*.py`` defines ``run(customers: int) -> list[Result]``. A module
may also set ``MAX_CUSTOMERS`` and ``MAX_CUSTOMERS_REASON``: at larger sizes the
runner does not call it and its rows say why.

Every module runs once per size in a child process of its own, so a crash or a
timeout stays in its rows and each row's ``peak_rss_mb`` is the peak of that run
alone. After the figures, a second table shows how each one grows from the
smallest size to the largest.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import pkgutil
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, setup_django

RESULTS_PATH = ROOT / "benchmarks" / "results.json"
DEFAULT_SIZES = [100_000]
DEFAULT_TIMEOUT = 1800
SIZE_SUFFIXES = {"k": 1_000, "m": 1_000_000}

# Limits for modules that do not declare their own: (largest size, reason).
SIZE_LIMITS: dict[str, tuple[int, str]] = {
    "bench_journeys": (
        100_000,
        "it runs 100,000 enrollments at 100k customers and above, so a larger "
        "customer base measures the same work",
    ),
}


def parse_size(text: str) -> int:
    """Parse a size such as ``2000``, ``10k`` or ``1m`` into a number of customers."""
    match = re.fullmatch(r"\s*(\d+)\s*([kKmM]?)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(
            f"invalid size {text!r}: use a whole number with an optional k or m "
            "suffix, for example 10k or 1m."
        )
    number = int(match.group(1)) * SIZE_SUFFIXES.get(match.group(2).lower(), 1)
    if number < 1:
        raise argparse.ArgumentTypeError(f"invalid size {text!r}: must be at least 1.")
    return number


def parse_sizes(text: str) -> list[int]:
    """Parse a comma-separated list of sizes, such as ``10k,100k,1m``."""
    sizes = [parse_size(part) for part in text.split(",") if part.strip()]
    if not sizes:
        raise argparse.ArgumentTypeError("--sizes needs at least one size.")
    return sorted(set(sizes))


def format_size(customers: int) -> str:
    """Format a number of customers as ``10k`` or ``1m`` when it is round."""
    if customers % 1_000_000 == 0:
        return f"{customers // 1_000_000}m"
    if customers % 1_000 == 0:
        return f"{customers // 1_000}k"
    return str(customers)


def discover(only: str | None) -> list[str]:
    """Return the benchmark module names, filtered by comma-separated parts."""
    names = sorted(
        module.name
        for module in pkgutil.iter_modules([str(Path(__file__).parent)])
        if module.name.startswith("bench_")
    )
    if only:
        parts = [part.strip() for part in only.split(",") if part.strip()]
        names = [name for name in names if any(part in name for part in parts)]
    return names


def size_limit(name: str) -> tuple[int | None, str]:
    """Return the largest size a module runs at, and why, or ``None`` for no limit."""
    module = importlib.import_module(f"benchmarks.{name}")
    limit = getattr(module, "MAX_CUSTOMERS", None)
    if limit is not None:
        return limit, getattr(module, "MAX_CUSTOMERS_REASON", "")
    return SIZE_LIMITS.get(name, (None, ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run the benchmarks on generated data and print one table.",
    )
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        help="Comma-separated customer counts, such as 10k,100k,1m (default 100k).",
    )
    parser.add_argument(
        "--customers",
        type=parse_size,
        nargs="+",
        help="Customer counts as separate arguments; the same as --sizes.",
    )
    parser.add_argument(
        "--only",
        help="Run only the modules whose name contains one of these comma-separated "
        "parts, such as segments,import.",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=RESULTS_PATH,
        help="Where to write the JSON results (default benchmarks/results.json).",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help="Seconds one module may take at one size before it is stopped "
        f"(default {DEFAULT_TIMEOUT}).",
    )
    parser.add_argument(
        "--markdown",
        type=Path,
        help="Read a results JSON file, print it as Markdown tables and stop.",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = args.sizes or sorted(set(args.customers or DEFAULT_SIZES))
    if args.markdown:
        print_markdown(json.loads(args.markdown.read_text()))
        return 0

    setup_django()
    if args.child:
        return run_child(args.child, sizes[0], args.output)

    names = discover(args.only)
    if not names:
        parser.error(f"no benchmark module matches --only {args.only!r}.")
    rows: list[dict[str, Any]] = []
    failures = 0
    for name in names:
        for size_rows, failed in run_module(name, sizes, args.timeout):
            rows += size_rows
            failures += failed
            # Written after each size too, so a stopped run keeps what it measured.
            args.output.write_text(json.dumps(rows, indent=2) + "\n")

    print_table(rows)
    growth = growth_rows(rows)
    print_growth(growth)
    attach_growth(rows, growth)
    args.output.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"\nwrote {args.output}", file=sys.stderr)
    return 1 if failures else 0


def run_child(name: str, customers: int, output: Path) -> int:
    """Run one module at one size in this process and write its rows to ``output``."""
    module = importlib.import_module(f"benchmarks.{name}")
    results = module.run(customers)
    output.write_text(json.dumps([result.as_dict() for result in results]))
    return 0


def run_module(
    name: str, sizes: list[int], timeout: float
) -> Iterator[tuple[list[dict[str, Any]], bool]]:
    """Run one module at each size in a child process; yield its rows and whether
    the run failed, size by size."""
    limit, reason = size_limit(name)
    last_rows: list[dict[str, Any]] = []
    for customers in sizes:
        if limit is not None and customers > limit:
            note = f"not run above {format_size(limit)} customers: {reason}"
            yield status_rows(name, customers, last_rows, "not run", note), False
            continue
        print(f"running {name} with {customers} customers", file=sys.stderr)
        started = time.perf_counter()
        status, results, note = run_in_child(name, customers, timeout)
        seconds = round(time.perf_counter() - started, 1)
        print(f"{name} at {customers}: {status} in {seconds} s", file=sys.stderr)
        if status != "ok":
            yield status_rows(name, customers, last_rows, status, note), True
            continue
        for result in results:
            result["seconds"] = seconds
            result["status"] = "met" if target_met(result) else "missed"
        last_rows = results
        yield results, False


def run_in_child(
    name: str, customers: int, timeout: float
) -> tuple[str, list[dict[str, Any]], str]:
    """Run ``python -m benchmarks --child NAME``; return (status, rows, note)."""
    with tempfile.TemporaryDirectory(prefix="omnichannel-bench-") as folder:
        output = Path(folder) / "rows.json"
        command = [
            sys.executable,
            "-m",
            "benchmarks",
            "--child",
            name,
            "--customers",
            str(customers),
            "--output",
            str(output),
        ]
        # A session of its own, so a timeout can stop the servers and worker
        # processes that the module started, too.
        child = subprocess.Popen(
            command, cwd=ROOT, env=os.environ.copy(), start_new_session=True
        )
        try:
            code = child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_child(child)
            return "timed out", [], f"stopped after {timeout:.0f} s (--timeout)"
        except KeyboardInterrupt:
            # The child has a session of its own, so Ctrl-C does not reach it.
            stop_child(child)
            raise
        if code != 0 or not output.exists():
            return "failed", [], f"exited with status {code}; see the log above"
        return "ok", json.loads(output.read_text()), ""


def stop_child(child: subprocess.Popen[bytes]) -> None:
    """Stop a child run and every process it started, politely first."""
    os.killpg(child.pid, signal.SIGTERM)
    try:
        child.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()


def status_rows(
    name: str,
    customers: int,
    previous: list[dict[str, Any]],
    status: str,
    note: str,
) -> list[dict[str, Any]]:
    """Return rows without values for a run that did not produce figures.

    The rows repeat the figure names of the last size that ran, so the table shows
    which figures are missing. Before any size has run, one row names the module.
    """
    templates = previous or [{"name": name, "unit": "", "target": ""}]
    return [
        {
            "name": template["name"],
            "value": None,
            "unit": template["unit"],
            "reference_value": None,
            "ratio": None,
            "target": template["target"],
            "customers": customers,
            "peak_rss_mb": None,
            "status": status,
            "note": note,
        }
        for template in templates
    ]


def target_met(row: dict[str, Any]) -> bool:
    """Return whether a row's figure meets its target, such as ``ratio<=1.5``."""
    match = re.fullmatch(r"\s*(ratio)?\s*(<=|>=|<|>)\s*([0-9.]+)\s*", row["target"])
    if not match:
        raise ValueError(
            f"{row['name']}: target {row['target']!r} is invalid; write ratio<=1.5, "
            ">=1000 or <=20."
        )
    measured = row["ratio"] if match.group(1) else row["value"]
    if measured is None:
        return False
    bound = float(match.group(3))
    return {
        "<=": measured <= bound,
        ">=": measured >= bound,
        "<": measured < bound,
        ">": measured > bound,
    }[match.group(2)]


def _number(value: float | None, width: int, digits: int = 3) -> str:
    if value is None:
        return f"{'-':>{width}}"
    if value and abs(value) < 10**-digits:
        return f"{value:>{width}.2e}"
    return f"{value:>{width},.{digits}f}"


def print_table(rows: list[dict[str, Any]]) -> None:
    """Print one line per figure and size, then the notes of rows without values."""
    header = (
        f"{'figure':<48}{'customers':>10}{'value':>14} {'unit':<10}"
        f"{'reference':>14}{'ratio':>9}  {'target':<12}{'status':<10}{'peak MiB':>9}"
    )
    print(header)
    print("-" * len(header))
    notes = []
    for row in rows:
        print(
            f"{row['name'][:47]:<48}{row['customers']:>10}"
            f"{_number(row['value'], 14)} {row['unit'][:10]:<10}"
            f"{_number(row['reference_value'], 14)}{_number(row['ratio'], 9, 2)}  "
            f"{row['target']:<12}{row['status']:<10}"
            f"{_number(row['peak_rss_mb'], 9, 1)}"
        )
        if row["value"] is None:
            notes.append(f"{row['name']} at {row['customers']}: {row['note']}")
    for note in dict.fromkeys(notes):
        print(f"  {note}")


def growth_reading(unit: str, value_factor: float, size_factor: float) -> str:
    """Name how a figure grows when the customer count grows by ``size_factor``.

    A steady rate (a unit per second) means the work per customer stays the same.
    For other figures the exponent of ``value ~ customers ** k`` decides.
    """
    if value_factor <= 0:
        return "-"
    if unit.endswith("/s"):
        if value_factor >= 0.8:
            return "steady rate" if value_factor <= 1.25 else "rate rises"
        return "rate falls"
    exponent = math.log(value_factor) / math.log(size_factor)
    if exponent < -0.15:
        return "falls"
    if exponent < 0.15:
        return "constant"
    if exponent < 0.85:
        return "sub-linear"
    if exponent <= 1.15:
        return "linear"
    return "super-linear"


def growth_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return, for each figure measured at two sizes or more, its growth from the
    smallest size to the largest."""
    by_name: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row["value"] is not None:
            by_name.setdefault(row["name"], []).append(row)
    growth = []
    for name, measured in by_name.items():
        measured.sort(key=lambda row: row["customers"])
        small, large = measured[0], measured[-1]
        if large["customers"] == small["customers"] or not small["value"]:
            continue
        size_factor = large["customers"] / small["customers"]
        value_factor = large["value"] / small["value"]
        memory_factor = (
            large["peak_rss_mb"] / small["peak_rss_mb"]
            if small["peak_rss_mb"]
            else None
        )
        growth.append(
            {
                "name": name,
                "from": small["customers"],
                "to": large["customers"],
                "value_factor": value_factor,
                "exponent": (
                    math.log(value_factor) / math.log(size_factor)
                    if value_factor > 0
                    else None
                ),
                "reading": growth_reading(small["unit"], value_factor, size_factor),
                "memory_factor": memory_factor,
            }
        )
    return growth


def attach_growth(rows: list[dict[str, Any]], growth: list[dict[str, Any]]) -> None:
    """Add each figure's growth to its row at the largest size, for the JSON file."""
    by_key = {(item["name"], item["to"]): item for item in growth}
    for row in rows:
        item = by_key.get((row["name"], row["customers"]))
        if item and row["value"] is not None:
            row["growth"] = {key: item[key] for key in item if key != "name"}


def print_growth(growth: list[dict[str, Any]]) -> None:
    """Print how each figure and its memory peak grow between the sizes run."""
    if not growth:
        return
    print()
    header = (
        f"{'growth':<48}{'from':>8}{'to':>8}{'value x':>10}{'exponent':>10}  "
        f"{'reading':<14}{'memory x':>9}"
    )
    print(header)
    print("-" * len(header))
    for item in growth:
        print(
            f"{item['name'][:47]:<48}{format_size(item['from']):>8}"
            f"{format_size(item['to']):>8}{_number(item['value_factor'], 10, 2)}"
            f"{_number(item['exponent'], 10, 2)}  {item['reading']:<14}"
            f"{_number(item['memory_factor'], 9, 2)}"
        )
    print(
        "exponent k: value ~ customers ** k between the two sizes; "
        "for a rate, a steady value means linear total cost."
    )


def _cell(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    if value and abs(value) < 10**-digits:
        return f"{value:.2e}"
    return f"{value:,.{digits}f}"


def print_markdown(rows: list[dict[str, Any]]) -> None:
    """Print results as the Markdown tables of docs/benchmarks.md."""
    print(
        "| figure | customers | value | unit | reference | ratio | target | status "
        "| peak MiB |"
    )
    print("| --- | ---: | ---: | --- | ---: | ---: | --- | --- | ---: |")
    for row in rows:
        status = row["status"]
        if row["value"] is None:
            status = f"{status}: {row['note']}"
        print(
            f"| {row['name']} | {format_size(row['customers'])} "
            f"| {_cell(row['value'])} | {row['unit']} "
            f"| {_cell(row['reference_value'])} | {_cell(row['ratio'], 2)} "
            f"| `{row['target']}` | {status} | {_cell(row['peak_rss_mb'], 0)} |"
        )
    growth = growth_rows(rows)
    if not growth:
        return
    print()
    print("| figure | from | to | value x | exponent | reading | memory x |")
    print("| --- | ---: | ---: | ---: | ---: | --- | ---: |")
    for item in growth:
        print(
            f"| {item['name']} | {format_size(item['from'])} "
            f"| {format_size(item['to'])} | {_cell(item['value_factor'], 2)} "
            f"| {_cell(item['exponent'], 2)} | {item['reading']} "
            f"| {_cell(item['memory_factor'], 2)} |"
        )


if __name__ == "__main__":
    raise SystemExit(main())
