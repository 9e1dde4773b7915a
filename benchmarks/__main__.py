"""Run every benchmark and print one table; write benchmarks/results.json.

Usage: ``python -m benchmarks [--customers N ...] [--only NAME]``. Each module
``benchmarks/bench_*.py`` defines ``run(customers: int) -> list[Result]``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import traceback
from pathlib import Path

from benchmarks.common import ROOT, Result, setup_django

RESULTS_PATH = ROOT / "benchmarks" / "results.json"


def discover(only: str | None) -> list[str]:
    names = sorted(
        module.name
        for module in pkgutil.iter_modules([str(Path(__file__).parent)])
        if module.name.startswith("bench_")
    )
    if only:
        names = [name for name in names if only in name]
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--customers",
        type=int,
        nargs="+",
        default=[100_000],
        help="Sizes of the generated customer base (default 100000).",
    )
    parser.add_argument("--only", help="Run only benchmarks whose name contains this.")
    parser.add_argument("--output", type=Path, default=RESULTS_PATH)
    args = parser.parse_args(argv)

    setup_django()
    results: list[Result] = []
    failures = 0
    for name in discover(args.only):
        module = importlib.import_module(f"benchmarks.{name}")
        for customers in args.customers:
            print(f"running {name} with {customers} customers", file=sys.stderr)
            try:
                results.extend(module.run(customers))
            except Exception:
                failures += 1
                traceback.print_exc()
    print_table(results)
    args.output.write_text(json.dumps([r.as_dict() for r in results], indent=2))
    print(f"\nwrote {args.output}", file=sys.stderr)
    return 1 if failures else 0


def print_table(results: list[Result]) -> None:
    header = (
        f"{'figure':<44}{'customers':>10}{'value':>14} {'unit':<10}"
        f"{'reference':>12}{'ratio':>8}  {'target':<12}{'peak MiB':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.name:<44}{r.customers:>10}{r.value:>14.3f} {r.unit:<10}"
            f"{r.reference_value:>12.3f}{r.ratio:>8.2f}  {r.target:<12}"
            f"{r.peak_rss_mb:>9.1f}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
