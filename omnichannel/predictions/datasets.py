"""Read purchase rows from whitespace-separated text files in the CDNOW layout."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from omnichannel.predictions.exceptions import InvalidSummaryInput


@dataclass(frozen=True)
class PurchaseRows:
    """Purchase rows as parallel arrays."""

    customer_ids: np.ndarray
    dates: np.ndarray
    amounts: np.ndarray

    def __len__(self) -> int:
        return int(self.customer_ids.shape[0])


def read_cdnow(path: str | Path) -> PurchaseRows:
    """Read a CDNOW-style purchase file.

    Each line holds ``customer_id date count value`` (the master file) or
    ``customer_id sample_id date count value`` (the sample file), whitespace
    separated, dates as YYYYMMDD. A first line that does not start with a digit is a
    header and is skipped.
    """
    ids: list[int] = []
    dates: list[str] = []
    amounts: list[float] = []
    with open(path, encoding="ascii") as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields or (number == 1 and not fields[0].isdigit()):
                continue
            if len(fields) not in (4, 5):
                raise InvalidSummaryInput(
                    f"{path}, line {number}: expected 4 or 5 columns "
                    f"(customer, [sample id,] date, count, value), got {len(fields)}."
                )
            date = fields[-3]
            try:
                ids.append(int(fields[0]))
                amounts.append(float(fields[-1]))
            except ValueError as error:
                raise InvalidSummaryInput(
                    f"{path}, line {number}: customer id and value must be numbers "
                    f"({error})."
                ) from error
            if len(date) != 8 or not date.isdigit():
                raise InvalidSummaryInput(
                    f"{path}, line {number}: date must be YYYYMMDD, got {date!r}."
                )
            dates.append(f"{date[:4]}-{date[4:6]}-{date[6:]}")
    try:
        parsed_dates = np.array(dates, dtype="datetime64[D]")
    except ValueError as error:
        raise InvalidSummaryInput(f"{path}: invalid date ({error}).") from error
    return PurchaseRows(
        customer_ids=np.array(ids, dtype=np.int64),
        dates=parsed_dates,
        amounts=np.array(amounts, dtype=np.float64),
    )
