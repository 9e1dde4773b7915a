"""Tables behind the charts, and their CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

# A cell starting with one of these is a formula to spreadsheet programs.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Table:
    """Named columns and rows; the same object feeds a chart, HTML and CSV."""

    name: str
    title: str
    columns: Sequence[tuple[str, str]]  # (key, heading)
    rows: list[dict[str, Any]] = field(default_factory=list)

    def keys(self) -> list[str]:
        return [key for key, _ in self.columns]

    def headings(self) -> list[str]:
        return [str(heading) for _, heading in self.columns]

    def cells(self) -> list[list[Any]]:
        return [[row.get(key) for key in self.keys()] for row in self.rows]

    def display_rows(self) -> list[list[str]]:
        keys = self.keys()
        return [[display_cell(k, row.get(k)) for k in keys] for row in self.rows]

    def to_csv(self) -> str:
        """Return the table as CSV text with a header row of column keys."""
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(self.keys())
        for row in self.cells():
            writer.writerow([csv_cell(value) for value in row])
        return buffer.getvalue()


def csv_cell(value: Any) -> str:
    """Format one value for CSV; text that a spreadsheet would run as a formula
    gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, int | Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    text = str(value)
    if text.startswith(_FORMULA_PREFIXES):
        return "'" + text
    return text


def display_cell(key: str, value: Any) -> str:
    """Format one value for an HTML table: rates as percentages, None as a dash."""
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return "✔" if value else ""
    if isinstance(value, float):
        if key.endswith(("_rate", "share", "lift", "probability_to_beat")):
            return f"{value * 100:.2f}%"
        if key.startswith("p_value") or key.endswith("p_value"):
            return f"{value:.4f}"
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
