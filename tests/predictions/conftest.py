import datetime
from pathlib import Path

import pytest

from omnichannel.predictions.datasets import read_cdnow
from omnichannel.predictions.summary import summarise_transactions

CDNOW = Path(__file__).resolve().parent.parent / "data" / "cdnow"
CALIBRATION_END = datetime.date(1997, 9, 30)
HOLDOUT_END = datetime.date(1998, 6, 30)


@pytest.fixture(scope="session")
def cdnow_sample_rows():
    return read_cdnow(CDNOW / "CDNOW_sample.txt")


@pytest.fixture(scope="session")
def cdnow_master_rows():
    return read_cdnow(CDNOW / "CDNOW_master.txt")


@pytest.fixture(scope="session")
def cdnow_sample(cdnow_sample_rows):
    rows = cdnow_sample_rows
    return summarise_transactions(
        rows.customer_ids,
        rows.dates,
        rows.amounts,
        calibration_end=CALIBRATION_END,
        holdout_end=HOLDOUT_END,
    )
